#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_quality_settings
short_description: Set CVAT quality settings of projects (bulk)
description:
  - CVAT creates one quality-settings object per project. One paginated read (C(GET /api/quality/settings) in the
    organization), then C(PATCH /api/quality/settings/{id}) only for projects whose values differ.
options:
  settings:
    description:
      - Items with C(project_id) and any of CVAT's fields, e.g. C(target_metric) (accuracy, precision, recall),
        C(target_metric_threshold) (0..1), C(max_validations_per_job), C(iou_threshold).
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Quality settings
  cvat_quality_settings:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    organization: avd
    settings:
      - {project_id: 3, target_metric: accuracy, target_metric_threshold: 0.8, max_validations_per_job: 3}
'''

RETURN = r'''
updated:
  description: Project ids whose settings changed.
  returned: always
  type: list
  elements: int
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, run_module

FLOATS = ('target_metric_threshold', 'iou_threshold', 'oks_sigma', 'line_thickness', 'low_overlap_threshold',
          'line_orientation_threshold', 'group_match_threshold', 'object_visibility_threshold')


def same(k, a, b):
    if k in FLOATS and a is not None and b is not None:
        return abs(float(a) - float(b)) < 1e-9
    return a == b


def main():
    spec = dict(API_ARGSPEC)
    spec.update(settings=dict(type='list', elements='dict', required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    wanted = module.params['settings']

    def work(client):
        current = dict((s['project_id'], s) for s in client.list('/api/quality/settings') if s.get('project_id') and not s.get('task_id'))
        updated, missing, before, after = [], [], {}, {}
        for w in wanted:
            pid = w.get('project_id')
            cur = current.get(pid)
            if cur is None:
                missing.append(pid)
                continue
            delta = dict((k, v) for k, v in w.items() if k != 'project_id' and v is not None and not same(k, cur.get(k), v))
            if delta:
                updated.append(pid)
                before[str(pid)] = dict((k, cur.get(k)) for k in delta)
                after[str(pid)] = delta
                if not module.check_mode:
                    client.patch('/api/quality/settings/%d' % cur['id'], delta)
        if missing and not module.check_mode:
            module.fail_json(msg='CVAT has no quality settings for project ids %s' % missing)
        return dict(changed=bool(updated or missing), updated=updated, diff=dict(before=before, after=after))

    run_module(module, work)


if __name__ == '__main__':
    main()
