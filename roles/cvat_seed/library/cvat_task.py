#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_task
short_description: Create CVAT task batches from cloud-storage files, with ground truth and honeypots (bulk)
description:
  - One paginated read (C(GET /api/tasks) in the organization). A missing task is created with
    C(POST /api/tasks) (name, project, segment size, overlap) and its data attached with
    C(POST /api/tasks/{id}/data/) (C(server_files) + C(cloud_storage_id) + C(validation_params)); the request is
    polled at C(GET /api/requests/{rq_id}).
  - A task left without data by an interrupted run gets its data on the next run (no duplicate task).
  - Existing tasks are never recreated or deleted (annotations live in them); differences in segment size or
    overlap are reported in C(drift) only, since CVAT cannot change them after data is attached.
  - Policy checks (name, sizes, overlap, ground truth) are done beforehand by C(cvat_seed_validate).
options:
  tasks:
    description:
      - Items with C(name), C(project_id), C(cloud_storage_id), C(files) (keys or prefixes in the bucket),
        C(segment_size), optional C(overlap), C(validation_params) (CVAT's dict), C(image_quality) (70),
        C(sorting_method) (natural).
    type: list
    elements: dict
    required: true
  wait:
    description: Wait for CVAT to finish creating each task's data.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait per task.
    type: int
    default: 600
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Task batches
  cvat_task:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    organization: avd
    tasks:
      - name: AVD-urban-night-B04-20250601
        project_id: 3
        cloud_storage_id: 1
        files: [raw/avd/B04/]
        segment_size: 200
        validation_params: {mode: gt_pool, frame_selection_method: random_uniform, frame_share: 0.05, frames_per_job_count: 3}
'''

RETURN = r'''
created:
  description: Names of tasks created.
  returned: always
  type: list
  elements: str
data_attached:
  description: Names of tasks whose data was attached (new ones and ones left empty by an interrupted run).
  returned: always
  type: list
  elements: str
drift:
  description: Map of task name to fields that differ from the inventory but cannot be changed.
  returned: always
  type: dict
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, CvatApiError, run_module


def has_data(task):
    return bool(task.get('size')) or task.get('data') is not None


def main():
    spec = dict(API_ARGSPEC)
    spec.update(tasks=dict(type='list', elements='dict', required=True), wait=dict(type='bool', default=True),
                wait_timeout=dict(type='int', default=600))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def attach(client, task_id, t):
        body = dict(server_files=t['files'], cloud_storage_id=t['cloud_storage_id'],
                    image_quality=int(t.get('image_quality', 70)), sorting_method=t.get('sorting_method', 'natural'),
                    use_cache=True)
        if t.get('validation_params'):
            body['validation_params'] = t['validation_params']
        res = client.post('/api/tasks/%d/data/' % task_id, body) or {}
        rq = res.get('rq_id')
        if not (p['wait'] and rq):
            return
        deadline = time.time() + p['wait_timeout']
        while True:
            req = client.get('/api/requests/%s' % rq)
            status = req.get('status')
            if status == 'finished':
                return
            if status == 'failed':
                raise CvatApiError('POST', '/api/tasks/%d/data/' % task_id, 'failed', req.get('message'))
            if time.time() > deadline:
                raise CvatApiError('GET', '/api/requests/%s' % rq, 'timeout', status)
            time.sleep(2)

    def work(client):
        current = dict((t['name'], t) for t in client.list('/api/tasks'))
        created, attached, drift, after = [], [], {}, {}
        for t in p['tasks']:
            cur = current.get(t['name'])
            if cur is None:
                created.append(t['name'])
                attached.append(t['name'])
                after[t['name']] = dict((k, t.get(k)) for k in ('project_id', 'segment_size', 'overlap', 'files', 'validation_params'))
                if module.check_mode:
                    continue
                body = dict(name=t['name'], project_id=t['project_id'], segment_size=int(t['segment_size']))
                if t.get('overlap') is not None:
                    body['overlap'] = int(t['overlap'])
                new = client.post('/api/tasks', body, recheck=lambda n=t['name']: next(
                    (x for x in client.list('/api/tasks') if x['name'] == n), None))
                attach(client, new['id'], t)
                continue
            if not has_data(cur):
                attached.append(t['name'])
                after[t['name']] = {'files': t['files']}
                if not module.check_mode:
                    attach(client, cur['id'], t)
                continue
            d = {}
            if cur.get('segment_size') != int(t['segment_size']):
                d['segment_size'] = {'cvat': cur.get('segment_size'), 'inventory': t['segment_size']}
            if t.get('overlap') is not None and cur.get('overlap') != int(t['overlap']):
                d['overlap'] = {'cvat': cur.get('overlap'), 'inventory': t['overlap']}
            if d:
                drift[t['name']] = d
                module.warn('task %s differs from the inventory (%s) and is left unchanged' % (t['name'], ', '.join(sorted(d))))
        return dict(changed=bool(created or attached), created=created, data_attached=attached, drift=drift,
                    diff=dict(before={}, after=after))

    run_module(module, work)


if __name__ == '__main__':
    main()
