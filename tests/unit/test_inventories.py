"""Top-level group_vars/ (organisation-wide defaults) really reach every inventory, with env files winning.

Ansible only loads group_vars next to an inventory source or a playbook. Each inventory links the top-level
directory in as group_vars/all/000-org, so org defaults load first and the inventory's own files override
them. This test runs real ansible-playbook against every inventory directory.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INVENTORIES = sorted(p for p in (ROOT / "inventories").iterdir() if p.is_dir())
ORG_VARS = {}
for f in sorted((ROOT / "group_vars" / "all").glob("*.yml")):
    ORG_VARS.update(yaml.safe_load(f.read_text()) or {})


def test_there_are_inventories_and_org_vars():
    names = {p.name for p in INVENTORIES}
    assert {"sandbox", "production"} <= names
    assert "org_owner_tag" in ORG_VARS


@pytest.mark.parametrize("inv", INVENTORIES, ids=lambda p: p.name)
def test_org_group_vars_linked(inv):
    link = inv / "group_vars" / "all" / "000-org"
    assert link.is_symlink(), f"{link} must link the top-level group_vars/all"
    assert link.resolve() == (ROOT / "group_vars" / "all").resolve()


@pytest.mark.parametrize("inv", INVENTORIES, ids=lambda p: p.name)
def test_org_vars_loaded_and_overridable(inv, tmp_path):
    out = tmp_path / "vars.json"
    playbook = tmp_path / "dump.yml"
    names = sorted(ORG_VARS)
    playbook.write_text(yaml.safe_dump([{
        "name": "dump", "hosts": "localhost", "gather_facts": False, "connection": "local",
        "tasks": [{"name": "dump", "ansible.builtin.copy": {
            "content": "{{ {%s} | to_json }}" % ", ".join(f"'{n}': {n} | default('UNDEFINED')" for n in names),
            "dest": str(out), "mode": "0600"}}],
    }]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "ANSIBLE_INVENTORY_ENABLED": "host_list,yaml,ini,toml"}
    # only static sources here: the dynamic aws_ec2 source is tested against moto in tests/integration
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inv), str(playbook)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    got = json.loads(out.read_text())
    env_values = {}
    for f in sorted((inv / "group_vars" / "all").glob("*.yml")):
        env_values.update(yaml.safe_load(f.read_text()) or {})
    for name in names:
        assert got[name] != "UNDEFINED", f"{name} from group_vars/all not loaded for inventory {inv.name}"
        if name in env_values and isinstance(env_values[name], str) and "{{" not in env_values[name]:
            assert got[name] == env_values[name], f"{inv.name} overrides {name} but the org default won"
