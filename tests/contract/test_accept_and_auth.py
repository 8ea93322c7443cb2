"""Content negotiation (/api/* renders only application/vnd.cvat+json; the health check wants JSON or HTML),
session cookies with CSRF, login keys and access tokens: what CVAT v2.73.0 does."""
from __future__ import annotations

import requests

from .conftest import CVAT_JSON, NO_PERMISSION, STRONG_PASSWORD

NOT_ACCEPTABLE = {"detail": "Could not satisfy the request Accept header."}
BOTH = f"{CVAT_JSON}, application/json;q=0.9"


def test_api_refuses_plain_json_accept(cvat):
    r = cvat.call("POST", "/api/auth/login", json={"username": cvat.admin, "password": cvat.password},
                  headers={"Accept": "application/json"})
    assert (r.status_code, r.json()) == (406, NOT_ACCEPTABLE)
    r = cvat.call("GET", "/api/server/about", headers={"Accept": "application/json"})
    assert (r.status_code, r.json()) == (406, NOT_ACCEPTABLE)


def test_api_renders_cvat_json(cvat):
    for accept in (CVAT_JSON, BOTH, None, "*/*"):  # None: no Accept header at all
        r = cvat.call("GET", "/api/server/about", headers={"Accept": accept})
        assert r.status_code == 200, (accept, r.text)
        assert r.headers["Content-Type"].startswith(CVAT_JSON), accept
        assert r.json()["name"] == "Computer Vision Annotation Tool"


def test_health_wants_json_or_html(cvat):
    for accept in ("application/json", BOTH):
        r = cvat.call("GET", "/api/server/health/", headers={"Accept": accept})
        assert r.status_code == 200, accept
        assert r.headers["Content-Type"].startswith("application/json"), accept
        assert r.json() and all(v == "working" for v in r.json().values()), r.text
    r = cvat.call("GET", "/api/server/health/", headers={"Accept": CVAT_JSON})
    assert r.status_code == 406
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == "Not Acceptable: Supported content types: text/html, application/json"
    r = cvat.call("GET", "/api/server/health/", headers={"Accept": None})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")


def test_register_logs_in_and_a_kept_cookie_needs_csrf(cvat):
    s = requests.Session()
    name = cvat.name("csrf")
    r = cvat.call("POST", "/api/auth/register", session=s,
                  json={"username": name, "email": f"{name}@example.com", "password1": STRONG_PASSWORD,
                        "password2": STRONG_PASSWORD})
    assert r.status_code == 201, r.text
    assert r.json()["key"], "registration answers the new user's login key"
    assert {"sessionid", "csrftoken"} <= set(s.cookies.keys()), "registration logs the new user in"
    # the next anonymous write of a client that kept the cookies: CSRF refused before anything else
    bad = {"username": "abc", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD}
    r = cvat.call("POST", "/api/auth/register", session=s, json=bad)
    assert (r.status_code, r.json()) == (403, {"detail": "CSRF Failed: CSRF token missing."})
    r = cvat.call("POST", "/api/auth/register", session=s, json=bad, headers={"X-CSRFToken": s.cookies["csrftoken"]})
    assert r.status_code == 400 and "username" in r.json(), r.text  # past CSRF: the request itself is judged
    # a safe method needs no token; an unsafe one on the session does
    me = cvat.call("GET", "/api/users/self", session=s)
    assert me.status_code == 200 and me.json()["username"] == name
    r = cvat.call("PATCH", f"/api/users/{me.json()['id']}", session=s, json={"first_name": "Csrf"})
    assert (r.status_code, r.json()) == (403, {"detail": "CSRF Failed: CSRF token missing."})
    r = cvat.call("PATCH", f"/api/users/{me.json()['id']}", session=s, json={"first_name": "Csrf"},
                  headers={"X-CSRFToken": s.cookies["csrftoken"]})
    assert r.status_code == 200 and r.json()["first_name"] == "Csrf"


def test_login_sets_session_but_token_and_bearer_need_no_csrf(cvat, admin_key, admin_bearer):
    s = requests.Session()
    r = cvat.call("POST", "/api/auth/login", session=s, json={"username": cvat.admin, "password": cvat.password})
    assert r.status_code == 200 and r.json()["key"]
    assert {"sessionid", "csrftoken"} <= set(s.cookies.keys())
    too_long = {"slug": "x" * 17}  # refused by validation, so nothing is created
    r = cvat.call("POST", "/api/organizations", session=s, json=too_long)
    assert (r.status_code, r.json()) == (403, {"detail": "CSRF Failed: CSRF token missing."})
    for auth in (admin_key, admin_bearer):  # same cookies, no CSRF token: the header authenticates first
        r = cvat.call("POST", "/api/organizations", session=s, auth=auth, json=too_long)
        assert r.status_code == 400, r.text
        assert r.json() == {"slug": ["Ensure this field has no more than 16 characters."]}


def test_access_token_is_read_only_by_default(cvat, admin_key):
    r = cvat.call("POST", "/api/auth/access_tokens", auth=admin_key, json={"name": cvat.name("ro")})
    assert r.status_code == 201 and r.json()["read_only"] is True, r.text
    ro = "Bearer " + r.json()["value"]
    assert cvat.call("GET", "/api/organizations", auth=ro).status_code == 200
    r = cvat.call("POST", "/api/organizations", auth=ro, json={"slug": "x" * 17})
    assert (r.status_code, r.json()) == (403, NO_PERMISSION)


def test_access_token_may_view_users_but_not_change_them(cvat, admin_key, admin_bearer, member):
    r = cvat.call("GET", "/api/users", auth=admin_bearer, params={"search": member["username"]})
    assert r.status_code == 200
    found = [u for u in r.json()["results"] if u["username"] == member["username"]]
    assert len(found) == 1
    user = found[0]
    assert user["url"].startswith("http"), "CVAT's hyperlinks are absolute"
    assert cvat.call("GET", f"/api/users/{user['id']}", auth=admin_bearer).status_code == 200
    r = cvat.call("PATCH", f"/api/users/{user['id']}", auth=admin_bearer, json={"last_name": "Bearer"})
    assert (r.status_code, r.json()) == (403, NO_PERMISSION)
    r = cvat.call("POST", "/api/auth/access_tokens", auth=admin_bearer, json={"name": cvat.name("nested")})
    assert (r.status_code, r.json()) == (403, NO_PERMISSION)
    r = cvat.call("PATCH", f"/api/users/{user['id']}", auth=admin_key, json={"last_name": "Key"})
    assert r.status_code == 200 and r.json()["last_name"] == "Key"
