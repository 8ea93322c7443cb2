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
  unit_dir:
    description: Where the check unit's file (O(desired.check_unit)) lives.
    type: path
    default: /etc/systemd/system
  desired:
    description:
      - The state the role would converge to. When given, the module also compares the host with it (read-only)
        and returns RV(drift), the list of differences; an empty list means a converged host (the role then skips
        its change tasks). Every check mirrors what the corresponding change task would compare.
    type: dict
    suboptions:
      fstype:
        description: Filesystem type (V(xfs) or V(ext4)).
        type: str
        required: true
      mount_opts:
        description: Mount options exactly as written to the fstab line (comma-separated).
        type: str
        required: true
      dump:
        description: fstab dump field.
        type: str
        default: "0"
      passno:
        description: fstab pass field.
        type: str
        default: "0"
      fstab:
        description: The fstab file.
        type: path
        default: /etc/fstab
      mount_point:
        description: Owner, group and mode (octal string) of the mount point.
        type: dict
        default: {owner: root, group: root, mode: "0755"}
      directories:
        description: Directories below O(mount_path) (C(path) relative, C(owner), C(group), C(mode) octal string).
        type: list
        elements: dict
        default: []
      packages:
        description: Packages that must be installed (checked with C(dpkg-query) or C(rpm -q)).
        type: list
        elements: str
        default: []
      grow:
        description: Also report a filesystem smaller than its device (the same test as community.general.filesystem).
        type: bool
        default: true
      mount_unit:
        description: The mount unit systemd generates for O(mount_path) from fstab (C(systemd-escape -p --suffix=mount)).
        type: str
      check_unit:
        description:
          - The role's boot check unit (C(name), C(content)); reported as drift when its file differs, it is not enabled
            for C(multi-user.target) or it is not active.
        type: dict
notes:
  - Supports check mode (it is read-only).
  - Never fails because a filesystem tool (C(xfs_info), C(tune2fs)) is missing, since the role installs it after the probe:
    the tool is named in RV(missing_tools) and RV(drift), and everything else is still reported.
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
drift:
  description: Differences between the host and O(desired); empty on a converged host.
  returned: when desired is given
  type: list
  elements: str
  sample: ["directory /data/cvat: mode 0700, want 0750", "fstab: no entry for /data"]
missing_tools:
  description: Tools the drift checks needed but did not find (their package is missing); the checks that needed them are drift.
  returned: when desired is given
  type: list
  elements: str
  sample: [xfs_info]
pkg_manager:
  description: V(dpkg), V(rpm) or empty, the package manager the package check used.
  returned: when desired is given
  type: str
fstab_reload_pending:
  description: The fstab was written after systemd last ran its generators (a daemon-reload was lost, e.g. a killed run).
  returned: when desired is given
  type: bool
