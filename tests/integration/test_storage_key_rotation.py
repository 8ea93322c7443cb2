"""The storage key rotation of the cvat_seed role (files/cvat-seed-rotate-storage-key, tasks/rotation.yml) for real.

moto runs as a server with credential checks on (`INITIAL_NO_AUTH_ACTION_COUNT`: only the first 3 calls, which
create an admin user and its key, go unsigned): a deleted access key is refused there like on AWS. The CVAT side is
the API stand-in (tests/cvat_standin), which keeps only key + secret like CVAT 2.73 and answers
`/api/cloudstorages/{id}/status` with HeadBucket signed by the STORED key. The script runs as on the host: installed
by tasks/rotation.yml (config rendered by the role), signed with the credentials of a "host" IAM user that stands in
for the instance profile and may only list/create/update/delete access keys.

What this does not prove: IAM's propagation delay (moto's keys work at once; the script's retry of CVAT's 400 is
exercised with an injected 400), the one-user restriction of the host's policy (moto evaluates IAM user actions
against resource "*", so the host's policy here names "*"), and systemd (the units are rendered and checked with
`systemd-analyze verify` when systemd is installed, not started).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_playbook, start_moto
from cvat_standin.harness import ADMIN, ADMIN_PASSWORD, Standin

REGION = "eu-west-1"
BUCKET = "avd-raw-data"
STORAGE_USER = "cvat-storage"
HOST_USER = "cvat-host"
ORG = "annotation"
CS_NAME = "raw-data"
ACCEPT = "application/vnd.cvat+json, application/json;q=0.9"
UNSIGNED_SETUP_CALLS = 3  # CreateUser, PutUserPolicy, CreateAccessKey of the admin


class AuthMoto:
    """A moto server of its own that checks signatures and IAM policies after the first few calls."""

    def __init__(self):
        self.server = start_moto(env={"INITIAL_NO_AUTH_ACTION_COUNT": str(UNSIGNED_SETUP_CALLS)})
        self.port, self.proc, self.url = self.server.port, self.server.proc, self.server.url
        iam = self.client("iam", "unsigned", "unsigned")
        iam.create_user(UserName="admin")
        iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        self.admin = (key["AccessKeyId"], key["SecretAccessKey"])

    def client(self, service, key_id=None, secret=None):
        import boto3
        from botocore.config import Config

        key_id, secret = (key_id, secret) if key_id else self.admin
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id=key_id,
                            aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def error_code(call) -> str:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as e:
        return str(e.response["Error"]["Code"])
    return "no error"


def s3_reads(moto: AuthMoto, key_id: str, secret: str) -> str:
    """'ok' when the key can list raw/ in the bucket, else the error code moto answers."""
    s3 = moto.client("s3", key_id, secret)
    code = error_code(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/"))
    return "ok" if code == "no error" else code


class World:
    """moto (bucket, storage user with its first key, host user), the CVAT stand-in with org and storage, the
    token and state files, and the role's rotation files installed in tmp by tasks/rotation.yml."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.moto = AuthMoto()
        iam, s3 = self.moto.client("iam"), self.moto.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for name in ("raw/frame-0001.jpg", "raw/frame-0002.jpg", "exports/other.zip"):
            s3.put_object(Bucket=BUCKET, Key=name, Body=b"x")
        iam.create_user(UserName=STORAGE_USER)
        iam.put_user_policy(UserName=STORAGE_USER, PolicyName="read-raw", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                # AWS authorizes HeadBucket with s3:ListBucket; moto asks for an action "s3:HeadBucket" instead
                {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:HeadBucket"], "Resource": f"arn:aws:s3:::{BUCKET}"},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/raw/*"}]}))
        iam.create_user(UserName=HOST_USER)
        iam.put_user_policy(UserName=HOST_USER, PolicyName="rotate-storage-key", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
                "iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey"]}]}))
        host = iam.create_access_key(UserName=HOST_USER)["AccessKey"]
        self.host_key = (host["AccessKeyId"], host["SecretAccessKey"])
        first = iam.create_access_key(UserName=STORAGE_USER)["AccessKey"]  # as the seed role does from the controller
        self.first_key = (first["AccessKeyId"], first["SecretAccessKey"])

        self.standin = Standin(s3_endpoint=self.moto.url)
        login = self.call("POST", "/api/auth/login", {"username": ADMIN, "password": ADMIN_PASSWORD}, auth=None,
                          org=False)
        self.token = self.call("POST", "/api/auth/access_tokens", {"name": "ansible-cvat-seed", "read_only": False},
                               auth="Token " + login["key"], org=False)["value"]
        self.call("POST", "/api/organizations", {"slug": ORG, "name": "Annotation team"}, org=False)
        self.cs_id = self.call("POST", "/api/cloudstorages", {
            "provider_type": "AWS_S3_BUCKET", "resource": BUCKET, "display_name": CS_NAME,
            "credentials_type": "KEY_SECRET_KEY_PAIR", "key": self.first_key[0], "secret_key": self.first_key[1],
            "specific_attributes": f"region={REGION}&prefix=raw/"})["id"]

        self.state_dir = tmp / "data" / "cvat-seed"
        self.state_dir.mkdir(parents=True)
        self.state_dir.chmod(0o700)
        self.token_file = self.state_dir / "api-token"
        self.token_file.write_text(self.token + "\n")
        self.token_file.chmod(0o600)
        self.state_file = self.state_dir / "storage-key.json"
        self.state_file.write_text(json.dumps({"access_key_id": self.first_key[0], "created": str(first["CreateDate"])}))
        # what templates/rotation.json.j2 renders (compared with the role's output in the first test)
        self.expected_config = {
            "cvat_url": self.standin.url, "token_file": str(self.token_file), "organization": ORG,
            "cloud_storage_name": CS_NAME, "iam_user": STORAGE_USER, "region": REGION,
            "aws_endpoint_url": self.moto.url, "validate_certs": False, "state_file": str(self.state_file),
            "available_timeout": 60}
        self.script = ROOT / "roles" / "cvat_seed" / "files" / "cvat-seed-rotate-storage-key"
        self.config = tmp / "rotation.json"
        self.config.write_text(json.dumps(self.expected_config))

    def install(self) -> None:
        """Use the script and config the role's tasks/rotation.yml installs."""
        self.script, self.config = install_rotation(self.tmp, self)

    def call(self, method, path, body=None, auth="", org=True):
        headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = auth or "Bearer " + self.token
        if org:
            headers["X-Organization"] = ORG
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.standin.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def status(self) -> str:
        return self.call("GET", f"/api/cloudstorages/{self.cs_id}/status")

    def cvat_key(self) -> tuple[str, str]:
        stored = self.standin.server.state.cs_secrets[self.cs_id]
        assert "session_token" not in stored
        return stored["key"], stored["secret_key"]

    def iam_keys(self) -> list[str]:
        return sorted(k["AccessKeyId"] for k in
                      self.moto.client("iam").list_access_keys(UserName=STORAGE_USER)["AccessKeyMetadata"])

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def rotate(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        config = self.config
        if timeout is not None:
            conf = json.loads(config.read_text())
            conf["available_timeout"] = timeout
            config = self.tmp / "rotation-short.json"
            config.write_text(json.dumps(conf))
        env = {"PATH": os.environ["PATH"], "HOME": str(self.tmp), "AWS_ACCESS_KEY_ID": self.host_key[0],
               "AWS_SECRET_ACCESS_KEY": self.host_key[1], "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(self.script), str(config), *args], capture_output=True,
                              text=True, env=env, timeout=300)
        proc.seconds = time.monotonic() - started
        print(f"rotation {' '.join(args)} rc={proc.returncode} in {proc.seconds:.2f}s\n{proc.stdout}{proc.stderr}")
        return proc

    def close(self):
        self.standin.close()
        self.moto.close()


def install_rotation(tmp: Path, world: World) -> tuple[Path, Path]:
    """Runs the role's tasks/rotation.yml on localhost (paths in tmp, no systemd) and checks it is idempotent."""
    for d in ("bin", "units"):
        (tmp / d).mkdir()
    extra = {
        "cvat_seed_url": world.standin.url, "cvat_seed_validate_certs": False,
        "cvat_seed_organization": {"slug": ORG, "name": "Annotation team"},
        "cvat_seed_cloud_storage_name": CS_NAME, "cvat_seed_bucket_region": REGION,
        "cvat_seed_aws_endpoint_url": world.moto.url, "cvat_seed_state_dir": str(world.state_dir),
        "cvat_seed_token_file": str(world.token_file), "cvat_seed_storage_user": STORAGE_USER,
        "cvat_seed_storage_key_state_file": str(world.state_file),
        "cvat_seed_rotation_script_path": str(tmp / "bin" / "cvat-seed-rotate-storage-key"),
        "cvat_seed_rotation_unit_dir": str(tmp / "units"),
        "cvat_seed_rotation_on_calendar": "weekly", "cvat_seed_rotation_randomized_delay": "1h",
        "cvat_seed_rotation_available_timeout": 60,
        "cvat_seed_rotation_manage_systemd": False, "cvat_seed_rotation_install_packages": False,
    }
    (tmp / "vars.yml").write_text(yaml.safe_dump(extra))
    playbook = tmp / "rotation.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Install the storage key rotation", "hosts": "localhost",
                                         "gather_facts": False, "tasks": [{
                                             "name": "Rotation tasks of cvat_seed", "ansible.builtin.include_role": {
                                                 "name": str(ROOT / "roles" / "cvat_seed"),
                                                 "tasks_from": "rotation.yml"}}]}]))
    check = run_playbook(playbook, "-e", f"@{tmp / 'vars.yml'}", "--check", "--diff")
    assert not (tmp / "bin" / "cvat-seed-rotate-storage-key").exists(), "check mode wrote the script"
    assert "changed=0" not in check.stdout
    first = run_playbook(playbook, "-e", f"@{tmp / 'vars.yml'}")
    again = run_playbook(playbook, "-e", f"@{tmp / 'vars.yml'}")
    assert "changed=0" not in first.stdout and "changed=0" in again.stdout and "failed=0" in again.stdout, again.stdout
    script = tmp / "bin" / "cvat-seed-rotate-storage-key"
    config = world.state_dir / "storage-key-rotation.json"
    assert oct(config.stat().st_mode & 0o777) == "0o600" and os.access(script, os.X_OK)
    assert json.loads(config.read_text()) == world.expected_config
    assert world.token not in config.read_text() and "secret" not in config.read_text().lower()
    service = (tmp / "units" / "cvat-seed-rotate-storage-key.service").read_text()
    timer = (tmp / "units" / "cvat-seed-rotate-storage-key.timer").read_text()
    assert f"ReadWritePaths={world.state_dir}" in service and "ProtectSystem=strict" in service
    assert f"{script} {config}" in service
    assert "OnCalendar=weekly" in timer and "Persistent=true" in timer and "RandomizedDelaySec=1h" in timer
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(["systemd-analyze", "verify", str(tmp / "units" / "cvat-seed-rotate-storage-key.timer"),
                               str(tmp / "units" / "cvat-seed-rotate-storage-key.service")],
                              capture_output=True, text=True)
        bad = [line for line in proc.stderr.splitlines()
               if "cvat-seed-rotate-storage-key" in line and "python3" not in line]
        assert not bad, proc.stderr
    return script, config


