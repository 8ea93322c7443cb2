"""Role cvat_serverless run for real (`ansible-playbook -c local`) against a temporary root, with a nuctl STAND-IN.

What runs for real: the role's validation, GPU preflight probes, get_url with checksum verification (against a
local HTTP server on 127.0.0.1), the download/extraction of source archives, the digest logic and the exact
`nuctl` command lines. Source archives are built at test time from the upstream snapshot (`git archive` of just
the function directories of v2.73.0 and v2.51.0) when it is on this machine, else from minimal stand-in trees.

The `nuctl-standin` (NUCTL_STANDIN below) records its argv and keeps a JSON state file so that
`nuctl get function NAME -o json` returns what was "deployed", labels included. It does NOT prove: that a real
nuctl accepts these arguments or builds the images, that the functions serve inference, that the Nuclio dashboard
API or CVAT sees them, nor the DEXTR base-image builds (`cvat_serverless_build_base_images: false` here: the
base images pull openvino images from a registry, which this test bed cannot reach) and the dashboard check
(`cvat_serverless_verify_dashboard: false`; the cvat role's scenario owns the running stack).
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


def build_tree(tag: str, dest: Path) -> None:
    """The function directories of `tag`: from the upstream snapshot, else minimal stand-in files."""
    commit, paths = TAGS[tag]
    dest.mkdir(parents=True)
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


def pack(tree: Path, tag: str, out: Path) -> str:
    """tar.gz with a GitHub-style top directory (cvat-<version>/); returns its sha256."""
    with tarfile.open(out, "w:gz") as t:
        t.add(tree, arcname=f"cvat-{tag.lstrip('v')}")
    return sha256(out)


class Bed:
    def __init__(self, tmp: Path, port: int):
        self.tmp, self.port = tmp, port
        self.www, self.trees = tmp / "www", tmp / "trees"
        self.root, self.bin = tmp / "opt" / "cvat-serverless", tmp / "bin"
        self.www.mkdir()
        self.bin.mkdir()
        (self.www / "nuctl-standin").write_text(NUCTL_STANDIN)
        self.checksums = {}
        for tag in TAGS:
            build_tree(tag, self.trees / tag)
            self.repack(tag)

    def repack(self, tag: str) -> None:
        self.checksums[tag] = "sha256:" + pack(self.trees / tag, tag, self.www / f"{tag}.tar.gz")

    @property
    def log(self) -> list[list[str]]:
        f = self.bin / "nuctl-standin.log"
        return [json.loads(line) for line in f.read_text().splitlines()] if f.exists() else []

    def vars(self, **over) -> dict:
        v = {
            "ansible_python_interpreter": sys.executable,
            "cvat_version": "v2.73.0",
            "cvat_serverless_nuctl_url": f"http://127.0.0.1:{self.port}/nuctl-standin",
            "cvat_serverless_nuctl_checksums": {"1.16.3": "sha256:" + sha256(self.www / "nuctl-standin")},
            "cvat_serverless_nuctl_path": str(self.bin / "nuctl"),
            "cvat_serverless_root": str(self.root),
            "cvat_serverless_source_url_base": f"http://127.0.0.1:{self.port}",
            "cvat_serverless_source_checksums": dict(self.checksums),
            "cvat_serverless_build_base_images": False,
            "cvat_serverless_verify_dashboard": False,
            "cvat_serverless_deploy_poll_interval": 1,
        }
        v.update(over)
        return v

    def run(self, *extra: str, check: bool = True, **over) -> subprocess.CompletedProcess:
        vf = self.tmp / "vars.json"
        vf.write_text(json.dumps(self.vars(**over)))
        pb = self.tmp / "play.yml"
        pb.write_text("- name: cvat_serverless under test\n  hosts: localhost\n  connection: local\n"
                      "  gather_facts: false\n  roles: [cvat_serverless]\n")
        return run_playbook(pb, "-e", f"@{vf}", *extra, inventory="localhost,", check=check,
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


def test_install_deploy_idempotent_and_one_redeploy(bed: Bed):
    first = bed.run()
    assert recap(first)["failed"] == 0
    installed = bed.bin / "nuctl"
    assert installed.read_text() == NUCTL_STANDIN and os.access(installed, os.X_OK)
    log = bed.log
    assert [a for a in log if a[:1] == ["create"]] == [["create", "project", "cvat", "--platform", "local"]]
    d = deploys(log)
    assert len(d) == 2
    by_name = {Path(opt(a, "--path")[0]).as_posix(): a for a in d}
    sam = next(a for p, a in by_name.items() if p.endswith("/" + SAM_DIR))
    dextr = next(a for p, a in by_name.items() if p.endswith("/" + DEXTR_DIR))
    assert "/src/v2.73.0-" in opt(sam, "--path")[0] and "/src/v2.51.0-" in opt(dextr, "--path")[0]
    assert opt(sam, "--file") == [opt(sam, "--path")[0] + "/function.yaml"]  # CPU host: not function-gpu.yaml
    assert opt(dextr, "--file") == [opt(dextr, "--path")[0] + "/function.yaml"]
    for a in d:
        assert opt(a, "--project-name") == ["cvat"] and opt(a, "--platform") == ["local"]
        assert opt(a, "--env") == ["CVAT_FUNCTIONS_REDIS_HOST=cvat_redis_ondisk", "CVAT_FUNCTIONS_REDIS_PORT=6666"]
        assert json.loads(opt(a, "--platform-config")[0]) == {"attributes": {"network": "cvat_cvat"}}
        assert re.fullmatch(r"cvat-serverless-digest=[0-9a-f]{40}", opt(a, "--labels")[0])
    state = json.loads((bed.bin / "nuctl-standin-state.json").read_text())
    assert set(state["functions"]) == {"pth-facebookresearch-sam-vit-h", "openvino-dextr"}

    # second run: nothing deployed, nothing changed
    n = len(bed.log)
    second = bed.run()
    assert recap(second)["changed"] == 0, second.stdout[-4000:]
    assert deploys(bed.log[n:]) == [] and [a for a in bed.log[n:] if a[0] == "create"] == []

    # --check --diff on the converged host: no change reported, nothing run but reads
    n = len(bed.log)
    checked = bed.run("--check", "--diff")
    assert recap(checked)["changed"] == 0, checked.stdout[-4000:]
    assert all(a[0] == "get" for a in bed.log[n:])

    # --check --diff with a changed deploy argument: both functions reported, nothing deployed
    n = len(bed.log)
    checked = bed.run("--check", "--diff", cvat_serverless_redis_port=6667)
    assert recap(checked)["changed"] > 0 and recap(checked)["failed"] == 0, checked.stdout[-4000:]
    assert "Would deploy pth-facebookresearch-sam-vit-h" in flat(checked) and "Would deploy openvino-dextr" in flat(checked)
    assert all(a[0] == "get" for a in bed.log[n:])

    # a changed SAM source (new archive, new checksum): exactly one redeploy, of SAM, from the new directory
    main_py = bed.trees / "v2.73.0" / SAM_DIR / "main.py"
    main_py.write_text(main_py.read_text() + "\n# changed by the test\n")
    bed.repack("v2.73.0")
    n = len(bed.log)
    third = bed.run()
    assert recap(third)["failed"] == 0
    d3 = deploys(bed.log[n:])
    assert len(d3) == 1 and opt(d3[0], "--path")[0].endswith(SAM_DIR), d3
    assert bed.checksums["v2.73.0"][7:19] in opt(d3[0], "--path")[0]
    assert opt(d3[0], "--labels") != opt(sam, "--labels")


def test_fresh_host_check_mode_changes_nothing(bed: Bed):
    proc = bed.run("--check", "--diff")
    assert recap(proc)["failed"] == 0
    assert recap(proc)["changed"] > 0  # it reports what it would do
    assert not (bed.bin / "nuctl").exists() and not bed.root.exists() and bed.log == []


def test_wrong_nuctl_checksum_fails(bed: Bed):
    proc = bed.run(check=False, cvat_serverless_nuctl_checksums={"1.16.3": "sha256:" + "0" * 64})
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())  # the yaml callback folds long messages
    assert "did not match " + "0" * 64 in out, proc.stdout[-3000:]
    assert "it was " + sha256(bed.www / "nuctl-standin") in out
    assert not (bed.bin / "nuctl").exists() and bed.log == []


def test_missing_nuctl_checksum_fails_before_any_change(bed: Bed):
    proc = bed.run(check=False, cvat_serverless_nuctl_checksums={})
    assert proc.returncode != 0
    assert "cvat_serverless_nuctl_checksum ''" in flat(proc) and "nuctl 1.16.3" in flat(proc)
    assert not bed.root.exists() and not (bed.bin / "nuctl").exists()


def test_cvat_pin_without_nuclio_version_fails_early(bed: Bed):
    proc = bed.run(check=False, cvat_version="v9.99.0")
    assert proc.returncode != 0
    assert "cvat_serverless_cvat_version 'v9.99.0' has no known Nuclio version" in flat(proc)
    assert not bed.root.exists() and not (bed.bin / "nuctl").exists()


def test_missing_source_checksum_fails_early(bed: Bed):
    proc = bed.run(check=False, cvat_serverless_source_checksums={"v2.73.0": bed.checksums["v2.73.0"]})
    assert proc.returncode != 0
    assert "cvat_serverless_source_checksums['v2.51.0']" in flat(proc)
    assert not bed.root.exists()


def test_gpu_requested_on_host_without_gpu_fails_early(bed: Bed, tmp_path: Path):
    (tmp_path / "pci" / "0000:00:02.0").mkdir(parents=True)
    (tmp_path / "pci" / "0000:00:02.0" / "vendor").write_text("0x1d0f\n")  # Amazon ENA, not NVIDIA
    proc = bed.run(check=False, cvat_serverless_gpu=True, cvat_serverless_pci_devices_path=str(tmp_path / "pci"))
    assert proc.returncode != 0
    assert "has no NVIDIA GPU" in flat(proc) and "cvat_serverless_gpu: false" in flat(proc)
    assert not bed.root.exists()


def test_gpu_host_without_nvidia_smi_names_the_driver_fix(bed: Bed, tmp_path: Path):
    (tmp_path / "pci" / "0000:00:1e.0").mkdir(parents=True)
    (tmp_path / "pci" / "0000:00:1e.0" / "vendor").write_text("0x10de\n")  # an NVIDIA device, as on g4dn
    proc = bed.run(check=False, cvat_serverless_gpu=True, cvat_serverless_pci_devices_path=str(tmp_path / "pci"),
                   cvat_serverless_nvidia_smi=str(tmp_path / "absent" / "nvidia-smi"))
    assert proc.returncode != 0
    assert "install the NVIDIA driver" in flat(proc)
    assert not bed.root.exists()


def test_gpu_only_for_cpu_functions_is_rejected(bed: Bed):
    proc = bed.run(check=False, cvat_serverless_gpu=True, cvat_serverless_functions=["dextr"])
    assert proc.returncode != 0
    assert 'none of cvat_serverless_functions ["dextr"] has a GPU build' in flat(proc)


def test_serverless_without_nuclio_dashboard_is_rejected(bed: Bed):
    proc = bed.run(check=False, cvat_nuclio_enabled=False, cvat_serverless_verify_dashboard=True)
    assert proc.returncode != 0
    assert "cvat_nuclio_enabled is 'False'" in flat(proc) and "cvat_serverless_enabled: false" in flat(proc)
    assert not bed.root.exists()


def test_disabled_role_does_nothing(bed: Bed):
    proc = bed.run(cvat_serverless_enabled=False, cvat_version="v9.99.0")  # would fail validation if it ran
    assert recap(proc)["changed"] == 0 and not bed.root.exists() and not (bed.bin / "nuctl").exists()
