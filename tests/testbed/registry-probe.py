#!/usr/bin/env python3
"""Can the pinned CVAT stack's images be pulled? Asks the registry API for every image's manifest (HEAD).

usage: registry-probe.py [--mirror HOST[:PORT][/PATH]] [--timeout SECONDS] [--image KEY=REF ...]

The image list is the cvat role's `cvat_images` (roles/cvat/defaults/main.yml, rendered with the role's own
defaults), rewritten through the mirror by the role's filter (roles/cvat/filter_plugins/cvat_images.py), so the
probe asks for exactly the references the role will pull. Without a mirror the upstream registries are asked
(Docker Hub = registry-1.docker.io with an anonymous token, quay.io). Loopback registries are spoken to over plain
HTTP (like Docker's default for 127.0.0.0/8), everything else over HTTPS.
Prints one line per image, then a summary line; exit 0 when every manifest answered 200, 1 otherwise, 2 for a
bad mirror or image reference (the
first registry that does not answer at all ends the probe: no point waiting for ten more timeouts).
Used by scripts/sandbox.sh to choose real images or stand-ins.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "roles" / "cvat" / "filter_plugins"))
import cvat_images  # noqa: E402

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
ENDPOINTS = {"docker.io": "registry-1.docker.io"}


class NoAnswer(Exception):
    """The registry did not answer at all (DNS, connection refused, timeout)."""


def role_images(overrides: dict[str, str]) -> dict[str, str]:
    defaults = yaml.safe_load((ROOT / "roles" / "cvat" / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    images = {}
    for key, value in defaults["cvat_images"].items():
        images[key] = env.from_string(value).render(**{k: v for k, v in defaults.items() if isinstance(v, str)})
    images.update(overrides)
    return images


def split(reference: str) -> tuple[str, str, str]:
    """(registry host, repository path, tag or digest) of a reference as Docker reads it."""
    registry, path, suffix = cvat_images.image_upstream(reference)
    ref = suffix.split("@", 1)[1] if "@" in suffix else (suffix[1:] if suffix else "latest")
    return ENDPOINTS.get(registry, registry), path, ref


def scheme(host: str) -> str:
    name = host.rsplit(":", 1)[0] if re.search(r":\d+$", host) else host
    return "http" if name == "localhost" or name.startswith("127.") or name == "[::1]" else "https"


def request(url: str, timeout: float, headers: dict[str, str], method: str = "HEAD"):
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read() if method == "GET" else b""
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""
    except (urllib.error.URLError, OSError) as error:
        raise NoAnswer(f"{urllib.parse.urlsplit(url).netloc}: {getattr(error, 'reason', error)}") from error


def anonymous_token(challenge: str, timeout: float) -> str | None:
    """Bearer token for an anonymous pull (Docker Hub, quay.io) from a WWW-Authenticate challenge."""
    if not challenge.lower().startswith("bearer "):
        return None
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", "")
    if not realm:
        return None
    status, _, body = request(realm + "?" + urllib.parse.urlencode(params), timeout, {}, "GET")
    if status != 200:
        return None
    data = json.loads(body or b"{}")
    return data.get("token") or data.get("access_token")


def probe(reference: str, timeout: float) -> tuple[bool, str]:
    host, path, ref = split(reference)
    url = f"{scheme(host)}://{host}/v2/{path}/manifests/{ref}"
    headers = {"Accept": ACCEPT}
    status, answer, _ = request(url, timeout, headers)
    if status == 401:
        challenge = answer.get("WWW-Authenticate") or answer.get("Www-Authenticate") or ""
        token = anonymous_token(challenge, timeout)
        if not token:
            return False, f"HTTP 401, needs credentials ({challenge.split(' ')[0] or 'no challenge'})"
        status, answer, _ = request(url, timeout, {**headers, "Authorization": f"Bearer {token}"})
    if status == 200:
        return True, "manifest found"
    if status == 429:
        return False, "HTTP 429 (pull rate limit)"
    return False, f"HTTP {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default="", help="cvat_image_registry_mirror ('' = upstream registries)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")
    parser.add_argument("--image", action="append", default=[], metavar="KEY=REF", help="override one image")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.image)
    try:
        images = cvat_images.images_mirror(role_images(overrides), args.mirror)
    except cvat_images.ImageReferenceError as error:
        print(f"registry probe: {error}")
        return 2
    where = args.mirror or "Docker Hub / quay.io"
    failed = []
    for key, reference in images.items():
        try:
            ok, why = probe(reference, args.timeout)
        except NoAnswer as error:
            print(f"no answer  {reference}: {error}")
            print(f"registry probe: no registry answered ({error}); {where} cannot be pulled from here")
            return 1
        print(f"{'ok' if ok else 'missing':10} {reference}: {why}")
        if not ok:
            failed.append(reference)
    if failed:
        print(f"registry probe: {len(failed)} of {len(images)} images cannot be pulled from {where}: "
              + ", ".join(failed))
        return 1
    print(f"registry probe: all {len(images)} images of the stack can be pulled from {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