@pytest.fixture()
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


@pytest.mark.slow
def test_two_rotations_keep_the_storage_available_and_retire_each_old_key(world):
    started = time.monotonic()
    world.install()  # check mode, first run, idempotent re-run of tasks/rotation.yml
    print(f"tasks/rotation.yml: check + install + re-run in {time.monotonic() - started:.1f}s")
    # credential checks are on: an unknown key and the host's identity on S3 are refused
    assert s3_reads(world.moto, "AKIAUNKNOWN000000000", "nope") == "InvalidAccessKeyId"
    assert s3_reads(world.moto, *world.host_key) == "AccessDenied"
    assert s3_reads(world.moto, *world.first_key) == "ok" and world.status() == "AVAILABLE"

    dry = world.rotate("--dry-run")
    assert dry.returncode == 0 and world.iam_keys() == [world.first_key[0]] and "would create" in dry.stdout
    assert world.cvat_key() == world.first_key

    previous = world.first_key
    seen = {previous[0]}
    for _ in range(2):
        proc = world.rotate()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        current = world.cvat_key()
        assert current[0] not in seen
        seen.add(current[0])
        assert world.status() == "AVAILABLE"
        assert world.iam_keys() == [current[0]]
        assert world.state()["access_key_id"] == current[0]
        assert oct(world.state_file.stat().st_mode & 0o777) == "0o600"
        assert s3_reads(world.moto, *current) == "ok"
        assert s3_reads(world.moto, *previous) == "InvalidAccessKeyId"
        out = proc.stdout + proc.stderr
        for secret in (current[1], previous[1], world.token):
            assert secret not in out
        assert len(proc.stdout.splitlines()) <= 8, proc.stdout
        previous = current


