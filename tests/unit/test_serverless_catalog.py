"""cvat_serverless defaults checked against upstream CVAT (the read-only snapshot of the v2.73.0 / v2.51.0
release merges, read at test time with git) and against the role's own argument_specs."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "cvat_serverless"
MIRROR = Path("/work/.mirror/Christanding+cvat-yolo26-annotation-tool/repo")
COMMITS = {"v2.73.0": "ac6e63b", "v2.51.0": "dfd505e"}  # upstream release merges in the snapshot

needs_upstream = pytest.mark.skipif(not MIRROR.exists(), reason="upstream snapshot not on this machine")


def defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def upstream(tag: str, path: str) -> str:
    return subprocess.run(["git", f"--git-dir={MIRROR}", "show", f"{COMMITS[tag]}:{path}"],
                          capture_output=True, text=True, check=True).stdout


def upstream_files(tag: str, path: str) -> set[str]:
    out = subprocess.run(["git", f"--git-dir={MIRROR}", "ls-tree", "-r", "--name-only", COMMITS[tag], path],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_argument_specs_cover_every_default_and_nothing_else():
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(specs) == set(defaults())
    for name, spec in specs.items():
        assert name.startswith("cvat_serverless_") and spec.get("description"), name


def test_first_deploy_needs_no_hash_from_the_operator():
    """Sources are pinned by commit (shipped), nuctl by trust on first use (default): nothing to compute by hand."""
    d = defaults()
    assert d["cvat_serverless_nuctl_checksums"] == {} and d["cvat_serverless_nuctl_trust_on_first_use"] is True
    assert "inventory_dir" in d["cvat_serverless_nuctl_trust_file"]
    assert not any("checksum" in k and "nuctl" not in k for k in d), "source checksums are gone: pinned by commit"
    assert d["cvat_serverless_source_commits"] == {
        "v2.73.0": "ac6e63b96bddbc462a0a8c0acce307c4c0c6e972",
        "v2.51.0": "dfd505e7622de2e4aed214ce3119d12bf2f7a22a",
    }
    assert d["cvat_serverless_functions"] == ["sam"] and "dextr" not in d["cvat_serverless_catalog"]


def test_readme_first_deploy_asks_for_no_hash():
    text = (ROLE / "README.md").read_text()
    section = text.split("## First deploy", 1)[1].split("\n## ", 1)[0]
    assert "sha256sum" not in section and "<hex" not in section and "compute" not in section.lower()
    assert "trust on first use" in section.lower() and "DEXTR" in text


@needs_upstream
@pytest.mark.parametrize("tag", ["v2.73.0", "v2.51.0"])
def test_source_commits_are_the_upstream_releases(tag):
    """Each shipped commit exists in upstream history, is that release's merge, and carries that version."""
    commit = defaults()["cvat_serverless_source_commits"][tag]
    subject = subprocess.run(["git", f"--git-dir={MIRROR}", "log", "-1", "--format=%H %s", commit],
                             capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert subject[0] == commit and f"release-{tag.lstrip('v')}" in subject[1], subject
    init = subprocess.run(["git", f"--git-dir={MIRROR}", "show", f"{commit}:cvat/__init__.py"],
                          capture_output=True, text=True, check=True).stdout
    major, minor, patch = tag.lstrip("v").split(".")
    assert f'VERSION = ({major}, {minor}, {patch}, "final", 0)' in init


@needs_upstream
def test_dextr_really_cannot_run_on_the_pinned_nuclio():
    """Why DEXTR is refused: its last function declares python 3.8; the pin's SAM moved to 3.10 (CVAT #9593)."""
    fn = yaml.safe_load(upstream("v2.51.0", "serverless/openvino/dextr/nuclio/function.yaml"))
    assert fn["spec"]["runtime"] == "python:3.8"
    sam = yaml.safe_load(upstream("v2.73.0", "serverless/pytorch/facebookresearch/sam/nuclio/function.yaml"))
    assert sam["spec"]["runtime"] == "python:3.10"
    assert not upstream_files("v2.73.0", "serverless/openvino/dextr/")


@needs_upstream
def test_nuclio_versions_match_upstream_dashboard_image():
    for cvat_tag, nuclio in defaults()["cvat_serverless_nuclio_versions"].items():
        compose = yaml.safe_load(upstream(cvat_tag, "components/serverless/docker-compose.serverless.yml"))
        image = compose["services"]["nuclio"]["image"]
        assert re.fullmatch(rf"quay\.io/nuclio/dashboard:{re.escape(nuclio)}(-amd64)?", image), (cvat_tag, image)


@needs_upstream
def test_catalog_paths_exist_at_their_tags():
    d = defaults()
    tags = {"{{ cvat_serverless_cvat_version }}": "v2.73.0"}
    for key, fn in d["cvat_serverless_catalog"].items():
        tag = tags[fn["tag"]]
        files = upstream_files(tag, fn["path"] + "/")
        assert f"{fn['path']}/{fn['file']}" in files, key
        if fn["gpu_file"]:
            assert f"{fn['path']}/{fn['gpu_file']}" in files, key
        for extra in fn["digest_paths"] + [b["context"] for b in fn["base_images"]]:
            assert upstream_files(tag, extra + "/"), (key, extra)


@needs_upstream
@pytest.mark.parametrize("script", ["serverless/deploy_cpu.sh", "serverless/deploy_gpu.sh"])
def test_deploy_arguments_match_upstream_scripts(script):
    d = defaults()
    text = upstream("v2.73.0", script)
    assert f"nuctl create project {d['cvat_serverless_project']} --platform local" in text
    assert f"--project-name {d['cvat_serverless_project']}" in text
    assert f"--env CVAT_FUNCTIONS_REDIS_HOST={d['cvat_serverless_redis_host']}" in text
    assert f"--env CVAT_FUNCTIONS_REDIS_PORT={d['cvat_serverless_redis_port']}" in text
    assert f"""--platform-config '{{"attributes": {{"network": "{d['cvat_serverless_network']}"}}}}'""" in text
    wanted = "function-gpu.yaml" if "gpu" in script else "function.yaml"
    assert f'"$FUNCTIONS_DIR"/**/{wanted}' in text
