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
  - Credentials are write-only in CVAT and cannot be compared. They are sent on creation, and on every run only
    with I(update_credentials=always) (the host's renewal timer does that for temporary STS credentials).
  - Temporary credentials are I(key) + I(secret_key) + I(session_token) with C(credentials_type=KEY_SECRET_KEY_PAIR)
    (CVAT's S3 provider passes the session token to boto3).
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
  session_token:
    description: STS session token for temporary credentials.
    type: str
  update_credentials:
    description: C(on_create) sends credentials only when creating; C(always) PATCHes them on every run.
    type: str
    default: on_create
    choices: [on_create, always]
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
    key: "{{ sts.access_key }}"
    secret_key: "{{ sts.secret_key }}"
    session_token: "{{ sts.session_token }}"
  no_log: true
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
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, run_module
from ansible.module_utils.six.moves.urllib.parse import parse_qsl, urlencode


def main():
    spec = dict(API_ARGSPEC)
    spec.update(display_name=dict(type='str', required=True), resource=dict(type='str', required=True),
                region=dict(type='str'), prefix=dict(type='str'), endpoint_url=dict(type='str'),
                manifests=dict(type='list', elements='str', default=[]), description=dict(type='str'),
                credentials_type=dict(type='str', default='KEY_SECRET_KEY_PAIR', choices=['KEY_SECRET_KEY_PAIR', 'ANONYMOUS_ACCESS']),
                key=dict(type='str', no_log=True), secret_key=dict(type='str', no_log=True),
                session_token=dict(type='str', no_log=True),
                update_credentials=dict(type='str', default='on_create', choices=['on_create', 'always']))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[('credentials_type', 'KEY_SECRET_KEY_PAIR', ('key', 'secret_key'))])
    p = module.params
    attrs = dict((k, p[k]) for k in ('region', 'prefix', 'endpoint_url') if p[k])
    want = dict(provider_type='AWS_S3_BUCKET', resource=p['resource'], display_name=p['display_name'],
                credentials_type=p['credentials_type'], specific_attributes=urlencode(sorted(attrs.items())),
                manifests=sorted(p['manifests']))
    if p['description'] is not None:
        want['description'] = p['description']
    creds = dict((k, p[k]) for k in ('key', 'secret_key', 'session_token') if p[k])

    def lookup(client):
        return next((c for c in client.list('/api/cloudstorages') if c.get('display_name') == p['display_name']), None)

    def work(client):
        cur = lookup(client)
        if cur is None:
            if module.check_mode:
                return dict(changed=True, cloud_storage=want, diff=dict(before={}, after=want))
            body = dict(want, **creds)
            cs = client.post('/api/cloudstorages', body, recheck=lambda: lookup(client))
            return dict(changed=True, cloud_storage=cs, id=cs['id'], diff=dict(before={}, after=want))
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
        if not module.check_mode:
            cur = client.patch('/api/cloudstorages/%d' % cur['id'], delta)
        return dict(changed=True, cloud_storage=cur, id=cur['id'], diff=dict(before=before, after=after))

    run_module(module, work)


if __name__ == '__main__':
    main()
