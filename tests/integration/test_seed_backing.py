"""CVAT's backing cloud storage (cvat_seed_backing_storage_enabled) against the CVAT API stand-in and moto.

In file order on one stand-in: bad prefixes are refused before any request -> a first run in site.yml's order
(read the recorded id as playbooks/cvat.yml does, seed, then the flag site.yml's last play acts on) creates the
second storage with the raw storage's key, records its id and asks for the re-render -> the same run again changes
nothing and asks for nothing -> the rotation script gives both storages the new key -> a rotation interrupted
between the two PATCHes keeps both keys, later rotations refuse, and the seed run repairs it.
What this does not prove: that CVAT writes to data/ (read from upstream source at the pin, see the README) and the
compose recreate (the cvat role's own tests render the environment).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, run_playbook
from cvat_standin.harness import ADMIN_PASSWORD, Standin, base_vars, write_inventory

STORAGE_USER = "avd-prod-cvat-storage"
BUCKET = "avd-annotation-data"
SCRIPT = ROOT / "roles" / "cvat_seed" / "files" / "cvat-seed-rotate-storage-key"
# playbooks/site.yml's order without the docker parts: playbooks/cvat.yml's pre-task, playbooks/seed.yml, and the
# condition of site.yml's last play
SITE_ORDER = """
- name: As playbooks/cvat.yml - read the recorded id
  hosts: cvat_hosts
  gather_facts: false
  tasks:
    - name: Read the backing cloud storage id the seed role recorded
      ansible.builtin.include_role:
        name: cvat_seed
        tasks_from: backing_id.yml
    - name: Hand the recorded id to the cvat role (CVAT_DEFAULT_BACKING_CS_ID)
      ansible.builtin.set_fact:
        cvat_backing_cloud_storage_id: "{{ cvat_seed_backing_storage_id }}"
      when: cvat_seed_backing_storage_id is defined
    - name: Show what the cvat role renders
      ansible.builtin.debug:
        msg: "CVAT_DEFAULT_BACKING_CS_ID rendered=[{{ cvat_backing_cloud_storage_id | default('') }}]"

- name: Seed
  ansible.builtin.import_playbook: {seed}

- name: As playbooks/site.yml - the last play's condition
  hosts: cvat_hosts
  gather_facts: false
  tasks:
    - name: Hand the new id to the cvat role
      ansible.builtin.set_fact:
        cvat_backing_cloud_storage_id: "{{ cvat_seed_backing_storage_id }}"
      when: cvat_seed_backing_storage_id_changed | default(false) | bool
    - name: Report
      ansible.builtin.debug:
        msg: "RECREATE={{ cvat_seed_backing_storage_id_changed | default(false) | bool }} id=[{{ cvat_backing_cloud_storage_id | default('') }}]"
