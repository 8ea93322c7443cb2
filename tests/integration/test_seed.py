"""Integration tests of the cvat_seed role against the CVAT API stand-in (tests/cvat_standin) and moto.

Read-back is done with the official cvat-sdk client, not with the role's own code. The tests run in file order
on one stand-in (module scope): bad input -> check mode -> first run with faults -> idempotent re-run ->
drift correction -> interrupted run and re-run. The storage key's rotation on the host is tested against moto with
credential checks in test_storage_key_rotation.py.
What this does not prove: see tests/cvat_standin/server.py (no OPA permissions, no real media, no real CVAT).
"""
from __future__ import annotations

import copy
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT, run_playbook
from cvat_standin.harness import ADMIN, ADMIN_PASSWORD, Standin, base_vars, write_inventory

PLAYBOOK = ROOT / "playbooks" / "seed.yml"
STORAGE_USER = "avd-prod-cvat-storage"
BUCKET = "avd-annotation-data"
WEBHOOK_SECRET = "whsec-Do-Not-Leak-7781"
MEMBER_PASSWORD = "Member-pw-Never-Shown-42"

MEMBERS = [
    {"username": "anna.contractor", "email": "anna.contractor@example.com", "role": "annotator", "kind": "contractor",
     "password": MEMBER_PASSWORD},
    {"username": "bruno.external", "email": "bruno@example.com", "role": "annotator", "kind": "external"},
    {"username": "emma.annot", "email": "emma@example.com", "role": "annotator", "first_name": "Emma"},
    {"username": "quentin.qa", "email": "quentin@example.com", "role": "quality_analyst", "first_name": "Quentin",
     "last_name": "Ahn"},
    {"username": "otto.ops", "email": "otto@example.com", "role": "operations_manager"},
]
ROLES = {"admin": "owner", "anna.contractor": "worker", "bruno.external": "worker", "emma.annot": "worker",
         "quentin.qa": "supervisor", "otto.ops": "maintainer"}
PROJECTS = [
    {"name": "AVD urban", "code": "AVD", "labels": [
        {"name": "car", "type": "rectangle"},
        {"name": "traffic_light", "type": "rectangle", "color": "#ff0000", "attributes": [
            {"name": "state", "input_type": "select", "values": ["red", "yellow", "green"]}]},
        {"name": "unknown_object", "type": "any"}],
     "quality": {"target_metric_threshold": 0.85}},
    {"name": "PED crossings", "code": "PED", "labels": [
        {"name": "pedestrian", "type": "polygon", "attributes": [
            {"name": "occluded", "input_type": "checkbox", "mutable": True, "values": ["false"]}]}]},
]
TASKS = [
    {"name": "AVD-urban-night-B04-20250601", "project": "AVD urban", "media": "images", "frames": 500,
     "files": ["raw/avd/B04/"], "segment_size": 100, "honeypots": True, "ground_truth_share": 0.06},
    {"name": "AVD-urban-day-B05-20250602", "project": "AVD urban", "media": "sequence", "frames": 200,
     "files": ["raw/avd/B05/"], "segment_size": 50},
    {"name": "PED-crossing-B01-20250603", "project": "PED crossings", "media": "video", "frames": 900,
     "files": ["raw/ped/B01/clip.mp4"], "segment_size": 300, "overlap": 15},
]
WEBHOOKS = [
    {"target_url": "https://hooks.example.com/cvat", "type": "organization", "events": ["create:task", "update:job"],
     "secret": WEBHOOK_SECRET, "description": "ops"},
    {"target_url": "https://hooks.example.com/ped", "type": "project", "project": "PED crossings", "events": ["update:job"]},
]


