"""cvat_serverless checks that talk to the real Docker engine of this machine (no stand-in docker).

- Dashboard check (tasks/dashboard.yml): run against real containers made from a tiny STAND-IN image (the host's
  /usr/bin/sleep plus its libc, `docker import`ed under a unique `cvat-serverless-standin-*/dashboard:1.16.3-amd64`
  name; nothing is pulled). Proves the role reads name, state, image tag, networks and published ports of a live
  container correctly; does NOT prove the real quay.io/nuclio/dashboard works (the cvat role owns that service).
- GPU container probe (tasks/preflight_gpu.yml): this machine has no GPU and no NVIDIA runtime, so the real
  `docker run --rm --gpus all` fails exactly like CVAT #3593; the PCI scan and nvidia-smi are stand-ins
  (a fake sysfs vendor file, `nvidia-smi-standin` script) so that the preflight reaches the container probe.
Everything created here has a unique name and is removed afterwards.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, run_playbook

pytestmark = pytest.mark.skipif(
    shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0,
    reason="needs the Docker engine (tests/testbed/ensure-docker.sh)")


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def standin_rootfs() -> bytes:
    """tar of /sleep + the shared libraries it needs (from ldd): enough for a container that stays up."""
    buf = io.BytesIO()
    libs = [line.split("=>")[-1].split("(")[0].strip() for line in
            subprocess.run(["ldd", "/usr/bin/sleep"], capture_output=True, text=True, check=True).stdout.splitlines()]
    with tarfile.open(fileobj=buf, mode="w") as t:
        t.add("/usr/bin/sleep", arcname="sleep")
        for lib in filter(lambda p: p.startswith("/"), libs):
            t.add(os.path.realpath(lib), arcname=lib.lstrip("/"))
    return buf.getvalue()


@pytest.fixture(scope="module")
def standin():
    rid = uuid.uuid4().hex[:8]
    repo = f"cvat-serverless-standin-{rid}/dashboard"
    image = f"{repo}:1.16.3-amd64"
    net = f"cvat-serverless-standin-{rid}"
    subprocess.run(["docker", "import", "-", image], input=standin_rootfs(), capture_output=True, check=True)
    docker("network", "create", net)
    good, bad = f"cvat-serverless-standin-good-{rid}", f"cvat-serverless-standin-bad-{rid}"
    try:
        docker("run", "-d", "--name", good, "--network", net, image, "/sleep", "600")
        docker("run", "-d", "--name", bad, "-p", "127.0.0.1::8070", image, "/sleep", "600")
        yield {"repo": repo, "image": image, "net": net, "good": good, "bad": bad}
    finally:
        docker("rm", "-f", good, bad, check=False)
        docker("network", "rm", net, check=False)
        docker("rmi", image, check=False)


def play(tmp: Path, tasks_from: str, **vars_) -> subprocess.CompletedProcess:
    vf = tmp / "vars.json"
    vf.write_text(json.dumps({"ansible_python_interpreter": sys.executable, "cvat_version": "v2.73.0", **vars_}))
    pb = tmp / "play.yml"
    pb.write_text("- name: cvat_serverless part under test\n  hosts: localhost\n  connection: local\n"
                  "  gather_facts: false\n  tasks:\n    - name: Include the role part\n"
                  "      ansible.builtin.include_role:\n        name: cvat_serverless\n"
                  f"        tasks_from: {tasks_from}\n")
    return run_playbook(pb, "-e", f"@{vf}", inventory="localhost,", check=False,
                        env={"ANSIBLE_ROLES_PATH": str(ROOT / "roles")})


def flat(proc: subprocess.CompletedProcess) -> str:
    return " ".join(proc.stdout.split())


def test_dashboard_check_accepts_internal_dashboard(standin, tmp_path: Path):
    proc = play(tmp_path, "dashboard.yml", cvat_serverless_dashboard_container=standin["good"],
                cvat_serverless_dashboard_image=standin["repo"], cvat_serverless_network=standin["net"])
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_dashboard_check_rejects_published_port_and_wrong_network(standin, tmp_path: Path):
    proc = play(tmp_path, "dashboard.yml", cvat_serverless_dashboard_container=standin["bad"],
                cvat_serverless_dashboard_image=standin["repo"], cvat_serverless_network=standin["net"])
    assert proc.returncode != 0
    assert 'networks=["bridge"]' in flat(proc) and 'published ports=["8070/tcp"]' in flat(proc), proc.stdout[-3000:]


def test_dashboard_check_rejects_other_nuclio_version(standin, tmp_path: Path):
    proc = play(tmp_path, "dashboard.yml", cvat_serverless_dashboard_container=standin["good"],
                cvat_serverless_dashboard_image=standin["repo"], cvat_serverless_network=standin["net"],
                cvat_serverless_nuclio_versions={"v2.73.0": "1.13.0"})
    assert proc.returncode != 0
    assert f"image='{standin['image']}' (want {standin['repo']}:1.13.0[-arch])" in flat(proc), proc.stdout[-3000:]


def test_gpu_preflight_container_probe_names_the_toolkit_fix(standin, tmp_path: Path):
    (tmp_path / "pci" / "0000:00:1e.0").mkdir(parents=True)
    (tmp_path / "pci" / "0000:00:1e.0" / "vendor").write_text("0x10de\n")
    smi = tmp_path / "nvidia-smi-standin"
    smi.write_text("#!/bin/sh\necho 'GPU 0: Tesla T4 (nvidia-smi-standin)'\n")
    smi.chmod(0o755)
    proc = play(tmp_path, "preflight_gpu.yml", cvat_serverless_gpu=True,
                cvat_serverless_pci_devices_path=str(tmp_path / "pci"), cvat_serverless_nvidia_smi=str(smi),
                cvat_serverless_gpu_check_image=standin["image"])
    assert proc.returncode != 0
    out = flat(proc)
    assert "a container cannot see the GPU" in out and "nvidia-ctk runtime configure --runtime=docker" in out, out[-3000:]
    assert "could not select device driver" in out  # the real Docker error of CVAT #3593
