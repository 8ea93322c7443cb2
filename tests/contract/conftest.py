"""Contract tests: one set of assertions about CVAT v2.73.0's REST API, run against the stand-in
(tests/cvat_standin, started in-process) in CI, and against a real CVAT when CVAT_CONTRACT_URL is set:

    CVAT_CONTRACT_URL=http://127.0.0.1:8080 pytest -q tests/contract
    (CVAT_CONTRACT_ADMIN / CVAT_CONTRACT_PASSWORD: the superuser, default admin / AdminPass-2026!;
     CVAT_CONTRACT_MAIL_BACKEND=1 when that CVAT has SMTP configured)

Against a real server the tests create only objects named `ct-<run id>...` (never delete or reset anything), make
at most 4 registrations, and end with a burst of anonymous requests until the anonymous throttle answers 429
(that address then waits up to a minute). A moto server on 127.0.0.1 (tests/conftest.py) is the S3 for both.
"""
from __future__ import annotations

import os
import secrets
import struct
import time
import zlib

import pytest
import requests

from cvat_standin.server import serve_in_thread

CVAT_JSON = "application/vnd.cvat+json"
ACCEPT = {"Accept": CVAT_JSON}
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}
STRONG_PASSWORD = "Ct-Contract-pw-7351!"


class Target:
    """The server under test: a real CVAT (url given) or a fresh in-process stand-in."""

    def __init__(self, url: str, admin: str, password: str, real: bool, mail_backend: bool, server=None):
        self.url, self.admin, self.password, self.real = url, admin, password, real
        self.mail_backend = mail_backend
        self.server = server
        self.run = "ct-" + secrets.token_hex(3)  # prefix of every object this run creates

    def name(self, suffix: str) -> str:
        return f"{self.run}-{suffix}"

    def call(self, method: str, path: str, auth: str | None = None, json=None, headers: dict | None = None,
             session: requests.Session | None = None, **kw) -> requests.Response:
        """One request without a cookie jar (unless `session`); `auth`: a full Authorization header value."""
        h = dict(ACCEPT)
        if auth:
            h["Authorization"] = auth
        h.update(headers or {})
        return (session or requests).request(method, self.url + path, json=json, headers=h, timeout=60, **kw)


@pytest.fixture(scope="session")
def cvat():
    url = os.environ.get("CVAT_CONTRACT_URL")
    if url:
        yield Target(url.rstrip("/"), os.environ.get("CVAT_CONTRACT_ADMIN", "admin"),
                     os.environ.get("CVAT_CONTRACT_PASSWORD", "AdminPass-2026!"), real=True,
                     mail_backend=os.environ.get("CVAT_CONTRACT_MAIL_BACKEND", "") not in ("", "0", "false"))
        return
    srv = serve_in_thread(0, "admin", "AdminPass-2026!")  # CVAT's defaults: anonymous throttle on, no mail backend
    yield Target(f"http://127.0.0.1:{srv.server_address[1]}", "admin", "AdminPass-2026!", real=False,
                 mail_backend=False, server=srv)
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def admin_key(cvat: Target) -> str:
    """The superuser's login key (Authorization: Token ...): one anonymous login per run."""
    r = cvat.call("POST", "/api/auth/login", json={"username": cvat.admin, "password": cvat.password})
    assert r.status_code == 200, r.text
    return "Token " + r.json()["key"]


@pytest.fixture(scope="session")
def admin_bearer(cvat: Target, admin_key: str) -> str:
    """A read-write access token of the superuser (Authorization: Bearer ...)."""
    r = cvat.call("POST", "/api/auth/access_tokens", auth=admin_key, json={"name": cvat.name("rw"), "read_only": False})
    assert r.status_code == 201, r.text
    return "Bearer " + r.json()["value"]


@pytest.fixture(scope="session")
def member(cvat: Target) -> dict:
    """One registered user (no cookies kept): its registration answer plus the e-mail and password."""
    body = {"username": cvat.name("m1"), "email": f"{cvat.name('m1')}@Example.COM", "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD, "first_name": "Member"}
    r = cvat.call("POST", "/api/auth/register", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json(), password=STRONG_PASSWORD)


@pytest.fixture(scope="session")
def org(cvat: Target, admin_bearer: str) -> dict:
    r = cvat.call("POST", "/api/organizations", auth=admin_bearer,
                  json={"slug": cvat.run.replace("-", ""), "name": cvat.name("org")})
    assert r.status_code == 201, r.text
    return r.json()


def png(width: int = 16, height: int = 16, rgb=(200, 30, 30)) -> bytes:
    """A small valid PNG (CVAT decodes the media it is given)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def wait_request(cvat: Target, auth: str, rq_id: str, timeout: float = 120) -> dict:
    """Polls GET /api/requests/{rq_id} until finished or failed."""
    deadline = time.time() + timeout
    while True:
        r = cvat.call("GET", f"/api/requests/{rq_id}", auth=auth)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("finished", "failed") or time.time() > deadline:
            return r.json()
        time.sleep(0.5)
