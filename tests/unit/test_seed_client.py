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
    names = [p["name"] for p in c.list("/api/projects")]
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
    assert err.value.status == 400 and "at most 16 characters" in str(err.value)


def test_connection_refused_is_retried_then_reported(standin):
    c = cvat_api.CvatClient(None, "http://127.0.0.1:9", retries=2, retry_backoff=0.01)
    c.token = "x"
    with pytest.raises(cvat_api.CvatApiError, match="unreachable"):
        c.get("/api/projects")
    assert c.calls["GET"] == 3
