"""Every cvat_seed module that takes the shared API options documents them (doc fragment cvat_api).

Runs the real ansible-doc with the project's ansible.cfg, which points doc_fragment_plugins at the role.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "roles" / "cvat_seed" / "library"
MODULES = sorted(p.stem for p in LIBRARY.glob("cvat_*.py"))
API_OPTIONS = {"url", "api_token", "api_token_type", "username", "password", "organization", "validate_certs",
               "timeout", "retries", "retry_backoff", "health_timeout", "page_size"}


@pytest.mark.parametrize("module", MODULES)
def test_module_documents_what_it_accepts(module):
    uses_api = "API_ARGSPEC" in (LIBRARY / f"{module}.py").read_text()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-M", str(LIBRARY), "-t", "module",
                           "--json", module], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)[module]["doc"]
    options = set(doc.get("options") or {})
    assert doc.get("short_description") and options
    if uses_api:
        assert API_OPTIONS <= options, f"{module} lacks {sorted(API_OPTIONS - options)}"
    else:
        assert not API_OPTIONS & options, f"{module} documents API options it does not take"
