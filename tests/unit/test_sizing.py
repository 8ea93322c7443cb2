"""Unit tests of the cvat_sizing filter (roles/aws_infra/filter_plugins/cvat_sizing.py) on the guide's examples."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "roles/aws_infra/filter_plugins/cvat_sizing.py"


def load():
    spec = importlib.util.spec_from_file_location("cvat_sizing", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sizing = load()


def test_twelve_polygon_annotators_need_t3_xlarge_not_t3_large():
    result = sizing.cvat_sizing({"annotators": 12, "annotation_types": ["polygon"], "dataset_images": 10_000})
    assert result["instance_type"] == "t3.xlarge"
    assert any("t3.large is too small" in r for r in result["reasons"])


def test_twelve_box_annotators_fit_t3_large():
    result = sizing.cvat_sizing({"annotators": 12, "annotation_types": ["rectangle", "tag"], "dataset_images": 10_000})
    assert result["instance_type"] == "t3.large"


def test_mixed_types_count_as_heavy_when_any_is_vertex_heavy():
    light = sizing.cvat_sizing({"annotators": 10, "annotation_types": ["rectangle"]})
    mixed = sizing.cvat_sizing({"annotators": 10, "annotation_types": ["rectangle", "mask"]})
    assert (light["instance_type"], mixed["instance_type"]) == ("t3.large", "t3.xlarge")


@pytest.mark.parametrize("annotators, expected", [(30, "t3.2xlarge"), (80, "m6i.4xlarge")])
def test_larger_teams_scale_up(annotators, expected):
    assert sizing.cvat_sizing({"annotators": annotators, "annotation_types": ["polygon"]})["instance_type"] == expected


def test_200k_images_need_200_gb():
    assert sizing.cvat_sizing({"annotators": 5, "dataset_images": 200_000})["data_volume_gb"] == 200


def test_data_volume_scales_with_the_dataset():
    assert sizing.cvat_sizing({"annotators": 5, "dataset_images": 450_000})["data_volume_gb"] == 450
    assert sizing.cvat_sizing({"annotators": 5, "dataset_images": 100_000, "avg_image_mb": 3})["data_volume_gb"] == 300


def test_tiny_dataset_gets_the_50_gb_floor():
    result = sizing.cvat_sizing({"annotators": 2, "dataset_images": 300})
    assert result["data_volume_gb"] == 50
    assert any("50 GB floor" in r for r in result["reasons"])


def test_ai_assisted_gets_a_gpu_type():
    result = sizing.cvat_sizing({"annotators": 5, "ai_assisted": True, "dataset_images": 1_000})
    assert sizing.cvat_is_gpu_instance_type(result["instance_type"])
    assert result["instance_type"].startswith(("g4dn.", "g5."))
    assert result["gpu"] is True
    # function images need room on the data volume too
    assert result["data_volume_gb"] >= 50


def test_gpu_detection():
    assert [sizing.cvat_is_gpu_instance_type(t) for t in ("g4dn.xlarge", "g5.2xlarge", "g6.xlarge", "p4d.24xlarge",
                                                             "t3.xlarge", "m6i.large", "c5.4xlarge")] == [
        True, True, True, True, False, False, False]


@pytest.mark.parametrize("bad", [{"annotators": 0}, {"annotators": "many"}, {"annotators": 3, "annotation_types": ["circle"]},
                                 {"annotators": 3, "dataset_images": -1}, "12 annotators"])
def test_bad_workloads_are_rejected(bad):
    with pytest.raises(ValueError):
        sizing.cvat_sizing(bad)


@pytest.mark.parametrize("name, ok", [("cvat-production-annotations", True), ("my.bucket.1", True), ("ab", False),
                                      ("Upper", False), ("under_score", False), ("a..b", False), ("192.168.1.1", False),
                                      ("xn--abc", False), ("ends-", False), ("x" * 64, False)])
def test_bucket_name_rules(name, ok):
    assert (sizing.cvat_s3_bucket_name_errors(name) == []) is ok


def test_bucket_name_errors_name_the_value():
    assert "'Bad_Name'" in sizing.cvat_s3_bucket_name_errors("Bad_Name")[0]


def test_invalid_cidrs():
    assert sizing.cvat_invalid_cidrs(["10.0.0.0/8", "203.0.113.7/32", "::/0", "10.0.0.1/8", "bad", "10.0.0.0",
                                      "300.0.0.0/8"]) == ["10.0.0.1/8", "bad", "10.0.0.0", "300.0.0.0/8"]


@pytest.mark.parametrize("itype, ok", [("t3.xlarge", True), ("g4dn.12xlarge", True), ("m7i-flex.large", True),
                                       ("u-6tb1.metal", True), ("t3.huge", False), ("t3", False), ("T3.large", False),
                                       ("large", False)])
def test_instance_type_format(itype, ok):
    assert (sizing.cvat_instance_type_errors(itype) == []) is ok


def test_filter_module_exposes_the_filters():
    names = set(sizing.FilterModule().filters())
    assert {"cvat_sizing", "cvat_invalid_cidrs", "cvat_s3_bucket_name_errors", "cvat_instance_type_errors",
            "cvat_is_gpu_instance_type", "cvat_backup_selection"} <= names


# ---- issue 16: the role's input checks (each message names the variable and the value) -----------------------

@pytest.mark.parametrize("cidrs, needle", [
    (["10.0.0.1/8"], "'10.0.0.1/8' has host bits set (the network is 10.0.0.0/8)"),
    (["2001:DB8::/32"], "'2001:DB8::/32' is not written canonically: write '2001:db8::/32'"),
    (["10.0.0.0/08"], "write '10.0.0.0/8'"),
    (["::0/0"], "write '::/0'"),
    (["10.0.0.0/8", "10.0.0.0/8"], "'10.0.0.0/8' is listed twice"),
    (["bad"], "'bad' is not a CIDR"),
    (["300.0.0.0/8"], "'300.0.0.0/8' is not a CIDR"),
    ([8], "8 is not a CIDR"),
])
def test_cidr_errors_name_variable_and_value(cidrs, needle):
    errors = sizing.cvat_cidr_errors(cidrs, "aws_infra_http_cidrs")
    assert len(errors) == 1 and errors[0].startswith("aws_infra_http_cidrs: ") and needle in errors[0], errors


def test_cidr_errors_accept_canonical_networks_and_refuse_the_world_for_ssh_only():
    good = ["0.0.0.0/0", "::/0", "203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"]
    assert sizing.cvat_cidr_errors(good, "aws_infra_http_cidrs") == []
    errors = sizing.cvat_cidr_errors(["203.0.113.0/24", "0.0.0.0/0", "::/0"], "aws_infra_admin_cidrs", False)
    assert [e.split(":")[0] for e in errors] == ["aws_infra_admin_cidrs"] * 2
    assert "'0.0.0.0/0' is the whole internet" in errors[0] and "'::/0' is the whole internet" in errors[1]


def test_security_group_rule_count():
    thirty = [f"10.{i}.0.0/16" for i in range(30)]
    assert sizing.cvat_security_group_rule_errors(thirty, [], False) == []  # 60 rules: the quota, not above
    assert "need 62 inbound rules" in sizing.cvat_security_group_rule_errors(thirty + ["10.99.0.0/16"], [], False)[0]
    # SSH rules count only with ssh, and IPv6 has its own quota
    assert sizing.cvat_security_group_rule_errors(thirty, ["192.0.2.0/24"], False) == []
    assert "30 HTTP and 1 SSH IPv4" in sizing.cvat_security_group_rule_errors(thirty, ["192.0.2.0/24"], True)[0]
    assert sizing.cvat_security_group_rule_errors(thirty + ["2001:db8::/32"], [], False) == []


@pytest.mark.parametrize("name, environment, needle", [
    ("my cvat", "production", "aws_infra_name: 'my cvat' may only contain"),
    ("cvat", "prod.eu", "aws_infra_environment: 'prod.eu' may only contain"),
    ("-cvat", "production", "aws_infra_name: '-cvat'"),
    ("", "production", "aws_infra_name: ''"),
    ("cvat", 7, "aws_infra_environment: 7"),
    ("sg-cvat", "production", "must not start with 'sg-'"),
    ("cvat", "e" * 34, "'cvat-" + "e" * 34 + "' is 39 characters; at most 38"),
])
def test_name_errors(name, environment, needle):
    errors = sizing.cvat_name_errors(name, environment)
    assert any(needle in e for e in errors), errors


def test_names_that_fit_every_derived_resource():
    assert sizing.cvat_name_errors("cvat", "production") == []
    assert sizing.cvat_name_errors("cvat", "e" * 33) == []  # 38 characters: the backup plan name is exactly 50
    assert len("cvat-" + "e" * 33 + "-data-volume") == 50


@pytest.mark.parametrize("region, ok", [("eu-central-1", True), ("us-east-1", True), ("us-gov-west-1", True),
                                        ("cn-north-1", True), ("ap-southeast-2", True), ("eu-central-1a", False),
                                        ("frankfurt", False), ("EU-CENTRAL-1", False), ("eu-centrl-1", False),
                                        ("eu-central", False), ("", False)])
def test_region_errors(region, ok):
    errors = sizing.cvat_region_errors(region)
    assert (errors == []) is ok, errors
    if not ok:
        assert errors[0].startswith(f"aws_infra_region: {region!r}")


def test_region_that_is_an_availability_zone_says_which_region():
    assert "the region is 'eu-central-1'" in sizing.cvat_region_errors("eu-central-1a")[0]


@pytest.mark.parametrize("expression", ["cron(0 3 * * ? *)", "cron(0 5 ? * MON-FRI *)", "cron(30 0/12 * * ? *)",
                                        "cron(0 3 1 * ? *)", "cron(0 3 L * ? *)", "cron(0 3 ? * 6#3 *)",
                                        "cron(0 3 ? JAN,JUL SUN 2027-2030)", "cron(15 */6 * * ? *)"])
def test_backup_schedules_aws_accepts(expression):
    assert sizing.cvat_backup_schedule_errors(expression) == []


@pytest.mark.parametrize("expression, needle", [
    ("rate(1 day)", "must be a cron expression"),
    ("0 3 * * ? *", "must be a cron expression"),
    ("cron(0 3 * * ?)", "has 5 fields"),
    ("cron(*/15 * * * ? *)", "minutes '*/15' must be one number"),
    ("cron(0,30 3 * * ? *)", "minutes '0,30' must be one number"),
    ("cron(0 3 * * * *)", "exactly one of day-of-month '*' and day-of-week '*'"),
    ("cron(0 3 ? * ? *)", "exactly one of day-of-month '?' and day-of-week '?'"),
    ("cron(0 25 * * ? *)", "hours '25' is not valid"),
    ("cron(0 3 32 * ? *)", "day-of-month '32' is not valid"),
    ("cron(0 3 * FOO ? *)", "month 'FOO' is not valid"),
    ("cron(0 3 ? * 8 *)", "day-of-week '8' is not valid"),
    ("cron(0 3 * * ? 1969)", "year '1969' is not valid"),
])
def test_backup_schedules_aws_refuses(expression, needle):
    errors = sizing.cvat_backup_schedule_errors(expression)
    assert any(needle in e for e in errors), errors
    assert all(e.startswith(f"aws_infra_backup_schedule: {expression!r}") for e in errors)


MANAGED = ["Environment", "Project", "ManagedBy", "Name", "Role", "DataVolumeId", "Bucket", "CvatStorageUser"]


@pytest.mark.parametrize("tags, needle", [
    ({"aws:owner": "me"}, "key 'aws:owner' must not start with 'aws:'"),
    ({"Environment": "prod"}, "key 'Environment' is set by the role"),
    ({"CostCenter": ["a", "b"]}, "CostCenter=['a', 'b'] must be a string"),
    ({"CostCenter": None}, "CostCenter=None must be a string"),
    ({"k" * 129: "v"}, "must be 1-128"),
    ({"Owner": "v" * 257}, "must be at most 256"),
    ({"Owner#": "me"}, "key 'Owner#'"),
    ({"Owner": "a\nb"}, "Owner='a\\nb'"),
    (["Owner"], "must be a mapping"),
])
def test_tag_errors(tags, needle):
    errors = sizing.cvat_tag_errors(tags, "aws_infra_tags", MANAGED)
    assert any(needle in e for e in errors), errors
    assert all(e.startswith("aws_infra_tags: ") for e in errors)


def test_tags_aws_accepts():
    assert sizing.cvat_tag_errors({"Owner": "ml-platform", "Organisation": "Example Corp", "cost:centre": "ai/42",
                                   "Empty": ""}, "aws_infra_tags", MANAGED) == []
    assert sizing.cvat_tag_errors(None) == []
    # numbers are sent and compared as text by amazon.aws (idempotent), so they are fine
    assert sizing.cvat_tag_errors({"CostCenter": 1234}, "aws_infra_tags", MANAGED) == []
    # tag keys are case-sensitive on AWS: "environment" does not replace the role's "Environment"
    assert sizing.cvat_tag_errors({"environment": "prod"}, "aws_infra_tags", MANAGED) == []


@pytest.mark.parametrize("override, sized, needle", [
    (-5, 200, "aws_infra_data_volume_gb: -5 must be 0"),
    (20, 200, "aws_infra_data_volume_gb: 20 must be 0"),
    (16385, 200, "aws_infra_data_volume_gb: 16385"),
    (0, 20000, "aws_infra_workload: sized to a 20000 GB data volume"),
    ("big", 200, "aws_infra_data_volume_gb: 'big'"),
])
def test_data_volume_errors(override, sized, needle):
    errors = sizing.cvat_data_volume_errors(override, sized)
    assert len(errors) == 1 and needle in errors[0], errors


def test_data_volume_sizes_aws_accepts():
    assert sizing.cvat_data_volume_errors(0, 200) == []
    assert sizing.cvat_data_volume_errors(50, 200) == []
    assert sizing.cvat_data_volume_errors(16384, 200) == []
    assert sizing.cvat_data_volume_errors(500, 20000) == []  # an explicit size wins over the sizing result
    assert sizing.cvat_data_volume_errors("100", 200) == []  # -e aws_infra_data_volume_gb=100 is text
    assert "aws_infra_data_volume_gb: -5" in sizing.cvat_data_volume_errors("-5", 200)[0]


def test_ami_root_size():
    image = {"image_id": "ami-1", "root_device_name": "/dev/xvda",
             "block_device_mappings": [{"device_name": "/dev/sdb", "ebs": {"volume_size": 100}},
                                       {"device_name": "/dev/xvda", "ebs": {"volume_size": 75}}]}
    assert sizing.cvat_ami_root_gb(image) == 75
    assert sizing.cvat_ami_root_gb({"root_device_name": "/dev/xvda", "block_device_mappings": []}) == 0
    assert sizing.cvat_ami_root_gb({}) == 0


def test_filter_module_exposes_the_input_checks():
    names = set(sizing.FilterModule().filters())
    assert {"cvat_cidr_errors", "cvat_security_group_rule_errors", "cvat_name_errors", "cvat_region_errors",
            "cvat_backup_schedule_errors", "cvat_tag_errors", "cvat_data_volume_errors", "cvat_ami_root_gb"} <= names
