"""Role cvat_serverless run for real (`ansible-playbook -c local`) against a temporary root, with a nuctl STAND-IN.

What runs for real: the role's validation, GPU preflight probes, nuctl download with get_url from a local HTTP
server on 127.0.0.1 (operator checksum, or trust on first use with its record on the controller side), the
fetch of the function sources BY COMMIT with real git from a LOCAL fixture repository (file://, our own commits:
the function directories of the upstream snapshot at v2.73.0 / v2.51.0 when it is on this machine, else minimal
stand-in trees), the commit/clean-tree verification, the digest logic and the exact `nuctl` command lines.

The `nuctl-standin` (NUCTL_STANDIN below) records its argv and keeps a JSON state file so that
`nuctl get function NAME -o json` returns what was "deployed", labels included. It does NOT prove: that a real
nuctl accepts these arguments or builds the images, that the functions serve inference, that the Nuclio dashboard
API or CVAT sees them, that GitHub serves the pinned commits (the real ids are checked against the upstream
snapshot in tests/unit/test_serverless_catalog.py), and the dashboard check (`cvat_serverless_verify_dashboard:
false`; the cvat role's scenario owns the running stack).
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from conftest import ROOT, run_playbook

MIRROR = Path("/work/.mirror/Christanding+cvat-yolo26-annotation-tool/repo")
SAM_DIR = "serverless/pytorch/facebookresearch/sam/nuclio"
DEXTR_DIR = "serverless/openvino/dextr/nuclio"
OV_BASE_DIR = "serverless/openvino/base"
TAGS = {"v2.73.0": ("ac6e63b", [SAM_DIR]), "v2.51.0": ("dfd505e", [DEXTR_DIR, OV_BASE_DIR])}

NUCTL_STANDIN = r'''#!/usr/bin/env python3
"""nuctl-standin: records argv (JSON lines in nuctl-standin.log beside itself) and keeps deployed projects and
functions in nuctl-standin-state.json. Builds nothing, runs nothing; only argument shapes and state."""
import json, os, re, sys
here = os.path.dirname(os.path.realpath(sys.argv[0]))
log, state_file = os.path.join(here, "nuctl-standin.log"), os.path.join(here, "nuctl-standin-state.json")
args = sys.argv[1:]
with open(log, "a") as f:
    f.write(json.dumps(args) + "\n")
state = json.load(open(state_file)) if os.path.exists(state_file) else {"projects": [], "functions": {}}
def save():
    json.dump(state, open(state_file, "w"), indent=1)
def opt(name, multi=False):
    vals = [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]
    return vals if multi else (vals[-1] if vals else None)
def die(msg):
    sys.stderr.write(msg + "\n"); sys.exit(1)
if opt("--platform") != "local":
    die("standin: --platform local expected")
if args[:2] == ["create", "project"]:
    if args[2] in state["projects"]:
        die("project already exists")
    state["projects"].append(args[2]); save()
elif args[:2] == ["get", "project"]:
    if args[2] not in state["projects"]:
        die("No projects found (not found)")
    print(args[2])
elif args[:2] == ["get", "function"]:
    fn = state["functions"].get(args[2])
    if fn is None:
        die("No functions found (not found)")
    print(json.dumps({"metadata": {"name": args[2], "labels": fn["labels"]}, "spec": {}, "status": {"state": "ready"}}))
elif args[:1] == ["deploy"]:
    path, file = opt("--path"), opt("--file")
    if not os.path.isdir(path) or not os.path.isfile(file):
        die("standin: --path/--file missing")
    if opt("--project-name") not in state["projects"]:
        die("standin: project does not exist")
    m = re.search(r"^metadata:\s*\n\s+name:\s*(\S+)", open(file).read(), re.M)
    labels = dict(kv.split("=", 1) for lbl in opt("--labels", True) for kv in lbl.split(","))
    labels["nuclio.io/project-name"] = opt("--project-name")
    state["functions"][m.group(1)] = {"labels": labels, "path": path, "file": file,
                                      "env": opt("--env", True), "platform_config": opt("--platform-config")}
    save()
else:
    die("standin: unsupported command " + " ".join(args))
'''


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "fixture", "GIT_AUTHOR_EMAIL": "fixture@example.invalid",
           "GIT_COMMITTER_NAME": "fixture", "GIT_COMMITTER_EMAIL": "fixture@example.invalid"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def build_tree(tag: str, dest: Path) -> None:
    """The function directories of `tag`: from the upstream snapshot, else minimal stand-in files."""
    commit, paths = TAGS[tag]
    dest.mkdir(parents=True, exist_ok=True)
    if MIRROR.exists():
        data = subprocess.run(["git", f"--git-dir={MIRROR}", "archive", "--format=tar", commit, *paths],
                              check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            t.extractall(dest, filter="data")
        return
    for p in paths:  # stand-in trees (no upstream snapshot on this machine)
        (dest / p).mkdir(parents=True)
        name = {SAM_DIR: "pth-facebookresearch-sam-vit-h", DEXTR_DIR: "openvino-dextr"}.get(p)
        if name:
            (dest / p / "function.yaml").write_text(f"metadata:\n  name: {name}\n")
            (dest / p / "main.py").write_text("def handler(context, event):\n    pass\n")
        if p == SAM_DIR:
            (dest / p / "function-gpu.yaml").write_text(f"metadata:\n  name: {name}\n")
        if p == OV_BASE_DIR:
            (dest / p / "Dockerfile").write_text("FROM scratch\n")


class Bed:
    """A local HTTP server's document root (nuctl stand-in) and a local git repository (function sources), both
    fixtures of our own; the role fetches from file://<repo>."""

    def __init__(self, tmp: Path, port: int):
        self.tmp, self.port = tmp, port
        self.www, self.repo = tmp / "www", tmp / "upstream.git"
        self.root, self.bin = tmp / "opt" / "cvat-serverless", tmp / "bin"
        self.inventory = tmp / "inventory"
        self.www.mkdir()
        self.bin.mkdir()
        self.inventory.mkdir()
        (self.inventory / "hosts.yml").write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
        (self.www / "nuctl-standin").write_text(NUCTL_STANDIN)
        git("init", "-q", "-b", "main", str(self.repo))
        git("config", "uploadpack.allowFilter", "true", cwd=self.repo)  # as GitHub: partial clone served
        self.commits = {}
        # two unrelated histories, one per tag, like the release merges upstream: each commit holds its tree
        for tag in TAGS:
            git("checkout", "-q", "--orphan", f"release-{tag}", cwd=self.repo)
            git("rm", "-rqf", "--ignore-unmatch", ".", cwd=self.repo)
            build_tree(tag, self.repo)
            self.commit(tag, f"release {tag}")
        git("checkout", "-q", "release-v2.73.0", cwd=self.repo)

    def commit(self, tag: str, message: str) -> str:
        git("add", "-A", ".", cwd=self.repo)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.repo)
        self.commits[tag] = git("rev-parse", "HEAD", cwd=self.repo)
        return self.commits[tag]

    @property
    def trust_file(self) -> Path:
        return self.inventory / "trusted-checksums" / "nuctl-1.16.3-linux-amd64.sha256"

    @property
    def log(self) -> list[list[str]]:
        f = self.bin / "nuctl-standin.log"
        return [json.loads(line) for line in f.read_text().splitlines()] if f.exists() else []

    def vars(self, **over) -> dict:
        v = {
            "ansible_python_interpreter": sys.executable,
            "cvat_version": "v2.73.0",
            "cvat_serverless_nuctl_url": f"http://127.0.0.1:{self.port}/nuctl-standin",
            "cvat_serverless_nuctl_path": str(self.bin / "nuctl"),
            "cvat_serverless_root": str(self.root),
            "cvat_serverless_source_repo_url": f"file://{self.repo}",
            "cvat_serverless_source_commits": dict(self.commits),
            "cvat_serverless_build_base_images": False,
            "cvat_serverless_verify_dashboard": False,
            "cvat_serverless_deploy_poll_interval": 1,
        }
        v.update(over)
        return {k: val for k, val in v.items() if val is not None}  # None: leave the variable to the var files

    def run(self, *extra: str, check: bool = True, var_files: tuple[Path, ...] = (), **over) -> subprocess.CompletedProcess:
        vf = self.tmp / "vars.json"
        vf.write_text(json.dumps(self.vars(**over)))
        pb = self.tmp / "play.yml"
        pb.write_text("- name: cvat_serverless under test\n  hosts: localhost\n  connection: local\n"
                      "  gather_facts: false\n  roles: [cvat_serverless]\n")
        files = [a for f in var_files for a in ("-e", f"@{f}")]
        return run_playbook(pb, *files, "-e", f"@{vf}", *extra, inventory=str(self.inventory / "hosts.yml"),
                            check=check,
                            env={"ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
                                 "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-tmp"),
                                 "ANSIBLE_PIPELINING": "True"})


