"""playbooks/provision.yml and destroy.yml (role aws_infra) against a real moto server on 127.0.0.1.

What this proves: the role's calls create, idempotently, the resources with the settings we assert through boto3
(scoped IAM policies: CVAT's storage user and the host's right to rotate that one user's keys, IMDSv2, separate encrypted gp3 data volume kept on termination, private/encrypted/versioned
TLS-only bucket with its layout and lifecycle, security group rules, AWS Backup vault and plan), that check mode and
bad input create nothing, that the production aws_ec2 inventory resolves the host, and that destroy keeps data
unless named, and that destroy deletes the storage user's access keys before the user. What it does not prove: AWS's
own enforcement (this moto does not check credentials or IAM policies: that the host can rotate only that user's key,
and a deleted key is refused, is for a moto with INITIAL_NO_AUTH_ACTION_COUNT, see the seed role's rotation test), AMI availability in a real region, the backup selection (moto has none: unit-tested in
tests/unit/test_backup_selection.py), and ec2_vol on an existing volume (moto bug; the role avoids that call).
moto stand-ins seeded here: a Debian-named AMI owned by moto's account, and the backup vault (amazon.aws.backup_vault
expects AWS's AccessDenied for a missing vault, moto answers ResourceNotFound, so the module cannot create one on moto);
and one patched into moto itself: ListServiceSpecificCredentials answers "none" (moto lacks it; iam_user absent calls it).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, VENV_BIN, MotoServer, run_playbook, start_moto

pytestmark = pytest.mark.slow

REGION = "eu-west-1"
BUCKET = "cvat-moto-annotations"
ACCOUNT = "123456789012"
VAULT = "cvat-production-vault"
STORAGE_USER = "cvat-production-cvat-storage"
STORAGE_USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/cvat/{STORAGE_USER}"
# the storage ROLE of the earlier design (same name, IAM role namespace): provisioning removes it
LEGACY_STORAGE_ROLE = "cvat-production-cvat-storage"


# moto 5.2.5 lacks ListServiceSpecificCredentials, which amazon.aws.iam_user (state absent) calls before DeleteUser:
# this module's moto answers it with "none" (a stand-in: the real IAM answers the same for a user without such
# credentials). Everything else is moto's own.
MOTO_WITH_SERVICE_CREDENTIALS = """
import sys
from moto.core.responses import ActionResult
from moto.iam.responses import IamResponse
IamResponse.list_service_specific_credentials = lambda self: ActionResult({"ServiceSpecificCredentials": []})
from moto.server import main
main(sys.argv[1:])
"""


def start_patched_moto() -> MotoServer:
    # MOTO_IAM_LOAD_MANAGED_POLICIES: to attach AWS managed policies (SSM, Backup)
    return start_moto([str(VENV_BIN / "python"), "-c", MOTO_WITH_SERVICE_CREDENTIALS],
                      env={"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}, timeout=60)


@pytest.fixture(scope="module")
def aws():
    """A moto server of this module's own (managed policies loaded, ListServiceSpecificCredentials answered)."""
    server = start_patched_moto()
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


def reset(aws) -> None:
    """moto's reset reloads every AWS managed policy: seconds on a loaded machine, so a patient timeout (the shared
    helper's 10 s timed out here, and an abandoned reset queues in front of the next one)."""
    req = urllib.request.Request(f"{aws.url}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=180).read()


def fresh(aws) -> None:
    """Empty moto, then the two stand-ins described in the module docstring."""
    reset(aws)
    ec2 = aws.client("ec2")
    ec2.register_image(Name="debian-12-amd64-20260101-2000", RootDeviceName="/dev/xvda",
                       BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}])
    aws.client("backup").create_backup_vault(BackupVaultName=VAULT)


