#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_seed_validate
short_description: Check a whole CVAT seeding inventory against the annotation-operations policy
description:
  - Pure validation, no API call. It checks member roles and kinds (contractors and external annotators are workers only),
    label names (lowercase with underscores), task names C({project-code}-{domain}-{batch-number}-{date}), task sizes
    (images 500-1500, sequences 200-500, video one file), video overlap 10-20, ground truth 5-10 %, honeypots for
    image tasks only, webhook projects.
  - Fails with every violation, each naming the bad value, so the role stops before its first write.
options:
  org:
    description: The organization (C(slug), C(name)); the slug is checked against CVAT's slug rule.
    type: dict
  members:
    description: Organization members (C(username), C(email), C(role), C(kind)).
    type: list
    elements: dict
    default: []
  projects:
    description: Projects with C(labels) and C(quality).
    type: list
    elements: dict
    default: []
  tasks:
    description: Task batches.
    type: list
    elements: dict
    default: []
  webhooks:
    description: Webhooks.
    type: list
    elements: dict
    default: []
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Validate the inventory before any write
  cvat_seed_validate:
    members: "{{ cvat_seed_members }}"
    projects: "{{ cvat_seed_projects }}"
    tasks: "{{ cvat_seed_tasks }}"
    webhooks: "{{ cvat_seed_webhooks }}"
'''

RETURN = r'''
violations:
  description: Policy violations (empty on success).
  returned: always
  type: list
  elements: str
members:
  description: Members with their CVAT role (C(cvat_role)) resolved from the team's role name.
  returned: success
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_policy import validate, cvat_role


def main():
    module = AnsibleModule(
        argument_spec=dict(
            org=dict(type='dict'),
            members=dict(type='list', elements='dict', default=[]),
            projects=dict(type='list', elements='dict', default=[]),
            tasks=dict(type='list', elements='dict', default=[]),
            webhooks=dict(type='list', elements='dict', default=[]),
        ),
        supports_check_mode=True,
    )
    for m in module.params['members']:
        if m.get('password'):
            module.no_log_values.add(m['password'])
    for w in module.params['webhooks']:
        if w.get('secret'):
            module.no_log_values.add(w['secret'])
    errors = validate(dict(module.params, organization=module.params['org']))
    if errors:
        module.fail_json(msg='CVAT seeding inventory violates policy (nothing was changed): ' + ' | '.join(errors),
                         violations=errors)
    members = [dict((k, v) for k, v in m.items() if k != 'password') for m in module.params['members']]
    for m in members:
        m['cvat_role'] = cvat_role(m['role'])
    module.exit_json(changed=False, violations=[], members=members)


if __name__ == '__main__':
    main()