class Env:
    def __init__(self, standin: Standin, moto, tmp):
        self.standin, self.moto, self.tmp = standin, moto, tmp
        self.vars = base_vars(standin, tmp, sys.executable)
        self.vars.update({
            "cvat_seed_organization": {"slug": "avd", "name": "AVD annotation"},
            "cvat_seed_members": copy.deepcopy(MEMBERS),
            "cvat_seed_projects": copy.deepcopy(PROJECTS),
            "cvat_seed_tasks": copy.deepcopy(TASKS),
            "cvat_seed_webhooks": copy.deepcopy(WEBHOOKS),
            "cvat_seed_bucket": BUCKET,
            "cvat_seed_bucket_region": "eu-west-1",
            "cvat_seed_cloud_storage_endpoint_url": moto.url,
            "cvat_seed_aws_endpoint_url": moto.url,
            "cvat_seed_storage_user": STORAGE_USER,
        })
        self.secrets = [ADMIN_PASSWORD, WEBHOOK_SECRET, MEMBER_PASSWORD]

    def run(self, *args, vars_override=None, check=True):
        hv = dict(self.vars, **(vars_override or {}))
        inv = write_inventory(self.tmp / "inventory.yml", hv)
        proc = run_playbook(PLAYBOOK, *args, inventory=inv, env=self.moto.env, check=check)
        out = proc.stdout + proc.stderr
        for secret in self.secrets + self.storage_secrets():
            assert secret not in out, "a secret appeared in ansible's output"
        token = (self.tmp / "data" / "cvat-seed" / "api-token")
        if token.exists():
            assert token.read_text().strip() not in out, "the API token appeared in ansible's output"
        return proc

    def storage_secrets(self):
        creds = self.standin.server.state.cs_secrets
        return [v for c in creds.values() for k, v in c.items() if k == "secret_key"]


def recap(proc) -> dict:
    m = re.search(r"cvat-standin\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert m, proc.stdout[-2000:]
    return {"ok": int(m[1]), "changed": int(m[2]), "failed": int(m[4])}


def put_objects(s3, keys):
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=b"x"), keys))


@pytest.fixture(scope="module")
def env(moto_server, tmp_path_factory):
    moto_server.reset()
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    put_objects(s3, [f"raw/avd/B04/{i:04d}.jpg" for i in range(500)] + [f"raw/avd/B05/{i:04d}.jpg" for i in range(200)]
                + ["raw/ped/B01/clip.mp4"])
    # the storage user aws_infra makes (no key: the role makes the first one)
    moto_server.client("iam").create_user(UserName=STORAGE_USER, Path="/cvat/")
    standin = Standin(s3_endpoint=moto_server.url)
    yield Env(standin, moto_server, tmp_path_factory.mktemp("seed"))
    standin.close()


def sdk_client(env):
    from cvat_sdk import Client, Config
    client = Client(env.standin.url, config=Config(allow_unsupported_server=True))
    client.login((ADMIN, ADMIN_PASSWORD))
    client.organization_slug = "avd"
    return client


def test_policy_violations_fail_before_any_request(env):
    env.standin.reset_stats()
    bad = {
        "cvat_seed_organization": {"slug": "Bad Slug!", "name": "AVD annotation"},
        "cvat_seed_members": MEMBERS + [
            {"username": "ext99", "email": "ext9@example.com", "role": "quality_analyst", "kind": "external"},
            {"username": "con99", "email": "con9@example.com", "role": "operations_manager", "kind": "contractor"},
            {"username": "ann1", "email": "ann1@example.com", "role": "annotator"},
            {"username": "nope.mail", "email": "nope", "role": "annotator"},
            {"username": "blank.name", "email": "blank@example.com", "role": "annotator", "last_name": ""},
            {"username": "short.pw", "email": "short@example.com", "role": "annotator", "password": "12345678"}],
        "cvat_seed_projects": PROJECTS + [{"name": "Bad", "labels": [{"name": "Traffic Light"}, {"name": "trafficLight"}]}],
        "cvat_seed_tasks": TASKS + [
            {"name": "avd_urban_B9", "project": "AVD urban", "frames": 600, "files": ["raw/x/"], "segment_size": 100},
            {"name": "AVD-urban-B10-20250230", "project": "AVD urban", "frames": 600, "files": ["raw/x/"], "segment_size": 100},
            {"name": "AVD-urban-small-B11-20250601", "project": "AVD urban", "frames": 499, "files": ["raw/x/"], "segment_size": 100},
            {"name": "AVD-urban-big-B12-20250601", "project": "AVD urban", "frames": 1501, "files": ["raw/x/"], "segment_size": 100},
            {"name": "AVD-urban-seq-B13-20250601", "project": "AVD urban", "media": "sequence", "frames": 501, "files": ["raw/x/"], "segment_size": 100},
            {"name": "PED-vid-B14-20250601", "project": "PED crossings", "media": "video", "frames": 900, "files": ["a.mp4", "b.mp4"],
             "segment_size": 300, "overlap": 25, "honeypots": True},
            {"name": "AVD-urban-gt-B15-20250601", "project": "AVD urban", "frames": 600, "files": ["raw/x/"], "segment_size": 100,
             "ground_truth_share": 0.2},
            {"name": "PED-code-B16-20250601", "project": "AVD urban", "frames": 600, "files": ["raw/x/"], "segment_size": 100},
        ],
    }
    proc = env.run(vars_override=bad, check=False)
    assert proc.returncode != 0
    out = proc.stdout
    for needle in ["ext99: kind 'external' can only be an annotator", "con99: kind 'contractor' can only be an annotator",
                   "organization slug 'Bad Slug!' is refused by CVAT", "member ann1: username 'ann1' is refused by CVAT",
                   "member nope.mail: email 'nope' is refused by CVAT: Enter a valid email address.",
                   "member blank.name: last_name '' is refused by CVAT: This field may not be blank.",
                   "member short.pw: password is refused by CVAT: This password is too common. This password is entirely numeric.",
                   "label name 'Traffic Light'", "label name 'trafficLight'", "task 'avd_urban_B9': name does not match",
                   "date '20250230'", "images tasks need 500-1500 frames, got 499", "got 1501",
                   "sequence tasks need 200-500 frames, got 501", "exactly one file, got 2", "video overlap must be 10-20 frames, got 25",
                   "honeypots (gt_pool) are for image tasks only, not video", "ground_truth_share 0.2",
                   "project code 'PED' differs"]:
        assert needle in out, f"missing violation: {needle}"
    stats = env.standin.stats()
    assert stats["writes"] == 0 and stats.get("GET", 0) == 0, stats
    assert "12345678" not in out  # a refused password is never quoted


