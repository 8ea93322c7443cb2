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
  - A task is done only when CVAT reports frames for it (C(size) > 0). A task left without data by an interrupted
    run, or whose data upload failed (CVAT then reports C(size) 0), gets its data attached again on the next run
    (no duplicate task); when CVAT refuses that, the module fails naming the task, never reporting it converged.
  - Honeypot tasks (C(validation_params.mode=gt_pool)) are sent with C(sorting_method=random) - CVAT refuses a
    honeypot pool with any other order. CVAT reports C(segment_size) 0 for them, so it is not compared.
  - Existing tasks are never recreated or deleted (annotations live in them); differences in segment size or
    overlap are reported in C(drift) only, since CVAT cannot change them after data is attached.
  - Policy checks (name, sizes, overlap, ground truth) are done beforehand by C(cvat_seed_validate).
options:
  tasks:
    description:
      - Items with C(name), C(project_id), C(cloud_storage_id), C(files) (keys or prefixes in the bucket),
        C(segment_size), optional C(overlap), C(validation_params) (CVAT's dict), C(image_quality) (70),
        C(sorting_method) (natural; always random for gt_pool).
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
from ansible.module_utils.cvat_api import API_ARGSPEC, CvatApiError, cvat_message, run_module


def has_data(task):
    """CVAT made frames for the task: size > 0 (a failed or empty upload leaves size 0, with or without a data id)."""
    return bool(task.get('size'))


def sorting_method(t):
    vp = t.get('validation_params') or {}
    if vp.get('mode') == 'gt_pool':
        return 'random'  # CVAT: a honeypot pool needs random order
    return t.get('sorting_method', 'natural')


def main():
    spec = dict(API_ARGSPEC)
    spec.update(tasks=dict(type='list', elements='dict', required=True), wait=dict(type='bool', default=True),
                wait_timeout=dict(type='int', default=600))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params

    def attach(client, task_id, t):
        body = dict(server_files=t['files'], cloud_storage_id=t['cloud_storage_id'],
                    image_quality=int(t.get('image_quality', 70)), sorting_method=sorting_method(t),
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
                raise CvatApiError('POST', '/api/tasks/%d/data/ (task %s)' % (task_id, t['name']), 'failed', req.get('message'))
            if time.time() > deadline:
                raise CvatApiError('GET', '/api/requests/%s (task %s)' % (rq, t['name']), 'timeout', status)
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
                    try:
                        attach(client, cur['id'], t)
                    except CvatApiError as e:
                        raise CvatApiError('POST', '/api/tasks/%d/data/' % cur['id'], e.status,
                                           'task %s (id %d) has no frames in CVAT (an earlier upload failed or was '
                                           'interrupted) and its data could not be attached again: %s. Check the '
                                           'files in the bucket; if CVAT keeps refusing, delete the empty task in '
                                           'CVAT (it holds no annotations) and run again.'
                                           % (t['name'], cur['id'], cvat_message(e.body)))
                continue
            d = {}
            gt_pool = (t.get('validation_params') or {}).get('mode') == 'gt_pool'
            if not gt_pool and cur.get('segment_size') != int(t['segment_size']):
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
