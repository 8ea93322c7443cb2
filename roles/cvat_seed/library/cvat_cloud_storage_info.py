#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_cloud_storage_info
short_description: Look up a CVAT cloud storage by name and whether CVAT can reach its bucket
description:
  - One paginated read of C(GET /api/cloudstorages) in the organization, then, for a storage that exists,
    C(GET /api/cloudstorages/{id}/status) - CVAT probes the bucket (C(HeadBucket)) with the credentials it holds
    and answers C(AVAILABLE), C(FORBIDDEN) or C(NOT_FOUND).
  - Read-only; the role uses it to decide whether CVAT needs a new access key before any write.
options:
  display_name:
    description: Name of the storage in CVAT.
    type: str
    required: true
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Does CVAT's key for the raw bucket still work?
  cvat_cloud_storage_info:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    organization: avd
    display_name: raw-data
  register: storage
'''

RETURN = r'''
exists:
  description: The storage exists in the organization.
  returned: always
  type: bool
id:
  description: Its id.
  returned: when it exists
  type: int
status:
  description: CVAT's answer for the bucket - C(AVAILABLE), C(FORBIDDEN) or C(NOT_FOUND).
  returned: when it exists
  type: str
cloud_storage:
  description: The storage as CVAT returns it (no credentials).
  returned: when it exists
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, run_module, storage_status


def main():
    spec = dict(API_ARGSPEC)
    spec.update(display_name=dict(type='str', required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)

    def work(client):
        cur = next((c for c in client.list('/api/cloudstorages') if c.get('display_name') == module.params['display_name']), None)
        if cur is None:
            return dict(exists=False)
        return dict(exists=True, id=cur['id'], status=storage_status(client, cur['id']), cloud_storage=cur)

    run_module(module, work)


if __name__ == '__main__':
    main()
