#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_membership
short_description: Make a CVAT organization's members match a declared list (bulk)
description:
  - One paginated read of C(GET /api/memberships) in the organization's context, then per difference only -
    missing members are invited (C(POST /api/invitations) with role and email; CVAT auto-accepts for an
    existing user while C(ORG_INVITATION_CONFIRM) is C(No)), role drift is corrected with
    C(PATCH /api/memberships/{id}), and with I(exclusive=true) undeclared members are removed
    (C(DELETE /api/memberships/{id})), never the owner nor I(protected) users.
  - The owner role cannot be given through the API (CVAT transfers ownership only in its UI); asking for it fails.
options:
  members:
    description: Members, each with C(username), C(email) and C(role) (one of worker, supervisor, maintainer, owner).
    type: list
    elements: dict
    required: true
  exclusive:
    description: Remove members that are not declared.
    type: bool
    default: false
  protected:
    description: Usernames never removed by I(exclusive) (e.g. the automation user).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Members of the annotation organization
  cvat_membership:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    organization: avd
    exclusive: true
    members:
      - {username: ann1, email: ann1@example.com, role: worker}
'''

RETURN = r'''
invited:
  description: Usernames invited (added).
  returned: always
  type: list
  elements: str
role_changed:
  description: Usernames whose role was corrected.
  returned: always
  type: list
  elements: str
removed:
  description: Usernames removed (only with I(exclusive)).
  returned: always
  type: list
  elements: str
pending:
  description: Usernames whose invitation is not accepted yet (C(is_active) false).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, CVAT_ROLES, run_module


def main():
    spec = dict(API_ARGSPEC)
    spec.update(members=dict(type='list', elements='dict', required=True), exclusive=dict(type='bool', default=False),
                protected=dict(type='list', elements='str', default=[]))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_if=[('exclusive', True, ('organization',))])
    p = module.params
    if not p['organization']:
        module.fail_json(msg='organization (slug) is required')
    for m in p['members']:
        if m.get('role') not in CVAT_ROLES:
            module.fail_json(msg="member %s: role '%s' is not one of %s" % (m.get('username'), m.get('role'), ', '.join(CVAT_ROLES)))

    def work(client):
        current = dict((ms['user']['username'], ms) for ms in client.list('/api/memberships') if ms.get('user'))
        for m in p['members']:
            cur = current.get(m['username'])
            if m['role'] == 'owner' and (cur is None or cur['role'] != 'owner'):
                raise_fail("member %s: role 'owner' cannot be given through CVAT's API (only the organization's creator owns it)" % m['username'])
        invited, changed_role, removed, before, after = [], [], [], {}, {}
        declared = set(m['username'] for m in p['members'])
        for m in p['members']:
            cur = current.get(m['username'])
            if cur is None:
                invited.append(m['username'])
                after[m['username']] = m['role']
                if not module.check_mode:
                    def recheck(name=m['username']):
                        return next((x for x in client.list('/api/memberships') if x.get('user', {}).get('username') == name), None)
                    client.post('/api/invitations', {'role': m['role'], 'email': m['email']}, recheck=recheck)
            elif cur['role'] != m['role']:
                changed_role.append(m['username'])
                before[m['username']], after[m['username']] = cur['role'], m['role']
                if not module.check_mode:
                    client.patch('/api/memberships/%d' % cur['id'], {'role': m['role']})
        if p['exclusive']:
            for name, cur in sorted(current.items()):
                if name in declared or name in p['protected'] or cur['role'] == 'owner':
                    continue
                removed.append(name)
                before[name] = cur['role']
                if not module.check_mode:
                    client.delete('/api/memberships/%d' % cur['id'])
        pending = sorted(n for n, ms in current.items() if not ms.get('is_active', True) and n in declared)
        return dict(changed=bool(invited or changed_role or removed), invited=invited, role_changed=changed_role,
                    removed=removed, pending=pending, diff=dict(before=before, after=after))

    def raise_fail(msg):
        module.fail_json(msg=msg)

    run_module(module, work)


if __name__ == '__main__':
    main()
