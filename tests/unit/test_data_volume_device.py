"""Unit tests of the data_volume role's read-only device module (roles/data_volume/library/data_volume_device.py).

They drive the lookup and classification logic with fake sysfs / by-id trees and recorded tool output:
the udev-less serial scan, the /dev/sdX -> /dev/xvdX rule, ambiguity and conflict errors, and the rule that
only a device without any signature counts as blank. Real devices are exercised by molecule/data_volume.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "data_volume_device", ROOT / "roles/data_volume/library/data_volume_device.py")
dvd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dvd)

VOL = "vol-0123456789abcdef0"
SERIAL = "vol0123456789abcdef0"


class FakeModule:
    """Stands in for AnsibleModule: lsblk answers with recorded JSON."""

    def __init__(self, lsblk_json: dict | None = None):
        self.lsblk_json = lsblk_json

    def get_bin_path(self, name):
        return "/usr/bin/lsblk" if self.lsblk_json is not None else None

    def run_command(self, argv):
        assert argv[0] == "/usr/bin/lsblk" and "-J" in argv
        return 0, json.dumps(self.lsblk_json), ""


def params(tmp_path: Path, **kw) -> dict:
    base = dict(volume_id=None, device=None, mount_path=None, by_id_dir=str(tmp_path / "by-id"),
                sys_block_dir=str(tmp_path / "sys"), dev_dir=str(tmp_path / "dev"), use_lsblk=True)
    base.update(kw)
    return base


def make_disk(tmp_path: Path, name: str, serial: str | None) -> Path:
    node = tmp_path / "dev" / name
    node.parent.mkdir(parents=True, exist_ok=True)
    node.write_text("")
    sysdir = tmp_path / "sys" / name / "device"
    sysdir.mkdir(parents=True, exist_ok=True)
    if serial is not None:
        (sysdir / "serial").write_text(serial + "    \n")  # NVMe pads the serial with spaces
    return node


def test_by_id_link_wins(tmp_path):
    node = make_disk(tmp_path, "nvme1n1", "something-else")
    (tmp_path / "by-id").mkdir()
    os.symlink(node, tmp_path / "by-id" / f"nvme-Amazon_Elastic_Block_Store_{SERIAL}")
    assert dvd.resolve(FakeModule(), params(tmp_path, volume_id=VOL)) == (str(node), "by-id link")


def test_serial_scan_without_udev_links(tmp_path):
    make_disk(tmp_path, "nvme0n1", "vol0ffffffffffffffff")
    node = make_disk(tmp_path, "nvme1n1", SERIAL)
    make_disk(tmp_path, "loop0", None)
    assert dvd.resolve(FakeModule(), params(tmp_path, volume_id=VOL)) == (str(node), "sysfs serial scan")


def test_lsblk_fallback(tmp_path):
    make_disk(tmp_path, "nvme1n1", None)
    lsblk = {"blockdevices": [{"name": "nvme1n1", "serial": SERIAL, "type": "disk", "path": "/dev/nvme1n1"},
                              {"name": "nvme1n1p1", "serial": SERIAL, "type": "part", "path": "/dev/nvme1n1p1"}]}
    assert dvd.resolve(FakeModule(lsblk), params(tmp_path, volume_id=VOL)) == ("/dev/nvme1n1", "lsblk serial scan")


def test_missing_volume_names_the_id(tmp_path):
    make_disk(tmp_path, "nvme1n1", "vol0ffffffffffffffff")
    with pytest.raises(dvd.LookupError_, match=f"{VOL} not found.*{SERIAL}"):
        dvd.resolve(FakeModule({"blockdevices": []}), params(tmp_path, volume_id=VOL))


def test_ambiguous_serial_fails(tmp_path):
    make_disk(tmp_path, "nvme1n1", SERIAL)
    make_disk(tmp_path, "nvme2n1", SERIAL)
    with pytest.raises(dvd.LookupError_, match="ambiguous.*nvme1n1.*nvme2n1"):
        dvd.resolve(FakeModule(), params(tmp_path, volume_id=VOL))


def test_xen_rename(tmp_path):
    node = make_disk(tmp_path, "xvdf", None)
    assert dvd.resolve(FakeModule(), params(tmp_path, device=str(tmp_path / "dev" / "sdf"))) == (
        str(node), "device name (Xen /dev/sdX -> /dev/xvdX)")
    assert dvd.xen_name("/dev/sdf") == "/dev/xvdf"
    assert dvd.xen_name("/dev/nvme1n1") is None
    assert dvd.xen_name("/dev/sdf1") is None


def test_existing_device_name_is_used_as_is(tmp_path):
    node = make_disk(tmp_path, "sdf", None)
    make_disk(tmp_path, "xvdf", None)
    assert dvd.resolve(FakeModule(), params(tmp_path, device=str(node))) == (str(node), "device name")


def test_device_missing_names_both_names(tmp_path):
    with pytest.raises(dvd.LookupError_, match="/dev/sdzz not found.*/dev/xvdzz"):
        dvd.resolve(FakeModule(), params(tmp_path, device="/dev/sdzz"))


def test_volume_and_device_disagree(tmp_path):
    node = make_disk(tmp_path, "nvme1n1", SERIAL)
    other = make_disk(tmp_path, "nvme2n1", None)
    with pytest.raises(dvd.LookupError_, match="ambiguous"):
        dvd.resolve(FakeModule(), params(tmp_path, volume_id=VOL, device=str(other)))
    assert dvd.resolve(FakeModule(), params(tmp_path, volume_id=VOL, device=str(node)))[0] == str(node)


@pytest.mark.parametrize("blkid,sigs,expected", [
    ({}, [], "blank"),
    ({"TYPE": "xfs", "UUID": "u", "USAGE": "filesystem"}, ["xfs"], "filesystem"),
    ({"TYPE": "ext4", "UUID": "u", "USAGE": "filesystem"}, ["ext4"], "filesystem"),
    ({"PTTYPE": "gpt", "PTUUID": "p"}, ["gpt", "PMBR"], "other"),  # partition table, no filesystem
    ({}, ["dos"], "other"),  # wipefs sees a signature blkid -p did not report
    ({"TYPE": "xfs", "USAGE": "filesystem"}, ["xfs", "gpt"], "other"),
    ({"TYPE": "LVM2_member", "USAGE": "raid"}, ["LVM2_member"], "other"),
])
def test_only_signature_free_devices_are_blank(blkid, sigs, expected):
    assert dvd.classify(blkid, sigs) == expected


def test_parsers():
    assert dvd.parse_blkid_export("DEVNAME=/dev/x\nUUID=abc\nTYPE=xfs\n") == {"DEVNAME": "/dev/x", "UUID": "abc", "TYPE": "xfs"}
    out = json.dumps({"signatures": [{"device": "nvme1n1", "offset": "0x0", "type": "xfs", "uuid": "u", "label": None}]})
    assert dvd.parse_wipefs_json(out) == ["xfs"]
    assert dvd.parse_wipefs_json("") == []
    mountinfo = ("22 1 259:1 / / rw - ext4 /dev/root rw\n"
                 "59 67 7:0 / /data rw,relatime - xfs /dev/nvme1n1 rw\n"
                 "60 67 7:0 / /mnt/with\\040space rw - xfs /dev/nvme1n1 rw\n")
    assert dvd.mounts_by_devno(mountinfo) == {"259:1": ["/"], "7:0": ["/data", "/mnt/with space"]}


@pytest.mark.parametrize("vid,ok", [
    ("vol-0123456789abcdef0", True), ("vol-01234567", True), ("vol-0123456789ABCDEF0", False),
    ("vol-12345", False), ("vol-0123456789abcdef", False), ("0123456789abcdef0", False),
])
def test_volume_id_pattern(vid, ok):
    assert bool(dvd.VOLUME_ID_RE.match(vid)) is ok


# --- drift comparison (the role's fast path on a converged host): every difference must be reported ---

WANT = ["UUID=1234", "/data", "xfs", "defaults,noatime,nofail,x-systemd.device-timeout=30s", "0", "0"]


def test_fstab_drift_none_when_the_line_matches():
    text = "# comment\nUUID=abcd / ext4 defaults 0 1\n" + " ".join(WANT) + "\n"
    assert dvd.fstab_drift(text, WANT) == []


@pytest.mark.parametrize("text, expect", [
    ("UUID=abcd / ext4 defaults 0 1\n", "no entry for /data"),
    ("#" + " ".join(WANT) + "\n", "no entry for /data"),
    (" ".join(WANT[:4]) + "\n", "differs"),  # dump/passno missing: ansible.posix.mount rewrites the line
    (" ".join(WANT[:3] + ["defaults"] + WANT[4:]) + "\n", "differs"),
    (" ".join(["UUID=9999"] + WANT[1:]) + "\n", "differs"),
    (" ".join(WANT) + "\n" + " ".join(["/dev/sdz"] + WANT[1:]) + "\n", "differs"),  # a second line for the path
])
def test_fstab_drift_reports_every_difference(text, expect):
    drift = dvd.fstab_drift(text, WANT)
    assert len(drift) == 1 and expect in drift[0]


def test_dir_drift(tmp_path):
    d = tmp_path / "cvat"
    d.mkdir()
    os.chmod(d, 0o750)
    uid, gid = os.getuid(), os.getgid()
    assert dvd.dir_drift(str(d), str(uid), str(gid), "0750") == []
    assert dvd.dir_drift(str(d), str(uid), str(gid), "750") == []
    assert dvd.dir_drift(str(d), str(uid), str(gid), "0700") == ["directory %s: mode 0750, want 0700" % d]
    assert "owner" in dvd.dir_drift(str(d), str(uid + 1), str(gid), "0750")[0]
    assert "group" in dvd.dir_drift(str(d), str(uid), "no-such-group-x", "0750")[0]
    assert dvd.dir_drift(str(tmp_path / "missing"), "root", "root", "0750") == ["directory %s: missing" % (tmp_path / "missing")]
    (tmp_path / "link").symlink_to(d)
    assert "not a directory" in dvd.dir_drift(str(tmp_path / "link"), str(uid), str(gid), "0750")[0]


XFS_INFO = """meta-data=/dev/nvme1n1           isize=512    agcount=4, agsize=3932160 blks
         =                       sectsz=512   attr=2, projid32bit=1
