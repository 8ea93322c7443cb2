"""Sizing and validation helpers for the aws_infra role (Ansible filter plugin, importable as plain Python).

Filters:
  cvat_sizing(workload)                 -> {instance_type, data_volume_gb, gpu, reasons: [...]}
  cvat_is_gpu_instance_type(type)       -> bool (g4dn/g5/g6/p* families)
  cvat_instance_type_errors(type)       -> list of problems ([] = valid)
  cvat_s3_bucket_name_errors(name)      -> list of problems ([] = valid, S3 general-purpose bucket rules)
  cvat_invalid_cidrs(list)              -> the entries that are not IPv4/IPv6 CIDRs
  cvat_backup_selection(plan, ...)      -> parameters for amazon.aws.backup_selection (tag-based)

Sizing rules follow the annotation-operations guide this project implements:
  * t3.large is too small for 12 annotators doing polygons; t3.xlarge fixes it.
  * AI-assisted annotation needs its own GPU headroom (g4dn/g5).
  * data volume >= 50 GB, 200 GB for 200,000 images, sized up front (1 GB per 1,000 images at ~1 MB per image,
    which includes CVAT's chunk cache growth).
The core functions take and return plain Python values; runner scripts import this file directly.
"""
from __future__ import annotations

import ipaddress
import math
import re

DATA_VOLUME_FLOOR_GB = 50
ROOT_VOLUME_MIN_GB = 20
ROOT_VOLUME_MAX_GB = 30
# Annotation types whose editing is vertex-heavy (server-side chunking, larger annotation payloads, more UI
# round-trips per object): they weigh 1.5 annotators each. Boxes, tags, ellipses, cuboids, points weigh 1.0.
HEAVY_ANNOTATION_TYPES = frozenset({"polygon", "polyline", "mask", "skeleton"})
KNOWN_ANNOTATION_TYPES = frozenset(
    {"any", "cuboid", "ellipse", "mask", "points", "polygon", "polyline", "rectangle", "skeleton", "tag"})
HEAVY_WEIGHT = 1.5
# (max weighted annotator load, instance type, why)
CPU_TIERS = (
    (12.0, "t3.large", "2 vCPU / 8 GiB: enough for up to 12 box/tag annotators (or 8 on polygons)"),
    (24.0, "t3.xlarge", "4 vCPU / 16 GiB: the guide's fix for 12 polygon annotators"),
    (48.0, "t3.2xlarge", "8 vCPU / 32 GiB"),
    (math.inf, "m6i.4xlarge", "16 vCPU / 64 GiB, non-burstable; beyond ~50 concurrent annotators consider "
                              "scaling CVAT workers out"),
)
# (max annotators, instance type, why)
GPU_TIERS = (
    (10, "g4dn.xlarge", "4 vCPU / 16 GiB + NVIDIA T4 16 GiB: GPU headroom for SAM/interactors"),
    (20, "g4dn.2xlarge", "8 vCPU / 32 GiB + NVIDIA T4 16 GiB"),
    (math.inf, "g5.4xlarge", "16 vCPU / 64 GiB + NVIDIA A10G 24 GiB"),
)
GPU_FAMILY_RE = re.compile(r"^(g4dn|g4ad|g5|g5g|g6|g6e|gr6|p[0-9][a-z0-9-]*)\.")
INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|metal|[0-9]*xlarge)"
                              r"(-[0-9]+xl)?$")
# Extra room on the data volume for serverless function images (torch + SAM checkpoint are tens of GB).
AI_IMAGES_HEADROOM_GB = 50