def extra_vars(aws, tmp: Path, **overrides) -> list[str]:
    data = {
        "aws_infra_endpoint_url": aws.url,
        "aws_infra_region": REGION,
        "aws_infra_bucket_name": BUCKET,
        "aws_infra_ami_owners": [ACCOUNT],
        # moto's RegisterImage drops the architecture, so the test filter matches on the name only
        "aws_infra_ami_filters": {"name": "debian-12-amd64-*", "state": "available"},
        "aws_infra_backup_selection_enabled": False,
        "aws_infra_workload": {"annotators": 12, "annotation_types": ["polygon"], "dataset_images": 200_000},
        "aws_infra_outputs_file": str(tmp / "outputs.yml"),
    }
    data.update(overrides)
    path = tmp / f"vars-{len(list(tmp.glob('vars-*')))}.yml"
    path.write_text(yaml.safe_dump(data))
    return ["-e", f"@{path}"]


def changed(proc) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", proc.stdout)
    assert match, proc.stdout[-2000:]
    return int(match.group(1))


def nothing_exists(aws) -> None:
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]] == []
    assert aws.client("iam").list_instance_profiles()["InstanceProfiles"] == []
    assert aws.client("iam").list_users()["Users"] == []
    reservations = aws.client("ec2").describe_instances()["Reservations"]
    assert [i for r in reservations for i in r["Instances"]] == []
    assert aws.client("ec2").describe_volumes()["Volumes"] == []
    groups = aws.client("ec2").describe_security_groups()["SecurityGroups"]
    assert [g["GroupName"] for g in groups if g["GroupName"] != "default"] == []
    assert aws.client("backup").list_backup_plans()["BackupPlansList"] == []


def test_check_mode_from_nothing_creates_nothing(aws, tmp_path):
    fresh(aws)
    proc = run_playbook(ROOT / "playbooks/provision.yml", "--check", "--diff",
                        *extra_vars(aws, tmp_path, aws_infra_backup_selection_enabled=True), env=aws.env)
    assert changed(proc) > 0  # it reports what it would do
    assert "Build the tag-based backup selection" in proc.stdout
    nothing_exists(aws)
    assert not (tmp_path / "outputs.yml").exists()


@pytest.fixture(scope="module")
def stand_ins(aws):
    """One empty moto with the AMI and vault stand-ins for every bad-input case (checks that need a lookup get that
    far): each case asserts it created nothing, so the next one starts from the same state."""
    fresh(aws)


