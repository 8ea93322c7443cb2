#!/usr/bin/env python3
"""Benchmark: the host roles (playbooks/host.yml = data_volume + docker) on a fresh test host, then again
on the converged host (the idempotent re-run), under the project's ansible.cfg and under stock settings
(ANSIBLE_CONFIG pointing at an empty file), all in the same run on the same machine.

Each configuration gets its own fresh systemd test-host container (cvat-testhost image, reached with the
community.docker.docker connection plugin) and its own loop-device "EBS volume" (tests/testbed/ebs-volume.sh).
Prints the four wall-clock times and the ratio stock/project for the re-run; the targets (re-run >= 3x faster
than stock and under 30 s) are printed as met / not met, never asserted. The second run of each configuration
must report changed=0 (otherwise the benchmark exits 1: a non-idempotent re-run is not a valid measurement).

usage: benchmarks/host_roles.py [--distro trixie|bookworm] [--keep]
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
EBS = ROOT / "tests" / "testbed" / "ebs-volume.sh"


def sh(*cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kw)


def start_host(name: str, image: str, device: str, volume_id: str) -> None:
    sh("docker", "run", "-d", "--name", name, "--hostname", name,
       "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "MKNOD", "--cap-add", "SYS_PTRACE",
       "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined", "--cgroupns=host",
       "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
       "--device", f"{device}:/dev/nvme1n1", image, "/sbin/init")
    # udev stand-in (no uevents in containers): the by-id link EC2's udev rules create for an EBS volume
    link = f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"
    deadline = time.time() + 60
    while True:
        r = sh("docker", "exec", name, "sh", "-c",
               f"systemctl is-system-running --wait >/dev/null 2>&1; mkdir -p /dev/disk/by-id && ln -sf ../../nvme1n1 {link}",
               check=False)
        if r.returncode == 0:
            return
        if time.time() > deadline:
            raise RuntimeError(f"test host {name} did not come up: {r.stderr}")
        time.sleep(1)


def inventory(path: Path, host: str, volume_id: str) -> None:
    # test-bed-only settings, as in molecule/docker: vfs, the IPv6 environment, pools away from the outer
    # engine's 172.17.0.0/16. host.yml uses become; the test host has no sudo and Ansible is root there
    # already, so become is switched off (su would also work but disables pipelining, unlike sudo on EC2).
    path.write_text(f"""---
all:
  children:
    cvat_hosts:
      hosts:
        {host}:
          ansible_connection: community.docker.docker
          ansible_python_interpreter: /usr/bin/python3
          ansible_become: false
          data_volume_id: {volume_id}
          docker_daemon_options_extra: {{storage-driver: vfs}}
          docker_service_environment: {{DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE: "1"}}
          docker_default_address_pools: [{{base: 10.213.0.0/16, size: 24}}]
""")


def run_host_yml(cfg: Path, inv: Path) -> tuple[float, str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(cfg), "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
           "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    t0 = time.monotonic()
    p = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inv), "playbooks/host.yml"],
                       cwd=ROOT, env=env, text=True, capture_output=True)
    elapsed = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"host.yml failed under {cfg}:\n{p.stdout[-4000:]}\n{p.stderr[-2000:]}")
    recap = re.search(r"ok=(\d+)\s+changed=(\d+)", p.stdout)
    return elapsed, f"ok={recap.group(1)} changed={recap.group(2)}" if recap else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--distro", default="trixie", choices=["trixie", "bookworm"])
    ap.add_argument("--keep", action="store_true", help="keep the containers and loop devices for inspection")
    args = ap.parse_args()
    # Ctrl-C or kill: still remove the containers and loop devices (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    image = sh(str(ROOT / "tests/testbed/build-host-image.sh"), args.distro).stdout.split()[1]
    tag = f"{os.getpid()}-{secrets.token_hex(2)}"
    work = Path(tempfile.mkdtemp(prefix="bench-host-roles-"))
    stock_cfg = work / "stock.cfg"
    stock_cfg.write_text("")  # stock settings: every default of ansible-core
    configs = {"stock": stock_cfg, "project": ROOT / "ansible.cfg"}
    created: list[tuple[str, str]] = []
    results: dict[str, dict[str, tuple[float, str]]] = {}
    try:
        for label, cfg in configs.items():
            name = f"bench-host-roles-{label}-{tag}"
            device = sh(str(EBS), "create", name, "60G").stdout.strip()
            created.append((name, device))
            volume_id = "vol-0" + secrets.token_hex(8)
            start_host(name, image, device, volume_id)
            inv = work / f"{label}.yml"
            inventory(inv, name, volume_id)
            fresh = run_host_yml(cfg, inv)
            rerun = run_host_yml(cfg, inv)
            results[label] = {"fresh": fresh, "rerun": rerun}
            print(f"{label:8s} fresh host: {fresh[0]:6.1f} s ({fresh[1]})   re-run: {rerun[0]:6.1f} s ({rerun[1]})",
                  flush=True)
            if not rerun[1].endswith("changed=0"):
                print(f"{label}: the re-run changed something ({rerun[1]}): not idempotent", file=sys.stderr)
                return 1
    finally:
        if not args.keep:
            for name, _device in created:
                sh("docker", "rm", "-f", name, check=False)
                sh(str(EBS), "destroy", name, check=False)
    s_fresh, s_rerun = results["stock"]["fresh"][0], results["stock"]["rerun"][0]
    p_fresh, p_rerun = results["project"]["fresh"][0], results["project"]["rerun"][0]
    ratio = s_rerun / p_rerun
    print(f"fresh-host ratio stock/project: {s_fresh / p_fresh:.2f}x")
    print(f"re-run ratio stock/project:     {ratio:.2f}x (target >= 3x: {'met' if ratio >= 3 else 'NOT met'})")
    print(f"project re-run:                 {p_rerun:.1f} s (target < 30 s: {'met' if p_rerun < 30 else 'NOT met'})")
    print(f"load average at the end:        {os.getloadavg()[0]:.1f} (other jobs on this machine skew all numbers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
