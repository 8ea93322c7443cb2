# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CVAT v2.73.0's input rules for user names, e-mail addresses, names, passwords and organisation slugs.

Written once, here, and used by the cvat_seed role's validation (module_utils/cvat_policy.py, before any write)
and by the CVAT API stand-in (tests/cvat_standin/server.py), so that both refuse exactly what a real CVAT refuses,
with CVAT's own messages. Standard library only.

Sources (upstream ac6e63b): cvat/settings/base.py (ACCOUNT_USERNAME_MIN_LENGTH = 5, AUTH_PASSWORD_VALIDATORS,
DEFAULT_MIN/MAX_PASSWORD_LENGTH 8/256 in cvat/apps/iam/password_validation.py), cvat/apps/iam/serializers.py
(RegisterSerializerEx: email max 254, optional first_name/last_name of at most 150 characters that may not be
blank when sent), cvat/apps/organizations/models.py (Organization.slug: SlugField(max_length=16, unique),
name max 64), Django 5.2's UnicodeUsernameValidator (max 150), EmailValidator and password validators, DRF 3.17
field messages. Checked against a real CVAT v2.73.0 on 2026-12-02 (tests/contract).

Every *_errors function returns the list of CVAT's error messages for the value ([] when CVAT accepts it); it does
not check uniqueness (the server's state). `registration_errors` returns the body CVAT answers with HTTP 400 to
POST /api/auth/register, field by field, for the checks that need no database.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from difflib import SequenceMatcher

USERNAME_MIN_LENGTH = 5
USERNAME_MAX_LENGTH = 150
USERNAME_RE = re.compile(r"^[\w.@+-]+\Z")
EMAIL_MAX_LENGTH = 254
PERSON_NAME_MAX_LENGTH = 150
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
SLUG_MAX_LENGTH = 16
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")
ORG_NAME_MAX_LENGTH = 64
ORG_ROLES = ("worker", "supervisor", "maintainer", "owner")

REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NULL = "This field may not be null."
USERNAME_INVALID = ("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ "
                    "characters.")
USERNAME_TAKEN = "A user with that username already exists."
EMAIL_INVALID = "Enter a valid email address."
EMAIL_TAKEN = "A user is already registered with this e-mail address."
PASSWORD_MISMATCH = "The two password fields didn't match."
SLUG_INVALID = 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
SLUG_TAKEN = "organization with this slug already exists."

_UL = "\u00a1-\uffff"
_EMAIL_USER_RE = re.compile(
    r"(^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*\Z"
    r'|^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])*"\Z)', re.IGNORECASE)
_EMAIL_DOMAIN_RE = re.compile(
    r"^[a-z" + _UL + r"0-9](?:[a-z" + _UL + r"0-9-]{0,61}[a-z" + _UL + r"0-9])?"
    r"(?:\.(?!-)[a-z" + _UL + r"0-9-]{1,63}(?<!-))*"
    r"\.(?!-)(?:[a-z" + _UL + r"-]{2,63}|xn--[a-z0-9]{1,59})(?<!-)\Z", re.IGNORECASE)
_EMAIL_LITERAL_RE = re.compile(r"\[([A-F0-9:.]+)\]\Z", re.IGNORECASE)

# A sample of Django's CommonPasswordValidator list (the full list has 20,000 entries): CVAT refuses more.
COMMON_PASSWORDS_SAMPLE = frozenset((
    "password", "password1", "password123", "12345678", "123456789", "1234567890", "qwerty123", "iloveyou",
    "admin123", "welcome1", "letmein1", "11111111", "00000000", "abc12345", "passw0rd", "qwertyuiop",
))
_SIMILARITY_ATTRS = (("username", "username"), ("first_name", "first name"), ("last_name", "last name"),
                     ("email", "email address"))


def _max_len(n):
    return "Ensure this field has no more than %d characters." % n


def _min_len(n):
    return "Ensure this field has at least %d characters." % n


def _charfield(value, max_length=None, min_length=None, trim=True, required=True):
    """DRF CharField checks: returns (cleaned value, errors)."""
    if value is None:
        return None, [NULL]
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None, ["Not a valid string."]
    value = str(value)
    if trim:
        value = value.strip()
    if value == "":
        return value, [BLANK]
    errors = []
    if max_length is not None and len(value) > max_length:
        errors.append(_max_len(max_length))
    if min_length is not None and len(value) < min_length:
        errors.append(_min_len(min_length))
    return value, errors


def username_errors(value):
    """CVAT's messages for a new user name (registration), uniqueness aside."""
    value, errors = _charfield(value, USERNAME_MAX_LENGTH, USERNAME_MIN_LENGTH)
    if errors:
        return errors
    if not USERNAME_RE.match(value):
        return [USERNAME_INVALID]
    return []


def is_valid_email(value):
    if not value or "@" not in value or len(value) > 320:
        return False
    user, domain = value.rsplit("@", 1)
    if not _EMAIL_USER_RE.match(user):
        return False
    if domain == "localhost" or _EMAIL_DOMAIN_RE.match(domain):
        return True
    m = _EMAIL_LITERAL_RE.match(domain)
    if m:
        import ipaddress
        try:
            ipaddress.ip_address(m.group(1))
            return True
        except ValueError:
            return False
    return False


def email_errors(value):
    """CVAT's messages for an e-mail address (registration, invitation)."""
    value, errors = _charfield(value, EMAIL_MAX_LENGTH)
    if errors and errors[0] in (BLANK, NULL, "Not a valid string."):
        return errors
    if not is_valid_email(value):
        errors.append(EMAIL_INVALID)
    return errors


def normalize_email(value):
    """The form CVAT stores: trimmed and lower-cased."""
    return str(value).strip().lower()


def person_name_errors(value):
    """first_name / last_name, when sent at all (omit an undeclared name: CVAT refuses a blank one)."""
    return _charfield(value, PERSON_NAME_MAX_LENGTH)[1]


def _numeric(p):
    return p.isdigit()


def _too_similar(password, user):
    """Django's UserAttributeSimilarityValidator (max similarity 0.7): the verbose name of the attribute, or None."""
    pw = password.lower()
    for attr, verbose in _SIMILARITY_ATTRS:
        value = user.get(attr)
        if not value or not isinstance(value, str):
            continue
        low = value.lower()
        for part in re.split(r"\W+", low) + [low]:
            if len(pw) >= 10 * len(part) and len(part) < 0.7 / 2 * len(pw):
                continue
            if SequenceMatcher(a=pw, b=part).quick_ratio() >= 0.7:
                return verbose
    return None


def password_errors(password, user=None):
    """Messages for password1 (field checks, then Django's validators without the user). With `user` (a dict of
    username/first_name/last_name/email) the similarity check that CVAT runs later, at save, is added."""
    value, errors = _charfield(password, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, trim=False)
    if errors:
        return errors
    if value.lower() in COMMON_PASSWORDS_SAMPLE:
        errors.append("This password is too common.")
    if _numeric(value):
        errors.append("This password is entirely numeric.")
    if not errors and user:
        verbose = _too_similar(value, user)
        if verbose:
            errors.append("The password is too similar to the %s." % verbose)
    return errors


def registration_errors(data, username_exists=None, similarity=True):
    """CVAT's HTTP 400 body for POST /api/auth/register: {} when the request passes. Field errors first (with
    `username_exists`, a function name -> bool, the user name's uniqueness, case-insensitive, as CVAT checks it);
    the password match, then (with `similarity`) the password's similarity to the user's attributes, only when
    every field passed, as CVAT does. A duplicate e-mail is checked by CVAT between those two (HTTP 400 with the
    list body [EMAIL_TAKEN]): a server calls this with similarity=False, checks the e-mail, then
    password_errors(password1, user)."""
    errors = {}
    for field in ("username", "email", "password1", "password2", "first_name", "last_name"):
        required = field in ("username", "password1", "password2")
        if field not in data:
            if required:
                errors[field] = [REQUIRED]
            continue
        value = data[field]
        if field == "username":
            errs = username_errors(value)
            if not errs and username_exists and username_exists(str(value).strip()):
                errs = [USERNAME_TAKEN]
        elif field == "email":
            errs = email_errors(value)
        elif field == "password1":
            errs = password_errors(value)
        elif field == "password2":
            errs = _charfield(value, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, trim=False)[1]
        else:
            errs = person_name_errors(value)
        if errs:
            errors[field] = errs
    if errors:
        return errors
    if data["password1"] != data["password2"]:
        return {"non_field_errors": [PASSWORD_MISMATCH]}
    user = dict((k, str(data.get(k) or "").strip()) for k in ("username", "first_name", "last_name", "email"))
    verbose = _too_similar(data["password1"], user) if similarity else None
    if verbose:
        return {"non_field_errors": ["The password is too similar to the %s." % verbose]}
    return {}


def slug_errors(value):
    """Organisation slug (SlugField, max 16), uniqueness aside."""
    value, errors = _charfield(value, SLUG_MAX_LENGTH)
    if errors and errors[0] in (BLANK, NULL, "Not a valid string."):
        return errors
    if not SLUG_RE.match(value):
        errors.insert(0, SLUG_INVALID)
    return errors


def org_name_errors(value):
    """Organisation name: optional, may be blank, at most 64 characters."""
    if value is None:
        return [NULL]
    return [_max_len(ORG_NAME_MAX_LENGTH)] if len(str(value).strip()) > ORG_NAME_MAX_LENGTH else []