@pytest.mark.parametrize("override, needle", [
    ({"aws_infra_bucket_name": "Bad_Bucket"}, "Bad_Bucket"),
    ({"aws_infra_http_cidrs": ["0.0.0.0/0", "10.1.2.3/8"]}, "10.1.2.3/8"),
    ({"aws_infra_connection": "ssh", "aws_infra_admin_cidrs": ["203.0.113.300/32"]}, "203.0.113.300/32"),
    ({"aws_infra_instance_type": "t3.huge"}, "t3.huge"),
    ({"aws_infra_data_volume_gb": 20}, "Data volume 20 GB"),
    ({"aws_infra_root_volume_gb": 40}, "root volume 40 GB"),
    ({"aws_infra_connection": "ssh", "aws_infra_admin_cidrs": []}, "ssh needs at least one admin CIDR"),
    # issue 16: inputs that used to get through and fail mid-run (or never); one per check here, the variants of
    # each rule are unit-tested in tests/unit/test_sizing.py
    ({"aws_infra_name": "my cvat"}, "aws_infra_name: 'my cvat'"),
    ({"aws_infra_region": "eu-central-1a"}, "'eu-central-1a' is an availability zone"),
    ({"aws_infra_http_cidrs": ["2001:DB8::/32"]}, "write '2001:db8::/32'"),
    ({"aws_infra_connection": "ssh", "aws_infra_admin_cidrs": ["0.0.0.0/0"]}, "aws_infra_admin_cidrs: '0.0.0.0/0' is the whole internet"),
    ({"aws_infra_data_volume_gb": -5}, "aws_infra_data_volume_gb: -5"),
    ({"aws_infra_workload": {"annotators": 5, "dataset_images": 20_000_000}}, "sized to a 20000 GB data volume"),
    ({"aws_infra_data_volume_device": "/dev/sda1"}, "aws_infra_data_volume_device /dev/sda1"),
    ({"aws_infra_backup_schedule": "cron(*/15 * * * ? *)"}, "minutes '*/15'"),
    ({"aws_infra_backups_storage_class": "standard_ia", "aws_infra_backups_transition_days": 7},
     "aws_infra_backups_transition_days (7)"),
    ({"aws_infra_tags": {"Environment": "prod"}}, "aws_infra_tags: key 'Environment' is set by the role"),
    ({"aws_infra_backup_tag_key": "Name"}, "aws_infra_backup_tag_key: key 'Name' is set by the role"),
    ({"aws_infra_storage_role_exports_write": False}, "aws_infra_storage_role_exports_write"),
    ({"aws_infra_subnet_id": "subnet-42"}, "aws_infra_subnet_id=subnet-42 must be empty or subnet-"),
    ({"aws_infra_subnet_id": "subnet-0123456789abcdef0"}, "aws_infra_subnet_id=subnet-0123456789abcdef0 does not exist"),
    ({"aws_infra_ami_id": "ami-0123456789abcdef0"}, "aws_infra_ami_id=ami-0123456789abcdef0"),
    ({"aws_infra_key_name": "nobodys-key"}, "aws_infra_key_name=nobodys-key: no such EC2 key pair"),
])
def test_bad_input_fails_before_any_change(aws, stand_ins, tmp_path, override, needle):
    proc = run_playbook(ROOT / "playbooks/provision.yml", *extra_vars(aws, tmp_path, **override), env=aws.env,
                        check=False)
    assert proc.returncode != 0
    assert needle in proc.stdout + proc.stderr
    nothing_exists(aws)


