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


def test_checksums_ship_empty_so_production_must_set_them():
    d = defaults()
    assert d["cvat_serverless_nuctl_checksums"] == {} and d["cvat_serverless_source_checksums"] == {}


@needs_upstream
def test_nuclio_versions_match_upstream_dashboard_image():
    for cvat_tag, nuclio in defaults()["cvat_serverless_nuclio_versions"].items():
        compose = yaml.safe_load(upstream(cvat_tag, "components/serverless/docker-compose.serverless.yml"))
        image = compose["services"]["nuclio"]["image"]
        assert re.fullmatch(rf"quay\.io/nuclio/dashboard:{re.escape(nuclio)}(-amd64)?", image), (cvat_tag, image)


@needs_upstream
def test_catalog_paths_exist_at_their_tags():
    d = defaults()
    tags = {"{{ cvat_serverless_cvat_version }}": "v2.73.0", "{{ cvat_serverless_dextr_tag }}": d["cvat_serverless_dextr_tag"]}
    for key, fn in d["cvat_serverless_catalog"].items():
        tag = tags[fn["tag"]]
        files = upstream_files(tag, fn["path"] + "/")
        assert f"{fn['path']}/{fn['file']}" in files, key
        if fn["gpu_file"]:
            assert f"{fn['path']}/{fn['gpu_file']}" in files, key
        for extra in fn["digest_paths"] + [b["context"] for b in fn["base_images"]]:
            assert upstream_files(tag, extra + "/"), (key, extra)
    # DEXTR really is CPU only upstream and gone after v2.51.0
    assert not upstream_files("v2.73.0", "serverless/openvino/dextr/")
    assert not any(f.endswith("function-gpu.yaml") for f in upstream_files("v2.51.0", "serverless/openvino/dextr/"))


@needs_upstream
def test_dextr_base_images_match_upstream_build():
    dextr = defaults()["cvat_serverless_catalog"]["dextr"]
    fn = yaml.safe_load(upstream("v2.51.0", f"{dextr['path']}/function.yaml"))
    dockerfile = upstream("v2.51.0", f"{dextr['path']}/Dockerfile")
    names = [b["name"] for b in dextr["base_images"]]
    assert fn["spec"]["build"]["baseImage"] in names  # cvat.openvino.dextr.base
    assert re.search(r"^FROM cvat\.openvino\.base", dockerfile, re.M) and "cvat.openvino.base" in names
    script = upstream("v2.51.0", "serverless/deploy_cpu.sh")
    assert "docker build -t cvat.openvino.base" in script


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
