"""The sandbox's registry probe and its real/stand-in decision, against a real registry on this machine.

A real distribution registry (Debian's docker-registry, tests/testbed/local-registry.sh) runs on 127.0.0.1 with
storage under /var/tmp; images are pushed to it with the registry API under the ECR pull-through cache paths of
the pinned stack. Then tests/testbed/registry-probe.py and `scripts/sandbox.sh --probe` are run against it.
The pull of every image through cvat_image_registry_mirror by Docker itself runs in the molecule scenario `cvat`.
Not proven here: Docker Hub's and quay.io's token dance (no internet on the test machines), ECR login.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

import pytest

from conftest import ROOT, free_port

pytestmark = pytest.mark.slow

# ECR pull-through cache paths of the v2.73.0 pins (roles/cvat/defaults: cvat_images), as <path>:<tag>
EXPECTED = [
    "docker-hub/cvat/server:v2.73.0", "docker-hub/cvat/ui:v2.73.0", "docker-hub/library/postgres:15-alpine",
    "docker-hub/library/redis:7.2.11-alpine", "docker-hub/apache/kvrocks:2.15.0", "docker-hub/library/traefik:v3.6",
    "docker-hub/openpolicyagent/opa:1.12.2", "docker-hub/clickhouse/clickhouse-server:23.11-alpine",
    "docker-hub/timberio/vector:0.26.0-alpine", "docker-hub/grafana/grafana-oss:10.1.2",
    "quay/nuclio/dashboard:1.16.3-amd64",
]


@pytest.fixture(scope="module")
def registry():
    port = free_port()
    storage = tempfile.mkdtemp(prefix="testbed-registry.", dir="/var/tmp")
    out = subprocess.run([str(ROOT / "tests/testbed/local-registry.sh"), "start", str(port), storage],
                         capture_output=True, text=True, check=True)
    pid = out.stdout.strip()
    yield f"127.0.0.1:{port}"
    subprocess.run([str(ROOT / "tests/testbed/local-registry.sh"), "stop", pid, storage], check=False)


def _blob(base: str, path: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"http://{base}/v2/{path}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(req) as resp:
        location = resp.headers["Location"]
    if location.startswith("/"):
        location = f"http://{base}{location}"
    sep = "&" if "?" in location else "?"
    req = urllib.request.Request(f"{location}{sep}digest={digest}", method="PUT", data=data,
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req).close()
    return digest


def push(base: str, reference: str) -> None:
    """Pushes a minimal image (one empty layer) as <path>:<tag> with the registry API."""
    path, tag = reference.rsplit(":", 1)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w"):
        pass
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers",
                                    "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": _blob(base, path, config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                    "digest": _blob(base, path, layer)}],
    }
    req = urllib.request.Request(f"http://{base}/v2/{path}/manifests/{tag}", method="PUT",
                                 data=json.dumps(manifest).encode(),
                                 headers={"Content-Type": manifest["mediaType"]})
    urllib.request.urlopen(req).close()


def delete(base: str, reference: str) -> None:
    path, tag = reference.rsplit(":", 1)
    head = urllib.request.Request(f"http://{base}/v2/{path}/manifests/{tag}", method="HEAD",
                                  headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(head) as resp:
        digest = resp.headers["Docker-Content-Digest"]
    urllib.request.urlopen(urllib.request.Request(f"http://{base}/v2/{path}/manifests/{digest}",
                                                  method="DELETE")).close()


def probe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tests/testbed/registry-probe.py"), *args],
                          capture_output=True, text=True, timeout=120)


def sandbox_probe(mirror: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SANDBOX_REGISTRY_MIRROR": mirror, "SANDBOX_STATE_DIR": str(tmp_path),
           "SANDBOX_PROBE_TIMEOUT": "2", "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(ROOT / "scripts/sandbox.sh"), "--probe"], capture_output=True, text=True,
                          env=env, timeout=300, stdin=subprocess.DEVNULL)


def test_every_image_of_the_stack_found_through_the_mirror(registry, tmp_path):
    for reference in EXPECTED:
        push(registry, reference)
    proc = probe("--mirror", registry, "--timeout", "5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for reference in EXPECTED:
        assert f"ok         {registry}/{reference}: manifest found" in proc.stdout
    assert f"all {len(EXPECTED)} images of the stack can be pulled from {registry}" in proc.stdout

    # the sandbox's decision: real images through the mirror, said in one line first
    sandbox = sandbox_probe(registry, tmp_path / "sandbox-real")
    assert sandbox.returncode == 0, sandbox.stdout[-3000:] + sandbox.stderr[-3000:]
    banner = [line for line in sandbox.stdout.splitlines() if line.startswith("\033[1m>> images:")]
    assert len(banner) == 1 and f"REAL CVAT images, pulled from {registry}" in banner[0], sandbox.stdout


def test_one_missing_image_is_named_and_means_stand_ins(registry, tmp_path):
    for reference in EXPECTED:
        push(registry, reference)
    delete(registry, "quay/nuclio/dashboard:1.16.3-amd64")
    proc = probe("--mirror", registry)
    assert proc.returncode == 1, proc.stdout
    assert f"missing    {registry}/quay/nuclio/dashboard:1.16.3-amd64: HTTP 404" in proc.stdout
    assert (f"1 of {len(EXPECTED)} images cannot be pulled from {registry}: "
            f"{registry}/quay/nuclio/dashboard:1.16.3-amd64") in proc.stdout
    push(registry, "quay/nuclio/dashboard:1.16.3-amd64")


def test_no_registry_answering_falls_back_to_stand_ins_quickly(tmp_path):
    closed = f"127.0.0.1:{free_port()}"
    proc = probe("--mirror", closed, "--timeout", "2")
    assert proc.returncode == 1
    assert proc.stdout.count("no answer") == 1  # stops at the first registry that does not answer
    assert f"no registry answered ({closed}:" in proc.stdout

    sandbox = sandbox_probe(closed, tmp_path / "sandbox-standin")
    assert sandbox.returncode == 1, sandbox.stdout[-3000:] + sandbox.stderr[-3000:]
    banner = [line for line in sandbox.stdout.splitlines() if line.startswith("\033[1m>> images:")]
    assert len(banner) == 1, sandbox.stdout
    assert f"no registry answered ({closed}:" in banner[0] and "STAND-IN images" in banner[0]
    assert "this is not CVAT" in banner[0]


def test_bad_mirror_is_refused_naming_it():
    proc = probe("--mirror", "https://mirror.example")
    assert proc.returncode == 2
    assert "registry mirror 'https://mirror.example' is invalid" in proc.stdout