"""

import grp
import json
import os
import pwd
import re
import stat
import time

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


def escape_fstab(value: str) -> str:
    """As ansible.posix.mount writes fstab fields."""
    return value.replace("\\", "\\134").replace(" ", "\\040").replace("&", "\\046")


def fstab_drift(text: str, want: list[str]) -> list[str]:
    """Compares the fstab lines for the mount point want[1] with `want` (src, path, fstype, opts, dump, passno) the way
    ansible.posix.mount does: every line for that mount point (4 to 6 fields) must equal want; at least one must exist."""
    found = 0
    drift = []
    for line in text.splitlines():
        fields = line.split("#")[0].split()
        if not line.strip() or line.strip().startswith("#") or len(fields) not in (4, 5, 6) or fields[1] != want[1]:
            continue
        found += 1
        if fields != want:
            drift.append("fstab: %r differs from %r" % (" ".join(fields), " ".join(want)))
    if not found:
        drift.append("fstab: no entry for %s" % want[1])
    return drift


def owner_matches(want, have_id: int, lookup) -> bool:
    want = str(want)
    if want.isdigit():
        return int(want) == have_id
    try:
        return lookup(have_id) == want
    except KeyError:
        return False


def dir_drift(path: str, owner, group, mode) -> list[str]:
    """ansible.builtin.file state=directory would change nothing: a directory (not a symlink) with this owner, group
    and mode."""
    try:
        st = os.lstat(path)
    except OSError:
        return ["directory %s: missing" % path]
    if not stat.S_ISDIR(st.st_mode):
        return ["directory %s: not a directory" % path]
    drift = []
    if not owner_matches(owner, st.st_uid, lambda i: pwd.getpwuid(i).pw_name):
        drift.append("directory %s: owner uid %d, want %s" % (path, st.st_uid, owner))
    if not owner_matches(group, st.st_gid, lambda i: grp.getgrgid(i).gr_name):
        drift.append("directory %s: group gid %d, want %s" % (path, st.st_gid, group))
    if stat.S_IMODE(st.st_mode) != int(str(mode), 8):
        drift.append("directory %s: mode %04o, want %s" % (path, stat.S_IMODE(st.st_mode), mode))
    return drift


def parse_fs_size(fstype: str, out: str) -> int:
    """Filesystem size in bytes from `xfs_info` or `tune2fs -l` output (as community.general.filesystem parses it)."""
    if fstype == "xfs":
        size = count = None
        for line in out.splitlines():
            col = line.split("=")
            if col[0].strip() == "data" and len(col) > 3:
                if col[1].strip() == "bsize":
                    size = int(col[2].split()[0])
                if col[2].split()[1] == "blocks":
                    count = int(col[3].split(",")[0])
        if size is None or count is None:
            raise ValueError("no data bsize/blocks in xfs_info output")
        return size * count
    info = {}
    for line in out.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            info[key.strip()] = value.strip()
    try:
        return int(info["Block count"]) * int(info["Block size"])
    except (KeyError, ValueError):
        raise ValueError("no Block count/Block size in tune2fs -l output")


# community.general.filesystem leaves an xfs filesystem alone when it is less than 64 blocks smaller than the device
GROW_SLACK = {"xfs": 64 * 4096 - 1}


def pkg_manager(module) -> str:
    return "dpkg" if module.get_bin_path("dpkg-query") else "rpm" if module.get_bin_path("rpm") else ""


def packages_drift(module, packages: list[str]) -> list[str]:
    if not packages:
        return []
    dpkg = module.get_bin_path("dpkg-query")
    if dpkg:
        rc, out, err = module.run_command([dpkg, "-W", "-f=${db:Status-Abbrev} ${Package}\n"] + packages)
        installed = {ln.split()[-1].split(":")[0] for ln in out.splitlines() if ln.startswith("ii ")}
    else:
        rpm = module.get_bin_path("rpm")
        if not rpm:
            return ["packages: neither dpkg-query nor rpm found"]
        installed = {pkg for pkg in packages if module.run_command([rpm, "-q", pkg])[0] == 0}
    missing = [pkg for pkg in packages if pkg not in installed]
    return ["packages missing: %s" % ", ".join(missing)] if missing else []


def fstab_reload_pending(module, fstab: str, mount_unit: str | None) -> bool:
    """systemd has not read `fstab` since it was written (a daemon-reload was lost). Asks systemd itself: the mount
    unit generated from fstab needs a reload (NeedDaemonReload, any version), or fstab is newer than systemd's last
    unit load (UnitsLoadTimestampMonotonic, systemd >= 255: also catches an entry added and never loaded)."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return False
    rc, out, err = module.run_command([systemctl, "show", "-P", "UnitsLoadTimestampMonotonic"])
    out = out.strip()
    if rc == 0 and out.isdigit() and int(out) > 0 and written_after(fstab, int(out) / 1e6):
        return True
    if mount_unit:
        rc, out, err = module.run_command([systemctl, "show", "-P", "NeedDaemonReload", mount_unit])
        return rc == 0 and out.strip() == "yes"
    return False


def written_after(path: str, monotonic_ts: float | None) -> bool:
    """`path` was modified after the CLOCK_MONOTONIC instant `monotonic_ts` (mtime is wall-clock: converted)."""
    if monotonic_ts is None:
        return False
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return False
    return mtime - (time.time() - time.monotonic()) > monotonic_ts


