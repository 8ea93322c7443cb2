"""Unit tests of the apt_ready role's module (roles/apt_ready/library/apt_ready.py): apt-cache policy parsing,
dpkg's 'interrupted' test, the fcntl lock wait against a lock held by another process, and the lists' age.
A real dpkg/apt on a host is exercised by molecule/data_volume (lock held 90 s, half-configured package, empty lists)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("apt_ready", ROOT / "roles/apt_ready/library/apt_ready.py")
ar = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ar)

POLICY = """xfsprogs:
  Installed: (none)
  Candidate: 6.13.0-2+deb13u1
  Version table:
     6.13.0-2+deb13u1 500
        500 http://deb.debian.org/debian trixie/main amd64 Packages
util-linux:
  Installed: 2.41.5-0+deb13u1
  Candidate: 2.41.5-0+deb13u1
docker.io:
  Installed: (none)
  Candidate: (none)
"""


def test_parse_policy_and_uninstallable():
    policy = ar.parse_policy(POLICY)
    assert policy["xfsprogs"] == ("(none)", "6.13.0-2+deb13u1")
    assert policy["util-linux"] == ("2.41.5-0+deb13u1", "2.41.5-0+deb13u1")
    # unknown to apt (empty lists): no block at all; known without a candidate: (none)
    assert ar.uninstallable(policy, ["xfsprogs", "util-linux", "docker.io", "nosuchpkg"]) == ["docker.io", "nosuchpkg"]
    assert ar.uninstallable(ar.parse_policy(""), ["xfsprogs"]) == ["xfsprogs"]


def test_interrupted(tmp_path):
    (tmp_path / "updates").mkdir()
    assert not ar.interrupted(str(tmp_path))
    (tmp_path / "updates" / "tmp.i").write_text("")
    assert not ar.interrupted(str(tmp_path))  # dpkg's temporary file is not a journal entry
    (tmp_path / "updates" / "0001").write_text("")
    assert ar.interrupted(str(tmp_path))
    assert not ar.interrupted(str(tmp_path / "missing"))


def test_wait_lock_waits_for_another_process(tmp_path):
    lock = tmp_path / "lock-frontend"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        "f = open(sys.argv[1], 'w'); fcntl.lockf(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True); time.sleep(float(sys.argv[2]))"), str(lock), "2"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert ar.try_lock(str(lock)) is None  # apt's kind of lock (fcntl), held elsewhere
        start = time.monotonic()
        assert ar.wait_lock(str(lock), time.monotonic() + 0.5) is None  # gives up at the deadline
        fd = ar.wait_lock(str(lock), time.monotonic() + 30)
        assert fd is not None and time.monotonic() - start >= 1.5  # got it once the holder exited
        os.close(fd)
    finally:
        holder.kill()
        holder.wait()


def test_lists_age(tmp_path):
    assert ar.lists_age(str(tmp_path), time.time()) is None  # no *_Packages file: no lists
    (tmp_path / "deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages").write_text("")
    old = time.time() - 7200
    os.utime(tmp_path, (old, old))
    if not os.path.exists("/var/lib/apt/periodic/update-success-stamp"):
        assert 7100 < ar.lists_age(str(tmp_path), time.time()) < 7300
