# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CVAT v2.73.0's own input rules for the objects the seed role creates, as pure functions (no I/O).

Read from upstream's source at the pin (release commit ac6e63b) and the library versions it pins; written once
here and used by the role's validation (before any write) and by the CVAT API stand-in (tests/cvat_standin),
so both refuse the same values:

- organisation slug: ``models.SlugField(max_length=16)`` (cvat/apps/organizations/models.py) -> Django's
  ``validate_slug`` ``^[-a-zA-Z0-9_]+$``, 1-16 characters; name at most 64 characters;
- username: Django's ``UnicodeUsernameValidator`` ``^[\\w.@+-]+$`` (max 150) and allauth's
  ``ACCOUNT_USERNAME_MIN_LENGTH = 5`` (cvat/settings/base.py);
- e-mail: Django 5.2's ``EmailValidator`` (dot-atom user part; host name, IP literal or ``localhost``), at most
  254 characters (allauth ``EMAIL_MAX_LENGTH``, RegisterSerializerEx);
- first/last name: not blank when sent (``serializers.CharField``), at most 150 characters;
- password: 8-256 characters (cvat/apps/iam/password_validation.py), not entirely numeric (Django's
  NumericPasswordValidator; CVAT also refuses common and user-similar passwords, which only the server can judge).

Each function returns an error text (CVAT's words where it has them) or None.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SLUG_MAX = 16
ORG_NAME_MAX = 64
USERNAME_MIN = 5
USERNAME_MAX = 150
NAME_MAX = 150
EMAIL_MAX = 254
PASSWORD_MIN = 8
PASSWORD_MAX = 256

SLUG_RE = re.compile(r'^[-a-zA-Z0-9_]+\Z')
USERNAME_RE = re.compile(r'^[\w.@+-]+\Z', re.UNICODE)
_UL = u'\u00a1-\uffff'
_HOSTNAME = r'[a-z' + _UL + r'0-9](?:[a-z' + _UL + r'0-9-]{0,61}[a-z' + _UL + r'0-9])?'
_DOMAIN = r'(?:\.(?!-)[a-z' + _UL + r'0-9-]{1,63}(?<!-))*'
_TLD = r'\.(?!-)(?:[a-z' + _UL + r'-]{2,63}|xn--[a-z0-9]{1,59})(?<!-)'
EMAIL_USER_RE = re.compile(
    r"(^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*\Z"
    r'|^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])*"\Z)', re.IGNORECASE)
EMAIL_DOMAIN_RE = re.compile(r'^' + _HOSTNAME + _DOMAIN + _TLD + r'\Z', re.IGNORECASE)
EMAIL_LITERAL_RE = re.compile(r'\[([A-F0-9:.]+)\]\Z', re.IGNORECASE)


def slug_error(slug):
    slug = '' if slug is None else str(slug)
    if not slug:
        return 'This field may not be blank.'
    if len(slug) > SLUG_MAX:
        return 'Ensure this field has no more than %d characters.' % SLUG_MAX
    if not SLUG_RE.match(slug):
        return ('Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.')
    return None


def username_error(username):
    username = '' if username is None else str(username)
    if not username:
        return 'This field may not be blank.'
    if len(username) < USERNAME_MIN:
        return 'Username must be a minimum of %d characters.' % USERNAME_MIN
    if len(username) > USERNAME_MAX:
        return 'Ensure this field has no more than %d characters.' % USERNAME_MAX
    if not USERNAME_RE.match(username):
        return ('Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.')
    return None


def email_error(email):
    email = '' if email is None else str(email)
    invalid = 'Enter a valid email address.'
    if not email:
        return 'This field may not be blank.'
    if len(email) > EMAIL_MAX:
        return 'Ensure this field has no more than %d characters.' % EMAIL_MAX
    if '@' not in email:
        return invalid
    user, domain = email.rsplit('@', 1)
    if not EMAIL_USER_RE.match(user):
        return invalid
    if domain == 'localhost' or EMAIL_DOMAIN_RE.match(domain) or EMAIL_LITERAL_RE.match(domain):
        return None
    return invalid


def name_error(value):
    """first_name / last_name: only checked when sent (the role omits undeclared names)."""
    value = '' if value is None else str(value)
    if not value.strip():
        return 'This field may not be blank.'
    if len(value) > NAME_MAX:
        return 'Ensure this field has no more than %d characters.' % NAME_MAX
    return None


def password_error(password):
    password = '' if password is None else str(password)
    if len(password) < PASSWORD_MIN:
        return 'This password is too short. It must contain at least %d characters.' % PASSWORD_MIN
    if len(password) > PASSWORD_MAX:
        return 'Ensure this field has no more than %d characters.' % PASSWORD_MAX
    if password.isdigit():
        return 'This password is entirely numeric.'
    return None
