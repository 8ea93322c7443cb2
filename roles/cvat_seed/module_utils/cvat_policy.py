# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The annotation-operations policy of the cvat_seed role, as pure functions (no I/O).

`validate(inventory)` returns every violation of the whole inventory at once, each naming the bad value,
so the role can fail before its first write. `cvat_role()` maps the team's words onto CVAT's roles.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible.module_utils.cvat_rules import (email_errors, org_name_errors, password_errors, person_name_errors,
                                              slug_errors, username_errors)

TEAM_ROLES = {
    'annotator': 'worker',
    'quality_analyst': 'supervisor',
    'quality analyst': 'supervisor',
    'operations_manager': 'maintainer',
    'operations manager': 'maintainer',
    'owner': 'owner',
    # CVAT's own words are accepted too
    'worker': 'worker',
    'supervisor': 'supervisor',
    'maintainer': 'maintainer',
}
MEMBER_KINDS = ('employee', 'contractor', 'external')
WORKER_ONLY_KINDS = ('contractor', 'external')
LABEL_RE = re.compile(r'^[a-z][a-z0-9]*(_[a-z0-9]+)*$')
TASK_NAME_RE = re.compile(r'^(?P<code>[A-Z][A-Z0-9]{1,9})-(?P<domain>[a-z0-9]+(?:-[a-z0-9]+)*)-(?P<batch>B\d{2,4})-(?P<date>\d{8})$')
MEDIA_BOUNDS = {'images': (500, 1500), 'sequence': (200, 500)}
VIDEO_OVERLAP = (10, 20)
GT_SHARE = (0.05, 0.10)
LABEL_TYPES = ('any', 'cuboid', 'ellipse', 'mask', 'points', 'polygon', 'polyline', 'rectangle', 'tag')


def cvat_role(word):
    return TEAM_ROLES.get(str(word).strip().lower())


def _dupes(values):
    seen, dup = set(), []
    for v in values:
        if v in seen and v not in dup:
            dup.append(v)
        seen.add(v)
    return dup


def validate_members(members):
    errors = []
    for i, m in enumerate(members or []):
        who = m.get('username') or m.get('email') or '#%d' % i
        if not m.get('username'):
            errors.append('member %s: username is required' % who)
        elif username_errors(m['username']):
            errors.append("member %s: username '%s' is refused by CVAT: %s" % (who, m['username'], ' '.join(username_errors(m['username']))))
        if not m.get('email'):
            errors.append('member %s: email is required (CVAT adds members by invitation to an email)' % who)
        elif email_errors(m['email']):
            errors.append("member %s: email '%s' is refused by CVAT: %s" % (who, m['email'], ' '.join(email_errors(m['email']))))
        for field in ('first_name', 'last_name'):
            if field in m and m[field] is not None and person_name_errors(m[field]):
                errors.append("member %s: %s '%s' is refused by CVAT: %s (omit it to leave it unset)"
                              % (who, field, m[field], ' '.join(person_name_errors(m[field]))))
        if m.get('password'):
            user = dict((k, m.get(k) or '') for k in ('username', 'first_name', 'last_name', 'email'))
            if password_errors(m['password'], user):
                # the value itself is never quoted: it is a secret
                errors.append('member %s: password is refused by CVAT: %s' % (who, ' '.join(password_errors(m['password'], user))))
        role = cvat_role(m.get('role', ''))
        if role is None:
            errors.append("member %s: role '%s' is not one of %s" % (who, m.get('role'), ', '.join(sorted(TEAM_ROLES))))
        kind = m.get('kind', 'employee')
        if kind not in MEMBER_KINDS:
            errors.append("member %s: kind '%s' is not one of %s" % (who, kind, ', '.join(MEMBER_KINDS)))
        elif kind in WORKER_ONLY_KINDS and role not in (None, 'worker'):
            errors.append("member %s: kind '%s' can only be an annotator (worker), not '%s'" % (who, kind, m.get('role')))
    for d in _dupes([m.get('username') for m in members or [] if m.get('username')]):
        errors.append("member username '%s' is declared twice" % d)
    for d in _dupes([str(m.get('email')).lower() for m in members or [] if m.get('email')]):
        errors.append("member email '%s' is declared twice" % d)
    return errors


def validate_projects(projects):
    errors = []
    for p in projects or []:
        name = p.get('name')
        labels = p.get('labels') or []
        for lab in labels:
            if not LABEL_RE.match(str(lab.get('name', ''))):
                errors.append("project %s: label name '%s' must be lowercase with underscores (e.g. traffic_light)" % (name, lab.get('name')))
            if lab.get('type', 'any') not in LABEL_TYPES:
                errors.append("project %s: label '%s' has type '%s', not one of %s" % (name, lab.get('name'), lab.get('type'), ', '.join(LABEL_TYPES)))
            for d in _dupes([a.get('name') for a in lab.get('attributes') or []]):
                errors.append("project %s: label '%s' declares attribute '%s' twice" % (name, lab.get('name'), d))
        for d in _dupes([lab.get('name') for lab in labels]):
            errors.append("project %s: label '%s' is declared twice" % (name, d))
        q = p.get('quality') or {}
        thr = q.get('target_metric_threshold')
        if thr is not None and not (0 <= float(thr) <= 1):
            errors.append("project %s: quality target_metric_threshold %s is not within 0..1" % (name, thr))
        mv = q.get('max_validations_per_job')
        if mv is not None and int(mv) < 0:
            errors.append("project %s: quality max_validations_per_job %s is negative" % (name, mv))
    for d in _dupes([p.get('name') for p in projects or []]):
        errors.append("project '%s' is declared twice" % d)
    return errors