def unit_drift(module, unit_dir: str, unit: dict) -> list[str]:
    """The check unit's file, its enablement (multi-user.target.wants link) and its state."""
    path = os.path.join(unit_dir, unit["name"])
    drift = []
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() != unit["content"]:
                drift.append("unit %s: content differs" % path)
        st = os.stat(path)
        if stat.S_IMODE(st.st_mode) != 0o644 or st.st_uid != 0 or st.st_gid != 0:
            drift.append("unit %s: mode %04o uid %d gid %d, want 0644 root root" % (path, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
    except OSError:
        return ["unit %s: missing" % path]
    if not os.path.exists(os.path.join(unit_dir, "multi-user.target.wants", unit["name"])):
        drift.append("unit %s: not enabled" % unit["name"])
    systemctl = module.get_bin_path("systemctl")
    if systemctl:
        rc, out, err = module.run_command([systemctl, "is-active", unit["name"]])
        if out.strip() != "active":
            drift.append("unit %s: %s, want active" % (unit["name"], out.strip() or "unknown"))
    return drift


def drift_of(module, p, result) -> list[str]:
    """Everything the role's change tasks would change on this host (read-only)."""
    want = p["desired"]
    result["missing_tools"] = []
    result["pkg_manager"] = pkg_manager(module)
    result["fstab_reload_pending"] = False
    drift = packages_drift(module, want["packages"])  # first: a fresh host (blank device) needs them too
    if result["content"] != "filesystem" or result["fstype"] != want["fstype"]:
        return drift + ["device: %s (%s), want a %s filesystem" % (result["content"], result["fstype"] or "no type", want["fstype"])]
    mount_path = os.path.normpath(p["mount_path"])
    try:
        with open(want["fstab"], encoding="utf-8") as f:
            fstab = f.read()
    except OSError:
        fstab = ""
    drift += fstab_drift(fstab, ["UUID=" + escape_fstab(result["uuid"]), escape_fstab(mount_path), escape_fstab(want["fstype"]),
                                 escape_fstab(want["mount_opts"]), want["dump"], want["passno"]])
    if result.get("mount_path_devno") != result["devno"]:
        drift.append("mount: %s is not mounted at %s" % (result["device"], mount_path))
        return drift  # the directories and the size are those of whatever is mounted there: the tasks decide
    if fstab_reload_pending(module, want["fstab"], want["mount_unit"]):
        result["fstab_reload_pending"] = True
        drift.append("systemd: %s changed after systemd last read it (daemon-reload pending)" % want["fstab"])
    if want["check_unit"]:
        drift += unit_drift(module, p["unit_dir"], want["check_unit"])
    if want["grow"]:
        tool = "xfs_info" if want["fstype"] == "xfs" else "tune2fs"
        tool_path = module.get_bin_path(tool)
        if not tool_path:
            # the role installs the tool after this probe: report it, never fail on it
            result["missing_tools"].append(tool)
            drift.append("grow: %s not found (package %s missing), filesystem size unknown"
                         % (tool, "xfsprogs" if tool == "xfs_info" else "e2fsprogs"))
            fs_size = None
        else:
            argv = [tool_path, mount_path] if tool == "xfs_info" else [tool_path, "-l", result["device"]]
            rc, out, err = module.run_command(argv, environ_update={"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"})
            try:
                fs_size = parse_fs_size(want["fstype"], out) if rc == 0 else -1
            except ValueError:
                fs_size = -1
        if fs_size is not None and fs_size < 0:
            drift.append("grow: could not read the filesystem size (%s)" % " ".join(argv))
        elif fs_size is not None and fs_size + GROW_SLACK.get(want["fstype"], 0) < result["size_bytes"]:
            drift.append("grow: filesystem %d bytes on a %d-byte device" % (fs_size, result["size_bytes"]))
    mp = want["mount_point"] or {}
    drift += dir_drift(mount_path, mp.get("owner", "root"), mp.get("group", "root"), mp.get("mode", "0755"))
    for d in want["directories"]:
        drift += dir_drift(os.path.join(mount_path, d["path"]), d.get("owner", "root"), d.get("group", "root"), d["mode"])
    return drift


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
            desired=dict(type="dict", options=dict(
                fstype=dict(type="str", required=True),
                mount_opts=dict(type="str", required=True),
                dump=dict(type="str", default="0"),
                passno=dict(type="str", default="0"),
                fstab=dict(type="path", default="/etc/fstab"),
                mount_point=dict(type="dict", default={"owner": "root", "group": "root", "mode": "0755"}),
                directories=dict(type="list", elements="dict", default=[]),
                packages=dict(type="list", elements="str", default=[]),
                grow=dict(type="bool", default=True),
                mount_unit=dict(type="str"),
                check_unit=dict(type="dict", options=dict(name=dict(type="str", required=True),
                                                          content=dict(type="str", required=True))),
            )),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
        ),
        required_one_of=[("volume_id", "device")],
        required_by={"desired": "mount_path"},
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
    if p["desired"]:
        result["drift"] = drift_of(module, p, result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
