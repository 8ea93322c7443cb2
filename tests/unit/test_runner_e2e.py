"""End-to-end: ./runner.py drives a real ansible-runner/ansible-playbook run of a tiny local playbook.

Fixture tests/unit/fixtures/runner_e2e.yml runs on two local hosts (`localhost`, `fixture-bad`, connection
local): a no_log task using the secret, a runner_display fact, aggregate custom stats, and a failure on
`fixture-bad` whose message embeds the secret. The secret is passed with -e and must appear nowhere: not in
stdout/stderr, not in any file under the artifact dir.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "unit" / "fixtures" / "runner_e2e.yml"


def run_runner(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, str]:
    """Runs ./runner.py on the fixture with a fresh random secret; returns the process and the secret."""
    secret = "e2e-" + secrets.token_hex(12)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    cmd = [sys.executable, str(ROOT / "runner.py"), "run", str(FIXTURE), "-i", "localhost,fixture-bad,",
           "-e", f"fixture_api_password={secret}", "--artifact-dir", str(tmp_path / "artifacts"), *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc, secret


def assert_secret_nowhere(proc: subprocess.CompletedProcess, secret: str, artifacts: Path) -> int:
    """Fails if the secret is in the output or any artifact file; returns how many files were checked."""
    assert secret not in proc.stdout and secret not in proc.stderr
    files = [p for p in artifacts.rglob("*") if p.is_file()]
    for path in files:
        assert secret.encode() not in path.read_bytes(), f"secret found in {path}"
    return len(files)


@pytest.mark.slow
def test_runner_end_to_end_human_output(tmp_path: Path) -> None:
    # full event data in the artifacts: the strictest case for the no-secret check
    proc, secret = run_runner(tmp_path, "--artifact-event-data", "full")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout
    assert "PLAY [Runner end-to-end fixture]" in out
    assert "TASK [Use the secret in a no_log task]" in out
    assert "  FAILED: fixture-bad: cannot log in with ********" in out
    assert "fixture_api_password=********" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith(("localhost ", "fixture-bad "))}
    # ok changed failed unreachable skipped rescued ignored
    assert rows["localhost"] == ["4", "0", "0", "0", "1", "0", "0"]
    assert rows["fixture-bad"] == ["3", "0", "1", "0", "0", "0", "0"]
    assert "CUSTOM STATS" in out and "fixture_choice: small" in out
    assert "    - picked size small for localhost" in out
    assert "host failures: fixture-bad (exit 2) in " in out
    runs = list((tmp_path / "artifacts").iterdir())
    assert len(runs) == 1
    run = runs[0]
    assert (run / "rc").read_text().strip() == "2"
    assert "cannot log in with ********" in (run / "stdout").read_text()
    events = [json.loads(p.read_text()) for p in (run / "job_events").glob("*.json")]
    assert any(e["event"] == "runner_on_failed" for e in events)
    no_log = [e for e in events if e["event"] == "runner_on_ok"
              and e["event_data"].get("task") == "Use the secret in a no_log task"]
    assert len(no_log) == 2 and all("censored" in e["event_data"]["res"] for e in no_log)
    # the secret was used (the no_log task ran), yet no file holds it
    assert assert_secret_nowhere(proc, secret, tmp_path / "artifacts") > 10
