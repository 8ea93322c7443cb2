"""The registry mirror rewrite (roles/cvat/filter_plugins/cvat_images.py) and the role rendered with a mirror.

The pull itself through a real registry (Debian's docker-registry on the test host's 127.0.0.1, holding the
stand-in images under these paths) runs in the molecule scenario `cvat`; tests/integration/test_image_probe.py
checks the sandbox's registry probe against the same registry on this machine.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "roles" / "cvat" / "filter_plugins"))
import cvat_images  # noqa: E402

from test_cvat_render import render  # noqa: E402

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize("image, expected", [
    # Docker Hub official images keep library/ (ECR pull-through cache requires it)
    ("postgres:15-alpine", f"{ECR}/docker-hub/library/postgres:15-alpine"),
    ("redis:7.2.11-alpine", f"{ECR}/docker-hub/library/redis:7.2.11-alpine"),
    ("traefik:v3.6", f"{ECR}/docker-hub/library/traefik:v3.6"),
    ("docker.io/library/postgres:15", f"{ECR}/docker-hub/library/postgres:15"),
    ("index.docker.io/postgres", f"{ECR}/docker-hub/library/postgres"),
    # other Docker Hub repositories: no library/
    ("cvat/server:v2.73.0", f"{ECR}/docker-hub/cvat/server:v2.73.0"),
    ("apache/kvrocks:2.15.0", f"{ECR}/docker-hub/apache/kvrocks:2.15.0"),
    ("clickhouse/clickhouse-server:23.11-alpine", f"{ECR}/docker-hub/clickhouse/clickhouse-server:23.11-alpine"),
    # quay.io under its own namespace
    ("quay.io/nuclio/dashboard:1.16.3-amd64", f"{ECR}/quay/nuclio/dashboard:1.16.3-amd64"),
    # digests survive, tag + digest too
    ("redis@sha256:" + "a" * 64, f"{ECR}/docker-hub/library/redis@sha256:" + "a" * 64),
    ("redis:7@sha256:" + "b" * 64, f"{ECR}/docker-hub/library/redis:7@sha256:" + "b" * 64),
    # already rewritten: unchanged (the filter can be applied twice)
    (f"{ECR}/docker-hub/library/postgres:15-alpine", f"{ECR}/docker-hub/library/postgres:15-alpine"),
])
def test_ecr_pull_through_cache_layout(image, expected):
    assert cvat_images.image_mirror(image, ECR) == expected


def test_no_mirror_keeps_every_reference():
    for image in ("postgres:15-alpine", "quay.io/nuclio/dashboard:1.16.3-amd64", "cvat/ui:v2.73.0"):
        assert cvat_images.image_mirror(image, "") == image


def test_mirror_with_port_path_and_custom_namespaces():
    assert cvat_images.image_mirror("postgres:15", "127.0.0.1:5000") == "127.0.0.1:5000/docker-hub/library/postgres:15"
    assert cvat_images.image_mirror("postgres:15", "harbor.example.org/proxy", {"docker.io": ""}) \
        == "harbor.example.org/proxy/library/postgres:15"
    assert cvat_images.image_mirror("ghcr.io/org/x:1", "m.example", {"ghcr.io": "github"}) == "m.example/github/org/x:1"


@pytest.mark.parametrize("mirror", ["https://registry.example", "registry.example/", "Registry.Example", "a b"])
def test_bad_mirror_is_named(mirror):
    with pytest.raises(cvat_images.ImageReferenceError, match="registry mirror .* is invalid"):
        cvat_images.image_mirror("postgres:15", mirror)


def test_unmapped_registry_is_an_error_naming_the_image():
    with pytest.raises(cvat_images.ImageReferenceError, match="'ghcr.io/org/x:1' comes from registry 'ghcr.io'"):
        cvat_images.image_mirror("ghcr.io/org/x:1", ECR)


def test_ecr_detection():
    assert cvat_images.is_ecr_mirror(ECR)
    assert cvat_images.is_ecr_mirror("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")
    assert not cvat_images.is_ecr_mirror("127.0.0.1:5000")
    assert not cvat_images.is_ecr_mirror("mirror.example.org/dkr.ecr")


@pytest.mark.slow
def test_role_pulls_every_image_through_an_ecr_mirror_and_configures_the_credential_helper(tmp_path):
    docker_config = tmp_path / "root-docker"
    docker_config.mkdir()
    # an existing entry (e.g. a docker login) must survive
    (docker_config / "config.json").write_text(json.dumps({"auths": {"other.example": {"auth": "c2VjcmV0"}}}))
    extra = {"cvat_image_registry_mirror": ECR, "cvat_docker_config_dir": str(docker_config)}
    proc, project, _ = render(tmp_path / "r", extra, "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:]
    services = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]
    images = {name: svc["image"] for name, svc in services.items()}
    assert images["cvat_db"] == f"{ECR}/docker-hub/library/postgres:15-alpine"
    assert images["cvat_server"] == f"{ECR}/docker-hub/cvat/server:v2.73.0"
    assert images["nuclio"] == f"{ECR}/quay/nuclio/dashboard:1.16.3-amd64"
    assert all(image.startswith(f"{ECR}/") for image in images.values()), images
    config = json.loads((docker_config / "config.json").read_text())
    assert config == {"auths": {"other.example": {"auth": "c2VjcmV0"}}, "credHelpers": {ECR: "ecr-login"}}
    assert oct((docker_config / "config.json").stat().st_mode & 0o777) == "0o600"
    assert "c2VjcmV0" not in proc.stdout  # config.json may hold credentials: never printed
    # second run: nothing changes
    again, _, _ = render(tmp_path / "r", extra)
    line = [ln for ln in again.stdout.splitlines() if ln.startswith("localhost") and "changed=" in ln][-1]
    assert "changed=0" in line, line


@pytest.mark.slow
def test_non_ecr_mirror_needs_no_login(tmp_path):
    docker_config = tmp_path / "root-docker"
    extra = {"cvat_image_registry_mirror": "127.0.0.1:5000", "cvat_docker_config_dir": str(docker_config)}
    proc, project, _ = render(tmp_path / "r", extra)
    assert proc.returncode == 0, proc.stdout[-3000:]
    services = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]
    assert services["cvat_redis_ondisk"]["image"] == "127.0.0.1:5000/docker-hub/apache/kvrocks:2.15.0"
    assert not docker_config.exists()


@pytest.mark.slow
@pytest.mark.parametrize("extra, message", [
    ({"cvat_image_registry_mirror": "https://mirror.example"},
     "cvat_image_registry_mirror 'https://mirror.example' is invalid"),
    ({"cvat_image_registry_mirror": ECR, "cvat_image_registry_mirror_namespaces": {"docker.io": "docker-hub"}},
     "'quay.io/nuclio/dashboard:1.16.3-amd64' comes from registry 'quay.io'"),
])
def test_bad_mirror_settings_fail_before_any_change(tmp_path, extra, message):
    proc, project, state = render(tmp_path, extra, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not project.exists() and not state.exists()
