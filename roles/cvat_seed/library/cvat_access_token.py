#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_access_token
short_description: Ensure a CVAT API access token for automation exists and works
description:
  - With I(existing_token) set and still valid (C(GET /api/auth/access_tokens/self)), nothing changes.
  - Otherwise logs in with I(username)/I(password) and creates one (C(POST /api/auth/access_tokens), CVAT >= 2.48);
    the value is returned once (keep it, e.g. 0600 on the data volume). On servers without access tokens
    (404), falls back to the login key with C(token_type=Token).
  - In check mode no token is created; the login key is returned so later modules can still read.
options:
  existing_token:
    description: A token kept from an earlier run.
    type: str
  name:
    description: Name of the token in CVAT.
    type: str
    default: ansible-cvat-seed
  expiry_days:
    description: Days until the new token expires (0 = never).
    type: int
    default: 0
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Ensure the automation token
  cvat_access_token:
    url: https://cvat.example.com
    username: admin
    password: "{{ vault_cvat_admin_password }}"
    existing_token: "{{ kept_token | default(omit) }}"
  register: token
  no_log: true
'''

RETURN = r'''
token:
  description: The new token value or login key (secret; use no_log).
  returned: when not I(reused)
  type: str
reused:
  description: True when I(existing_token) still works; it is not returned again (use the kept value).
  returned: when the kept token works
  type: bool
token_type:
  description: C(Bearer) (access token) or C(Token) (login key).
  returned: success
  type: str
'''

import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, CvatClient, CvatApiError


def main():
    spec = dict(API_ARGSPEC)
    spec.update(existing_token=dict(type='str', no_log=True), name=dict(type='str', default='ansible-cvat-seed'),
                expiry_days=dict(type='int', default=0))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    client = CvatClient.from_module(module)
    try:
        client.wait_healthy()
        if p['existing_token']:
            client.token, client.token_type = p['existing_token'], 'Bearer'
            status, body = client.request('GET', '/api/auth/access_tokens/self', org=False, ok=(200, 401, 403, 404))
            if status == 200:
                # the kept token is a no_log input: Ansible would mask it in the result, so it is not returned
                module.exit_json(changed=False, reused=True, token_type='Bearer', api_calls=client.calls)
            client.token = None
        client.login()
        if module.check_mode:
            module.exit_json(changed=True, token=client.token, token_type='Token', api_calls=client.calls)
        data = {'name': p['name'], 'read_only': False}
        if p['expiry_days'] > 0:
            expiry = datetime.datetime.utcnow() + datetime.timedelta(days=p['expiry_days'])
            data['expiry_date'] = expiry.strftime('%Y-%m-%dT%H:%M:%SZ')
        status, body = client.request('POST', '/api/auth/access_tokens', data=data, org=False, ok=(200, 201, 404, 405))
        if status in (404, 405):
            module.exit_json(changed=False, token=client.token, token_type='Token', api_calls=client.calls)
        module.exit_json(changed=True, token=body['value'], token_type='Bearer', api_calls=client.calls)
    except CvatApiError as e:
        module.fail_json(msg=str(e), api_calls=client.calls)


if __name__ == '__main__':
    main()
