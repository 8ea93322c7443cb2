#!/usr/bin/env python3
"""Seeds a moto server with the two things AWS has and moto lacks (STAND-INS, for the sandbox):

- an AMI named like Debian's cloud images (moto's own AMI catalogue has no Debian 12 image), and
- the AWS Backup vault (amazon.aws.backup_vault expects AWS's AccessDenied for a missing vault; moto answers
  ResourceNotFound, so the module cannot create one on moto).

Idempotent. usage: moto-seed.py ENDPOINT_URL REGION VAULT_NAME
"""
import sys

import boto3

url, region, vault = sys.argv[1:4]
kw = dict(endpoint_url=url, region_name=region, aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
ec2 = boto3.client("ec2", **kw)
if not ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["debian-12-amd64-*"]}])["Images"]:
    ec2.register_image(Name="debian-12-amd64-20260101-2000", RootDeviceName="/dev/xvda",
                       BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}])
backup = boto3.client("backup", **kw)
if vault not in [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]]:
    backup.create_backup_vault(BackupVaultName=vault)
print(f"moto seeded: Debian AMI stand-in, backup vault {vault}")
