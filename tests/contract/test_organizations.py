"""Organisations, memberships and invitations (ORG_INVITATION_CONFIRM "No", no mail backend unless declared)."""
from __future__ import annotations

import pytest

from cvat_standin.server import rules as cvat_rules
from cvat_standin.server import serve_in_thread

from .conftest import STRONG_PASSWORD, Target

SLUG_CASES = {
    "bad slug": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'],
    "x" * 17: ["Ensure this field has no more than 16 characters."],
    "": ["This field may not be blank."],
    "\u00fcber": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'],
}


@pytest.mark.parametrize("slug", list(SLUG_CASES))
def test_slug_rules(cvat, admin_bearer, slug):
    r = cvat.call("POST", "/api/organizations", auth=admin_bearer, json={"slug": slug})
    assert (r.status_code, r.json()) == (400, {"slug": SLUG_CASES[slug]})
    assert cvat_rules.slug_errors(slug) == SLUG_CASES[slug]


def test_org_duplicate_and_owner_membership(cvat, admin_bearer, org):
    r = cvat.call("POST", "/api/organizations", auth=admin_bearer, json={"slug": org["slug"]})
    assert (r.status_code, r.json()) == (400, {"slug": ["organization with this slug already exists."]})
    r = cvat.call("POST", "/api/organizations", auth=admin_bearer, json={"slug": "x" + org["slug"], "name": "n" * 65})
    assert (r.status_code, r.json()) == (400, {"name": ["Ensure this field has no more than 64 characters."]})
    ms = cvat.call("GET", "/api/memberships", auth=admin_bearer, headers={"X-Organization": org["slug"]}).json()
    owner = [m for m in ms["results"] if m["role"] == "owner"]
    assert len(owner) == 1 and owner[0]["invitation"] is None and owner[0]["is_active"] is True
    assert owner[0]["joined_date"] == org["created_date"]


def test_invite_existing_user(cvat, admin_bearer, org, member):
    ctx = {"X-Organization": org["slug"]}
    r = cvat.call("POST", "/api/invitations", auth=admin_bearer, headers=ctx,
                  json={"role": "worker", "email": member["email"].upper()})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert inv["accepted"] is True and inv["expired"] is None and inv["role"] == "worker"
    assert inv["user"]["username"] == member["username"]
    assert inv["organization_info"] == {"id": org["id"], "slug": org["slug"]}
    r = cvat.call("POST", "/api/invitations", auth=admin_bearer, headers=ctx,
                  json={"role": "supervisor", "email": member["email"]})
    assert (r.status_code, r.json()) == (400, ["The user is a member of the organization already."])
    r = cvat.call("POST", "/api/invitations", auth=admin_bearer, headers=ctx,
                  json={"role": "boss", "email": member["email"]})
    assert (r.status_code, r.json()) == (400, {"role": ['"boss" is not a valid choice.']})
    ms = [m for m in cvat.call("GET", "/api/memberships", auth=admin_bearer, headers=ctx).json()["results"]
          if m["user"]["username"] == member["username"]]
    assert len(ms) == 1 and ms[0]["is_active"] and ms[0]["invitation"] == inv["key"]
    r = cvat.call("PATCH", f"/api/memberships/{ms[0]['id']}", auth=admin_bearer, headers=ctx, json={"role": "maintainer"})
    assert r.status_code == 200 and r.json()["role"] == "maintainer"


def test_invite_unknown_email_without_mail_backend(cvat, admin_bearer, org):
    if cvat.mail_backend:
        pytest.skip("this CVAT has a mail backend")
    ctx = {"X-Organization": org["slug"]}
    email = f"{cvat.name('ghost')}@Example.com"
    r = cvat.call("POST", "/api/invitations", auth=admin_bearer, headers=ctx, json={"role": "worker", "email": email})
    assert (r.status_code, r.json()) == (500, "Email backend is not configured.")
    # ...and yet a placeholder user and a pending invitation were left behind
    ms = [m for m in cvat.call("GET", "/api/memberships", auth=admin_bearer, headers=ctx).json()["results"]
          if m["user"]["username"] == email.lower()]
    assert len(ms) == 1
    assert ms[0]["is_active"] is False and ms[0]["joined_date"] is None and ms[0]["role"] == "worker"
    invs = [i for i in cvat.call("GET", "/api/invitations", auth=admin_bearer, headers=ctx).json()["results"]
            if i["key"] == ms[0]["invitation"]]
    assert len(invs) == 1 and invs[0]["accepted"] is False and invs[0]["expired"] is None
    r = cvat.call("POST", "/api/invitations", auth=admin_bearer, headers=ctx, json={"role": "worker", "email": email})
    assert (r.status_code, r.json()) == (400, ["The user is a member of the organization already."])
    # registering with that e-mail takes the placeholder over (same user, new name); the invitation stays pending
    name = cvat.name("heir")
    r = cvat.call("POST", "/api/auth/register", json={"username": name, "email": email, "password1": STRONG_PASSWORD,
                                                      "password2": STRONG_PASSWORD})
    assert r.status_code == 201, r.text
    after = [m for m in cvat.call("GET", "/api/memberships", auth=admin_bearer, headers=ctx).json()["results"]
             if m["id"] == ms[0]["id"]]
    assert after[0]["user"]["id"] == ms[0]["user"]["id"] and after[0]["user"]["username"] == name
    assert after[0]["is_active"] is False


def test_standin_mail_backend_option():
    """Stand-in only: with mail_backend=True an unknown e-mail is invited (201, sent) and stays pending."""
    srv = serve_in_thread(0, "admin", "AdminPass-2026!", mail_backend=True)
    try:
        t = Target(f"http://127.0.0.1:{srv.server_address[1]}", "admin", "AdminPass-2026!", False, True)
        key = "Token " + t.call("POST", "/api/auth/login", json={"username": "admin", "password": "AdminPass-2026!"}).json()["key"]
        assert t.call("POST", "/api/organizations", auth=key, json={"slug": "mail"}).status_code == 201
        r = t.call("POST", "/api/invitations", auth=key, headers={"X-Organization": "mail"},
                   json={"role": "worker", "email": "new@example.com"})
        assert r.status_code == 201 and r.json()["accepted"] is False and r.json()["expired"] is False
        ms = t.call("GET", "/api/memberships", auth=key, headers={"X-Organization": "mail"}).json()["results"]
        assert [(m["user"]["username"], m["is_active"]) for m in ms if m["role"] == "worker"] == [("new@example.com", False)]
    finally:
        srv.shutdown()
        srv.server_close()
