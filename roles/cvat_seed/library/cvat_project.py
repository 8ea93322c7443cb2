#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cvat_project
short_description: Ensure CVAT projects with their label schemas and attributes (bulk)
description:
  - Two paginated reads for any number of projects (C(GET /api/projects) and C(GET /api/labels) in the organization),
    then C(POST /api/projects) for a missing project and C(PATCH /api/projects/{id}) with only the labels or
    attributes that differ.
  - Labels and attributes are never deleted implicitly (annotations hang on them); undeclared ones are reported
    in C(extra_labels).
options:
  projects:
    description:
      - Projects, each C(name) and C(labels) (C(name), C(type) default C(any), optional C(color),
        C(attributes) with C(name), C(input_type) default C(select), C(mutable) default false, C(values), C(default_value)).
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - cvat_api
author: CVAT on AWS project
'''

EXAMPLES = r'''
- name: Projects and label schemas
  cvat_project:
    url: https://cvat.example.com
    api_token: "{{ token }}"
    organization: avd
    projects:
      - name: AVD urban
        labels:
          - name: traffic_light
            type: rectangle
            attributes:
              - {name: state, input_type: select, values: [red, yellow, green]}
'''

RETURN = r'''
projects:
  description: Map of project name to id (new projects in check mode have no id).
  returned: success
  type: dict
created:
  description: Names of projects created.
  returned: always
  type: list
  elements: str
updated:
  description: Names of projects whose labels changed.
  returned: always
  type: list
  elements: str
extra_labels:
  description: Map of project name to labels in CVAT that the inventory does not declare (left in place).
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.cvat_api import API_ARGSPEC, run_module


def norm_attr(a):
    out = dict(name=a['name'], input_type=a.get('input_type', 'select'), mutable=bool(a.get('mutable', False)),
               values=[str(v) for v in a.get('values', [])])
    if a.get('default_value') is not None:
        out['default_value'] = str(a['default_value'])
    return out


def norm_label(lab):
    out = dict(name=lab['name'], type=lab.get('type', 'any'), attributes=[norm_attr(a) for a in lab.get('attributes', [])])
    if lab.get('color'):
        out['color'] = lab['color']
    return out


def label_patch(want, have):
    """Patch entry for one existing label, or None when it matches."""
    patch = {}
    if have.get('type', 'any') != want['type']:
        patch['type'] = want['type']
    if want.get('color') and have.get('color') != want['color']:
        patch['color'] = want['color']
    have_attrs = dict((a['name'], a) for a in have.get('attributes', []))
    attrs = []
    for a in want['attributes']:
        cur = have_attrs.get(a['name'])
        if cur is None:
            attrs.append(a)
            continue
        diff = dict((k, v) for k, v in a.items() if k != 'name' and cur.get(k) != v)
        if diff:
            attrs.append(dict(diff, id=cur['id'], name=a['name'], input_type=a['input_type'], mutable=a['mutable'], values=a['values']))
    if attrs:
        patch['attributes'] = attrs
    if not patch:
        return None
    return dict(patch, id=have['id'], name=have['name'])


def main():
    spec = dict(API_ARGSPEC)
    spec.update(projects=dict(type='list', elements='dict', required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    want_projects = module.params['projects']

    def work(client):
        existing = dict((pr['name'], pr) for pr in client.list('/api/projects'))
        labels_by_project = {}
        if existing:
            for lab in client.list('/api/labels'):
                if lab.get('project_id') is not None and not lab.get('parent_id'):
                    labels_by_project.setdefault(lab['project_id'], []).append(lab)
        ids, created, updated, extra, before, after = {}, [], [], {}, {}, {}
        for pw in want_projects:
            labels = [norm_label(lab) for lab in pw.get('labels', [])]
            cur = existing.get(pw['name'])
            if cur is None:
                created.append(pw['name'])
                after[pw['name']] = {'labels': labels}
                if module.check_mode:
                    ids[pw['name']] = None
                    continue

                def recheck(name=pw['name']):
                    return next((x for x in client.list('/api/projects') if x['name'] == name), None)
                new = client.post('/api/projects', {'name': pw['name'], 'labels': labels}, recheck=recheck)
                ids[pw['name']] = new['id']
                continue
            ids[pw['name']] = cur['id']
            have = dict((lab['name'], lab) for lab in labels_by_project.get(cur['id'], []))
            patch = []
            for lab in labels:
                if lab['name'] not in have:
                    patch.append(lab)
                else:
                    entry = label_patch(lab, have[lab['name']])
                    if entry:
                        patch.append(entry)
            names = set(lab['name'] for lab in labels)
            extras = sorted(n for n in have if n not in names)
            if extras:
                extra[pw['name']] = extras
            if patch:
                updated.append(pw['name'])
                before[pw['name']] = {'labels': [dict((k, have[p['name']].get(k)) for k in p if k != 'id') for p in patch if p['name'] in have]}
                after[pw['name']] = {'labels': patch}
                if not module.check_mode:
                    client.patch('/api/projects/%d' % cur['id'], {'labels': patch})
        return dict(changed=bool(created or updated), projects=ids, created=created, updated=updated, extra_labels=extra,
                    diff=dict(before=before, after=after))

    run_module(module, work)


if __name__ == '__main__':
    main()
