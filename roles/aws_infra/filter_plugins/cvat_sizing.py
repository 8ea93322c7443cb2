"""Sizing and validation helpers for the aws_infra role (Ansible filter plugin, importable as plain Python).

Filters:
  cvat_sizing(workload)                 -> {instance_type, data_volume_gb, gpu, reasons: [...]}
  cvat_is_gpu_instance_type(type)       -> bool (g4dn/g5/g6/p* families)
  cvat_instance_type_errors(type)       -> list of problems ([] = valid)
  cvat_s3_bucket_name_errors(name)      -> list of problems ([] = valid, S3 general-purpose bucket rules)
  cvat_invalid_cidrs(list)              -> the entries that are not IPv4/IPv6 CIDRs
  cvat_cidr_errors(list, variable, ...) -> problems of a CIDR list (invalid, host bits, non-canonical, duplicate, /0)
  cvat_security_group_rule_errors(...)  -> problems when the CIDRs need more inbound rules than a security group holds
  cvat_name_errors(name, environment)   -> problems of the name stem / environment (every derived AWS name fits)
  cvat_region_errors(region)            -> problems of an AWS region name
  cvat_backup_schedule_errors(expr)     -> problems of an AWS Backup schedule (cron, at most hourly)
  cvat_tag_errors(tags, variable, ...)  -> problems of user tags (AWS tag rules, keys the role manages)
  cvat_data_volume_errors(...)          -> problems of the data volume size (override and sizing result)
  cvat_ami_root_gb(image)               -> size (GB) of an ec2_ami_info image's root snapshot (0 if unknown)
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


# Inbound rules per security group (AWS default quota, counted per IP version).
SECURITY_GROUP_INBOUND_RULES = 60


def cvat_cidr_errors(cidrs, variable: str = "cidrs", allow_world: bool = True) -> list:
    """Every problem of a CIDR list, each naming `variable` and the entry.

    Refused: not a network in CIDR notation, host bits set, a non-canonical spelling (AWS stores the canonical one,
    so the security group would differ on every run), duplicates (EC2 refuses a duplicate permission), and with
    allow_world false a /0 (the whole internet).
    """
    if isinstance(cidrs, str):
        cidrs = [cidrs]
    errors = []
    seen: dict = {}
    for cidr in cidrs or []:
        if not isinstance(cidr, str) or "/" not in cidr:
            errors.append(f"{variable}: {cidr!r} is not a CIDR (address/prefix, e.g. 203.0.113.0/24)")
            continue
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.append(f"{variable}: {cidr!r} is not a CIDR (address/prefix, e.g. 203.0.113.0/24)")
            continue
        if net.network_address != ipaddress.ip_interface(cidr).ip:
            errors.append(f"{variable}: {cidr!r} has host bits set (the network is {net})")
            continue
        if str(net) != cidr:
            errors.append(f"{variable}: {cidr!r} is not written canonically: write {str(net)!r}")
            continue
        if net in seen:
            errors.append(f"{variable}: {cidr!r} is listed twice")
            continue
        seen[net] = cidr
        if not allow_world and net.prefixlen == 0:
            errors.append(f"{variable}: {cidr!r} is the whole internet; list your administrators' networks "
                          f"(or use aws_infra_connection: ssm, which opens no port)")
    return errors


def cvat_security_group_rule_errors(http_cidrs, admin_cidrs, ssh: bool) -> list:
    """The role puts one rule per port and CIDR (80 and 443 per HTTP CIDR, 22 per admin CIDR with ssh)."""
    errors = []
    for version, label in ((4, "IPv4"), (6, "IPv6")):
        http = [c for c in http_cidrs or [] if isinstance(c, str) and (":" in c) == (version == 6)]
        admin = [c for c in admin_cidrs or [] if isinstance(c, str) and (":" in c) == (version == 6)] if ssh else []
        rules = 2 * len(http) + len(admin)
        if rules > SECURITY_GROUP_INBOUND_RULES:
            errors.append(f"aws_infra_http_cidrs/aws_infra_admin_cidrs: {len(http)} HTTP and {len(admin)} SSH {label} "
                          f"CIDRs need {rules} inbound rules; a security group holds {SECURITY_GROUP_INBOUND_RULES} "
                          f"per IP version (merge networks)")
    return errors


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# The longest derived name with the tightest limit: AWS Backup plan/selection "<name>-<environment>-data-volume"
# (50 characters). IAM user "<...>-cvat-storage" (64), vault "<...>-vault" (50) fit when that one does.
FULLNAME_MAX = 50 - len("-data-volume")


def cvat_name_errors(name, environment) -> list:
    """aws_infra_name and aws_infra_environment name IAM, EC2 and AWS Backup resources: every derived name must fit."""
    errors = []
    for variable, value in (("aws_infra_name", name), ("aws_infra_environment", environment)):
        if not isinstance(value, str) or not _NAME_RE.match(value):
            errors.append(f"{variable}: {value!r} may only contain letters, digits, '-' and '_' and must start with "
                          f"a letter or digit (it is part of IAM, EC2 and AWS Backup resource names)")
    if errors:
        return errors
    if name.lower().startswith("sg-"):
        errors.append(f"aws_infra_name: {name!r} must not start with 'sg-' (EC2 refuses such security group names)")
    fullname = f"{name}-{environment}"
    if len(fullname) > FULLNAME_MAX:
        errors.append(f"aws_infra_name/aws_infra_environment: {fullname!r} is {len(fullname)} characters; at most "
                      f"{FULLNAME_MAX} (the AWS Backup plan '{fullname}-data-volume' is limited to 50)")
    return errors


_REGION_RE = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$")


def _known_regions() -> set:
    try:
        import botocore.session
    except ImportError:  # plain-Python use without botocore: the format check only
        return set()
    session = botocore.session.get_session()
    regions: set = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return regions


def cvat_region_errors(region) -> list:
    """A region name (eu-central-1), not an availability zone, and one the installed botocore knows."""
    if not isinstance(region, str) or not _REGION_RE.match(region):
        hint = ""
        if isinstance(region, str) and re.match(r"^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}[a-z]$", region):
            hint = f" ({region!r} is an availability zone; the region is {region[:-1]!r})"
        return [f"aws_infra_region: {region!r} is not an AWS region name like 'eu-central-1'{hint}"]
    known = _known_regions()
    if known and region not in known:
        return [f"aws_infra_region: {region!r} is not a region this botocore knows (e.g. "
                f"{', '.join(sorted(r for r in known if r.split('-')[0] == region.split('-')[0])[:6]) or 'eu-central-1'})"]
    return []


_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (field name, low, high, names mapped to numbers)
_CRON_FIELDS = (("minutes", 0, 59, {}), ("hours", 0, 23, {}), ("day-of-month", 1, 31, {}),
                ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
                ("day-of-week", 1, 7, {d: i + 1 for i, d in enumerate(_DAYS)}), ("year", 1970, 2199, {}))


def _cron_value(token: str, low: int, high: int, names: dict):
    token = token.upper()
    if token in names:
        return names[token]
    if token.isdigit() and low <= int(token) <= high:
        return int(token)
    return None


def _cron_field_ok(field: str, index: int) -> bool:
    _, low, high, names = _CRON_FIELDS[index]
    if field == "*":
        return True
    if index == 2 and (field in ("L", "LW") or re.fullmatch(r"([1-9]|[12][0-9]|3[01])W", field)):
        return True
    if index == 4 and (re.fullmatch(r"[1-7]L|[1-7]#[1-5]", field) or field == "L"):
        return True
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) >= 1):
            return False
        if base == "*" and step:
            continue
        first, _, last = base.partition("-")
        start = _cron_value(first, low, high, names)
        if start is None:
            return False
        if last and (_cron_value(last, low, high, names) is None):
            return False
    return True


def cvat_backup_schedule_errors(expression) -> list:
    """AWS Backup schedule: cron(minutes hours day-of-month month day-of-week year) in UTC, at most once an hour.

    AWS Backup takes cron expressions only, refuses a frequency under 60 minutes (so the minutes field is one
    number), and needs exactly one of day-of-month / day-of-week to be '?'.
    """
    prefix = f"aws_infra_backup_schedule: {expression!r}"
    if not isinstance(expression, str):
        return [f"{prefix} is not a string"]
    match = re.fullmatch(r"cron\((.*)\)", expression.strip())
    if not match:
        return [f"{prefix} must be a cron expression 'cron(min hour day-of-month month day-of-week year)' "
                f"(AWS Backup takes no rate())"]
    fields = match.group(1).split()
    if len(fields) != 6:
        return [f"{prefix} has {len(fields)} fields; AWS cron has 6 (min hour day-of-month month day-of-week year)"]
    errors = []
    if not re.fullmatch(r"[0-9]|[1-5][0-9]", fields[0]):
        errors.append(f"{prefix}: minutes {fields[0]!r} must be one number 0-59 (AWS Backup runs at most once "
                      f"an hour)")
    if (fields[2] == "?") == (fields[4] == "?"):
        errors.append(f"{prefix}: exactly one of day-of-month {fields[2]!r} and day-of-week {fields[4]!r} must be '?'")
    for index, field in enumerate(fields[1:], start=1):
        if field == "?" and index in (2, 4):
            continue
        if not _cron_field_ok(field, index):
            name, low, high, _ = _CRON_FIELDS[index]
            errors.append(f"{prefix}: {name} {field!r} is not valid ({low}-{high}, *, lists, ranges, steps)")
    return errors


_TAG_CHARS_RE = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)


def cvat_tag_errors(tags, variable: str = "aws_infra_tags", reserved=()) -> list:
    """AWS tag rules (key 1-128, value <= 256 characters, letters/digits/spaces and _ . : / = + - @, no 'aws:'
    prefix, scalar values) and none of the keys the role sets itself (`reserved`), which would be overwritten or
    would break how the role finds its own resources (tag keys are case-sensitive)."""
    if tags is None:
        tags = {}
    if not isinstance(tags, dict):
        return [f"{variable}: {tags!r} must be a mapping of tag keys to values"]
    errors = []
    reserved = {str(k) for k in reserved}
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or not _TAG_CHARS_RE.match(key):
            errors.append(f"{variable}: key {key!r} must be 1-128 letters, digits, spaces or _ . : / = + - @")
        elif key.lower().startswith("aws:"):
            errors.append(f"{variable}: key {key!r} must not start with 'aws:' (reserved by AWS)")
        elif key in reserved:
            errors.append(f"{variable}: key {key!r} is set by the role (it finds its resources by it or "
                          f"overwrites it); choose another key")
        if not isinstance(value, (str, int, float)):  # numbers and booleans are sent (and compared) as text
            errors.append(f"{variable}: {key}={value!r} must be a string")
        elif len(str(value)) > 256 or not _TAG_CHARS_RE.match(str(value)):
            errors.append(f"{variable}: {key}={value!r} must be at most 256 letters, digits, spaces or "
                          f"_ . : / = + - @")
    return errors


# gp3 volume sizes (GiB).
GP3_MAX_GB = 16384


def cvat_data_volume_errors(override, sized) -> list:
    """aws_infra_data_volume_gb: 0 (use the sizing result) or 50-16384; the size used must be 50-16384 too."""
    if isinstance(override, str) and re.fullmatch(r"-?[0-9]+", override.strip()):
        override = int(override)  # -e aws_infra_data_volume_gb=100 arrives as text
    if isinstance(override, bool) or not isinstance(override, int):
        return [f"aws_infra_data_volume_gb: {override!r} must be an integer (0 = sizing helper)"]
    if override != 0 and not DATA_VOLUME_FLOOR_GB <= override <= GP3_MAX_GB:
        return [f"aws_infra_data_volume_gb: {override} must be 0 (sizing helper) or {DATA_VOLUME_FLOOR_GB}-{GP3_MAX_GB} "
                f"(Data volume {override} GB)"]
    if override == 0 and int(sized) > GP3_MAX_GB:
        return [f"aws_infra_workload: sized to a {sized} GB data volume, above the gp3 maximum of {GP3_MAX_GB} GB "
                f"(dataset_images/avg_image_mb); store raw data in S3 and size the volume with aws_infra_data_volume_gb"]
    return []

def cvat_ami_root_gb(image) -> int:
    """Root snapshot size of an amazon.aws.ec2_ami_info image (snake_case keys); 0 when the image does not say."""
    if not isinstance(image, dict):
        return 0
    root = image.get("root_device_name")
    for mapping in image.get("block_device_mappings") or []:
        if mapping.get("device_name") == root:
            size = (mapping.get("ebs") or {}).get("volume_size")
            return int(size) if isinstance(size, int) or (isinstance(size, str) and size.isdigit()) else 0
    return 0


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
                                               cvat_s3_bucket_name_errors, cvat_invalid_cidrs, cvat_cidr_errors,
                                               cvat_security_group_rule_errors, cvat_name_errors,
                                               cvat_region_errors, cvat_backup_schedule_errors, cvat_tag_errors,
                                               cvat_data_volume_errors, cvat_ami_root_gb, cvat_backup_selection)}