def recap(proc: subprocess.CompletedProcess) -> dict[str, int]:
    m = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert m, proc.stdout[-3000:]
    return dict(zip(["ok", "changed", "unreachable", "failed"], map(int, m.groups())))


@pytest.fixture()
def bed(tmp_path: Path):
    bed_dir = tmp_path
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(bed_dir / "www"))
    (bed_dir / "www").mkdir(exist_ok=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shutil.rmtree(bed_dir / "www")
    try:
        yield Bed(bed_dir, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def flat(proc: subprocess.CompletedProcess) -> str:
    """stdout with whitespace runs collapsed (the yaml callback folds long messages over lines)."""
    return " ".join(proc.stdout.split())


def deploys(log: list[list[str]]) -> list[list[str]]:
    return [a for a in log if a[:1] == ["deploy"]]


def opt(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]


ORG_VARS = sorted((ROOT / "group_vars" / "all").glob("*.yml"))
PRODUCTION_VARS = ROOT / "inventories" / "production" / "group_vars" / "all" / "production.yml"


def checkout(bed: Bed, tag: str = "v2.73.0") -> Path:
    return bed.root / "src" / f"{tag}-{bed.commits[tag][:12]}"


def test_production_values_deploy_cpu_sam_verified_by_commit_and_idempotent(bed: Bed):
    """Only the documented production values (org + production group_vars), no checksum anywhere: the role gets
    past serverless on a GPU-less host (cvat_serverless_gpu false), trusting nuctl on first use; the test overrides
    only WHERE things come from (local server, local git repository, temp paths) and, necessarily, the commit ids
    (the fixture repository holds commits of our own; the shipped ids are checked against upstream in the unit
    tests)."""
    files = (*ORG_VARS, PRODUCTION_VARS)
    first = bed.run(var_files=files, cvat_version=None)
    assert recap(first)["failed"] == 0
    installed = bed.bin / "nuctl"
    assert installed.read_text() == NUCTL_STANDIN and os.access(installed, os.X_OK)

    # first use recorded on the controller side (beside the inventory) and printed
    digest = sha256(bed.www / "nuctl-standin")
    assert bed.trust_file.read_text() == f"{digest}  nuctl-1.16.3-linux-amd64\n"
    assert f"has sha256 {digest}, recorded in {bed.trust_file}" in flat(first)

    # sources: the pinned commit, verified, sparse (only the SAM function directory)
    co = checkout(bed)
    assert git("rev-parse", "HEAD", cwd=co) == bed.commits["v2.73.0"]
    files_out = {p.relative_to(co).as_posix() for p in co.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert files_out and all(f.startswith(SAM_DIR + "/") for f in files_out), sorted(files_out)[:5]
    assert not (bed.root / "src" / f"v2.51.0-{bed.commits['v2.51.0'][:12]}").exists()  # no DEXTR any more

    log = bed.log
    assert [a for a in log if a[:1] == ["create"]] == [["create", "project", "cvat", "--platform", "local"]]
    d = deploys(log)
    assert len(d) == 1
    sam = d[0]
    assert opt(sam, "--path") == [f"{co}/{SAM_DIR}"]
    assert opt(sam, "--file") == [f"{co}/{SAM_DIR}/function.yaml"]  # GPU-less host: the CPU build
    assert opt(sam, "--project-name") == ["cvat"] and opt(sam, "--platform") == ["local"]
    assert opt(sam, "--env") == ["CVAT_FUNCTIONS_REDIS_HOST=cvat_redis_ondisk", "CVAT_FUNCTIONS_REDIS_PORT=6666"]
    assert json.loads(opt(sam, "--platform-config")[0]) == {"attributes": {"network": "cvat_cvat"}}
    assert re.fullmatch(r"cvat-serverless-digest=[0-9a-f]{40}", opt(sam, "--labels")[0])
    state = json.loads((bed.bin / "nuctl-standin-state.json").read_text())
    assert set(state["functions"]) == {"pth-facebookresearch-sam-vit-h"}

    # second run: nothing deployed, nothing changed (the record verifies the installed nuctl)
    n = len(bed.log)
    second = bed.run(var_files=files, cvat_version=None)
    assert recap(second)["changed"] == 0, second.stdout[-4000:]
    assert deploys(bed.log[n:]) == [] and [a for a in bed.log[n:] if a[0] == "create"] == []

    # --check --diff on the converged host: no change reported, nothing run but reads
    n = len(bed.log)
    checked = bed.run("--check", "--diff", var_files=files, cvat_version=None)
    assert recap(checked)["changed"] == 0, checked.stdout[-4000:]
    assert all(a[0] == "get" for a in bed.log[n:])

    # --check --diff with a changed deploy argument: reported, nothing deployed
    n = len(bed.log)
    checked = bed.run("--check", "--diff", var_files=files, cvat_version=None, cvat_serverless_redis_port=6667)
    assert recap(checked)["changed"] > 0 and recap(checked)["failed"] == 0, checked.stdout[-4000:]
    assert "Would deploy pth-facebookresearch-sam-vit-h" in flat(checked)
    assert all(a[0] == "get" for a in bed.log[n:])

    # a new pinned commit with a changed SAM source: fetched by commit into a new directory, exactly one redeploy
    git("checkout", "-q", "release-v2.73.0", cwd=bed.repo)
    main_py = bed.repo / SAM_DIR / "main.py"
    main_py.write_text(main_py.read_text() + "\n# changed by the test\n")
    bed.commit("v2.73.0", "a later commit")
    n = len(bed.log)
    third = bed.run(var_files=files, cvat_version=None)
    assert recap(third)["failed"] == 0
    d3 = deploys(bed.log[n:])
    assert len(d3) == 1 and opt(d3[0], "--path") == [f"{checkout(bed)}/{SAM_DIR}"], d3
    assert git("rev-parse", "HEAD", cwd=checkout(bed)) == bed.commits["v2.73.0"] and co.exists()  # old one kept
    assert opt(d3[0], "--labels") != opt(sam, "--labels")


def test_commit_missing_from_the_repository_is_refused(bed: Bed):
    """A repository (mirror) that does not hold the pinned commit (rewritten history, other fork): refused."""
    pinned = "1" * 40
    proc = bed.run(check=False, cvat_serverless_source_commits={"v2.73.0": pinned, "v2.51.0": bed.commits["v2.51.0"]})
    assert proc.returncode != 0
    out = flat(proc)
    assert f"v2.73.0 = {pinned} (cvat_serverless_source_commits['v2.73.0'])" in out, proc.stdout[-3000:]
    assert "not our ref" in out and f"file://{bed.repo}" in out
    assert not (bed.root / "src" / f"v2.73.0-{pinned[:12]}").exists() and bed.log[-1:] != [["deploy"]]
    assert deploys(bed.log) == []


def test_checkout_moved_off_the_pin_or_changed_is_refused(bed: Bed):
    bed.run()
    co = checkout(bed)
    # someone checks out another commit in the role's directory: refused by commit id
    other = bed.commits["v2.51.0"]
    git("fetch", "-q", "--depth", "1", "origin", other, cwd=co)
    git("-c", "advice.detachedHead=false", "checkout", "-q", other, cwd=co)
    n = len(bed.log)
    proc = bed.run(check=False)
    assert proc.returncode != 0
    assert f"is not the pinned commit cvat_serverless_source_commits['v2.73.0'] = {bed.commits['v2.73.0']}: HEAD is {other}" in flat(proc)
    assert deploys(bed.log[n:]) == []
    # back on the pin but with a modified file: refused as a local change
    git("-c", "advice.detachedHead=false", "checkout", "-q", bed.commits["v2.73.0"], cwd=co)
    (co / SAM_DIR / "main.py").write_text("print('patched')\n")
    proc = bed.run(check=False)
    assert proc.returncode != 0
    assert f"local changes: M {SAM_DIR}/main.py" in flat(proc)
    assert deploys(bed.log[n:]) == []


def test_nuctl_first_use_recorded_then_later_mismatch_refused(bed: Bed):
    assert not bed.trust_file.exists()
    bed.run()
    recorded = bed.trust_file.read_text()
    assert recorded.split()[0] == sha256(bed.www / "nuctl-standin")
    # a later download (new host, reinstall) of a binary that differs from the record: refused, nothing installed
    (bed.bin / "nuctl").unlink()
    (bed.www / "nuctl-standin").write_text(NUCTL_STANDIN + "# not the binary first trusted\n")
    proc = bed.run(check=False)
    assert proc.returncode != 0
    out = flat(proc)
    assert "did not match " + recorded.split()[0] in out, proc.stdout[-3000:]
    assert f"from the trust-on-first-use record {bed.trust_file}" in out
    assert not (bed.bin / "nuctl").exists() and bed.trust_file.read_text() == recorded


def test_operator_checksum_is_used_instead_of_trust_on_first_use(bed: Bed):
    good = "sha256:" + sha256(bed.www / "nuctl-standin")
    proc = bed.run(check=False, cvat_serverless_nuctl_checksums={"1.16.3": "sha256:" + "0" * 64})
    assert proc.returncode != 0
    out = flat(proc)
    assert "did not match " + "0" * 64 in out and "cvat_serverless_nuctl_checksums['1.16.3']" in out
    assert not (bed.bin / "nuctl").exists() and bed.log == []
    bed.run(cvat_serverless_nuctl_checksums={"1.16.3": good})
    assert (bed.bin / "nuctl").read_text() == NUCTL_STANDIN and not bed.trust_file.exists()


def test_fresh_host_check_mode_changes_nothing(bed: Bed):
    proc = bed.run("--check", "--diff")
    assert recap(proc)["failed"] == 0
    assert recap(proc)["changed"] > 0  # it reports what it would do
    assert "would be downloaded and its sha256 recorded in" in flat(proc)
    assert not (bed.bin / "nuctl").exists() and not bed.root.exists() and bed.log == []
    assert not bed.trust_file.exists()


CPU_ONLY = {"cpu": {"tag": "v2.73.0", "path": SAM_DIR, "file": "function.yaml", "gpu_file": "",
                    "digest_paths": [], "base_images": []}}

# (variables, text the refusal must contain: the variable and the value). Issue 16: every one of these used to get
# through validation (or, for dextr, to reach a nuctl build that cannot work) and fail mid-run or never.
BAD_INPUTS = {
    "dextr": ({"cvat_serverless_functions": ["sam", "dextr"]},
              "cvat_serverless_functions [\"sam\", \"dextr\"] asks for 'dextr'"),
    "redis_port": ({"cvat_serverless_redis_port": 70000}, "cvat_serverless_redis_port 70000 is not a TCP port"),
    "poll_zero": ({"cvat_serverless_deploy_poll_interval": 0}, "cvat_serverless_deploy_poll_interval (0) at least 1"),
    "project": ({"cvat_serverless_project": "Bad Project!"},
                "cvat_serverless_project 'Bad Project!' is not a Nuclio project name"),
    "network": ({"cvat_serverless_network": "cvat net"}, "cvat_serverless_network 'cvat net' is not a Docker network name"),
    "label": ({"cvat_serverless_digest_label": "bad label"}, "cvat_serverless_digest_label 'bad label' is not a label key"),
    "no_functions": ({"cvat_serverless_functions": []}, "cvat_serverless_functions [] is empty"),
    "short_commit": ({"cvat_serverless_source_commits": {"v2.73.0": "ac6e63b"}},
                     "cvat_serverless_source_commits['v2.73.0'] is 'ac6e63b', not a full commit id"),
    "repo_url": ({"cvat_serverless_source_repo_url": "cvat-ai/cvat"},
                 "cvat_serverless_source_repo_url 'cvat-ai/cvat' is not a git URL"),
    "nuctl_url": ({"cvat_serverless_nuctl_url": "github.com/nuctl"},
                  "cvat_serverless_nuctl_url 'github.com/nuctl' is not an http(s)"),
    "nuctl_path_dir": ({"cvat_serverless_nuctl_path": "/usr/local/bin/"},
                       "cvat_serverless_nuctl_path '/usr/local/bin/' must be absolute paths not ending in '/'"),
    "checksum_format": ({"cvat_serverless_nuctl_checksums": {"1.16.3": "md5:abc"}},
                        "cvat_serverless_nuctl_checksum 'md5:abc'"),
    "no_tofu_no_checksum": ({"cvat_serverless_nuctl_trust_on_first_use": False},
                            "cvat_serverless_nuctl_trust_on_first_use is false"),
    "catalog_dotdot": ({"cvat_serverless_catalog": {"sam": {**CPU_ONLY["cpu"], "path": "../../etc"}}},
                       "cvat_serverless_catalog['sam'] is not valid"),
    "catalog_tag": ({"cvat_serverless_catalog": {"sam": {**CPU_ONLY["cpu"], "tag": "v2.0.0"}}},
                    "cvat_serverless_catalog['sam'] is not valid"),
    "unknown_pin": ({"cvat_version": "v9.99.0"}, "cvat_serverless_cvat_version 'v9.99.0' has no known Nuclio version"),
    "gpu_cpu_only": ({"cvat_serverless_gpu": True, "cvat_serverless_catalog": CPU_ONLY, "cvat_serverless_functions": ["cpu"]},
                     'none of cvat_serverless_functions ["cpu"] has a GPU build'),
    "no_dashboard": ({"cvat_nuclio_enabled": False, "cvat_serverless_verify_dashboard": True},
                     "cvat_nuclio_enabled is 'False'"),
}


def test_bad_inputs_are_refused_before_any_change(bed: Bed, tmp_path: Path):
    """One ansible run for every case (the machine is shared): each case includes the role in a block whose rescue
    keeps the failure message. Every case must be refused, with its own message, and nothing may change."""
    # GPU preflight cases (read-only probes before any change)
    (tmp_path / "pci-ena" / "0000:00:02.0").mkdir(parents=True)
    (tmp_path / "pci-ena" / "0000:00:02.0" / "vendor").write_text("0x1d0f\n")  # Amazon ENA, not NVIDIA
    (tmp_path / "pci-nv" / "0000:00:1e.0").mkdir(parents=True)
    (tmp_path / "pci-nv" / "0000:00:1e.0" / "vendor").write_text("0x10de\n")  # an NVIDIA device, as on g4dn
    cases = dict(BAD_INPUTS)
    cases["gpu_absent"] = ({"cvat_serverless_gpu": True, "cvat_serverless_pci_devices_path": str(tmp_path / "pci-ena")},
                           "has no NVIDIA GPU")
    cases["gpu_no_driver"] = ({"cvat_serverless_gpu": True, "cvat_serverless_pci_devices_path": str(tmp_path / "pci-nv"),
                               "cvat_serverless_nvidia_smi": str(tmp_path / "absent" / "nvidia-smi")},
                              "install the NVIDIA driver")
    result = tmp_path / "refused.json"
    tasks = [{"name": f"case {name}",
              "block": [{"name": f"role with {name}", "ansible.builtin.include_role": {"name": "cvat_serverless"},
                         "vars": over}],
              "rescue": [{"name": "keep the message", "ansible.builtin.set_fact": {
                  "refused": "{{ refused | default({}) | combine({'%s': ansible_failed_result.msg | default('') ~ ' '"
                  " ~ (ansible_failed_result.results | default([]) | selectattr('failed', 'defined') | selectattr('failed')"
                  " | map(attribute='msg') | join(' ')) }) }}" % name}}]}
             for name, (over, _) in cases.items()]
    tasks.append({"name": "write", "ansible.builtin.copy": {"dest": str(result), "content": "{{ refused | default({}) | to_json }}",
                                                              "mode": "0644"}})
    play = [{"name": "bad inputs", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": bed.vars(), "tasks": tasks}]
    pb = tmp_path / "bad.yml"
    pb.write_text(json.dumps(play))
    run_playbook(pb, inventory=str(bed.inventory / "hosts.yml"),
                 env={"ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t")})
    refused = {k: " ".join(v.split()) for k, v in json.loads(result.read_text()).items()}
    assert set(refused) == set(cases), set(cases) - set(refused)
    for name, (_, expected) in cases.items():
        assert expected in refused[name], (name, refused[name])
    assert "python:3.8" in refused["dextr"] and "Use 'sam'" in refused["dextr"] and "#9592" in refused["dextr"]
    assert "cvat_serverless_gpu: false" in refused["gpu_absent"]
    assert not bed.root.exists() and not (bed.bin / "nuctl").exists() and not bed.trust_file.exists()


def test_corrupt_trust_record_is_refused(bed: Bed):
    bed.trust_file.parent.mkdir(parents=True)
    bed.trust_file.write_text("<<<<<<< merge conflict\n")
    proc = bed.run(check=False)
    assert proc.returncode != 0
    assert f"{bed.trust_file} (cvat_serverless_nuctl_trust_file) does not start with a sha256" in flat(proc)
    assert not bed.root.exists() and not (bed.bin / "nuctl").exists()


def test_no_inventory_directory_needs_a_trust_file_or_checksum(bed: Bed):
    vf = bed.tmp / "vars.json"
    vf.write_text(json.dumps(bed.vars()))
    pb = bed.tmp / "play.yml"
    pb.write_text("- name: t\n  hosts: localhost\n  connection: local\n  gather_facts: false\n  roles: [cvat_serverless]\n")
    proc = run_playbook(pb, "-e", f"@{vf}", inventory="localhost,", check=False,
                        env={"ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_LOCAL_TEMP": str(bed.tmp / "t")})
    assert proc.returncode != 0
    assert "cvat_serverless_nuctl_trust_file '' is not an absolute file path" in flat(proc), proc.stdout[-3000:]
    assert not bed.root.exists()


def test_disabled_role_does_nothing(bed: Bed):
    proc = bed.run(cvat_serverless_enabled=False, cvat_version="v9.99.0")  # would fail validation if it ran
    assert recap(proc)["changed"] == 0 and not bed.root.exists() and not (bed.bin / "nuctl").exists()
