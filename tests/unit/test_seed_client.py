"""Unit tests of the cvat_seed role's API client (module_utils/cvat_api.py) against the CVAT API stand-in:
health wait, retries, pagination, POST re-check after a 5xx, CVAT's message in errors."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import ROOT
from cvat_standin.harness import ADMIN, ADMIN_PASSWORD, Standin

spec = importlib.util.spec_from_file_location("ansible.module_utils.cvat_api", ROOT / "roles/cvat_seed/module_utils/cvat_api.py")
cvat_api = importlib.util.module_from_spec(spec)
sys.modules.setdefault("ansible.module_utils.cvat_api", cvat_api)
spec.loader.exec_module(cvat_api)


@pytest.fixture()
def standin():
    s = Standin()
    yield s
    s.close()


def client(s, **kw):
    args = dict(username=ADMIN, password=ADMIN_PASSWORD, retry_backoff=0.01, health_timeout=5, page_size=2)
    args.update(kw)
    return cvat_api.CvatClient(None, s.url, **args)


def test_waits_for_health_and_logs_in(standin):
    standin.faults(unavailable=4)
    c = client(standin).connect()
    assert c.token_type == "Token" and c.token
    assert standin.stats()["GET /api/server/health/"] == 5


def test_health_timeout_quotes_status(standin):
    standin.faults(unavailable=10 ** 6)
    with pytest.raises(cvat_api.CvatApiError, match="unhealthy"):
        client(standin, health_timeout=0).connect()


def test_pagination_follows_next(standin):
    c = client(standin).connect()
    c.post("/api/organizations", {"slug": "o"})
    c.org = "o"
    for i in range(5):
        c.post("/api/projects", {"name": f"p{i}"})
    standin.reset_stats()
    names = sorted(p["name"] for p in c.list("/api/projects"))  # CVAT lists newest first
    assert names == [f"p{i}" for i in range(5)]
    assert standin.stats()["GET /api/projects"] == 3  # pages of 2


def test_post_after_500_is_rechecked_not_duplicated(standin):
    c = client(standin).connect()
    c.post("/api/organizations", {"slug": "o"})
    c.org = "o"
    standin.faults(fail={"method": "POST", "path": "/api/projects", "status": 500, "count": 1})
    recheck_calls = []

    def recheck():
        recheck_calls.append(1)
        return next((p for p in c.list("/api/projects") if p["name"] == "x"), None)
    c.post("/api/projects", {"name": "x"}, recheck=recheck)
    assert recheck_calls and [p["name"] for p in c.list("/api/projects")] == ["x"]


def test_post_500_without_recheck_fails_with_cvat_message(standin):
    c = client(standin).connect()
    standin.faults(fail={"method": "POST", "path": "/api/organizations", "status": 500, "count": 1})
    with pytest.raises(cvat_api.CvatApiError, match="HTTP 500; CVAT said: Internal Server Error"):
        c.post("/api/organizations", {"slug": "o"})


def test_400_body_is_quoted(standin):
    c = client(standin).connect()
    with pytest.raises(cvat_api.CvatApiError) as err:
        c.post("/api/organizations", {"slug": "much-too-long-slug-here"})
    assert err.value.status == 400 and "no more than 16 characters" in str(err.value)


def test_connection_refused_is_retried_then_reported(standin):
    c = cvat_api.CvatClient(None, "http://127.0.0.1:9", retries=2, retry_backoff=0.01)
    c.token = "x"
    with pytest.raises(cvat_api.CvatApiError, match="unreachable"):
        c.get("/api/projects")
    assert c.calls["GET"] == 3


class _Recorder:
    """A tiny HTTP server for client behaviour CVAT shows: it records each request's headers and answers from a
    script of (status, headers, body) tuples."""

    def __init__(self, script):
        import http.server
        import threading

        self.seen, self.script = [], list(script)
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                rec.seen.append((self.command, self.path, dict(self.headers)))
                status, headers, body = rec.script.pop(0) if rec.script else (200, {}, b"{}")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_POST = _any

            def log_message(self, *a):
                pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def close(self):
        self.srv.shutdown()


def test_429_waits_retry_after_and_resends_even_a_post():
    throttled = b'{"detail":"Request was throttled. Expected available in 1 seconds."}'
    rec = _Recorder([(429, {"Retry-After": "1"}, throttled), (429, {}, throttled), (201, {}, b'{"id": 7}')])
    try:
        c = cvat_api.CvatClient(None, rec.url, api_token="t", retries=0)
        import time
        t0 = time.time()
        assert c.post("/api/auth/register", {"username": "someone"}) == {"id": 7}
        assert time.time() - t0 >= 1.9  # Retry-After header, then CVAT's "Expected available in 1 seconds"
        assert [m for m, _, _ in rec.seen] == ["POST", "POST", "POST"]  # throttled requests were not processed
        assert c.throttled_seconds >= 1.9
    finally:
        rec.close()


def test_429_past_the_throttle_timeout_fails_with_cvat_message():
    throttled = b'{"detail":"Request was throttled. Expected available in 30 seconds."}'
    rec = _Recorder([(429, {"Retry-After": "30"}, throttled)] * 5)
    try:
        c = cvat_api.CvatClient(None, rec.url, api_token="t", retries=0, throttle_timeout=1)
        with pytest.raises(cvat_api.CvatApiError, match="HTTP 429; CVAT said: Request was throttled"):
            c.get("/api/users")
    finally:
        rec.close()


def test_vendor_accept_header_and_no_cookies_kept():
    """CVAT renders only application/vnd.cvat+json (406 for application/json); registration sets a session cookie
    that must never be sent back (CVAT then demands a CSRF token)."""
    rec = _Recorder([(201, {"Set-Cookie": "sessionid=abc; Path=/"}, b"{}"), (201, {}, b"{}")])
    try:
        c = cvat_api.CvatClient(None, rec.url, api_token="t")
        c.post("/api/auth/register", {"username": "first1"})
        c.post("/api/auth/register", {"username": "second"})
        accept = [h.get("Accept") for _, _, h in rec.seen]
        assert accept == ["application/vnd.cvat+json, application/json;q=0.9"] * 2
        assert "Cookie" not in rec.seen[1][2]
    finally:
        rec.close()
