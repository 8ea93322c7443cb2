#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_user
short_description: Ensure a list of CVAT user accounts exists
description:
  - One paginated read of C(GET /api/users) (as a superuser, without organization context), then
    C(POST /api/auth/register) for each missing user when I(create=true) (the only user-creation endpoint of CVAT's
    REST API; it needs self-registration enabled, CVAT's default). Registration is sent with the API token, and the
    client keeps no cookie (CVAT logs the new user in; its session cookie would make the next POST fail CSRF).
  - First or last name drift is corrected with C(PATCH /api/users/{id}). CVAT lets an access token list and view
    users but not edit them (its C(access_token_plugin) policy), so that call is made with a login key of
    I(username)/I(password) (the superuser). A correction CVAT still refuses is reported in C(refused) and as a
    warning; it never stops the other users.
  - Names are sent only when declared (CVAT refuses a blank first or last name).
  - With I(create=false), a user without an account can only join by an e-mailed invitation; when CVAT has no
    mail backend (I(mail_backend=false)) that fails (HTTP 500 and a placeholder user), so the module fails first,
    naming every such member, before any write.
  - Passwords are only used when a user is created; existing passwords are never touched. A user declared
    without a password gets a random one (use CVAT's password reset, or SSO). Never deletes users.
options:
  users:
    description: Users to ensure.
    type: list
    elements: dict
    required: true
    suboptions:
      username:
        description: Login name (CVAT - at least 5 characters of letters, digits and @.+-_).
        type: str
        required: true
      email:
        description: E-mail address (unique in CVAT).
        type: str
        required: true
      first_name:
        description: First name; left unset when omitted.
        type: str
      last_name:
        description: Last name; left unset when omitted.
        type: str
      password:
        description: Initial password (only used on creation).
        type: str
  create:
    description: Create missing users by registration.
    type: bool
    default: true
  mail_backend:
    description: CVAT can send e-mail (invitations of e-mails without an account then work).
    type: bool
    default: false
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Ensure the annotators' accounts
  cvat_user:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    username: admin
    password: "{{ vault_cvat_admin_password }}"
    users:
      - {username: ann.lee, email: ann.lee@example.com, first_name: Ann}
'''

RETURN = r'''
created:
  description: Usernames created.
  returned: always
  type: list
  elements: str
updated:
  description: Usernames whose names were changed.
  returned: always
  type: list
  elements: str
refused:
  description: Corrections CVAT refused, each C({username, error}); the run goes on.
  returned: always
  type: list
  elements: dict
without_account:
  description: Usernames that have no account (I(create=false)); they are invited by e-mail.
  returned: always
  type: list
  elements: str
'''

import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, CvatApiError, run_module

USER_SPEC = dict(username=dict(type='str', required=True), email=dict(type='str', required=True),
                 first_name=dict(type='str'), last_name=dict(type='str'), password=dict(type='str', no_log=True))


def main():
    spec = dict(API_ARGSPEC)
    spec.update(users=dict(type='list', elements='dict', required=True, options=USER_SPEC),
                create=dict(type='bool', default=True), mail_backend=dict(type='bool', default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    users = p['users']

    def work(client):
        client.org = None
        existing = dict((u['username'], u) for u in client.list('/api/users', org=False))
        by_email = dict((str(u.get('email') or '').lower(), u) for u in existing.values() if u.get('email'))
        missing = [u for u in users if u['username'] not in existing]
        if not p['create'] and not p['mail_backend']:
            # an invitation of an e-mail without an account needs CVAT to send mail: refuse before any write
            lost = [u['username'] for u in missing if u['email'].lower() not in by_email]
            if lost:
                module.fail_json(msg='members without a CVAT account cannot be invited: CVAT has no mail backend '
                                     '(cvat_smtp_* in the cvat role) and cvat_seed_create_users is false; nothing was '
                                     'changed. Members: %s' % ', '.join(lost), without_account=lost, api_calls=client.calls)
        created, updated, refused, without, before, after = [], [], [], [], {}, {}
        admin_key = []
        for u in users:
            cur = existing.get(u['username'])
            if cur is None:
                if not p['create']:
                    without.append(u['username'])
                    continue
                created.append(u['username'])
                after[u['username']] = {'email': u['email']}
                if module.check_mode:
                    continue
                pw = u.get('password') or secrets.token_urlsafe(24)
                body = dict(username=u['username'], email=u['email'], password1=pw, password2=pw)
                for k in ('first_name', 'last_name'):
                    if u.get(k) is not None:
                        body[k] = u[k]

                def recheck(name=u['username']):
                    return next((x for x in client.list('/api/users', params={'search': name}, org=False)
                                 if x['username'] == name), None)
                client.post('/api/auth/register', body, org=False, recheck=recheck)
                continue
            delta = dict((k, u[k]) for k in ('first_name', 'last_name') if u.get(k) is not None and cur.get(k) != u[k])
            if not delta:
                continue
            before[u['username']] = dict((k, cur.get(k)) for k in delta)
            after[u['username']] = delta
            if module.check_mode:
                updated.append(u['username'])
                continue
            try:
                if not admin_key:
                    admin_key.append(client.login_key())
                saved = client.token, client.token_type
                client.token, client.token_type = admin_key[0], 'Token'
                try:
                    client.patch('/api/users/%d' % cur['id'], delta, org=False)
                finally:
                    client.token, client.token_type = saved
                updated.append(u['username'])
            except CvatApiError as e:
                refused.append(dict(username=u['username'], error=str(e)))
                module.warn('user %s: name not corrected (%s); the run goes on' % (u['username'], e))
        return dict(changed=bool(created or updated), created=created, updated=updated, refused=refused,
                    without_account=without, diff=dict(before=before, after=after))

    run_module(module, work)


if __name__ == '__main__':
    main()