@pytest.mark.slow
def test_refused_patch_keeps_the_old_key_in_cvat_and_deletes_the_new_one(world):
    # throttled (429) reads are retried, not fatal
    world.standin.faults(fail={"method": "GET", "path": "/api/cloudstorages", "status": 429, "count": 2})
    proc = world.rotate("--dry-run")
    assert proc.returncode == 0 and world.standin.server.state.fail_rules[0]["seen"] == 3, proc.stdout
    # CVAT answers 400 (its bucket check with the new key failed) to every PATCH: retried until the timeout
    world.standin.faults(fail={"method": "PATCH", "path": r"/api/cloudstorages/\d+", "status": 400, "count": 1000})
    proc = world.rotate(timeout=3)
    assert proc.returncode == 1 and "FAILED" in proc.stdout
    assert proc.seconds >= 3
    assert world.standin.server.state.fail_rules[0]["seen"] >= 2  # the 400 was retried
    assert world.iam_keys() == [world.first_key[0]]
    assert world.cvat_key() == world.first_key and world.status() == "AVAILABLE"
    assert world.state()["access_key_id"] == world.first_key[0]
    assert s3_reads(world.moto, *world.first_key) == "ok"
    assert world.first_key[1] not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_status_never_available_then_next_run_recovers(world):
    # CVAT accepted the new key but its status endpoint fails: the state file follows CVAT, both keys stay
    world.standin.faults(fail={"method": "GET", "path": r"/api/cloudstorages/\d+/status", "status": 500, "count": 1000})
    proc = world.rotate(timeout=2)
    assert proc.returncode == 1 and "FAILED" in proc.stdout
    new = world.cvat_key()
    assert new[0] != world.first_key[0]
    assert world.state()["access_key_id"] == new[0]
    assert world.iam_keys() == sorted([world.first_key[0], new[0]])
    world.standin.faults()
    proc = world.rotate()
    assert proc.returncode == 0, proc.stdout
    assert f"deleting leftover key {world.first_key[0]}" in proc.stdout
    newest = world.cvat_key()
    assert world.iam_keys() == [newest[0]] and world.state()["access_key_id"] == newest[0]
    assert s3_reads(world.moto, *new) == "InvalidAccessKeyId" and s3_reads(world.moto, *newest) == "ok"


@pytest.mark.slow
def test_missing_or_wrong_state_file_is_refused_without_change(world):
    second = world.moto.client("iam").create_access_key(UserName=STORAGE_USER)["AccessKey"]["AccessKeyId"]
    world.state_file.unlink()
    proc = world.rotate()
    assert proc.returncode == 2 and "cannot tell which one CVAT holds" in proc.stdout
    world.state_file.write_text(json.dumps({"access_key_id": "AKIANOTAKEYOFTHEUSER"}))
    proc = world.rotate()
    assert proc.returncode == 2 and "AKIANOTAKEYOFTHEUSER" in proc.stdout
    assert world.iam_keys() == sorted([world.first_key[0], second]) and world.cvat_key() == world.first_key
    # one key and no state file: that key is the one CVAT holds
    world.moto.client("iam").delete_access_key(UserName=STORAGE_USER, AccessKeyId=second)
    world.state_file.unlink()
    proc = world.rotate()
    assert proc.returncode == 0, proc.stdout
    assert world.iam_keys() == [world.cvat_key()[0]] == [world.state()["access_key_id"]]
