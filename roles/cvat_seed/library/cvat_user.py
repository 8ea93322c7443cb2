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
    C(POST /api/auth/register) for each missing user (the only user-creation endpoint of CVAT's REST API;
    it needs self-registration enabled, CVAT's default) and C(PATCH /api/users/{id}) when first or last name differ.
  - Passwords are only used when a user is created; existing passwords are never touched. A user declared
    without a password gets a random one (use CVAT's password reset, or SSO). Never deletes users.
options:
  users:
    description: Users (C(username), C(email), optional C(first_name), C(last_name), C(password)).
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Ensure the annotators' accounts
  cvat_user:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    users:
      - {username: ann1, email: ann1@example.com, first_name: Ann}
  no_log: true
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
'''

import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, run_module


def main():
    spec = dict(API_ARGSPEC)
    spec.update(users=dict(type='list', elements='dict', required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    users = module.params['users']

    def work(client):
        client.org = None
        existing = dict((u['username'], u) for u in client.list('/api/users', org=False))
        created, updated, before, after = [], [], {}, {}
        for u in users:
            cur = existing.get(u['username'])
            if cur is None:
                created.append(u['username'])
                after[u['username']] = {'email': u.get('email')}
                if module.check_mode:
                    continue
                pw = u.get('password') or secrets.token_urlsafe(24)
                body = dict(username=u['username'], email=u.get('email', ''), password1=pw, password2=pw,
                            first_name=u.get('first_name', ''), last_name=u.get('last_name', ''))

                def recheck(name=u['username']):
                    return next((x for x in client.list('/api/users', params={'search': name}, org=False)
                                 if x['username'] == name), None)
                client.post('/api/auth/register', body, org=False, auth=False, recheck=recheck)
                continue
            delta = dict((k, u[k]) for k in ('first_name', 'last_name') if u.get(k) is not None and cur.get(k) != u[k])
            if delta:
                updated.append(u['username'])
                before[u['username']] = dict((k, cur.get(k)) for k in delta)
                after[u['username']] = delta
                if not module.check_mode:
                    client.patch('/api/users/%d' % cur['id'], delta, org=False)
        return dict(changed=bool(created or updated), created=created, updated=updated,
                    diff=dict(before=before, after=after))

    run_module(module, work)


if __name__ == '__main__':
    main()
