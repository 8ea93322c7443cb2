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
  url:
    description: Base URL of CVAT, e.g. C(https://cvat.example.com).
    type: str
    required: true
  api_token:
    description: Access token (Bearer) or session key (Token). When absent, I(username)/I(password) log in.
    type: str
  api_token_type:
    description: C(Bearer) for access tokens (CVAT >= 2.48), C(Token) for login keys.
    type: str
    default: Bearer
    choices: [Bearer, Token]
  username:
    description: User to log in with when no I(api_token) is given.
    type: str
  password:
    description: Password of I(username).
    type: str
  organization:
    description: Organization slug used as context (C(X-Organization) header).
    type: str
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  timeout:
    description: Seconds per HTTP request.
    type: int
    default: 30
  retries:
    description: Retries on 5xx and connection errors (exponential backoff).
    type: int
    default: 6
  retry_backoff:
    description: First backoff delay in seconds (doubles each retry, at most 30 s).
    type: float
    default: 1.0
  health_timeout:
    description: Seconds to wait for C(GET /api/server/health/) to answer 200 before anything else.
    type: int
    default: 300
  page_size:
    description: Page size of list reads (C(next) links are followed).
    type: int
    default: 500
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
