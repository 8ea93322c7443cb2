#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_cloud_storage
short_description: Ensure an S3 cloud storage in CVAT (bucket, prefix, region, manifests, credentials)
description:
  - Looks the storage up by I(display_name) in the organization (paginated C(GET /api/cloudstorages)); creates it
    (C(POST /api/cloudstorages), CVAT checks the bucket) or PATCHes the fields that differ.
  - Credentials are write-only in CVAT and cannot be compared. They are sent on creation, and with
    I(update_credentials=always) (the role does that when CVAT's key stopped working or was rotated). After CVAT
    got credentials, the module waits until CVAT's own probe (C(GET /api/cloudstorages/{id}/status)) answers
    C(AVAILABLE) (new IAM keys take seconds to work) and fails otherwise.
  - No STS session token - CVAT 2.73 stores only key and secret (C(Credentials.convert_to_db)) and a PATCH resets
    the token, so temporary credentials work for CVAT's creation check and then never again. Give CVAT a
    long-lived key of a user that can do little, and rotate it (the cvat_seed role does).
options:
  display_name:
    description: Name shown in CVAT (the lookup key).
    type: str
    required: true
  resource:
    description: Bucket name.
    type: str
    required: true
  region:
    description: Bucket region.
    type: str
  prefix:
    description: Key prefix CVAT sees (e.g. C(raw/)).
    type: str
  endpoint_url:
    description: S3 endpoint (S3-compatible stores, tests).
    type: str
  manifests:
    description: Manifest files (relative to the bucket root).
    type: list
    elements: str
    default: []
  description:
    description: Description.
    type: str
  credentials_type:
    description: C(KEY_SECRET_KEY_PAIR) (static or temporary keys) or C(ANONYMOUS_ACCESS).
    type: str
    default: KEY_SECRET_KEY_PAIR
    choices: [KEY_SECRET_KEY_PAIR, ANONYMOUS_ACCESS]
  key:
    description: Access key id.
    type: str
  secret_key:
    description: Secret access key.
    type: str
  update_credentials:
    description: C(on_create) sends credentials only when creating; C(always) PATCHes them on every run.
    type: str
    default: on_create
    choices: [on_create, always]
  wait_available:
    description: Seconds to wait for CVAT to report the bucket C(AVAILABLE) after sending credentials (0 = do not check).
    type: int
    default: 120
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Raw data bucket
  cvat_cloud_storage:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    organization: avd
    display_name: raw
    resource: avd-annotation-data
    region: eu-west-1
    prefix: raw/
    key: "{{ new_key.access_key.access_key_id }}"
    secret_key: "{{ new_key.secret_access_key }}"
    update_credentials: always
'''

RETURN = r'''
cloud_storage:
  description: The storage as CVAT returns it (no credentials).
  returned: success
  type: dict
id:
  description: Id of the storage (absent in check mode for a new one).
  returned: success
  type: int
status:
  description: CVAT's probe of the bucket after credentials were sent (C(AVAILABLE)).
  returned: when credentials were sent and I(wait_available) > 0
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, CvatApiError, run_module, wait_storage_available
from ansible.module_utils.six.moves.urllib.parse import parse_qsl, urlencode


def main():
    spec = dict(API_ARGSPEC)
    spec.update(display_name=dict(type='str', required=True), resource=dict(type='str', required=True),
                region=dict(type='str'), prefix=dict(type='str'), endpoint_url=dict(type='str'),
                manifests=dict(type='list', elements='str', default=[]), description=dict(type='str'),
                credentials_type=dict(type='str', default='KEY_SECRET_KEY_PAIR', choices=['KEY_SECRET_KEY_PAIR', 'ANONYMOUS_ACCESS']),
                key=dict(type='str', no_log=True), secret_key=dict(type='str', no_log=True),
                update_credentials=dict(type='str', default='on_create', choices=['on_create', 'always']),
                wait_available=dict(type='int', default=120))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    attrs = dict((k, p[k]) for k in ('region', 'prefix', 'endpoint_url') if p[k])
    want = dict(provider_type='AWS_S3_BUCKET', resource=p['resource'], display_name=p['display_name'],
                credentials_type=p['credentials_type'], specific_attributes=urlencode(sorted(attrs.items())),
                manifests=sorted(p['manifests']))
    if p['description'] is not None:
        want['description'] = p['description']
    creds = dict((k, p[k]) for k in ('key', 'secret_key') if p[k])

    def need_creds(cur):
        """Key and secret are needed to create the storage and to replace its credentials (not in check mode)."""
        if (cur is None or p['update_credentials'] == 'always') and p['credentials_type'] == 'KEY_SECRET_KEY_PAIR' \
                and len(creds) != 2 and not module.check_mode:
            module.fail_json(msg='cloud storage %s: credentials_type KEY_SECRET_KEY_PAIR needs key and secret_key'
                             % p['display_name'])

    def verify(client, cs):
        if not p['wait_available']:
            return None
        status = wait_storage_available(client, cs['id'], p['wait_available'])
        if status != 'AVAILABLE':
            raise CvatApiError('GET', '/api/cloudstorages/%d/status' % cs['id'], status,
                               'CVAT cannot reach bucket %s with the credentials it was given (still %s after %d s)'
                               % (p['resource'], status, p['wait_available']))
        return status

    def lookup(client):
        return next((c for c in client.list('/api/cloudstorages') if c.get('display_name') == p['display_name']), None)

    def work(client):
        cur = lookup(client)
        need_creds(cur)
        if cur is None:
            if module.check_mode:
                return dict(changed=True, cloud_storage=want, diff=dict(before={}, after=want))
            body = dict(want, **creds)
            cs = client.post('/api/cloudstorages', body, recheck=lambda: lookup(client))
            return dict(changed=True, cloud_storage=cs, id=cs['id'], status=verify(client, cs), diff=dict(before={}, after=want))
        delta = {}
        for k, v in want.items():
            have = cur.get(k)
            if k == 'specific_attributes':
                if dict(parse_qsl(have or '')) != attrs:
                    delta[k] = v
            elif k == 'manifests':
                if sorted(have or []) != v:
                    delta[k] = v
            elif have != v:
                delta[k] = v
        before = dict((k, cur.get(k)) for k in delta)
        after = dict(delta)
        if p['update_credentials'] == 'always' and creds:
            delta.update(creds)
            after['credentials'] = '(updated, not shown)'
        if not delta:
            return dict(cloud_storage=cur, id=cur['id'])
        if delta.keys() & creds.keys() or 'credentials_type' in delta:
            delta.setdefault('credentials_type', p['credentials_type'])
        status = None
        if not module.check_mode:
            cur = client.patch('/api/cloudstorages/%d' % cur['id'], delta)
            if delta.keys() & creds.keys():
                status = verify(client, cur)
        return dict(changed=True, cloud_storage=cur, id=cur['id'], status=status, diff=dict(before=before, after=after))

    run_module(module, work)


if __name__ == '__main__':
    main()
