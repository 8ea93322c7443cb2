"""Helpers shared by the cvat_seed tests and benchmarks/seed.py: start the CVAT API stand-in, write an
inventory for it, read its counters."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import yaml

from .server import serve_in_thread

ADMIN = "admin"
ADMIN_PASSWORD = "Adm1n-standin-S3cret"


class Standin:
    def __init__(self, s3_endpoint: str | None = None, **options):
        """`options`: serve_in_thread's anon_rate (CVAT's "100/minute" unless given; None disables the
        throttle) and mail_backend."""
        self.server = serve_in_thread(0, ADMIN, ADMIN_PASSWORD, s3_endpoint, **options)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")

    def stats(self) -> dict:
        return self._call("GET", "/_standin/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/_standin/reset_stats", {})

    def faults(self, **kw) -> None:
        self._call("POST", "/_standin/faults", kw)

    def state(self) -> dict:
        return self._call("GET", "/_standin/state")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_inventory(path: Path, host_vars: dict) -> Path:
    inv = {"all": {"children": {"cvat_hosts": {"hosts": {"cvat-standin": host_vars}}}}}
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return path


def base_vars(standin: Standin, tmp: Path, python: str) -> dict:
    """Host vars for running playbooks/seed.yml against the stand-in with a local connection."""
    for d in ("units", "bin"):  # exist on a real host (/etc/systemd/system, /usr/local/sbin)
        (tmp / d).mkdir(parents=True, exist_ok=True)
    return {
        "ansible_connection": "local",
        # the tests run as root on a machine without sudo; the role's host tasks use become
        "ansible_become_method": "ansible.builtin.su",
        "ansible_python_interpreter": python,
        "cvat_url": standin.url,
        "cvat_superuser_username": ADMIN,
        "cvat_superuser_password": ADMIN_PASSWORD,
        "data_volume_mount_path": str(tmp / "data"),
        "cvat_seed_retry_backoff": 0.2,
        "cvat_seed_health_timeout": 30,
        "cvat_seed_rotation_enabled": False,
    }
