#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Finds the block device of an EBS data volume and reports what it holds (read-only)."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: data_volume_device
short_description: Find the block device of an EBS volume and probe it for signatures (read-only)
description:
  - Resolves an EBS volume id to its block device, first through the udev link
    C(<by_id_dir>/nvme-Amazon_Elastic_Block_Store_<volume id without dash>), then by scanning
    C(<sys_block_dir>/*/device/serial) and C(lsblk) for the NVMe serial (the volume id without the dash),
    so it also works on hosts without udev links.
  - Or resolves a device name, applying the Xen rule C(/dev/sdX) -> C(/dev/xvdX) when the given name is absent.
  - Fails with a message naming the volume id or device when nothing or more than one device matches,
    or when both O(volume_id) and O(device) are given and they name different devices.
  - Probes the device with C(blkid -p) and C(wipefs --no-act) and classifies it as V(blank), V(filesystem) or V(other)
    (partition table, RAID member, LVM, ...). It never writes to the device; it changes nothing.
version_added: "1.0.0"
author: CVAT on AWS project
options:
  volume_id:
    description: EBS volume id (C(vol-...)).
    type: str
  device:
    description: Device name as requested at attach time (C(/dev/sdf)) or the kernel name (C(/dev/nvme1n1)).
    type: str
  mount_path:
    description: Mount point; the module reports which device (major:minor) is mounted there, if any.
    type: path
  by_id_dir:
    description: Directory holding the udev by-id links.
    type: path
    default: /dev/disk/by-id
  sys_block_dir:
    description: The sysfs block directory scanned for NVMe serials.
    type: path
    default: /sys/block
  dev_dir:
    description: Directory holding the device nodes named in O(sys_block_dir).
    type: path
    default: /dev
  use_lsblk:
    description: Also ask C(lsblk) for serials when the by-id link and the sysfs scan find nothing.
    type: bool
    default: true
notes:
  - Supports check mode (it is read-only).
"""

EXAMPLES = r"""
- name: Find the data volume
  data_volume_device:
    volume_id: vol-0123456789abcdef0
    mount_path: /data
  register: dv

- name: Find the volume attached as /dev/sdf (appears as /dev/xvdf on Xen)
  data_volume_device:
    device: /dev/sdf
"""

RETURN = r"""
device:
  description: Resolved device node (symlinks resolved).
  returned: success
  type: str
  sample: /dev/nvme1n1
resolved_by:
  description: How the device was found.
  returned: success
  type: str
  sample: by-id link
size_bytes:
  description: Size of the device in bytes.
  returned: success
  type: int
devno:
  description: major:minor of the device.
  returned: success
  type: str
  sample: "259:1"
content:
  description: V(blank) (no signature at all), V(filesystem) (exactly one filesystem) or V(other).
  returned: success
  type: str
fstype:
  description: Filesystem type found by C(blkid -p), empty when none.
  returned: success
  type: str
uuid:
  description: Filesystem UUID, empty when none.
  returned: success
  type: str
pttype:
  description: Partition table type, empty when none.
  returned: success
  type: str
signatures:
  description: Signatures reported by C(wipefs --no-act).
  returned: success
  type: list
  elements: str
mountpoints:
  description: Where the device is mounted now.
  returned: success
  type: list
  elements: str
mount_path_devno:
  description: major:minor of the file system mounted at O(mount_path), empty when nothing is mounted there.
  returned: when mount_path is given
  type: str
"""

import json
import os
import re
import stat

from ansible.module_utils.basic import AnsibleModule

BY_ID_PREFIX = "nvme-Amazon_Elastic_Block_Store_"
VOLUME_ID_RE = re.compile(r"^vol-[0-9a-f]{8}([0-9a-f]{9})?$")


class LookupError_(Exception):
    """Device not found or ambiguous."""


def volume_serial(volume_id: str) -> str:
    return volume_id.replace("-", "", 1)


def scan_sysfs_serials(sys_block_dir: str, dev_dir: str, serial: str) -> list[str]:
    """Device nodes whose sysfs serial equals `serial` (NVMe pads serials with spaces)."""
    found = []
    try:
        names = sorted(os.listdir(sys_block_dir))
    except OSError:
        return found
    for name in names:
        path = os.path.join(sys_block_dir, name, "device", "serial")
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                value = f.read().strip()
        except OSError:
            continue
        if value == serial:
            found.append(os.path.join(dev_dir, name))
    return found


def parse_lsblk(out: str, serial: str) -> list[str]:
    """Whole-disk paths from `lsblk -J -d -o NAME,SERIAL,TYPE,PATH` whose serial equals `serial`."""
    data = json.loads(out or "{}")
    found = []
    for dev in data.get("blockdevices", []):
        if (dev.get("serial") or "").strip() == serial and dev.get("type") == "disk":
            found.append(dev.get("path") or "/dev/" + dev["name"])
    return found


def xen_name(device: str) -> str | None:
    """`/dev/sdf` -> `/dev/xvdf` (Xen instances rename the requested device); None when the rule does not apply."""
    m = re.match(r"^(/(?:.*/)?)sd([a-z]+)$", device)
    return m.group(1) + "xvd" + m.group(2) if m else None


def classify(blkid: dict[str, str], signatures: list[str]) -> str:
    """blank: no signature at all; filesystem: exactly one filesystem and nothing else; other: anything else."""
    if not blkid and not signatures:
        return "blank"
    if blkid.get("PTTYPE") or blkid.get("USAGE", "filesystem") != "filesystem" or not blkid.get("TYPE"):
        return "other"
    if len(set(signatures) - {blkid["TYPE"]}) > 0:
        return "other"
    return "filesystem"


