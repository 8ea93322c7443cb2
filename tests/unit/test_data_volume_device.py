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