data     =                       bsize=4096   blocks=15728640, imaxpct=25
         =                       sunit=0      swidth=0 blks
naming   =version 2              bsize=4096   ascii-ci=0, ftype=1
log      =internal log           bsize=4096   blocks=16384, version=2
"""


def test_parse_fs_size():
    assert dvd.parse_fs_size("xfs", XFS_INFO) == 15728640 * 4096
    assert dvd.parse_fs_size("ext4", "Block count:              262144\nBlock size:               4096\n") == 262144 * 4096
    with pytest.raises(ValueError):
        dvd.parse_fs_size("xfs", "naming =version 2 bsize=4096\n")
    with pytest.raises(ValueError):
        dvd.parse_fs_size("ext4", "Block size: 4096\n")


def test_escape_fstab_matches_ansible_posix_mount():
    assert dvd.escape_fstab("/mnt/a b&c\\d") == "/mnt/a\\040b\\046c\\134d"


class FakeDpkg:
    """Stands in for AnsibleModule: dpkg-query answers with a recorded status list."""

    def __init__(self, out: str):
        self.out = out

    def get_bin_path(self, name):
        return "/usr/bin/dpkg-query" if name == "dpkg-query" else None

    def run_command(self, argv):
        assert argv[0] == "/usr/bin/dpkg-query" and argv[-2:] == ["util-linux", "xfsprogs"]
        return (1 if "un " in self.out else 0), self.out, ""


def test_packages_drift():
    assert dvd.packages_drift(FakeDpkg("ii  util-linux\nii  xfsprogs\n"), ["util-linux", "xfsprogs"]) == []
    assert dvd.packages_drift(FakeDpkg("ii  util-linux\nun  xfsprogs\n"),
                              ["util-linux", "xfsprogs"]) == ["packages missing: xfsprogs"]
    assert dvd.packages_drift(FakeDpkg("ii  util-linux\nrc  xfsprogs\n"),
                              ["util-linux", "xfsprogs"]) == ["packages missing: xfsprogs"]


class ProbeHost:
    """Stands in for AnsibleModule on a host with the volume mounted: dpkg-query answers with `dpkg`, `bins` lists the
    tools present; get_bin_path(required=True) fails like AnsibleModule.fail_json (SystemExit) when a tool is missing."""

    def __init__(self, dpkg: str, bins: set[str], systemd: dict[tuple[str, ...], str] | None = None):
        self.dpkg, self.bins, self.systemd = dpkg, bins, systemd or {}

    def get_bin_path(self, name, required=False):
        if name in self.bins:
            return "/usr/bin/" + name
        if required:
            raise SystemExit("Failed to find required executable %r" % name)
        return None

    def run_command(self, argv, environ_update=None):
        name = os.path.basename(argv[0])
        if name == "dpkg-query":
            return 0, self.dpkg, ""
        if name == "xfs_info":
            return 0, XFS_INFO, ""
        if name == "systemctl":
            return 0, self.systemd.get(tuple(argv[1:]), ""), ""
        raise AssertionError(argv)


def probe_case(tmp_path: Path, fstab_line: str | None = None):
    mnt = tmp_path / "data"
    mnt.mkdir(mode=0o755)
    mnt.chmod(0o755)
    st = mnt.stat()
    fstab = tmp_path / "fstab"
    fstab.write_text((fstab_line or "UUID=u-1 %s xfs defaults 0 0" % mnt) + "\n")
    p = {"mount_path": str(mnt), "unit_dir": str(tmp_path / "units"), "desired": {
        "fstype": "xfs", "mount_opts": "defaults", "dump": "0", "passno": "0", "fstab": str(fstab),
        "mount_point": {"owner": str(st.st_uid), "group": str(st.st_gid), "mode": "0755"}, "directories": [],
        "packages": ["util-linux", "xfsprogs"], "grow": True, "mount_unit": "data.mount", "check_unit": None}}
    result = {"content": "filesystem", "fstype": "xfs", "uuid": "u-1", "devno": "259:1", "mount_path_devno": "259:1",
              "device": "/dev/nvme1n1", "size_bytes": 15728640 * 4096}
    return p, result, fstab


def test_probe_reports_a_missing_xfs_info_and_goes_on(tmp_path):
    """Issue 17: xfsprogs removed with the volume mounted; the probe must name the tool, not die on it."""
    p, result, _ = probe_case(tmp_path)
    host = ProbeHost("ii  util-linux\nun  xfsprogs\n", {"dpkg-query"})
    drift = dvd.drift_of(host, p, result)
    assert result["missing_tools"] == ["xfs_info"]
    assert result["pkg_manager"] == "dpkg"
    assert drift == ["packages missing: xfsprogs", "grow: xfs_info not found (package xfsprogs missing), filesystem size unknown"]


def test_probe_with_xfs_info_reads_the_size(tmp_path):
    p, result, _ = probe_case(tmp_path)
    host = ProbeHost("ii  util-linux\nii  xfsprogs\n", {"dpkg-query", "xfs_info"})
    assert dvd.drift_of(host, p, result) == []
    assert result["missing_tools"] == []


def test_written_after(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    import time
    now = time.monotonic()
    assert dvd.written_after(str(f), now - 5)
    assert not dvd.written_after(str(f), now + 5)
    assert not dvd.written_after(str(tmp_path / "missing"), now - 5)
    assert not dvd.written_after(str(f), None)


def test_fstab_reload_pending_from_systemd(tmp_path):
    """Issue 17: an fstab written after systemd's last unit load (a daemon-reload lost with a killed run) is drift."""
    import time
    long_ago = str(int(time.monotonic() * 1e6))  # systemd loaded its units before fstab was written
    time.sleep(0.05)
    p, result, fstab = probe_case(tmp_path)
    later = str(int((time.monotonic() + 3600) * 1e6))
    bins = {"dpkg-query", "xfs_info", "systemctl"}
    dpkg = "ii  util-linux\nii  xfsprogs\n"
    host = ProbeHost(dpkg, bins, {("show", "-P", "UnitsLoadTimestampMonotonic"): long_ago + "\n"})
    assert dvd.drift_of(host, p, result) == ["systemd: %s changed after systemd last read it (daemon-reload pending)" % fstab]
    assert result["fstab_reload_pending"] is True
    host = ProbeHost(dpkg, bins, {("show", "-P", "UnitsLoadTimestampMonotonic"): later + "\n"})
    assert dvd.drift_of(host, p, result) == [] and result["fstab_reload_pending"] is False
    # systemd < 255 has no UnitsLoadTimestamp: the mount unit's NeedDaemonReload decides
    host = ProbeHost(dpkg, bins, {("show", "-P", "NeedDaemonReload", "data.mount"): "yes\n"})
    assert len(dvd.drift_of(host, p, result)) == 1
    host = ProbeHost(dpkg, bins, {("show", "-P", "NeedDaemonReload", "data.mount"): "no\n"})
    assert dvd.drift_of(host, p, result) == []