def parse_blkid_export(out: str) -> dict[str, str]:
    result = {}
    for line in out.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            result[key.strip()] = value.strip()
    return result


def parse_wipefs_json(out: str) -> list[str]:
    if not out.strip():
        return []
    return [sig.get("type") or "unknown" for sig in json.loads(out).get("signatures", [])]


def unescape_mount(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mounts_by_devno(mountinfo: str) -> dict[str, list[str]]:
    """{"major:minor": [mount points]} from /proc/self/mountinfo text."""
    result: dict[str, list[str]] = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4:
            result.setdefault(fields[2], []).append(unescape_mount(fields[4]))
    return result


def device_size(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def resolve(module, p) -> tuple[str, str]:
    """Returns (device path, how it was found); raises LookupError_ with a clear message."""
    by_volume = None
    if p["volume_id"]:
        serial = volume_serial(p["volume_id"])
        link = os.path.join(p["by_id_dir"], BY_ID_PREFIX + serial)
        if os.path.exists(link):
            by_volume = (os.path.realpath(link), "by-id link")
        else:
            found = scan_sysfs_serials(p["sys_block_dir"], p["dev_dir"], serial)
            how = "sysfs serial scan"
            if not found and p["use_lsblk"]:
                lsblk = module.get_bin_path("lsblk")
                if lsblk:
                    rc, out, err = module.run_command([lsblk, "-J", "-d", "-o", "NAME,SERIAL,TYPE,PATH"])
                    if rc == 0:
                        found = parse_lsblk(out, serial)
                        how = "lsblk serial scan"
            found = sorted(set(os.path.realpath(f) for f in found))
            if len(found) > 1:
                raise LookupError_("EBS volume %s is ambiguous: serial %s matches %s"
                                   % (p["volume_id"], serial, ", ".join(found)))
            if not found:
                raise LookupError_("EBS volume %s not found: no %s and no block device with serial %s "
                                   "(is the volume attached to this instance?)" % (p["volume_id"], link, serial))
            by_volume = (found[0], how)
    by_device = None
    if p["device"]:
        candidates = [p["device"]]
        alt = xen_name(p["device"])
        if alt:
            candidates.append(alt)
        present = [c for c in candidates if os.path.exists(c)]
        if not present:
            if by_volume is None:
                raise LookupError_("data volume device %s not found (also tried %s)"
                                   % (p["device"], ", ".join(candidates[1:]) or "no alternative name"))
        else:
            by_device = (os.path.realpath(present[0]),
                         "device name" if present[0] == p["device"] else "device name (Xen /dev/sdX -> /dev/xvdX)")
    if by_volume and by_device and by_volume[0] != by_device[0]:
        raise LookupError_("EBS volume %s is %s but data_volume_device %s is %s: ambiguous, fix one of them"
                           % (p["volume_id"], by_volume[0], p["device"], by_device[0]))
    return by_volume or by_device


def main():
    module = AnsibleModule(
        argument_spec=dict(
            volume_id=dict(type="str"),
            device=dict(type="str"),
            mount_path=dict(type="path"),
            by_id_dir=dict(type="path", default="/dev/disk/by-id"),
            sys_block_dir=dict(type="path", default="/sys/block"),
            dev_dir=dict(type="path", default="/dev"),
            use_lsblk=dict(type="bool", default=True),
        ),
        required_one_of=[("volume_id", "device")],
        supports_check_mode=True,
    )
    p = module.params
    if p["volume_id"] and not VOLUME_ID_RE.match(p["volume_id"]):
        module.fail_json(msg="volume_id %r is not an EBS volume id (vol- and 8 or 17 hex digits)" % p["volume_id"])
    try:
        device, how = resolve(module, p)
    except LookupError_ as e:
        module.fail_json(msg=str(e))

    st = os.stat(device)
    if not stat.S_ISBLK(st.st_mode):
        module.fail_json(msg="%s (found by %s) is not a block device" % (device, how))
    devno = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))

    blkid_bin = module.get_bin_path("blkid", required=True)
    rc, out, err = module.run_command([blkid_bin, "-p", "-o", "export", device])
    if rc not in (0, 2):  # 2: nothing found
        module.fail_json(msg="blkid -p %s failed: %s" % (device, err.strip()))
    blkid = parse_blkid_export(out) if rc == 0 else {}
    blkid.pop("DEVNAME", None)

    wipefs_bin = module.get_bin_path("wipefs", required=True)
    rc, out, err = module.run_command([wipefs_bin, "--no-act", "--json", device])
    if rc != 0:
        module.fail_json(msg="wipefs --no-act %s failed: %s" % (device, err.strip()))
    signatures = parse_wipefs_json(out)

    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            mounts = mounts_by_devno(f.read())
    except OSError:
        mounts = {}
    result = dict(
        changed=False,
        device=device,
        resolved_by=how,
        devno=devno,
        size_bytes=device_size(device),
        content=classify(blkid, signatures),
        fstype=blkid.get("TYPE", ""),
        uuid=blkid.get("UUID", ""),
        pttype=blkid.get("PTTYPE", ""),
        signatures=signatures,
        mountpoints=mounts.get(devno, []),
    )
    if p["mount_path"]:
        target = os.path.normpath(p["mount_path"])
        result["mount_path_devno"] = next((d for d, points in mounts.items() if target in points), "")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