def _as_int(value, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def cvat_sizing(workload: dict) -> dict:
    """Maps a declared workload to an instance type and a data volume size, with the reasons.

    workload keys: annotators (int, >= 1), annotation_types (list of CVAT label types), ai_assisted (bool),
    dataset_images (int), avg_image_mb (float, default 1.0).
    """
    if not isinstance(workload, dict):
        raise ValueError(f"workload must be a mapping, got {workload!r}")
    annotators = _as_int(workload.get("annotators", 1), "annotators")
    if annotators < 1:
        raise ValueError(f"annotators must be >= 1, got {annotators}")
    types = workload.get("annotation_types") or ["rectangle"]
    if isinstance(types, str):
        types = [types]
    unknown = sorted(set(types) - KNOWN_ANNOTATION_TYPES)
    if unknown:
        raise ValueError(f"unknown annotation types {unknown}; known: {sorted(KNOWN_ANNOTATION_TYPES)}")
    ai_assisted = bool(workload.get("ai_assisted", False))
    images = _as_int(workload.get("dataset_images", 0), "dataset_images")
    try:
        avg_image_mb = float(workload.get("avg_image_mb", 1.0))
    except (TypeError, ValueError):
        raise ValueError(f"avg_image_mb must be a number, got {workload.get('avg_image_mb')!r}") from None
    if avg_image_mb <= 0:
        raise ValueError(f"avg_image_mb must be > 0, got {avg_image_mb}")

    reasons: list[str] = []
    heavy = sorted(set(types) & HEAVY_ANNOTATION_TYPES)
    weight = HEAVY_WEIGHT if heavy else 1.0
    load = annotators * weight
    if ai_assisted:
        instance_type, why = next((t, w) for limit, t, w in GPU_TIERS if annotators <= limit)
        reasons.append(f"AI-assisted annotation needs its own GPU headroom: {instance_type} ({why}) "
                       f"for {annotators} annotators")
    else:
        instance_type, why = next((t, w) for limit, t, w in CPU_TIERS if load <= limit)
        if heavy:
            reasons.append(f"{annotators} annotators on {', '.join(heavy)} weigh {HEAVY_WEIGHT} each "
                           f"(load {load:g})")
        else:
            reasons.append(f"{annotators} annotators on light shapes ({', '.join(sorted(set(types)))}): load {load:g}")
        reasons.append(f"{instance_type}: {why}")
        if instance_type != "t3.large":
            reasons.append("t3.large is too small for this load (guide: 12 polygon annotators need t3.xlarge)")

    raw_gb = images * avg_image_mb / 1000.0
    data_gb = int(math.ceil(raw_gb / 10.0) * 10) if raw_gb > 0 else 0
    reasons.append(f"{images} images x {avg_image_mb:g} MB ~ {raw_gb:g} GB of images and chunk cache "
                   f"(rounded up to {data_gb} GB)")
    if ai_assisted:
        data_gb += AI_IMAGES_HEADROOM_GB
        reasons.append(f"+{AI_IMAGES_HEADROOM_GB} GB for serverless function images (torch, model checkpoints)")
    if data_gb < DATA_VOLUME_FLOOR_GB:
        reasons.append(f"raised to the {DATA_VOLUME_FLOOR_GB} GB floor (data volume sized up front)")
        data_gb = DATA_VOLUME_FLOOR_GB
    return {"instance_type": instance_type, "data_volume_gb": data_gb, "gpu": ai_assisted, "reasons": reasons}


def cvat_is_gpu_instance_type(instance_type: str) -> bool:
    return bool(GPU_FAMILY_RE.match(str(instance_type)))


def cvat_instance_type_errors(instance_type) -> list:
    if not isinstance(instance_type, str) or not INSTANCE_TYPE_RE.match(instance_type):
        return [f"instance type {instance_type!r} is not of the form <family><generation>.<size> "
                f"(e.g. t3.xlarge, g4dn.xlarge)"]
    return []


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")


def cvat_s3_bucket_name_errors(name) -> list:
    """S3 general-purpose bucket naming rules; returns every broken rule (empty list: valid)."""
    if not isinstance(name, str):
        return [f"bucket name {name!r} is not a string"]
    errors = []
    if not 3 <= len(name) <= 63:
        errors.append(f"bucket name {name!r} must be 3-63 characters long (has {len(name)})")
    if not _BUCKET_RE.match(name):
        errors.append(f"bucket name {name!r} may only contain lowercase letters, digits, '.' and '-', "
                      f"and must begin and end with a letter or digit")
    if ".." in name:
        errors.append(f"bucket name {name!r} must not contain two adjacent periods")
    if re.match(r"^\d{1,3}(\.\d{1,3}){3}$", name):
        errors.append(f"bucket name {name!r} must not be formatted as an IP address")
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            errors.append(f"bucket name {name!r} must not start with {prefix!r}")
    for suffix in ("-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"):
        if name.endswith(suffix):
            errors.append(f"bucket name {name!r} must not end with {suffix!r}")
    return errors


def cvat_invalid_cidrs(cidrs) -> list:
    """Returns the entries of `cidrs` that are not valid IPv4/IPv6 networks in CIDR notation (host bits zero)."""
    if isinstance(cidrs, str):
        cidrs = [cidrs]
    bad = []
    for cidr in cidrs or []:
        if not isinstance(cidr, str) or "/" not in cidr:
            bad.append(cidr)
            continue
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            bad.append(cidr)
    return bad


def cvat_backup_selection(plan_name: str, selection_name: str, iam_role_arn: str, tag_key: str,
                          tag_value: str) -> dict:
    """Parameters for amazon.aws.backup_selection: back up every resource tagged tag_key=tag_value.

    Tag-based (not ARN-based) so a replaced data volume that carries the tag is picked up without editing the plan.
    """
    for label, value in (("plan_name", plan_name), ("selection_name", selection_name),
                         ("iam_role_arn", iam_role_arn), ("tag_key", tag_key), ("tag_value", tag_value)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{label} must be a non-empty string, got {value!r}")
    if not re.match(r"^arn:aws[a-z-]*:iam::(\d{12}|\*):role/.+", iam_role_arn):
        raise ValueError(f"iam_role_arn {iam_role_arn!r} is not an IAM role ARN")
    if len(selection_name) > 50 or not re.match(r"^[a-zA-Z0-9\-_.]+$", selection_name):
        raise ValueError(f"selection_name {selection_name!r}: 1-50 characters of letters, digits, - _ .")
    return {
        "backup_plan_name": plan_name,
        "backup_selection_name": selection_name,
        "iam_role_arn": iam_role_arn,
        "list_of_tags": [{"condition_type": "STRINGEQUALS", "condition_key": tag_key,
                          "condition_value": tag_value}],
    }


def _wrap(func):
    """Turns ValueError into AnsibleFilterError so a playbook shows the message, not a traceback."""
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ValueError as exc:
            try:
                from ansible.errors import AnsibleFilterError
            except ImportError:  # plain-Python use
                raise
            raise AnsibleFilterError(f"{func.__name__}: {exc}") from None
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


class FilterModule:
    """Ansible entry point."""

    def filters(self):
        return {f.__name__: _wrap(f) for f in (cvat_sizing, cvat_is_gpu_instance_type, cvat_instance_type_errors,
                                               cvat_s3_bucket_name_errors, cvat_invalid_cidrs,
                                               cvat_backup_selection)}
