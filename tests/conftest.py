"""Shared pytest fixtures: the project root, a moto AWS server on 127.0.0.1, ansible-playbook runner."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


class MotoServer:
    """A real moto server process (AWS API stand-in) on 127.0.0.1; `env` points boto3/amazon.aws at it."""

    def __init__(self, port: int, proc: subprocess.Popen):
        self.port = port
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_REGION": "eu-west-1",
            "AWS_URL": self.url,
            "AWS_ENDPOINT_URL": self.url,
        }

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name="eu-west-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


def start_moto(argv: list[str] | None = None, env: dict[str, str] | None = None, timeout: float = 30) -> MotoServer:
    """A moto server process on a free 127.0.0.1 port, once it answers. `argv` replaces the `moto_server` program
    (e.g. a patched moto); `env` adds to this process's environment (e.g. INITIAL_NO_AUTH_ACTION_COUNT)."""
    port = free_port()
    cmd = (argv or [str(VENV_BIN / "moto_server")]) + ["-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=5).read()
            return MotoServer(port, proc)
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("moto_server exited at start")
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"moto_server did not answer within {timeout:.0f} s")


@pytest.fixture(scope="session")
def moto_server():
    server = start_moto()
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


@pytest.fixture()
def moto(moto_server: MotoServer) -> MotoServer:
    """A moto server with empty state for this test."""
    moto_server.reset()
    return moto_server


def run_playbook(playbook: str | Path, *args: str, env: dict[str, str] | None = None,
                 inventory: str | Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Runs ansible-playbook from the project's venv with the project's ansible.cfg.

    Without an explicit inventory it uses tests/localhost.yml, never ansible.cfg's default (the sandbox inventory),
    so a test does not depend on whatever the sandbox inventory holds.
    """
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory or ROOT / "tests" / "localhost.yml")]
    cmd += [str(playbook), *args]
    full_env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
                "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", **(env or {})}
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    return proc
