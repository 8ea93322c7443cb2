#!/usr/bin/env python3
"""Benchmark of the cvat_seed role: 1,000 members and 100 projects seeded into the CVAT API stand-in.

Measures API calls (by method) and wall-clock time of playbooks/seed.yml for a first run and a re-run, against a
naive one-request-per-object client in the same run (per object: a filtered GET, then a POST when missing; labels
and quality settings read per project), on fresh stand-ins. Prints numbers and ratios; asserts nothing about time.
The stand-in answers in microseconds, so API-call counts are the portable number: on a real CVAT each call costs
tens of milliseconds (auth, OPA, database).
Usage: .venv/bin/python benchmarks/seed.py [--members 1000] [--projects 100]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from cvat_standin.harness import ADMIN, ADMIN_PASSWORD, Standin, base_vars, write_inventory  # noqa: E402

ROLES = ["annotator", "annotator", "annotator", "quality_analyst", "operations_manager"]


def inventory(n_members: int, n_projects: int) -> dict:
    members = [{"username": f"user{i:04d}", "email": f"user{i:04d}@example.com", "role": ROLES[i % len(ROLES)],
                "kind": "contractor" if ROLES[i % len(ROLES)] == "annotator" and i % 2 else "employee"}
               for i in range(n_members)]
    projects = [{"name": f"Project {i:03d}", "labels": [
        {"name": "car", "type": "rectangle"}, {"name": "pedestrian", "type": "polygon"},
        {"name": "traffic_light", "type": "rectangle", "attributes": [
            {"name": "state", "input_type": "select", "mutable": False, "values": ["red", "yellow", "green"]}]}]}
        for i in range(n_projects)]
    return {"cvat_seed_organization": {"slug": "bench", "name": "Benchmark"}, "cvat_seed_members": members,
            "cvat_seed_projects": projects}


def run_role(standin: Standin, tmp: Path, inv: dict) -> tuple[float, dict]:
    hv = base_vars(standin, tmp, sys.executable)
    hv.update(inv)
    path = write_inventory(tmp / "inventory.yml", hv)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    standin.reset_stats()
    t = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(path), str(ROOT / "playbooks/seed.yml")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode:
        sys.exit(proc.stdout[-3000:])
    return elapsed, standin.stats()


class Naive:
    """One request per object: what a simple script (or a loop of per-object module calls) does."""

    def __init__(self, url: str):
        self.url = url
        body = self.call("POST", "/api/auth/login", {"username": ADMIN, "password": ADMIN_PASSWORD}, auth=False)
        self.token = body["key"]

    def call(self, method, path, body=None, params=None, auth=True, org=None):
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        # CVAT renders only its vendor media type (406 for application/json)
        headers = {"Content-Type": "application/json", "Accept": "application/vnd.cvat+json"}
        if auth:
            headers["Authorization"] = "Token " + self.token
        if org:
            headers["X-Organization"] = org
        req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method, headers=headers)
        with urllib.request.urlopen(req) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def seed(self, inv):
        slug = inv["cvat_seed_organization"]["slug"]
        if not self.call("GET", "/api/organizations", params={"slug": slug})["results"]:
            self.call("POST", "/api/organizations", {"slug": slug})
        for m in inv["cvat_seed_members"]:
            if not self.call("GET", "/api/users", params={"username": m["username"]})["results"]:
                self.call("POST", "/api/auth/register", {"username": m["username"], "email": m["email"],
                                                         "password1": "x-Pw-12345-long", "password2": "x-Pw-12345-long"})
            role = {"annotator": "worker", "quality_analyst": "supervisor", "operations_manager": "maintainer"}[m["role"]]
            found = self.call("GET", "/api/memberships", params={"user": m["username"]}, org=slug)["results"]
            if not found:
                self.call("POST", "/api/invitations", {"role": role, "email": m["email"]}, org=slug)
            elif found[0]["role"] != role:
                self.call("PATCH", f"/api/memberships/{found[0]['id']}", {"role": role}, org=slug)
        for p in inv["cvat_seed_projects"]:
            found = self.call("GET", "/api/projects", params={"name": p["name"]}, org=slug)["results"]
            if not found:
                self.call("POST", "/api/projects", {"name": p["name"], "labels": p["labels"]}, org=slug)
            else:
                self.call("GET", "/api/labels", params={"project_id": found[0]["id"]}, org=slug)
                self.call("GET", "/api/quality/settings", params={"project_id": found[0]["id"]}, org=slug)


def fmt(stats: dict) -> str:
    calls = {k: stats.get(k, 0) for k in ("GET", "POST", "PATCH", "DELETE")}
    return f"{sum(calls.values()):6d} calls ({', '.join(f'{k} {v}' for k, v in calls.items())})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--projects", type=int, default=100)
    args = ap.parse_args()
    inv = inventory(args.members, args.projects)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ours = Standin()
        t1, s1 = run_role(ours, tmp, inv)
        t2, s2 = run_role(ours, tmp, inv)
        ours.close()
    naive_srv = Standin()
    naive_srv.reset_stats()
    t = time.perf_counter()
    Naive(naive_srv.url).seed(inv)
    n1 = time.perf_counter() - t
    ns1 = naive_srv.stats()
    naive_srv.reset_stats()
    t = time.perf_counter()
    Naive(naive_srv.url).seed(inv)
    n2 = time.perf_counter() - t
    ns2 = naive_srv.stats()
    naive_srv.close()
    total = lambda s: sum(s.get(k, 0) for k in ("GET", "POST", "PATCH", "DELETE"))  # noqa: E731
    print(f"cvat_seed benchmark: {args.members} members, {args.projects} projects (CVAT API stand-in on 127.0.0.1)")
    print(f"role  first run : {fmt(s1)}  {t1:7.2f} s (ansible-playbook incl. ~start-up)")
    print(f"role  re-run    : {fmt(s2)}  {t2:7.2f} s  writes={s2['writes']}")
    print(f"naive first run : {fmt(ns1)}  {n1:7.2f} s (client in-process, no ansible start-up)")
    print(f"naive re-run    : {fmt(ns2)}  {n2:7.2f} s  writes={ns2['writes'] - ns2.get('POST /api/auth/login', 0)} (+1 login)")
    print(f"ratio re-run API calls naive/role : {total(ns2) / max(total(s2), 1):.1f}x fewer calls with the role")
    print(f"ratio first-run API calls naive/role: {total(ns1) / max(total(s1), 1):.2f}x")
    lat = 0.02
    print(f"projected re-run on a CVAT answering in {lat * 1000:.0f} ms/call: role {total(s2) * lat:.1f} s of API time, "
          f"naive {total(ns2) * lat:.1f} s ({total(ns2) / max(total(s2), 1):.0f}x)")
    print(f"re-run: role writes {s2['writes']} (target 0), role GETs {s2.get('GET', 0)} (paginated reads only)")


if __name__ == "__main__":
    main()
