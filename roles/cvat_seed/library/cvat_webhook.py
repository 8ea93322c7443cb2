#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_webhook
short_description: Ensure CVAT webhooks (organization or project) with events and secrets (bulk)
description:
  - One paginated read (C(GET /api/webhooks) in the organization); a webhook is identified by
    (C(target_url), C(type), C(project_id)). Missing ones are created (C(POST /api/webhooks)), differing ones PATCHed.
  - Secrets are write-only in CVAT. They are sent on creation, and on every run only with I(update_secrets=always).
  - Undeclared webhooks are left alone.
options:
  webhooks:
    description:
      - Items with C(target_url), C(type) (organization or project), C(project_id) (project type),
        C(events), optional C(secret), C(description), C(is_active) (true), C(enable_ssl) (true), C(content_type).
    type: list
    elements: dict
    required: true
  update_secrets:
    description: C(on_create) or C(always).
    type: str
    default: on_create
    choices: [on_create, always]
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Webhooks
  cvat_webhook:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    organization: avd
    webhooks:
      - {target_url: "https://hooks.example.com/cvat", type: organization, events: [create:task], secret: "{{ vault_hook }}"}
  no_log: true
'''

RETURN = r'''
created:
  description: Target URLs of webhooks created.
  returned: always
  type: list
  elements: str
updated:
  description: Target URLs of webhooks changed.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, run_module

COMPARED = ('description', 'is_active', 'enable_ssl', 'content_type')


def key(w):
    return (w['target_url'], w.get('type', 'organization'), w.get('project_id') if w.get('type') == 'project' else None)


def main():
    spec = dict(API_ARGSPEC)
    spec.update(webhooks=dict(type='list', elements='dict', required=True),
                update_secrets=dict(type='str', default='on_create', choices=['on_create', 'always']))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    for w in p['webhooks']:
        if w.get('secret'):
            module.no_log_values.add(w['secret'])

    def work(client):
        current = dict((key(w), w) for w in client.list('/api/webhooks'))
        created, updated, before, after = [], [], {}, {}
        for w in p['webhooks']:
            want = dict(target_url=w['target_url'], type=w.get('type', 'organization'), events=sorted(w['events']),
                        description=w.get('description', ''), is_active=w.get('is_active', True),
                        enable_ssl=w.get('enable_ssl', True), content_type=w.get('content_type', 'application/json'))
            if want['type'] == 'project':
                want['project_id'] = w['project_id']
            cur = current.get(key(want))
            if cur is None:
                created.append(w['target_url'])
                after[w['target_url']] = want
                if not module.check_mode:
                    body = dict(want, secret=w.get('secret', ''))
                    client.post('/api/webhooks', body, recheck=lambda k=key(want): next(
                        (x for x in client.list('/api/webhooks') if key(x) == k), None))
                continue
            delta = dict((k, want[k]) for k in COMPARED if cur.get(k) != want[k])
            if sorted(cur.get('events', [])) != want['events']:
                delta['events'] = want['events']
            shown = dict(delta)
            if p['update_secrets'] == 'always' and w.get('secret'):
                delta['secret'] = w['secret']
                shown['secret'] = '(updated, not shown)'
            if delta:
                updated.append(w['target_url'])
                before[w['target_url']] = dict((k, cur.get(k)) for k in shown if k != 'secret')
                after[w['target_url']] = shown
                if not module.check_mode:
                    client.patch('/api/webhooks/%d' % cur['id'], delta)
        return dict(changed=bool(created or updated), created=created, updated=updated, diff=dict(before=before, after=after))

    run_module(module, work)


if __name__ == '__main__':
    main()
