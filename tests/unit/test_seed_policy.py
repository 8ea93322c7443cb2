"""Unit tests of the cvat_seed role's policy (roles/cvat_seed/module_utils/cvat_policy.py): each violation alone."""
from __future__ import annotations

import copy
import importlib.util

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("cvat_policy", ROOT / "roles/cvat_seed/module_utils/cvat_policy.py")
policy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(policy)

GOOD = {
    "members": [{"username": "a", "email": "a@x", "role": "annotator", "kind": "contractor"},
                {"username": "q", "email": "q@x", "role": "quality analyst"},
                {"username": "o", "email": "o@x", "role": "operations_manager", "kind": "employee"}],
    "projects": [{"name": "P", "code": "AVD", "labels": [{"name": "traffic_light", "attributes": [{"name": "state"}]}]}],
    "tasks": [{"name": "AVD-urban-night-B04-20250601", "project": "P", "media": "images", "frames": 1000,
               "files": ["raw/a/"], "segment_size": 200, "ground_truth_share": 0.05, "honeypots": True, "honeypots_per_job": 3},
              {"name": "AVD-urban-B05-20250601", "project": "P", "media": "video", "frames": 9000,
               "files": ["raw/v.mp4"], "segment_size": 300, "overlap": 10, "ground_truth_share": 0.1}],
    "webhooks": [{"target_url": "https://h/x", "type": "project", "project": "P", "events": ["create:task"]}],
}


def test_good_inventory_passes_and_roles_map():
    assert policy.validate(GOOD) == []
    assert [policy.cvat_role(m["role"]) for m in GOOD["members"]] == ["worker", "supervisor", "maintainer"]
    assert policy.cvat_role("owner") == "owner" and policy.cvat_role("boss") is None


def mutate(path, value):
    inv = copy.deepcopy(GOOD)
    target = inv
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return inv


@pytest.mark.parametrize("path,value,needle", [
    (("members", 0, "role"), "quality_analyst", "kind 'contractor' can only be an annotator (worker), not 'quality_analyst'"),
    (("members", 0, "kind"), "external", None),  # external annotator as worker is fine
    (("members", 1, "kind"), "external", "kind 'external' can only be an annotator"),
    (("members", 1, "role"), "boss", "role 'boss' is not one of"),
    (("members", 1, "email"), "", "email is required"),
    (("members", 2, "username"), "a", "username 'a' is declared twice"),
    (("projects", 0, "labels", 0, "name"), "TrafficLight", "label name 'TrafficLight' must be lowercase"),
    (("projects", 0, "labels", 0, "name"), "traffic light", "label name 'traffic light'"),
    (("projects", 0, "labels", 0, "type"), "skeleton", "type 'skeleton'"),
    (("tasks", 0, "name"), "AVD_urban_night_B04_20250601", "name does not match"),
    (("tasks", 0, "name"), "AVD-urban-night-B04-20251301", "date '20251301' is not a valid"),
    (("tasks", 0, "name"), "PED-urban-night-B04-20250601", "project code 'PED' differs"),
    (("tasks", 0, "frames"), 499, "images tasks need 500-1500 frames, got 499"),
    (("tasks", 0, "frames"), 1501, "images tasks need 500-1500 frames, got 1501"),
    (("tasks", 0, "media"), "sequence", "sequence tasks need 200-500 frames, got 1000"),
    (("tasks", 0, "segment_size"), 2000, "segment_size 2000"),
    (("tasks", 0, "ground_truth_share"), 0.04, "ground_truth_share 0.04"),
    (("tasks", 0, "ground_truth_share"), 0.11, "ground_truth_share 0.11"),
    (("tasks", 0, "honeypots_per_job"), 0, "honeypots need honeypots_per_job >= 1"),
    (("tasks", 0, "project"), "Nope", "project 'Nope' is not declared"),
    (("tasks", 1, "overlap"), 9, "video overlap must be 10-20 frames, got 9"),
    (("tasks", 1, "overlap"), 21, "got 21"),
    (("tasks", 1, "honeypots"), True, "honeypots (gt_pool) are for image tasks only, not video"),
    (("tasks", 1, "files"), ["a.mp4", "b.mp4"], "exactly one file, got 2"),
    (("tasks", 1, "media"), "film", "media 'film'"),
    (("webhooks", 0, "project"), "Nope", "project 'Nope' is not declared"),
    (("webhooks", 0, "events"), [], "events must not be empty"),
])
def test_each_violation_is_named(path, value, needle):
    errors = policy.validate(mutate(path, value))
    if needle is None:
        assert errors == []
    else:
        assert any(needle in e for e in errors), errors


def test_sequence_honeypots_rejected_and_validation_params():
    inv = mutate(("tasks", 0, "media"), "sequence")
    inv["tasks"][0]["frames"] = 300
    assert any("not sequences" in e for e in policy.validate(inv))
    assert policy.validation_params(GOOD["tasks"][0]) == {
        "mode": "gt_pool", "frame_selection_method": "random_uniform", "frame_share": 0.05, "frames_per_job_count": 3}
    assert policy.validation_params(GOOD["tasks"][1])["mode"] == "gt"