@pytest.fixture(scope="module")
def provisioned(aws, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("provision")
    fresh(aws)
    # a deployment of the earlier design: its storage role, with an inline policy, must not survive provisioning
    iam = aws.client("iam")
    iam.create_role(RoleName=LEGACY_STORAGE_ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}))
    iam.put_role_policy(RoleName=LEGACY_STORAGE_ROLE, PolicyName="cvat-cloud-storage", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    args = extra_vars(aws, tmp)
    first = run_playbook(ROOT / "playbooks/provision.yml", *args, env=aws.env)
    second = run_playbook(ROOT / "playbooks/provision.yml", *args, env=aws.env)
    check = run_playbook(ROOT / "playbooks/provision.yml", "--check", "--diff", *args, env=aws.env)
    outputs = yaml.safe_load((tmp / "outputs.yml").read_text())
    return {"first": first, "second": second, "check": check, "outputs": outputs, "args": args, "tmp": tmp}


def test_second_run_changes_nothing(provisioned):
    assert changed(provisioned["first"]) > 0
    assert changed(provisioned["second"]) == 0


def test_check_mode_on_the_provisioned_deployment_reports_no_change(provisioned):
    assert changed(provisioned["check"]) == 0
    assert provisioned["outputs"]["instance_id"] in provisioned["check"].stdout


def test_sizing_drives_the_instance_and_volume(aws, provisioned):
    out = provisioned["outputs"]
    assert (out["instance_type"], out["data_volume_gb"]) == ("t3.xlarge", 200)
    instance = aws.client("ec2").describe_instances(InstanceIds=[out["instance_id"]])["Reservations"][0]["Instances"][0]
    assert instance["InstanceType"] == "t3.xlarge"


def test_host_policy_is_exactly_the_scoped_policy(aws, provisioned):
    iam = aws.client("iam")
    doc = iam.get_role_policy(RoleName="cvat-production-host", PolicyName="cvat-bucket-access")["PolicyDocument"]
    assert doc == {"Version": "2012-10-17", "Statement": [
        {"Sid": "ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{BUCKET}"]},
        {"Sid": "BucketObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"arn:aws:s3:::{BUCKET}/*"]},
        {"Sid": "RotateCvatStorageUserKeys", "Effect": "Allow",
         "Action": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey"],
         "Resource": [STORAGE_USER_ARN]},
    ]}
    # nothing else in it names IAM or STS: the host can manage no other identity and assume no role
    iam_statements = [st for st in doc["Statement"] if any(a.startswith(("iam:", "sts:")) for a in st["Action"])]
    assert [st["Resource"] for st in iam_statements] == [[STORAGE_USER_ARN]]
    assert iam.list_role_policies(RoleName="cvat-production-host")["PolicyNames"] == ["cvat-bucket-access"]
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="cvat-production-host")["AttachedPolicies"]]
    assert attached == ["AmazonSSMManagedInstanceCore"]  # connection ssm (default)
    profile = iam.get_instance_profile(InstanceProfileName="cvat-production-host")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["cvat-production-host"]


def test_storage_user_has_exactly_the_cvat_policy_and_no_key(aws, provisioned):
    iam = aws.client("iam")
    user = iam.get_user(UserName=STORAGE_USER)["User"]
    assert (user["Path"], user["Arn"]) == ("/cvat/", STORAGE_USER_ARN)
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=STORAGE_USER)["Tags"]}
    assert (tags["Environment"], tags["ManagedBy"]) == ("production", "ansible")
    assert iam.list_user_policies(UserName=STORAGE_USER)["PolicyNames"] == ["cvat-cloud-storage"]
    assert iam.list_attached_user_policies(UserName=STORAGE_USER)["AttachedPolicies"] == []
    doc = iam.get_user_policy(UserName=STORAGE_USER, PolicyName="cvat-cloud-storage")["PolicyDocument"]
    assert doc == {"Version": "2012-10-17", "Statement": [
        # no prefix condition: CVAT's availability check is a HeadBucket, which needs ListBucket without one
        {"Sid": "ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{BUCKET}"]},
        {"Sid": "ReadRawAndExports", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{BUCKET}/raw/*", f"arn:aws:s3:::{BUCKET}/exports/*"]},
        {"Sid": "WriteExports", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"arn:aws:s3:::{BUCKET}/exports/*"]},
    ]}
    # aws_infra never creates a key: the seed role makes the first, the host rotates it
    assert iam.list_access_keys(UserName=STORAGE_USER)["AccessKeyMetadata"] == []
    out = provisioned["outputs"]
    assert (out["storage_user_name"], out["storage_user_arn"]) == (STORAGE_USER, STORAGE_USER_ARN)
    assert "storage_role_arn" not in out


def test_no_storage_role_remains(aws, provisioned):
    roles = sorted(r["RoleName"] for r in aws.client("iam").list_roles()["Roles"])
    assert roles == ["cvat-production-backup", "cvat-production-host"]
    assert "Remove the storage role of the earlier design" in provisioned["first"].stdout


def test_storage_user_read_only_on_exports_when_switched_off(aws, provisioned):
    """aws_infra_storage_user_exports_write: false drops the write statement, and only that."""
    iam = aws.client("iam")
    run_playbook(ROOT / "playbooks/provision.yml", *provisioned["args"], "-e", "aws_infra_storage_user_exports_write=false",
                 env=aws.env)
    doc = iam.get_user_policy(UserName=STORAGE_USER, PolicyName="cvat-cloud-storage")["PolicyDocument"]
    assert [(st["Sid"], st["Action"]) for st in doc["Statement"]] == [
        ("ListBucket", ["s3:ListBucket"]), ("ReadRawAndExports", ["s3:GetObject"])]


def test_instance_requires_imdsv2_and_carries_the_inventory_tags(aws, provisioned):
    out = provisioned["outputs"]
    instance = aws.client("ec2").describe_instances(InstanceIds=[out["instance_id"]])["Reservations"][0]["Instances"][0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["Role"] == "cvat" and tags["Environment"] == "production"
    assert tags["DataVolumeId"] == out["data_volume_id"]
    assert tags["Bucket"] == BUCKET
    assert tags["CvatStorageUser"] == out["storage_user_name"] == STORAGE_USER
    assert "CvatStorageRoleArn" not in tags
    assert instance["IamInstanceProfile"]["Arn"].endswith("instance-profile/cvat-production-host")


def test_data_volume_is_separate_encrypted_gp3_and_kept_on_termination(aws, provisioned):
    out = provisioned["outputs"]
    ec2 = aws.client("ec2")
    instance = ec2.describe_instances(InstanceIds=[out["instance_id"]])["Reservations"][0]["Instances"][0]
    mappings = {m["DeviceName"]: m["Ebs"] for m in instance["BlockDeviceMappings"]}
    assert mappings["/dev/sdf"]["VolumeId"] == out["data_volume_id"]
    assert mappings["/dev/sdf"]["DeleteOnTermination"] is False
    root = [ebs for dev, ebs in mappings.items() if dev != "/dev/sdf"]
    assert len(root) == 1 and root[0]["VolumeId"] != out["data_volume_id"]
    vol = ec2.describe_volumes(VolumeIds=[out["data_volume_id"]])["Volumes"][0]
    assert (vol["VolumeType"], vol["Encrypted"], vol["Size"]) == ("gp3", True, 200)
    assert {"Key": "CvatBackup", "Value": "cvat-production"} in vol["Tags"]
    root_vol = ec2.describe_volumes(VolumeIds=[root[0]["VolumeId"]])["Volumes"][0]
    assert (root_vol["VolumeType"], root_vol["Size"]) == ("gp3", 30)


def test_bucket_is_private_encrypted_versioned_tls_only_with_layout_and_lifecycle(aws, provisioned):
    s3 = aws.client("s3")
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(pab[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"))
    enc = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"] == [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    keys = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {k: 0 for k in ("raw/", "backups/", "exports/", "exports/datumaro/", "exports/coco/", "exports/yolo/")}
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    assert sorted(rules) == ["expire-old-backups", "expire-ssm-staging"]  # the default connection is ssm
    rule = rules["expire-old-backups"]
    prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix"))
    assert (rule["Status"], prefix) == ("Enabled", "backups/")
    assert rule["Expiration"]["Days"] == 365
    assert rule["Transitions"][0]["Days"] == 30
    # the aws_ssm plugin's staged files (<instance-id>/...) and their versions do not outlive a day
    staging = rules["expire-ssm-staging"]
    assert staging.get("Filter", {}).get("Prefix", staging.get("Prefix")) == "i-"
    assert staging["Expiration"]["Days"] == 1
    assert staging["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1


def test_security_group_allows_only_http_and_https(aws, provisioned):
    sg = aws.client("ec2").describe_security_groups(GroupIds=[provisioned["outputs"]["security_group_id"]])["SecurityGroups"][0]
    rules = sorted((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), tuple(r["CidrIp"] for r in p["IpRanges"]))
                   for p in sg["IpPermissions"])
    assert rules == [("tcp", 80, 80, ("0.0.0.0/0",)), ("tcp", 443, 443, ("0.0.0.0/0",))]


def test_backup_vault_and_plan(aws, provisioned):
    backup = aws.client("backup")
    plans = backup.list_backup_plans()["BackupPlansList"]
    assert [p["BackupPlanName"] for p in plans] == ["cvat-production-data-volume"]
    rule = backup.get_backup_plan(BackupPlanId=plans[0]["BackupPlanId"])["BackupPlan"]["Rules"][0]
    assert rule["TargetBackupVaultName"] == VAULT
    assert rule["Lifecycle"]["DeleteAfterDays"] == 14
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"


def test_outputs_file_and_stats(provisioned):
    out = provisioned["outputs"]
    assert out["bucket"] == BUCKET and out["region"] == REGION
    assert re.fullmatch(r"i-[0-9a-f]+", out["instance_id"]) and re.fullmatch(r"vol-[0-9a-f]+", out["data_volume_id"])
    assert out["host_role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/cvat-production-host"
    assert out["data_volume_id"] in provisioned["second"].stdout  # set_stats shown by show_custom_stats


def test_production_inventory_resolves_the_host(aws, provisioned, tmp_path):
    config = yaml.safe_load((ROOT / "inventories/production/aws_ec2.yml").read_text())
    config["endpoint_url"] = aws.url
    config["regions"] = [REGION]
    inv = tmp_path / "moto.aws_ec2.yml"
    inv.write_text(yaml.safe_dump(config))
    env = {**os.environ, **aws.env, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(inv), "--list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    data = json.loads(proc.stdout)
    assert data["cvat_hosts"]["hosts"] == ["cvat-production"]
    hostvars = data["_meta"]["hostvars"]["cvat-production"]

    def plain(value):
        return value.get("__ansible_unsafe") if isinstance(value, dict) else value

    out = provisioned["outputs"]
    assert plain(hostvars["data_volume_id"]) == out["data_volume_id"]
    assert plain(hostvars["cvat_seed_bucket"]) == BUCKET
    assert plain(hostvars["cvat_seed_storage_user"]) == STORAGE_USER
    assert "cvat_seed_storage_role_arn" not in hostvars
    assert plain(hostvars["ansible_host"]) == out["public_ip"]


def test_destroy_keeps_data_unless_named(aws, provisioned):
    """Runs last in this module: it tears the provisioned deployment down.

    Deleting a named volume after the instance is gone is not exercised: that path looks the detached volume up
    with ec2_vol_info, which fails on moto (DescribeVolumes lacks SnapshotId)."""
    out = provisioned["outputs"]
    ec2, s3, backup = aws.client("ec2"), aws.client("s3"), aws.client("backup")

    # names that are not this deployment's are refused before anything is removed
    for name, value in (("aws_infra_destroy_data_volume", "vol-0123456789abcdef0"),
                        ("aws_infra_destroy_bucket", "someone-elses-bucket")):
        wrong = run_playbook(ROOT / "playbooks/destroy.yml", *provisioned["args"], "-e", f"{name}={value}",
                             env=aws.env, check=False)
        assert wrong.returncode != 0 and value in wrong.stdout
        instance = ec2.describe_instances(InstanceIds=[out["instance_id"]])["Reservations"][0]["Instances"][0]
        assert instance["State"]["Name"] == "running"

    # the keys CVAT holds (the seed role's first key, then the host's rotated one): IAM refuses to delete a user
    # that still has keys, so destroy must list and delete them first
    iam = aws.client("iam")
    key_ids = [iam.create_access_key(UserName=STORAGE_USER)["AccessKey"]["AccessKeyId"] for _ in range(2)]

    destroy = run_playbook(ROOT / "playbooks/destroy.yml", *provisioned["args"], env=aws.env)
    order = [destroy.stdout.index(f"{name}]") for name in (
        "Delete the storage user's access keys (CVAT's S3 access ends here)", "Delete the storage user's inline policy",
        "Remove CVAT's storage user")]
    assert order == sorted(order)
    for key_id in key_ids:
        assert re.search(rf"changed: \[localhost\] => \(item={key_id}\)", destroy.stdout), destroy.stdout[-3000:]
    assert iam.list_users()["Users"] == []
    state = ec2.describe_instances(InstanceIds=[out["instance_id"]])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "terminated"
    assert ec2.describe_volumes(VolumeIds=[out["data_volume_id"]])["Volumes"][0]["State"] == "available"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 6
    assert [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]] == [VAULT]
    assert [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]] == ["cvat-production-backup"]

    # a second destroy finds nothing to remove (no user, no keys) and still succeeds
    again = run_playbook(ROOT / "playbooks/destroy.yml", *provisioned["args"], env=aws.env)
    assert changed(again) == 0
    groups = aws.client("ec2").describe_security_groups()["SecurityGroups"]
    assert "cvat-production-cvat" not in [g["GroupName"] for g in groups]
