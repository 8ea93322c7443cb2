"""Image references through a registry mirror (Ansible filter plugin, importable as plain Python).

Filters:
  cvat_image_mirror(image, mirror, namespaces=None)    -> the reference to pull: <mirror>/<namespace>/<path>:<tag>
  cvat_images_mirror(images, mirror, namespaces=None)  -> the same for every value of a dict (cvat_images)
  cvat_image_upstream(image)                           -> (registry, repository path, tag-or-digest suffix)

Layout = Amazon ECR pull-through cache (the AWS console's default namespaces, `DEFAULT_NAMESPACES`):
  postgres:15-alpine            -> <mirror>/docker-hub/library/postgres:15-alpine   (official images keep library/)
  cvat/server:v2.73.0           -> <mirror>/docker-hub/cvat/server:v2.73.0
  quay.io/nuclio/dashboard:1.16 -> <mirror>/quay/nuclio/dashboard:1.16
An empty mirror returns the reference unchanged (Docker Hub / quay.io are pulled directly). A namespace of ""
puts the upstream path right under the mirror (a single-upstream proxy such as the distribution registry's
`proxy.remoteurl`). A registry without a namespace entry is an error naming the image: nothing is pulled from
an upstream the mirror does not cache.
"""
from __future__ import annotations

import re

DEFAULT_NAMESPACES = {"docker.io": "docker-hub", "quay.io": "quay"}
DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
# host[:port] (lowercase DNS name or IPv4) optionally followed by /path; no scheme, no trailing slash
MIRROR_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._/-][a-z0-9]+)*)?$")
# <account>.dkr.ecr.<region>.amazonaws.com[.cn]: a mirror that needs the ECR credential helper
ECR_RE = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?(/|$)")


class ImageReferenceError(ValueError):
    """A reference or mirror the rewrite cannot map; the message names the bad value."""


def image_upstream(image: str) -> tuple[str, str, str]:
    """Splits a reference like Docker does: (registry, path with library/ for official images, ':tag'/'@digest')."""
    if not isinstance(image, str) or not image or image != image.strip():
        raise ImageReferenceError(f"image reference {image!r} is invalid")
    name, suffix = image, ""
    if "@" in name:
        name, digest = name.split("@", 1)
        suffix = "@" + digest
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        suffix = ":" + tag + suffix
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    if registry in DOCKER_HUB_ALIASES:
        registry = "docker.io"
        if "/" not in path:
            path = "library/" + path
    if not path or path != path.lower():
        raise ImageReferenceError(f"image reference {image!r} is invalid: repository path {path!r}")
    return registry, path, suffix


def image_mirror(image: str, mirror: str = "", namespaces: dict | None = None) -> str:
    """The reference to pull for `image` through `mirror` (unchanged when mirror is empty)."""
    mirror = (mirror or "").strip()
    if not mirror:
        return image
    if not MIRROR_RE.match(mirror):
        raise ImageReferenceError(
            f"registry mirror {mirror!r} is invalid: expected host[:port][/path] without scheme or trailing slash, "
            "e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com")
    if image.startswith(mirror + "/"):
        return image  # already rewritten
    table = DEFAULT_NAMESPACES if namespaces is None else namespaces
    registry, path, suffix = image_upstream(image)
    if registry not in table:
        raise ImageReferenceError(
            f"image {image!r} comes from registry {registry!r}, which has no namespace under the mirror "
            f"{mirror!r} (known: {sorted(table)}): add it to cvat_image_registry_mirror_namespaces")
    namespace = str(table[registry] or "").strip("/")
    return "/".join(p for p in (mirror, namespace, path) if p) + suffix


def images_mirror(images: dict, mirror: str = "", namespaces: dict | None = None) -> dict:
    return {key: image_mirror(value, mirror, namespaces) for key, value in images.items()}


def is_ecr_mirror(mirror: str) -> bool:
    return bool(ECR_RE.match(mirror or ""))


def _wrap(function):
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ImageReferenceError as error:
            from ansible.errors import AnsibleFilterError
            raise AnsibleFilterError(str(error)) from error
    return wrapped


class FilterModule:
    def filters(self):
        return {
            "cvat_image_mirror": _wrap(image_mirror),
            "cvat_images_mirror": _wrap(images_mirror),
            "cvat_image_upstream": _wrap(lambda image: list(image_upstream(image))),
        }
