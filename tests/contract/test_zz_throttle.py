"""CVAT's anonymous throttle (DEFAULT_THROTTLE_RATES["anon"] = "100/minute", per client address). Runs last:
against a real server the address then waits up to a minute for anonymous requests."""
from __future__ import annotations

import re

from cvat_standin.server import serve_in_thread

from .conftest import STRONG_PASSWORD, Target


def _burst(t: Target, limit: int = 120):
    """Cheap anonymous GETs until the first 429: (requests sent, that response)."""
    for i in range(1, limit + 1):
        r = t.call("GET", "/api/server/about")
        if r.status_code != 200:
            return i, r
    return limit, None


def test_anonymous_throttle(cvat, admin_key, admin_bearer):
    n, r = _burst(cvat)
    assert r is not None, "no 429 after 120 anonymous requests"
    assert n <= 101, n
    assert r.status_code == 429
    m = re.fullmatch(r"Request was throttled\. Expected available in (\d+) seconds?\.", r.json()["detail"])
    assert m, r.text
    assert r.headers["Retry-After"] == m.group(1) and 1 <= int(m.group(1)) <= 60
    # still throttled: login and registration of anonymous clients too
    r = cvat.call("POST", "/api/auth/login", json={"username": cvat.admin, "password": cvat.password})
    assert r.status_code == 429
    # not throttled: authenticated requests (a registration carrying the admin's token included), the health
    # check (not a DRF view) and requests refused before the throttle check (401, 406)
    assert cvat.call("GET", "/api/server/about", auth=admin_key).status_code == 200
    r = cvat.call("POST", "/api/auth/register", auth=admin_bearer, json={
        "username": cvat.name("authreg"), "email": f"{cvat.name('authreg')}@example.com", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD})
    assert r.status_code == 201, r.text
    assert cvat.call("GET", "/api/users/self", auth=admin_bearer).json()["username"] == cvat.admin
    assert cvat.call("GET", "/api/server/health/", headers={"Accept": "application/json"}).status_code == 200
    assert cvat.call("GET", "/api/users").status_code == 401
    assert cvat.call("GET", "/api/server/about", headers={"Accept": "application/json"}).status_code == 406


def test_standin_throttle_can_be_disabled():
    """Stand-in only: anon_rate=None (benchmarks) never answers 429."""
    srv = serve_in_thread(0, "admin", "pw", anon_rate=None)
    try:
        t = Target(f"http://127.0.0.1:{srv.server_address[1]}", "admin", "pw", False, False)
        assert _burst(t, 130) == (130, None)
    finally:
        srv.shutdown()
        srv.server_close()
