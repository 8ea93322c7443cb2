"""Unit tests of the AWS Backup selection request built by the cvat_backup_selection filter.

moto does not emulate backup selections, so the integration tests skip that task; this test checks the
parameters the role passes to amazon.aws.backup_selection (tag-based, STRINGEQUALS on the data volume's tag).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "roles/aws_infra/filter_plugins/cvat_sizing.py"
spec = importlib.util.spec_from_file_location("cvat_sizing_bs", PLUGIN)
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)

ROLE = "arn:aws:iam::123456789012:role/cvat-production-backup"


def test_selection_is_tag_based_on_the_volume_tag():
    sel = plugin.cvat_backup_selection("cvat-production-data-volume", "cvat-production-data-volume", ROLE,
                                       "CvatBackup", "cvat-production")
    assert sel == {
        "backup_plan_name": "cvat-production-data-volume",
        "backup_selection_name": "cvat-production-data-volume",
        "iam_role_arn": ROLE,
        "list_of_tags": [{"condition_type": "STRINGEQUALS", "condition_key": "CvatBackup",
                          "condition_value": "cvat-production"}],
    }


def test_selection_matches_the_tag_the_role_puts_on_the_volume():
    """The role tags the data volume {aws_infra_backup_tag_key: <name>-<environment>}; the selection must match it."""
    import yaml

    vars_main = yaml.safe_load((PLUGIN.parents[1] / "vars/main.yml").read_text())
    assert "aws_infra_backup_tag_key: aws_infra__fullname" in vars_main["aws_infra__volume_tags"]
    tasks = (PLUGIN.parents[1] / "tasks/backup.yml").read_text()
    assert "aws_infra_backup_tag_key, aws_infra__fullname" in tasks


@pytest.mark.parametrize("args, word", [
    (("", "sel", ROLE, "k", "v"), "plan_name"),
    (("plan", "sel", "arn:aws:iam::123456789012:user/bob", "k", "v"), "iam_role_arn"),
    (("plan", "bad name!", ROLE, "k", "v"), "selection_name"),
    (("plan", "x" * 51, ROLE, "k", "v"), "selection_name"),
    (("plan", "sel", ROLE, "", "v"), "tag_key"),
])
def test_bad_parameters_are_rejected(args, word):
    with pytest.raises(ValueError, match=word):
        plugin.cvat_backup_selection(*args)
