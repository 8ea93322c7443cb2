"""POST /api/auth/register: CVAT's rules and messages (roles/cvat_seed/module_utils/cvat_rules.py must agree)."""
from __future__ import annotations

import pytest

from cvat_standin.server import rules as cvat_rules

from .conftest import STRONG_PASSWORD

PW = {"password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD}
USERNAME_CHARS = ("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ "
                  "characters.")

# (request body with "{run}" for the run prefix, CVAT's 400 body); none of these creates a user
CASES = {
    "short username": ({"username": "abcd", **PW}, {"username": ["Ensure this field has at least 5 characters."]}),
    "username with a space": ({"username": "{run} x", **PW}, {"username": [USERNAME_CHARS]}),
    "username too long": ({"username": "a" * 151, **PW},
                          {"username": ["Ensure this field has no more than 150 characters."]}),
    "bad e-mail": ({"username": "{run}-e", "email": "not-an-email", **PW}, {"email": ["Enter a valid email address."]}),
    "blank names": ({"username": "{run}-b", "first_name": "", "last_name": "", **PW},
                    {"first_name": ["This field may not be blank."], "last_name": ["This field may not be blank."]}),
    "passwords differ": ({"username": "{run}-m", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD + "x"},
                         {"non_field_errors": ["The two password fields didn't match."]}),
    "short password": ({"username": "{run}-p", "password1": "Ab1!x", "password2": "Ab1!x"},
                       {"password1": ["Ensure this field has at least 8 characters."],
                        "password2": ["Ensure this field has at least 8 characters."]}),
    "common password": ({"username": "{run}-c", "password1": "password123", "password2": "password123"},
                        {"password1": ["This password is too common."]}),
    "password like the username": ({"username": "{run}-similar", "email": "{run}-similar@example.com",
                                    "password1": "{run}-similar",
                                    "password2": "{run}-similar"},
                                   {"non_field_errors": ["The password is too similar to the username."]}),
    "nothing": ({}, {"username": ["This field is required."], "password1": ["This field is required."],
                     "password2": ["This field is required."]}),
}


def _fill(body, run):
    return {k: v.replace("{run}", run) if isinstance(v, str) else v for k, v in body.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_registration_rules(cvat, case):
    body, expected = CASES[case]
    body = _fill(body, cvat.run)
    r = cvat.call("POST", "/api/auth/register", json=body)
    assert (r.status_code, r.json()) == (400, expected)
    # the shared rules module says the same without a server
    assert cvat_rules.registration_errors(body) == expected


def test_duplicates(cvat, member):
    upper = {"username": member["username"].upper(), **PW}  # user names are unique case-insensitively
    r = cvat.call("POST", "/api/auth/register", json=upper)
    assert (r.status_code, r.json()) == (400, {"username": ["A user with that username already exists."]})
    same_mail = {"username": cvat.name("dup"), "email": member["email"].upper(), **PW}
    r = cvat.call("POST", "/api/auth/register", json=same_mail)
    assert (r.status_code, r.json()) == (400, ["A user is already registered with this e-mail address."])


def test_registered_user_shape(cvat, member):
    assert member["email"] == member["email"].lower()
    assert member["first_name"] == "Member" and member["last_name"] == ""
    assert member["email_verification_required"] is False and member["key"]


def test_only_one_user_without_email(cvat):
    """CVAT looks up the e-mail "" like any other: once a user without an e-mail exists (the first such
    registration), every later registration without one is refused as a duplicate e-mail."""
    for suffix in ("noemail1", "noemail2"):
        r = cvat.call("POST", "/api/auth/register", json={"username": cvat.name(suffix), **PW})
        assert r.status_code in (201, 400), r.text
    assert (r.status_code, r.json()) == (400, ["A user is already registered with this e-mail address."])
