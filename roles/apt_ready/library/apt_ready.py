#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Makes apt usable before an install: waits for the dpkg lock, finishes an interrupted dpkg run, refreshes stale lists."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: apt_ready
short_description: Wait for the dpkg lock, recover an interrupted dpkg, refresh stale apt lists
description:
  - Waits up to O(lock_timeout) seconds for the dpkg frontend lock and the dpkg lock (held, for example, by an
    C(apt-get) orphaned when C(ansible-playbook) was killed), taking them the way apt does (C(fcntl) locks).
  - When dpkg was interrupted (journal files in C(/var/lib/dpkg/updates)) or left packages half-installed or
    half-configured (C(dpkg --audit) reports them), runs C(dpkg --configure -a) under the frontend lock.
  - Runs C(apt-get update) when the package lists are missing, older than O(cache_valid_time), or when a package
    of O(packages) that is not installed has no install candidate (lists emptied or from another release).
version_added: "1.0.0"
author: CVAT on AWS project
options:
  lock_timeout:
    description: Seconds to wait for the dpkg locks before failing.
    type: int
    default: 600
  cache_valid_time:
    description: Lists older than this many seconds are refreshed (the age apt's update stamp tells, as the apt module reads it).
    type: int
    default: 86400
  packages:
    description:
      - Packages about to be installed; a missing install candidate for one that is not installed forces a refresh.
      - When all of them are installed already, the lists are not refreshed (unless O(force_update)).
    type: list
    elements: str
    default: []
  force_update:
    description: Refresh the lists whatever their age (an apt source was just added or changed).
    type: bool
    default: false
  admin_dir:
    description: dpkg's database directory.
    type: path
    default: /var/lib/dpkg
  lists_dir:
    description: apt's lists directory.
    type: path
    default: /var/lib/apt/lists
notes:
  - Check mode reports what would be done (recovery, refresh) without doing it; it does not wait for the lock.
"""

EXAMPLES = r"""
- name: Make apt usable before installing xfsprogs
  apt_ready:
    packages: [xfsprogs]
    lock_timeout: 600
"""

RETURN = r"""
waited:
  description: Seconds spent waiting for the dpkg locks.
  returned: always
  type: float
dpkg_recovered:
  description: Whether C(dpkg --configure -a) ran (or would run, in check mode).
  returned: always
  type: bool
lists_refreshed:
  description: Whether C(apt-get update) ran (or would run, in check mode).
  returned: always
  type: bool
reasons:
  description: Why the recovery and/or the refresh were needed.
  returned: always
  type: list
  elements: str
"""

import errno
import fcntl
import glob
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

NOTHING = ("(none)", "(none)")
ENV = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C", "DEBIAN_FRONTEND": "noninteractive"}


def try_lock(path: str):
    """An open fd holding an exclusive fcntl lock on `path` (as apt and dpkg lock), or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EACCES, errno.EAGAIN):
            return None
        raise


def wait_lock(path: str, deadline: float, sleep=time.sleep, clock=time.monotonic):
    """Waits until `path` can be locked; returns the fd, or None at the deadline."""
    while True:
        fd = try_lock(path)
        if fd is not None or clock() >= deadline:
            return fd
        sleep(1)


def interrupted(admin_dir: str) -> bool:
    """dpkg's own test for 'dpkg was interrupted': journal files (digits only) in <admin_dir>/updates."""
    try:
        return any(re.match(r"^[0-9]+$", n) for n in os.listdir(os.path.join(admin_dir, "updates")))
    except OSError:
        return False


def parse_policy(out: str) -> dict[str, tuple[str, str]]:
    """{package: (installed, candidate)} from `apt-cache policy` output; unknown packages are absent."""
    result, pkg = {}, None
    for line in out.splitlines():
        m = re.match(r"^(\S+):$", line)
        if m:
            pkg = m.group(1).split(":")[0]
            result[pkg] = ("(none)", "(none)")
            continue
        m = re.match(r"^\s+(Installed|Candidate):\s*(\S+)", line)
        if m and pkg:
            inst, cand = result[pkg]
            result[pkg] = (m.group(2), cand) if m.group(1) == "Installed" else (inst, m.group(2))
    return result


def uninstallable(policy: dict[str, tuple[str, str]], packages: list[str]) -> list[str]:
    """Packages that are not installed and have no candidate in the current lists."""
    return [p for p in packages if policy.get(p, NOTHING) == NOTHING]


