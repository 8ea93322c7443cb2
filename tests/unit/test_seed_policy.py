"""Unit tests of the cvat_seed role's policy (roles/cvat_seed/module_utils/cvat_policy.py): each violation alone."""
from __future__ import annotations

import copy
import importlib.util
import sys

import pytest

from conftest import ROOT

_rules_spec = importlib.util.spec_from_file_location("ansible.module_utils.cvat_rules",
                                                     ROOT / "roles/cvat_seed/module_utils/cvat_rules.py")
rules = importlib.util.module_from_spec(_rules_spec)
_rules_spec.loader.exec_module(rules)
sys.modules.setdefault("ansible.module_utils.cvat_rules", rules)
spec = importlib.util.spec_from_file_location("cvat_policy", ROOT / "roles/cvat_seed/module_utils/cvat_policy.py")
policy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(policy)

GOOD = {
    "organization": {"slug": "avd-team_1", "name": "AVD"},
    "members": [{"username": "anna.c", "email": "anna@example.com", "role": "annotator", "kind": "contractor"},
                {"username": "quinn", "email": "q+cvat@sub.example.co", "role": "quality analyst", "first_name": "Q"},
                {"username": "otto@ops", "email": "otto@localhost", "role": "operations_manager", "kind": "employee"}],
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
    (("members", 2, "username"), "anna.c", "username 'anna.c' is declared twice"),
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


FUNCS = {"slug": rules.slug_errors, "username": rules.username_errors, "email": rules.email_errors,
         "name": rules.person_name_errors, "password": rules.password_errors}


@pytest.mark.parametrize("field,value,message", [
    ("slug", "Bad Slug!", "Enter a valid"), ("slug", "x" * 17, "no more than 16"), ("slug", "", "blank"),
    ("username", "ann1", "at least 5 characters"), ("username", "has space", "Enter a valid username"),
    ("username", "u" * 151, "no more than 150"),
    ("email", "nope", "Enter a valid email"), ("email", "a@b", "Enter a valid email"), ("email", "a b@example.com", "Enter a valid email"),
    ("email", "a@-example.com", "Enter a valid email"), ("email", "x" * 250 + "@e.com", "no more than 254"),
    ("name", "", "blank"), ("name", "   ", "blank"), ("name", "n" * 151, "no more than 150"),
    ("password", "short", "at least 8 characters"), ("password", "123456789", "entirely numeric"), ("password", "p" * 257, "no more than 256"),
])
def test_cvat_rules_refuse(field, value, message):
    """CVAT's own input rules (cvat_rules.py, shared with the stand-in): each bad value refused with CVAT's words."""
    err = " ".join(FUNCS[field](value))
    assert message in err, (field, value, err)


@pytest.mark.parametrize("field,value", [
    ("slug", "avd"), ("slug", "a-b_c9" + "x" * 10), ("username", "anna."), ("username", "otto@ops+1"),
    ("email", "a.b+c@sub.example.co"), ("email", "root@localhost"), ("email", "x@[127.0.0.1]"), ("name", "Émile"),
    ("password", "Correct-Horse-9-Battery"),
])
def test_cvat_rules_accept(field, value):
    assert FUNCS[field](value) == []


def test_member_and_org_rules_are_part_of_the_policy():
    inv = copy.deepcopy(GOOD)
    inv["organization"] = {"slug": "Bad Slug!"}
    inv["members"][0]["username"] = "ann1"
    inv["members"][1]["email"] = "nope"
    inv["members"][2]["last_name"] = ""
    errors = " | ".join(policy.validate(inv))
    for needle in ("organization slug 'Bad Slug!'", "member ann1: username 'ann1' is refused by CVAT",
                   "member quinn: email 'nope' is refused by CVAT", "member otto@ops: last_name '' is refused by CVAT"):
        assert needle in errors, errors
