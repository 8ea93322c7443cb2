"""playbooks/provision.yml and destroy.yml (role aws_infra) against a real moto server on 127.0.0.1.

What this proves: the role's calls create, idempotently, the resources with the settings we assert through boto3
(scoped IAM policies, IMDSv2, separate encrypted gp3 data volume kept on termination, private/encrypted/versioned
TLS-only bucket with its layout and lifecycle, security group rules, AWS Backup vault and plan), that check mode and
bad input create nothing, that the production aws_ec2 inventory resolves the host, and that destroy keeps data
unless named. What it does not prove: AWS's own enforcement (moto ignores policy conditions and does not check
IAM), AMI availability in a real region, the backup selection (moto has none: unit-tested in
tests/unit/test_backup_selection.py), and ec2_vol on an existing volume (moto bug; the role avoids that call).
moto stand-ins seeded here: a Debian-named AMI owned by moto's account, and the backup vault (amazon.aws.backup_vault
expects AWS's AccessDenied for a missing vault, moto answers ResourceNotFound, so the module cannot create one on moto).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, VENV_BIN, run_playbook, start_moto

pytestmark = pytest.mark.slow

REGION = "eu-west-1"
BUCKET = "cvat-moto-annotations"
ACCOUNT = "123456789012"
VAULT = "cvat-production-vault"


@pytest.fixture(scope="module")
def aws():
    """A moto server of this module's own: it must load AWS managed policies (SSM, AWS Backup) to attach them."""
    old = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    try:
        server = start_moto()
    finally:
        if old is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES")
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = old
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


def fresh(aws) -> None:
    """Empty moto, then the two stand-ins described in the module docstring."""
    aws.reset()
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


@pytest.mark.parametrize("override, needle", [
    ({"aws_infra_bucket_name": "Bad_Bucket"}, "Bad_Bucket"),
    ({"aws_infra_http_cidrs": ["0.0.0.0/0", "10.1.2.3/8"]}, "10.1.2.3/8"),
    ({"aws_infra_connection": "ssh", "aws_infra_admin_cidrs": ["203.0.113.300/32"]}, "203.0.113.300/32"),
    ({"aws_infra_instance_type": "t3.huge"}, "t3.huge"),
    ({"aws_infra_data_volume_gb": 20}, "Data volume 20 GB"),
    ({"aws_infra_root_volume_gb": 40}, "root volume 40 GB"),
    ({"aws_infra_connection": "ssh", "aws_infra_admin_cidrs": []}, "ssh needs at least one admin CIDR"),
])
def test_bad_input_fails_before_any_change(aws, tmp_path, override, needle):
    aws.reset()
    proc = run_playbook(ROOT / "playbooks/provision.yml", *extra_vars(aws, tmp_path, **override), env=aws.env,
                        check=False)
    assert proc.returncode != 0
    assert needle in proc.stdout + proc.stderr
    nothing_exists(aws)


@pytest.fixture(scope="module")
def provisioned(aws, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("provision")
    fresh(aws)
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
        {"Sid": "AssumeCvatStorageRole", "Effect": "Allow", "Action": ["sts:AssumeRole"],
         "Resource": [f"arn:aws:iam::{ACCOUNT}:role/cvat-production-cvat-storage"]},
    ]}
    assert iam.list_role_policies(RoleName="cvat-production-host")["PolicyNames"] == ["cvat-bucket-access"]
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="cvat-production-host")["AttachedPolicies"]]
    assert attached == ["AmazonSSMManagedInstanceCore"]  # connection ssm (default)
    profile = iam.get_instance_profile(InstanceProfileName="cvat-production-host")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["cvat-production-host"]


def test_storage_role_is_narrow_and_trusts_only_the_host_role(aws, provisioned):
    iam = aws.client("iam")
    role = iam.get_role(RoleName="cvat-production-cvat-storage")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/cvat-production-host"},
                                   "Action": "sts:AssumeRole"}]
    doc = iam.get_role_policy(RoleName="cvat-production-cvat-storage", PolicyName="cvat-cloud-storage")["PolicyDocument"]
    assert {(s["Sid"], tuple(s["Action"]), tuple(s["Resource"])) for s in doc["Statement"]} == {
        ("ListBucket", ("s3:ListBucket",), (f"arn:aws:s3:::{BUCKET}",)),
        ("ReadRaw", ("s3:GetObject",), (f"arn:aws:s3:::{BUCKET}/raw/*",)),
        ("WriteExports", ("s3:PutObject",), (f"arn:aws:s3:::{BUCKET}/exports/*",)),
    }
    assert provisioned["outputs"]["storage_role_arn"] == role["Arn"]


def test_instance_requires_imdsv2_and_carries_the_inventory_tags(aws, provisioned):
    out = provisioned["outputs"]
    instance = aws.client("ec2").describe_instances(InstanceIds=[out["instance_id"]])["Reservations"][0]["Instances"][0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["Role"] == "cvat" and tags["Environment"] == "production"
    assert tags["DataVolumeId"] == out["data_volume_id"]
    assert tags["Bucket"] == BUCKET
    assert tags["CvatStorageRoleArn"] == out["storage_role_arn"]
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
    assert plain(hostvars["cvat_seed_storage_role_arn"]) == out["storage_role_arn"]
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

    run_playbook(ROOT / "playbooks/destroy.yml", *provisioned["args"], env=aws.env)
    state = ec2.describe_instances(InstanceIds=[out["instance_id"]])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "terminated"
    assert ec2.describe_volumes(VolumeIds=[out["data_volume_id"]])["Volumes"][0]["State"] == "available"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 6
    assert [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]] == [VAULT]
    assert [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]] == ["cvat-production-backup"]
    groups = aws.client("ec2").describe_security_groups()["SecurityGroups"]
    assert "cvat-production-cvat" not in [g["GroupName"] for g in groups]