def validate_tasks(tasks, projects):
    errors = []
    by_name = dict((p.get('name'), p) for p in projects or [])
    for t in tasks or []:
        name = str(t.get('name', ''))
        m = TASK_NAME_RE.match(name)
        if not m:
            errors.append("task '%s': name does not match {project-code}-{domain}-{batch-number}-{date} (e.g. AVD-urban-night-B04-20250601)" % name)
        else:
            try:
                datetime.datetime.strptime(m.group('date'), '%Y%m%d')
            except ValueError:
                errors.append("task '%s': date '%s' is not a valid YYYYMMDD date" % (name, m.group('date')))
        project = by_name.get(t.get('project'))
        if project is None:
            errors.append("task '%s': project '%s' is not declared in the inventory" % (name, t.get('project')))
        elif m and project.get('code') and project['code'] != m.group('code'):
            errors.append("task '%s': project code '%s' differs from project %s's code '%s'" % (name, m.group('code'), project.get('name'), project['code']))
        media = t.get('media', 'images')
        frames = t.get('frames')
        files = t.get('files') or []
        if media not in ('images', 'sequence', 'video'):
            errors.append("task '%s': media '%s' is not one of images, sequence, video" % (name, media))
            continue
        if not files:
            errors.append("task '%s': files (S3 keys or prefixes under the cloud storage) are required" % name)
        if media in MEDIA_BOUNDS:
            lo, hi = MEDIA_BOUNDS[media]
            if frames is None or not (lo <= int(frames) <= hi):
                errors.append("task '%s': %s tasks need %d-%d frames, got %s" % (name, media, lo, hi, frames))
        if media == 'video':
            if len(files) != 1:
                errors.append("task '%s': a video task is one continuous sequence: exactly one file, got %d" % (name, len(files)))
            ov = t.get('overlap')
            if ov is None or not (VIDEO_OVERLAP[0] <= int(ov) <= VIDEO_OVERLAP[1]):
                errors.append("task '%s': video overlap must be %d-%d frames, got %s" % (name, VIDEO_OVERLAP[0], VIDEO_OVERLAP[1], ov))
            if t.get('honeypots'):
                errors.append("task '%s': honeypots (gt_pool) are for image tasks only, not video" % name)
        elif media == 'sequence' and t.get('honeypots'):
            errors.append("task '%s': honeypots (gt_pool) are for image tasks only, not sequences (they break frame order)" % name)
        seg = t.get('segment_size')
        if seg is None or int(seg) < 1 or (frames is not None and int(seg) > int(frames)):
            errors.append("task '%s': segment_size %s must be between 1 and the frame count (%s)" % (name, seg, frames))
        gt = t.get('ground_truth_share')
        if gt is None or not (GT_SHARE[0] <= float(gt) <= GT_SHARE[1]):
            errors.append("task '%s': ground_truth_share %s must be between %.2f and %.2f (5-10 %% of frames)" % (name, gt, GT_SHARE[0], GT_SHARE[1]))
        if t.get('honeypots') and int(t.get('honeypots_per_job') or 0) < 1:
            errors.append("task '%s': honeypots need honeypots_per_job >= 1, got %s" % (name, t.get('honeypots_per_job')))
    for d in _dupes([t.get('name') for t in tasks or []]):
        errors.append("task '%s' is declared twice" % d)
    return errors


def validate_webhooks(webhooks, projects):
    errors = []
    names = set(p.get('name') for p in projects or [])
    for w in webhooks or []:
        if w.get('type', 'organization') == 'project' and w.get('project') not in names:
            errors.append("webhook %s: project '%s' is not declared in the inventory" % (w.get('target_url'), w.get('project')))
        if not str(w.get('target_url', '')).startswith(('http://', 'https://')):
            errors.append("webhook target_url '%s' is not an http(s) URL" % w.get('target_url'))
        if not w.get('events'):
            errors.append("webhook %s: events must not be empty" % w.get('target_url'))
    return errors


def validate_organization(org):
    errors = []
    if org is None:
        return errors
    if slug_errors(org.get('slug')):
        errors.append("organization slug '%s' is refused by CVAT: %s" % (org.get('slug'), ' '.join(slug_errors(org.get('slug')))))
    if org.get('name') is not None and org_name_errors(org['name']):
        errors.append("organization name '%s' is refused by CVAT: %s" % (org['name'], ' '.join(org_name_errors(org['name']))))
    return errors


def validate(inventory):
    projects = inventory.get('projects') or []
    return (validate_organization(inventory.get('organization'))
            + validate_members(inventory.get('members'))
            + validate_projects(projects)
            + validate_tasks(inventory.get('tasks'), projects)
            + validate_webhooks(inventory.get('webhooks'), projects))


def validation_params(task):
    """CVAT's validation_params for a (validated) task: GT job, or a honeypot pool for image tasks."""
    params = {'frame_selection_method': 'random_uniform', 'frame_share': float(task['ground_truth_share'])}
    if task.get('honeypots'):
        params['mode'] = 'gt_pool'
        params['frames_per_job_count'] = int(task['honeypots_per_job'])
    else:
        params['mode'] = 'gt'
    return params
