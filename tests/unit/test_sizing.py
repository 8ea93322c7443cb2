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