def lists_age(lists_dir: str, now: float) -> float | None:
    """Age of the lists as the apt module reads it (apt's update-success-stamp, else the lists directory); None: no lists."""
    if not glob.glob(os.path.join(lists_dir, "*_Packages*")):
        return None
    stamp = "/var/lib/apt/periodic/update-success-stamp"
    path = stamp if os.path.exists(stamp) else lists_dir
    return now - os.stat(path).st_mtime


def main():
    module = AnsibleModule(
        argument_spec=dict(
            lock_timeout=dict(type="int", default=600),
            cache_valid_time=dict(type="int", default=86400),
            packages=dict(type="list", elements="str", default=[]),
            force_update=dict(type="bool", default=False),
            admin_dir=dict(type="path", default="/var/lib/dpkg"),
            lists_dir=dict(type="path", default="/var/lib/apt/lists"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, waited=0.0, dpkg_recovered=False, lists_refreshed=False, reasons=[])
    dpkg = module.get_bin_path("dpkg")
    if not dpkg:
        module.exit_json(msg="no dpkg on this host: nothing to do", **result)

    # 1. dpkg interrupted or packages half-installed/half-configured?
    broken = []
    if interrupted(p["admin_dir"]):
        broken.append("dpkg was interrupted (journal in %s/updates)" % p["admin_dir"])
    rc, out, err = module.run_command([dpkg, "--audit"], environ_update=ENV)
    if out.strip():
        broken.append("dpkg --audit: " + " ".join(out.split())[:300])

    if broken:
        result["reasons"] += broken
        result["dpkg_recovered"] = result["changed"] = True
        if not module.check_mode:
            start = time.monotonic()
            deadline = start + p["lock_timeout"]
            front = wait_lock(os.path.join(p["admin_dir"], "lock-frontend"), deadline)
            if front is None:
                module.fail_json(msg="the dpkg frontend lock %s/lock-frontend is still held after %d s (apt_ready_lock_timeout);"
                                     " another apt/dpkg is running: %s" % (p["admin_dir"], p["lock_timeout"], "; ".join(broken)), **result)
            try:
                inner = wait_lock(os.path.join(p["admin_dir"], "lock"), deadline)
                if inner is None:
                    module.fail_json(msg="the dpkg lock %s/lock is still held after %d s (apt_ready_lock_timeout)"
                                         % (p["admin_dir"], p["lock_timeout"]), **result)
                os.close(inner)  # dpkg takes it itself; we keep the frontend lock, as apt does (DPKG_FRONTEND_LOCKED)
                result["waited"] = round(time.monotonic() - start, 1)
                rc, out, err = module.run_command(
                    [dpkg, "--configure", "-a", "--force-confdef", "--force-confold"],
                    environ_update=dict(ENV, DPKG_FRONTEND_LOCKED="1"))
                if rc != 0:
                    module.fail_json(msg="dpkg --configure -a failed (rc %d): %s" % (rc, (err or out).strip()[-800:]), **result)
            finally:
                os.close(front)

    # 2. lists missing, stale, or without a candidate for a package to install? (nothing to install: no refresh)
    refresh = []
    policy = {}
    if p["packages"]:
        apt_cache = module.get_bin_path("apt-cache", required=True)
        rc, out, err = module.run_command([apt_cache, "policy"] + p["packages"], environ_update=ENV)
        policy = parse_policy(out)
    to_install = [pkg for pkg in p["packages"] if policy.get(pkg, NOTHING)[0] == "(none)"]
    if p["force_update"]:
        refresh.append("forced (an apt source changed)")
    elif to_install or not p["packages"]:
        age = lists_age(p["lists_dir"], time.time())
        missing = uninstallable(policy, p["packages"])
        if age is None:
            refresh.append("no package lists in %s" % p["lists_dir"])
        elif age > p["cache_valid_time"]:
            refresh.append("lists are %d s old (apt_ready_cache_valid_time %d s)" % (age, p["cache_valid_time"]))
        elif missing:
            refresh.append("no install candidate for %s" % ", ".join(missing))
    if refresh:
        result["reasons"] += refresh
        result["lists_refreshed"] = result["changed"] = True
        if not module.check_mode:
            apt_get = module.get_bin_path("apt-get", required=True)
            rc, out, err = module.run_command(
                [apt_get, "-q", "-o", "DPkg::Lock::Timeout=%d" % p["lock_timeout"], "update"], environ_update=ENV)
            if rc != 0:
                module.fail_json(msg="apt-get update failed (rc %d): %s" % (rc, (err or out).strip()[-800:]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
