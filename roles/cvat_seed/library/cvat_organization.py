#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_organization
short_description: Ensure a CVAT organization exists (by slug) with the given name, description and contact
description:
  - Looks the organization up by slug (paginated C(GET /api/organizations)); creates it (C(POST /api/organizations))
    or PATCHes only the fields that differ. Never deletes an organization.
options:
  slug:
    description: Unique slug (at most 16 characters).
    type: str
    required: true
  name:
    description: Display name.
    type: str
  description:
    description: Description.
    type: str
  contact:
    description: Contact information (dict, e.g. C(email)).
    type: dict
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Ensure the annotation team's organization
  cvat_organization:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    slug: avd
    name: AVD annotation team
'''

RETURN = r'''
organization:
  description: The organization as CVAT returns it (C(id), C(slug), ...).
  returned: success (in check mode for a new one, only the desired fields)
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, run_module


def main():
    spec = dict(API_ARGSPEC)
    spec.update(slug=dict(type='str', required=True), name=dict(type='str'), description=dict(type='str'),
                contact=dict(type='dict'))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    if len(p['slug']) > 16:
        module.fail_json(msg="organization slug '%s' is longer than 16 characters" % p['slug'])
    want = dict((k, p[k]) for k in ('slug', 'name', 'description', 'contact') if p[k] is not None)

    def work(client):
        client.org = None
        found = [o for o in client.list('/api/organizations', org=False) if o.get('slug') == p['slug']]
        if not found:
            if module.check_mode:
                return dict(changed=True, organization=want, diff=dict(before={}, after=want))
            org = client.post('/api/organizations', want, org=False, recheck=lambda: next(
                (o for o in client.list('/api/organizations', org=False) if o.get('slug') == p['slug']), None))
            return dict(changed=True, organization=org, diff=dict(before={}, after=want))
        org = found[0]
        delta = dict((k, v) for k, v in want.items() if org.get(k) != v)
        if not delta:
            return dict(organization=org)
        before = dict((k, org.get(k)) for k in delta)
        if not module.check_mode:
            org = client.patch('/api/organizations/%d' % org['id'], delta, org=False)
        return dict(changed=True, organization=org, diff=dict(before=before, after=delta))

    run_module(module, work)


if __name__ == '__main__':
    main()
