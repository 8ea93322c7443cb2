"""Every collection the project uses by FQCN is listed in requirements.yml, and the installed one satisfies it.

Scans the project's YAML, Jinja2 templates and Python plugins for `namespace.collection.name` references whose
namespace.collection is a real collection, then checks (1) requirements.yml lists that collection, (2) the
installed version (from the pinned `ansible` bundle) satisfies the declared range, (3) the referenced plugin
exists in the installed collection (a typo'd module name fails here, not on a production host).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import ansible_collections
import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_DIR = Path(list(ansible_collections.__path__)[0])
SCANNED = ("playbooks", "roles", "molecule", "inventories", "group_vars")
FQCN_RE = re.compile(r"(?<![\w./-])([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\b")
PLUGIN_DIRS = ("modules", "action", "connection", "inventory", "lookup", "filter", "test", "callback",
               "become", "cache", "vars", "strategy", "shell", "netconf", "cliconf", "httpapi", "doc_fragments",
               "module_utils")
CORE = {"ansible.builtin", "ansible.legacy"}


def installed_collections() -> set[str]:
    return {f"{ns.name}.{c.name}" for ns in COLLECTIONS_DIR.iterdir() if ns.is_dir()
            for c in ns.iterdir() if (c / "MANIFEST.json").exists()}


def project_files():
    for top in SCANNED:
        base = ROOT / top
        if not base.exists():
            continue
        for p in base.rglob("*"):
            if p.is_file() and p.suffix in {".yml", ".yaml", ".j2", ".py"} and "__pycache__" not in p.parts:
                yield p


def used_fqcns() -> dict[str, set[str]]:
    known = installed_collections()
    used: dict[str, set[str]] = {}
    for path in project_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for ns, coll, name in FQCN_RE.findall(text):
            fq = f"{ns}.{coll}"
            if fq in known and fq not in CORE:
                used.setdefault(f"{fq}.{name}", set()).add(str(path.relative_to(ROOT)))
        # python imports: ansible_collections.ns.coll.plugins...
        for ns, coll in re.findall(r"ansible_collections\.([a-z_]+)\.([a-z_]+)", text):
            if f"{ns}.{coll}" in known and f"{ns}.{coll}" not in CORE:
                used.setdefault(f"{ns}.{coll}.*", set()).add(str(path.relative_to(ROOT)))
    return used


def requirements() -> dict[str, str]:
    data = yaml.safe_load((ROOT / "requirements.yml").read_text())
    return {c["name"]: str(c.get("version", "*")) for c in data["collections"]}


def installed_version(fq: str) -> Version:
    ns, coll = fq.split(".")
    manifest = json.loads((COLLECTIONS_DIR / ns / coll / "MANIFEST.json").read_text())
    return Version(manifest["collection_info"]["version"])


def plugin_exists(fq_name: str) -> bool:
    ns, coll, name = fq_name.split(".")
    if name == "*":
        return True
    cdir = COLLECTIONS_DIR / ns / coll
    routing = cdir / "meta" / "runtime.yml"
    if routing.exists():
        rt = yaml.safe_load(routing.read_text()) or {}
        for kind in (rt.get("plugin_routing") or {}).values():
            if name in (kind or {}):
                return True
        if name in (rt.get("action_groups") or {}):
            return True
    for d in PLUGIN_DIRS:
        pdir = cdir / "plugins" / d
        if (pdir / f"{name}.py").exists() or (pdir / f"{name}.yml").exists():
            return True
    # filters and tests live in files that define several names
    for d in ("filter", "test"):
        for f in (cdir / "plugins" / d).glob("*.py") if (cdir / "plugins" / d).exists() else []:
            if re.search(rf"['\"]{re.escape(name)}['\"]\s*:", f.read_text(errors="replace")):
                return True
    return False


USED = used_fqcns()


def test_project_uses_collections():
    # guards the scanner itself: the project certainly uses these
    collections = {k.rsplit(".", 1)[0] for k in USED}
    assert {"community.docker", "ansible.posix"} <= collections, collections


@pytest.mark.parametrize("fq_name", sorted(USED))
def test_fqcn_is_required_and_satisfied(fq_name):
    reqs = requirements()
    coll = fq_name.rsplit(".", 1)[0]
    where = ", ".join(sorted(USED[fq_name])[:3])
    assert coll in reqs, f"{fq_name} (used in {where}) needs {coll} in requirements.yml"
    spec = SpecifierSet(reqs[coll].replace(" ", "")) if reqs[coll] != "*" else SpecifierSet()
    assert installed_version(coll) in spec, f"installed {coll} {installed_version(coll)} does not satisfy {reqs[coll]}"
    assert plugin_exists(fq_name), f"{fq_name} (used in {where}) does not exist in installed {coll}"


def test_requirements_lists_only_installed_collections():
    missing = [c for c in requirements() if c not in installed_collections()]
    assert not missing, f"requirements.yml lists collections the pinned ansible bundle lacks: {missing}"


def test_scanner_catches_an_unlisted_collection(tmp_path):
    # the check must be able to fail: a reference to a collection not in requirements.yml is reported
    assert "community.mysql" in installed_collections()
    assert "community.mysql" not in requirements()
    assert FQCN_RE.findall("- community.mysql.mysql_db:\n") == [("community", "mysql", "mysql_db")]
    assert not plugin_exists("community.docker.docker_compose_v3")