def test_cross_field_assert_names_bad_value(env):
    env.standin.reset_stats()
    proc = env.run(vars_override={"cvat_seed_storage_user": "cvat storage!"}, check=False)
    assert proc.returncode != 0
    assert "storage_user='cvat storage!'" in proc.stdout
    assert env.standin.stats()["writes"] == 0


def test_token_failure_says_why_without_secrets(env):
    env.standin.reset_stats()
    wrong = "Wrong-Admin-Pw-Never-Shown-99"
    proc = env.run(vars_override={"cvat_superuser_password": wrong}, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert wrong not in out
    assert "censored" not in out.split("Say why no API token could be had")[-1]
    m = re.search(r"could not get an API token: (.*)", out)
    assert m, out[-3000:]
    msg = m.group(1)
    assert "/api/auth/login" in msg and env.standin.url in msg and "HTTP 400" in msg, msg
    assert "Unable to log in with provided credentials" in msg and "user admin" in msg, msg
    assert env.standin.stats()["writes"] == env.standin.stats().get("POST /api/auth/login", 0)


def test_invitation_without_mail_is_refused_before_any_write(env):
    env.standin.reset_stats()
    proc = env.run(vars_override={"cvat_seed_create_users": False, "cvat_seed_mail_backend": False}, check=False)
    assert proc.returncode != 0
    assert "CVAT has no mail backend" in proc.stdout
    assert "anna.contractor, bruno.external, emma.annot, quentin.qa, otto.ops" in proc.stdout
    stats = env.standin.stats()
    # only the automation token was made (login + access token); nothing of the seeding
    assert stats["writes"] == stats.get("POST /api/auth/login", 0) + stats.get("POST /api/auth/access_tokens", 0), stats
    assert not env.standin.server.state.orgs


def test_check_mode_on_fresh_cvat_writes_nothing(env):
    env.standin.reset_stats()
    proc = env.run("--check", "--diff")
    assert recap(proc)["changed"] >= 1
    stats = env.standin.stats()
    assert stats["writes"] == stats.get("POST /api/auth/login", 0), stats  # a login is the only POST
    assert not env.standin.server.state.orgs


def test_first_run_with_faults_converges(env):
    env.standin.reset_stats()
    # CVAT still starting (3 x 503), then a 500 in the middle of creating projects (before it lands)
    env.standin.faults(unavailable=3, fail={"method": "POST", "path": "/api/projects", "after": 1, "status": 500, "count": 1})
    proc = env.run()
    assert recap(proc)["failed"] == 0
    stats = env.standin.stats()
    assert stats["POST /api/projects"] == 3  # 2 projects + 1 retried after the injected 500
    client = sdk_client(env)
    api = client.api_client
    orgs = api.organizations_api.list()[0].results
    assert [o.slug for o in orgs] == ["avd"]
    roles = {m.user.username: m.role for m in api.memberships_api.list(org="avd")[0].results}
    assert roles == ROLES
    users = {u.username: u for u in api.users_api.list()[0].results}
    assert (users["quentin.qa"].first_name, users["quentin.qa"].last_name) == ("Quentin", "Ahn")
    assert (users["otto.ops"].first_name, users["otto.ops"].last_name) == ("", "")  # undeclared names are not sent
    projects = {p.name: p for p in api.projects_api.list(org="avd")[0].results}
    assert sorted(projects) == ["AVD urban", "PED crossings"]
    labels = {lab.name: lab for lab in api.labels_api.list(project_id=projects["AVD urban"].id, org="avd")[0].results}
    assert sorted(labels) == ["car", "traffic_light", "unknown_object"]
    assert labels["traffic_light"].color == "#ff0000"
    assert labels["traffic_light"].attributes[0].values == ["red", "yellow", "green"]
    qs = {q.project_id: q for q in api.quality_api.list_settings(org="avd")[0].results}
    assert qs[projects["AVD urban"].id].target_metric_threshold == pytest.approx(0.85)
    assert qs[projects["PED crossings"].id].max_validations_per_job == 3
    storages = api.cloudstorages_api.list(org="avd")[0].results
    assert [(s.resource, s.display_name) for s in storages] == [(BUCKET, "raw-data")]
    assert "prefix=raw%2F" in storages[0].specific_attributes
    creds = env.standin.server.state.cs_secrets[storages[0].id]
    keys = env.moto.client("iam").list_access_keys(UserName=STORAGE_USER)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [creds["key"]]  # CVAT holds the storage user's one key
    kept = json.loads((env.tmp / "data" / "cvat-seed" / "storage-key.json").read_text())
    assert kept["access_key_id"] == creds["key"] and creds["secret_key"] not in json.dumps(kept)
    tasks = {t.name: t for t in api.tasks_api.list(org="avd")[0].results}
    assert sorted(tasks) == sorted(t["name"] for t in TASKS)
    night = tasks["AVD-urban-night-B04-20250601"]
    # CVAT counts the honeypot copies in the size: 500 images + 3 per job x 5 jobs of 100
    assert (night.size, night.validation_mode) == (515, "gt_pool")
    assert tasks["PED-crossing-B01-20250603"].overlap == 15
    assert tasks["PED-crossing-B01-20250603"].validation_mode == "gt"
    data = env.standin.state()["task_data"][str(night.id)]
    assert data["sorting_method"] == "random"  # CVAT refuses a honeypot pool in any other order
    assert data["validation_params"] == {"mode": "gt_pool", "frame_selection_method": "random_uniform",
                                         "frame_share": 0.06, "frames_per_job_count": 3}
    assert data["cloud_storage_id"] == storages[0].id
    hooks = api.webhooks_api.list(org="avd")[0].results
    assert sorted(h.target_url for h in hooks) == ["https://hooks.example.com/cvat", "https://hooks.example.com/ped"]
    assert env.standin.server.state.webhook_secrets[min(h.id for h in hooks)] == WEBHOOK_SECRET
    token = env.tmp / "data" / "cvat-seed" / "api-token"
    assert oct(token.stat().st_mode & 0o777) == "0o600"


def test_rerun_changes_nothing_and_only_reads(env):
    env.standin.reset_stats()
    proc = env.run()
    assert recap(proc)["changed"] == 0, proc.stdout[-3000:]
    stats = env.standin.stats()
    assert stats["writes"] == 0, stats
    assert set(k for k in stats if k.startswith("POST") or k.startswith("PATCH") or k.startswith("DELETE")) == set()
    assert stats["GET"] <= 24, stats  # paginated reads only (and a health check per module), not one per object


def test_drift_is_corrected_and_exclusive_removes(env):
    client = sdk_client(env)
    api = client.api_client
    ms = {m.user.username: m for m in api.memberships_api.list(org="avd")[0].results}
    from cvat_sdk.api_client import models
    api.memberships_api.partial_update(ms["quentin.qa"].id, patched_membership_write_request=models.PatchedMembershipWriteRequest(role="maintainer"))
    emma = next(u for u in api.users_api.list()[0].results if u.username == "emma.annot")
    api.users_api.partial_update(emma.id, patched_user_request=models.PatchedUserRequest(first_name="Emily"))
    members = [m for m in MEMBERS if m["username"] != "otto.ops"]
    projects = copy.deepcopy(PROJECTS)
    projects[0]["labels"].append({"name": "bicycle", "type": "rectangle"})
    projects[0]["labels"][1]["attributes"][0]["values"].append("off")
    env.standin.reset_stats()
    proc = env.run("--diff", vars_override={"cvat_seed_members": members, "cvat_seed_members_exclusive": True,
                                              "cvat_seed_projects": projects})
    assert recap(proc)["failed"] == 0
    stats = env.standin.stats()
    assert stats.get("PATCH /api/memberships/{id}") == 1 and stats.get("DELETE /api/memberships/{id}") == 1, stats
    # the name correction is made with the superuser's login key (an access token may not edit users)
    assert stats.get("PATCH /api/users/{id}") == 1 and stats.get("POST /api/auth/login") == 1, stats
    assert stats.get("POST", 0) == 1, stats
    assert next(u for u in api.users_api.list()[0].results if u.username == "emma.annot").first_name == "Emma"
    roles = {m.user.username: m.role for m in api.memberships_api.list(org="avd")[0].results}
    assert roles == {k: v for k, v in ROLES.items() if k != "otto.ops"}
    pid = next(p.id for p in api.projects_api.list(org="avd")[0].results if p.name == "AVD urban")
    labels = {lab.name: lab for lab in api.labels_api.list(project_id=pid, org="avd")[0].results}
    assert "bicycle" in labels and labels["traffic_light"].attributes[0].values == ["red", "yellow", "green", "off"]
    assert len(labels["traffic_light"].attributes) == 1
    env.vars.update(cvat_seed_members=members, cvat_seed_members_exclusive=True, cvat_seed_projects=projects)


def test_refused_name_correction_is_reported_and_the_run_goes_on(env):
    from cvat_sdk.api_client import models
    api = sdk_client(env).api_client
    emma = next(u for u in api.users_api.list()[0].results if u.username == "emma.annot")
    api.users_api.partial_update(emma.id, patched_user_request=models.PatchedUserRequest(first_name="Em"))
    projects = copy.deepcopy(env.vars["cvat_seed_projects"])
    projects[1]["labels"].append({"name": "stroller", "type": "rectangle"})
    env.standin.faults(fail={"method": "PATCH", "path": r"/api/users/\d+", "after": 0, "status": 403, "count": 1})
    proc = env.run(vars_override={"cvat_seed_projects": projects})
    env.standin.faults()
    assert recap(proc)["failed"] == 0
    assert "user emma.annot: name not corrected" in proc.stdout + proc.stderr
    pid = next(p.id for p in api.projects_api.list(org="avd")[0].results if p.name == "PED crossings")
    assert "stroller" in {lab.name for lab in api.labels_api.list(project_id=pid, org="avd")[0].results}
    env.vars["cvat_seed_projects"] = projects


def test_interrupted_run_then_rerun_has_no_duplicates(env):
    put_objects(env.moto.client("s3"), [f"raw/avd/B06/{i:04d}.jpg" for i in range(600)])
    tasks = TASKS + [{"name": "AVD-urban-dusk-B06-20250604", "project": "AVD urban", "frames": 600,
                      "files": ["raw/avd/B06/"], "segment_size": 200}]
    env.vars["cvat_seed_tasks"] = tasks
    env.vars["cvat_seed_retries"] = 1
    # the data upload keeps failing: the run dies between creating the task and attaching its data
    env.standin.faults(fail={"method": "POST", "path": r"/api/tasks/\d+/data/?", "after": 0, "status": 500, "count": 5})
    proc = env.run(check=False)
    assert proc.returncode != 0
    assert "CVAT said" in proc.stdout and "stand-in fault" in proc.stdout  # CVAT's message is quoted
    env.standin.faults()
    proc = env.run()
    assert recap(proc)["failed"] == 0
    names = [t["name"] for t in env.standin.state()["tasks"]]
    assert names.count("AVD-urban-dusk-B06-20250604") == 1 and len(names) == 4
    dusk = next(t for t in env.standin.state()["tasks"] if t["name"] == "AVD-urban-dusk-B06-20250604")
    assert dusk["size"] == 600
