"""Integration tests of the cvat_seed role against the CVAT API stand-in (tests/cvat_standin) and moto.

Read-back is done with the official cvat-sdk client, not with the role's own code. The tests run in file order
on one stand-in (module scope): bad input -> check mode -> first run with faults -> idempotent re-run ->
drift correction -> interrupted run and re-run -> credential renewal script.
What this does not prove: see tests/cvat_standin/server.py (no OPA permissions, no real media, no real CVAT).
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from conftest import ROOT, VENV_BIN, run_playbook
from cvat_standin.harness import ADMIN, ADMIN_PASSWORD, Standin, base_vars, write_inventory

PLAYBOOK = ROOT / "playbooks" / "seed.yml"
ROLE_ARN = "arn:aws:iam::123456789012:role/cvat-storage"
BUCKET = "avd-annotation-data"
WEBHOOK_SECRET = "whsec-Do-Not-Leak-7781"
MEMBER_PASSWORD = "Member-pw-Never-Shown-42"

MEMBERS = [
    {"username": "ann1", "email": "ann1@example.com", "role": "annotator", "kind": "contractor", "password": MEMBER_PASSWORD},
    {"username": "ann2", "email": "ann2@example.com", "role": "annotator", "kind": "external"},
    {"username": "emp1", "email": "emp1@example.com", "role": "annotator", "first_name": "Emma"},
    {"username": "qa1", "email": "qa1@example.com", "role": "quality_analyst"},
    {"username": "ops1", "email": "ops1@example.com", "role": "operations_manager"},
]
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
            "cvat_seed_storage_role_arn": ROLE_ARN,
        })
        self.secrets = [ADMIN_PASSWORD, WEBHOOK_SECRET, MEMBER_PASSWORD]

    def run(self, *args, vars_override=None, check=True):
        hv = dict(self.vars, **(vars_override or {}))
        inv = write_inventory(self.tmp / "inventory.yml", hv)
        proc = run_playbook(PLAYBOOK, *args, inventory=inv, env=self.moto.env, check=check)
        out = proc.stdout + proc.stderr
        for secret in self.secrets + self.sts_secrets():
            assert secret not in out, "a secret appeared in ansible's output"
        token = (self.tmp / "data" / "cvat-seed" / "api-token")
        if token.exists():
            assert token.read_text().strip() not in out, "the API token appeared in ansible's output"
        return proc

    def sts_secrets(self):
        creds = self.standin.server.state.cs_secrets
        return [v for c in creds.values() for k, v in c.items() if k in ("secret_key", "session_token")]


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
        "cvat_seed_members": MEMBERS + [
            {"username": "ext9", "email": "ext9@example.com", "role": "quality_analyst", "kind": "external"},
            {"username": "con9", "email": "con9@example.com", "role": "operations_manager", "kind": "contractor"}],
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
    for needle in ["ext9: kind 'external' can only be an annotator", "con9: kind 'contractor' can only be an annotator",
                   "label name 'Traffic Light'", "label name 'trafficLight'", "task 'avd_urban_B9': name does not match",
                   "date '20250230'", "images tasks need 500-1500 frames, got 499", "got 1501",
                   "sequence tasks need 200-500 frames, got 501", "exactly one file, got 2", "video overlap must be 10-20 frames, got 25",
                   "honeypots (gt_pool) are for image tasks only, not video", "ground_truth_share 0.2",
                   "project code 'PED' differs"]:
        assert needle in out, f"missing violation: {needle}"
    stats = env.standin.stats()
    assert stats["writes"] == 0 and stats.get("GET", 0) == 0, stats


def test_cross_field_assert_names_bad_value(env):
    env.standin.reset_stats()
    proc = env.run(vars_override={"cvat_seed_storage_role_arn": "cvat-storage-role"}, check=False)
    assert proc.returncode != 0
    assert "storage_role_arn='cvat-storage-role'" in proc.stdout
    assert env.standin.stats()["writes"] == 0


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
    assert roles == {"admin": "owner", "ann1": "worker", "ann2": "worker", "emp1": "worker", "qa1": "supervisor", "ops1": "maintainer"}
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
    assert sorted(creds) == ["key", "secret_key", "session_token"]  # temporary STS credentials, not static keys
    tasks = {t.name: t for t in api.tasks_api.list(org="avd")[0].results}
    assert sorted(tasks) == sorted(t["name"] for t in TASKS)
    night = tasks["AVD-urban-night-B04-20250601"]
    assert (night.size, night.segment_size, night.validation_mode) == (500, 100, "gt_pool")
    assert tasks["PED-crossing-B01-20250603"].overlap == 15
    assert tasks["PED-crossing-B01-20250603"].validation_mode == "gt"
    data = env.standin.state()["task_data"][str(night.id)]
    assert data["validation_params"] == {"mode": "gt_pool", "frame_selection_method": "random_uniform",
                                         "frame_share": 0.06, "frames_per_job_count": 3}
    assert data["cloud_storage_id"] == storages[0].id
    hooks = api.webhooks_api.list(org="avd")[0].results
    assert sorted(h.target_url for h in hooks) == ["https://hooks.example.com/cvat", "https://hooks.example.com/ped"]
    assert env.standin.server.state.webhook_secrets[min(h.id for h in hooks)] == WEBHOOK_SECRET
    token = env.tmp / "data" / "cvat-seed" / "api-token"
    assert oct(token.stat().st_mode & 0o777) == "0o600"
    units = sorted(p.name for p in (env.tmp / "units").iterdir())
    assert units == ["cvat-seed-renew-credentials.service", "cvat-seed-renew-credentials.timer"]


def test_rerun_changes_nothing_and_only_reads(env):
    env.standin.reset_stats()
    proc = env.run()
    assert recap(proc)["changed"] == 0, proc.stdout[-3000:]
    stats = env.standin.stats()
    assert stats["writes"] == 0, stats
    assert set(k for k in stats if k.startswith("POST") or k.startswith("PATCH") or k.startswith("DELETE")) == set()
    assert stats["GET"] <= 20, stats  # paginated reads only, not one per object


def test_drift_is_corrected_and_exclusive_removes(env):
    client = sdk_client(env)
    api = client.api_client
    ms = {m.user.username: m for m in api.memberships_api.list(org="avd")[0].results}
    from cvat_sdk.api_client import models
    api.memberships_api.partial_update(ms["qa1"].id, patched_membership_write_request=models.PatchedMembershipWriteRequest(role="maintainer"))
    members = [m for m in MEMBERS if m["username"] != "ops1"]
    projects = copy.deepcopy(PROJECTS)
    projects[0]["labels"].append({"name": "bicycle", "type": "rectangle"})
    projects[0]["labels"][1]["attributes"][0]["values"].append("off")
    env.standin.reset_stats()
    proc = env.run("--diff", vars_override={"cvat_seed_members": members, "cvat_seed_members_exclusive": True,
                                              "cvat_seed_projects": projects})
    assert recap(proc)["failed"] == 0
    stats = env.standin.stats()
    assert stats.get("PATCH /api/memberships/{id}") == 1 and stats.get("DELETE /api/memberships/{id}") == 1, stats
    assert stats.get("POST", 0) == 0, stats
    roles = {m.user.username: m.role for m in api.memberships_api.list(org="avd")[0].results}
    assert roles == {"admin": "owner", "ann1": "worker", "ann2": "worker", "emp1": "worker", "qa1": "supervisor"}
    pid = next(p.id for p in api.projects_api.list(org="avd")[0].results if p.name == "AVD urban")
    labels = {lab.name: lab for lab in api.labels_api.list(project_id=pid, org="avd")[0].results}
    assert "bicycle" in labels and labels["traffic_light"].attributes[0].values == ["red", "yellow", "green", "off"]
    assert len(labels["traffic_light"].attributes) == 1
    env.vars.update(cvat_seed_members=members, cvat_seed_members_exclusive=True, cvat_seed_projects=projects)


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


def test_renewal_script_pushes_fresh_sts_credentials(env):
    state = env.standin.server.state
    cs_id = next(iter(state.cloudstorages))
    before = dict(state.cs_secrets[cs_id])
    cfg = env.tmp / "data" / "cvat-seed" / "renewal.json"
    conf = json.loads(cfg.read_text())
    assert conf["role_arn"] == ROLE_ARN and "secret" not in json.dumps(conf).lower()
    script = env.tmp / "bin" / "cvat-seed-renew-credentials"
    proc = subprocess.run([sys.executable, str(script), str(cfg)], capture_output=True, text=True,
                          env={**env.moto.env, "PATH": str(VENV_BIN)})
    assert proc.returncode == 0, proc.stderr
    after = state.cs_secrets[cs_id]
    assert after["session_token"] != before["session_token"] and after["key"] != before["key"]
    for secret in (after["secret_key"], after["session_token"]):
        assert secret not in proc.stdout + proc.stderr
    assert yaml.safe_load(proc.stdout) or "renewed credentials" in proc.stdout