def test_check_unit_drift(tmp_path):
    """The boot check unit: content, enablement and state are drift like any other managed item."""
    p, result, _ = probe_case(tmp_path)
    units = tmp_path / "units"
    p["desired"]["check_unit"] = {"name": "data-volume-mounted.service", "content": "[Unit]\n"}
    bins = {"dpkg-query", "xfs_info", "systemctl"}
    dpkg = "ii  util-linux\nii  xfsprogs\n"
    active = {("is-active", "data-volume-mounted.service"): "active\n"}
    assert dvd.drift_of(ProbeHost(dpkg, bins, active), p, result) == ["unit %s/data-volume-mounted.service: missing" % units]
    (units / "multi-user.target.wants").mkdir(parents=True)
    unit = units / "data-volume-mounted.service"
    unit.write_text("[Unit]\n")
    unit.chmod(0o644)
    if os.geteuid() != 0:
        pytest.skip("the unit's owner check needs root")
    assert dvd.drift_of(ProbeHost(dpkg, bins, active), p, result) == ["unit data-volume-mounted.service: not enabled"]
    (units / "multi-user.target.wants" / "data-volume-mounted.service").symlink_to(unit)
    assert dvd.drift_of(ProbeHost(dpkg, bins, active), p, result) == []
    failed = {("is-active", "data-volume-mounted.service"): "failed\n"}
    assert dvd.drift_of(ProbeHost(dpkg, bins, failed), p, result) == ["unit data-volume-mounted.service: failed, want active"]
    unit.write_text("[Unit]\nchanged\n")
    assert dvd.drift_of(ProbeHost(dpkg, bins, active), p, result) == ["unit %s: content differs" % unit]


def test_blank_device_still_reports_missing_packages(tmp_path):
    """A fresh host (blank device) installs the tools too: the missing package is drift, so apt_ready runs first."""
    p, result, _ = probe_case(tmp_path)
    result.update(content="blank", fstype="", uuid="")
    host = ProbeHost("ii  util-linux\nun  xfsprogs\n", {"dpkg-query"})
    assert dvd.drift_of(host, p, result) == ["packages missing: xfsprogs", "device: blank (no type), want a xfs filesystem"]