"""


class Env:
    def __init__(self, standin: Standin, moto, tmp):
        self.standin, self.moto, self.tmp = standin, moto, tmp
        self.vars = base_vars(standin, tmp, sys.executable)
        self.vars.update({
            "cvat_seed_organization": {"slug": "avd", "name": "AVD annotation"},
            "cvat_seed_bucket": BUCKET,
            "cvat_seed_bucket_region": "eu-west-1",
            "cvat_seed_cloud_storage_endpoint_url": moto.url,
            "cvat_seed_aws_endpoint_url": moto.url,
            "cvat_seed_storage_user": STORAGE_USER,
            "cvat_seed_backing_storage_enabled": True,
        })
        self.playbook = tmp / "site-order.yml"
        self.playbook.write_text(SITE_ORDER.replace("{seed}", str(ROOT / "playbooks" / "seed.yml")))
        self.state_dir = tmp / "data" / "cvat-seed"

    def run(self, vars_override=None, check=True):
        inv = write_inventory(self.tmp / "inventory.yml", dict(self.vars, **(vars_override or {})))
        proc = run_playbook(self.playbook, inventory=inv, env=self.moto.env, check=check)
        out = proc.stdout + proc.stderr
        for secret in [ADMIN_PASSWORD] + self.cvat_secrets():
            assert secret not in out, "a secret appeared in ansible's output"
        return proc

    def cvat_secrets(self):
        return [c["secret_key"] for c in self.standin.server.state.cs_secrets.values() if "secret_key" in c]

    def storages(self) -> dict:
        return {cs["display_name"]: cs for cs in self.standin.server.state.cloudstorages.values()}

    def cvat_key(self, name) -> str:
        return self.standin.server.state.cs_secrets[self.storages()[name]["id"]]["key"]

    def iam_keys(self) -> list[str]:
        return sorted(k["AccessKeyId"] for k in
                      self.moto.client("iam").list_access_keys(UserName=STORAGE_USER)["AccessKeyMetadata"])

    def rotate(self, timeout=30) -> subprocess.CompletedProcess:
        config = self.tmp / "rotation.json"
        config.write_text(json.dumps({
            "cvat_url": self.standin.url, "token_file": str(self.state_dir / "api-token"), "organization": "avd",
            "cloud_storage_names": ["raw-data", "tasks-backing"], "iam_user": STORAGE_USER, "region": "eu-west-1",
            "aws_endpoint_url": self.moto.url, "validate_certs": False,
            "state_file": str(self.state_dir / "storage-key.json"), "available_timeout": timeout,
            "retries": 1, "retry_backoff": 0.1}))
        env = {"PATH": os.environ["PATH"], "HOME": str(self.tmp), "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
               **{k: v for k, v in self.moto.env.items() if k.startswith("AWS_")}}
        proc = subprocess.run([sys.executable, str(SCRIPT), str(config)], capture_output=True, text=True, env=env,
                              timeout=300)
        print(proc.stdout, proc.stderr)
        for secret in self.cvat_secrets():
            assert secret not in proc.stdout + proc.stderr
        return proc


def recap(proc) -> dict:
    m = re.search(r"cvat-standin\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert m, proc.stdout[-2000:]
    return {"ok": int(m[1]), "changed": int(m[2]), "failed": int(m[4])}


@pytest.fixture(scope="module")
def env(moto_server, tmp_path_factory):
    moto_server.reset()
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    moto_server.client("iam").create_user(UserName=STORAGE_USER, Path="/cvat/")
    standin = Standin(s3_endpoint=moto_server.url)
    yield Env(standin, moto_server, tmp_path_factory.mktemp("backing"))
    standin.close()


@pytest.mark.parametrize("prefix", ["", "/", "raw/", "tasks/", "s3://other-bucket/data/"])
def test_bad_backing_prefix_fails_before_any_request(env, prefix):
    env.standin.reset_stats()
    proc = env.run(vars_override={"cvat_seed_backing_storage_prefix": prefix}, check=False)
    assert proc.returncode != 0, proc.stdout[-6000:]
    assert recap(proc)["failed"] == 1
    assert f"cvat_seed_backing_storage_prefix='{prefix}'" in proc.stdout
    assert "data/<task id>/raw/" in proc.stdout
    assert env.standin.stats().get("writes", 0) == 0
    assert sum(v for k, v in env.standin.stats().items() if k in ("GET", "POST", "PATCH", "DELETE")) == 0
    assert env.iam_keys() == []


def test_backing_storage_without_bucket_fails_before_any_request(env):
    env.standin.reset_stats()
    proc = env.run(vars_override={"cvat_seed_bucket": ""}, check=False)
    assert recap(proc)["failed"] == 1
    assert "cvat_seed_bucket=''" in proc.stdout
    assert sum(v for k, v in env.standin.stats().items() if k in ("GET", "POST", "PATCH", "DELETE")) == 0


def test_first_run_creates_backing_storage_with_the_same_key_and_asks_for_the_rerender(env):
    proc = env.run()
    assert recap(proc)["failed"] == 0
    assert "CVAT_DEFAULT_BACKING_CS_ID rendered=[]" in proc.stdout  # nothing recorded before the first seeding
    storages = env.storages()
    assert sorted(storages) == ["raw-data", "tasks-backing"]
    backing = storages["tasks-backing"]
    assert backing["resource"] == BUCKET
    assert "prefix=data%2F" in backing["specific_attributes"] or "prefix=data/" in backing["specific_attributes"]
    # one key of the storage user, held by both storages
    assert env.iam_keys() == [env.cvat_key("raw-data")] == [env.cvat_key("tasks-backing")]
    recorded = json.loads((env.state_dir / "backing-storage.json").read_text())
    assert recorded == {"id": backing["id"], "name": "tasks-backing", "bucket": BUCKET, "prefix": "data/"}
    assert oct((env.state_dir / "backing-storage.json").stat().st_mode & 0o777) == "0o600"
    assert f"RECREATE=True id=[{backing['id']}]" in proc.stdout


def test_rerun_changes_nothing_and_asks_for_nothing(env):
    env.standin.reset_stats()
    proc = env.run()
    assert recap(proc)["changed"] == 0, proc.stdout[-3000:]
    assert env.standin.stats()["writes"] == 0
    backing_id = env.storages()["tasks-backing"]["id"]
    assert f"CVAT_DEFAULT_BACKING_CS_ID rendered=[{backing_id}]" in proc.stdout
    assert f"RECREATE=False id=[{backing_id}]" in proc.stdout


def test_rotation_gives_both_storages_the_new_key(env):
    old = env.iam_keys()
    proc = env.rotate()
    assert proc.returncode == 0
    new = env.iam_keys()
    assert len(new) == 1 and new != old
    assert env.cvat_key("raw-data") == env.cvat_key("tasks-backing") == new[0]
    assert json.loads((env.state_dir / "storage-key.json").read_text())["access_key_id"] == new[0]


def test_rotation_interrupted_between_patches_is_repaired_by_the_seed_run(env):
    old = env.iam_keys()[0]
    backing_id = env.storages()["tasks-backing"]["id"]
    # CVAT refuses the new key for the backing storage only (raw-data already took it)
    env.standin.faults(fail={"method": "PATCH", "path": f"/api/cloudstorages/{backing_id}", "status": 400, "count": 1000})
    proc = env.rotate(timeout=2)
    assert proc.returncode == 1
    keys = env.iam_keys()
    assert len(keys) == 2 and old in keys  # nothing CVAT holds is deleted
    new = next(k for k in keys if k != old)
    assert (env.cvat_key("raw-data"), env.cvat_key("tasks-backing")) == (new, old)
    state = json.loads((env.state_dir / "storage-key.json").read_text())
    assert state["access_key_id"] == new and state["old_key_holders"] == ["tasks-backing"]
    env.standin.faults()
    # the timer refuses until the seed run repaired it (nothing changed)
    proc = env.rotate()
    assert proc.returncode == 2 and "tasks-backing" in proc.stdout
    assert env.iam_keys() == keys
    # the seed run gives every storage one new key and clears the record
    proc = env.run()
    assert recap(proc)["failed"] == 0
    final = env.iam_keys()
    assert len(final) == 1 and final[0] not in keys
    assert env.cvat_key("raw-data") == env.cvat_key("tasks-backing") == final[0]
    assert "old_key_holders" not in json.loads((env.state_dir / "storage-key.json").read_text())
    assert "RECREATE=False" in proc.stdout  # same storage id: nothing to re-render
    assert env.rotate().returncode == 0
