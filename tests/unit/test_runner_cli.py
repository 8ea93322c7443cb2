"""runner.py arguments, exit codes, command echo, extra-vars handling, artifact rotation and redaction.

`fake_run_standin` replaces `ansible_runner.run` in some tests: it feeds events to the handler and writes
artifact files like ansible-runner does. It proves runner.py's own wiring (arguments it passes, console
and artifact redaction, exit-code mapping); it does NOT prove ansible-runner behaves that way — the real
run is in test_runner_e2e.py.
"""
from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cvat_ops import EXIT_HOST_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE  # noqa: E402
from cvat_ops.cli import (ansible_args, build_parser, echo_command, execute, main, rotate_artifacts,  # noqa: E402
                          spec_from_args, write_extra_files)
from cvat_ops.secrets import MASK, Redactor, is_secret_name, scrub_command_file  # noqa: E402

SECRET = "Pa55-word-XYZ-123"
PLAYBOOK = "tests/unit/fixtures/runner_e2e.yml"


def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def spec_for(*argv: str):
    return spec_from_args(build_parser().parse_args(list(argv)))


# ---- argument errors: exit 3, message names the bad value ----------------------------------
@pytest.mark.parametrize("argv,needle", [
    (["deploy", "-i", "inventories/no-such-env"], "'inventories/no-such-env'"),
    (["deploy", "-e", "justaword"], "'justaword'"),
    (["deploy", "-e", "9lives=1"], "'9lives=1'"),
    (["deploy", "-e", "{not json"], "'{not json'"),
    (["deploy", "-e", "@/nonexistent/vars.yml"], "'@/nonexistent/vars.yml'"),
    (["destroy"], "--yes"),
    (["run", "no-such-playbook"], "'no-such-playbook'"),
    (["deploy", "--vault-password-file", "/nonexistent/vpf"], "'/nonexistent/vpf'"),
    (["deploy", "--keep-artifacts", "-3"], "-3"),
    (["deploy", "--artifact-event-data", "most"], "'most'"),
    (["frobnicate"], "'frobnicate'"),
    ([], "COMMAND"),
])
def test_argument_errors_exit_3_naming_the_value(argv: list[str], needle: str) -> None:
    code, out, err = run_main(*argv)
    assert code == EXIT_USAGE, err
    assert needle in err
    assert out == ""


def test_argument_error_in_json_mode_gives_a_json_summary() -> None:
    code, out, _ = run_main("deploy", "--json", "-i", "nowhere-inventory")
    summary = json.loads(out)
    assert code == EXIT_USAGE and summary["exit_code"] == EXIT_USAGE and "'nowhere-inventory'" in summary["error"]


def test_bad_extra_var_with_secret_key_does_not_echo_the_value() -> None:
    code, _, err = run_main("deploy", "-e", f"db_password {SECRET}")
    assert code == EXIT_USAGE
    assert "'db_password'" in err and SECRET not in err


def test_destroy_with_yes_passes_the_confirmation_check() -> None:
    args = build_parser().parse_args(["destroy", "--yes", "--playbook", PLAYBOOK, "-i", "localhost,"])
    spec = spec_from_args(args)
    assert spec.command == "destroy" and spec.playbook == (ROOT / PLAYBOOK).resolve()


def test_help_documents_commands_and_exit_codes() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "runner.py"), "--help"], capture_output=True, text=True,
                          check=True)
    for word in ("deploy", "check", "provision", "destroy", "run", "exit codes", "--json", "argument error"):
        assert word in proc.stdout
    sub = subprocess.run([sys.executable, str(ROOT / "runner.py"), "destroy", "--help"], capture_output=True,
                         text=True, check=True)
    assert "--yes" in sub.stdout and "--check" in sub.stdout


# ---- the command passed to ansible-playbook ------------------------------------------
def test_check_command_adds_check_and_diff_and_defaults() -> None:
    spec = spec_for("check", "--playbook", PLAYBOOK, "--limit", "web1", "--tags", "docker")
    args = ansible_args(spec, {})
    assert "--check" in args and "--diff" in args
    assert args[:2] == ["-i", str((ROOT / "inventories/sandbox").resolve())]
    assert args[args.index("--limit") + 1] == "web1" and args[args.index("--tags") + 1] == "docker"
    deploy = ansible_args(spec_for("deploy", "--playbook", PLAYBOOK), {})
    assert "--check" not in deploy and "--diff" not in deploy
    assert "--check" in ansible_args(spec_for("deploy", "--playbook", PLAYBOOK, "--check"), {})


@pytest.mark.parametrize("command,playbook", [("deploy", "site.yml"), ("check", "site.yml"),
                                              ("provision", "provision.yml"), ("destroy", "destroy.yml")])
def test_default_playbook_per_command(command: str, playbook: str) -> None:
    argv = [command, "-i", "localhost,", *(["--yes"] if command == "destroy" else [])]
    path = ROOT / "playbooks" / playbook
    if path.exists():
        assert spec_for(*argv).playbook == path.resolve()
    else:  # another engineer's playbook not there yet: the error names it
        code, _, err = run_main(*argv)
        assert code == EXIT_USAGE and f"playbooks/{playbook}" in err


def test_echo_masks_secret_extra_vars_but_not_others(tmp_path: Path) -> None:
    varfile = tmp_path / "vars.yml"
    varfile.write_text("aws:\n  secret_access_key: FILE-SECRET-999\nregion: eu-west-1\n")
    spec = spec_for("run", PLAYBOOK, "-i", "localhost,", "-e", f"cvat_superuser_password={SECRET}",
                    "-e", "cvat_host=cvat.example.org", "-e", json.dumps({"api_token": "JSON-TOK-42", "n": 2}),
                    "-e", f"@{varfile}")
    echoed = echo_command(spec)
    assert SECRET not in echoed and "JSON-TOK-42" not in echoed
    assert f"cvat_superuser_password={MASK}" in echoed and "cvat_host=cvat.example.org" in echoed
    assert f"@{varfile}" in echoed
    assert sorted(spec.secrets) == sorted([SECRET, "JSON-TOK-42", "FILE-SECRET-999"])


def test_extra_vars_go_through_0600_files_in_order(tmp_path: Path) -> None:
    spec = spec_for("run", PLAYBOOK, "-i", "localhost,", "-e", f"db_password={SECRET}", "-e", "a=1",
                    "-e", '{"b": [1, 2]}')
    files = write_extra_files(spec, tmp_path)
    args = ansible_args(spec, files)
    assert SECRET not in " ".join(args)
    e_values = [args[i + 1] for i, a in enumerate(args) if a == "-e"]
    assert e_values == [f"@{files[0]}", f"@{files[1]}", f"@{files[2]}"]
    assert json.loads(files[0].read_text()) == {"db_password": SECRET}
    assert json.loads(files[2].read_text()) == {"b": [1, 2]}
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in files.values())


@pytest.mark.parametrize("name,secret", [
    ("cvat_superuser_password", True), ("AWS_SECRET_ACCESS_KEY", True), ("github_token", True),
    ("ssh_private_key", True), ("db_passwd", True), ("cvat_host", False), ("ANSIBLE_HOST_KEY_CHECKING", False),
    ("aws_infra_key_name", False), ("keep_artifacts", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


# ---- artifacts: rotation and redaction --------------------------------------------------
def test_rotation_keeps_newest_and_only_touches_runner_dirs(tmp_path: Path) -> None:
    names = [f"2026010{d}T000000Z-deploy-abcde{d}" for d in range(1, 6)]
    for name in names:
        (tmp_path / name).mkdir()
    (tmp_path / "my-notes").mkdir()
    (tmp_path / "20260101T000000Z-deploy-abcde1.txt").write_text("a file, not a run")
    removed = rotate_artifacts(tmp_path, 2)
    assert sorted(p.name for p in removed) == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*names[3:], "my-notes", "20260101T000000Z-deploy-abcde1.txt"])
    assert rotate_artifacts(tmp_path, 0) == []


def test_redactor_scrubs_raw_and_json_escaped_secrets(tmp_path: Path) -> None:
    secret = 'q"uo\\te-ünï-S3cret'
    (tmp_path / "job_events").mkdir()
    (tmp_path / "job_events" / "1.json").write_text(json.dumps({"res": {"msg": f"x {secret} y"}}))
    (tmp_path / "stdout").write_text(f"raw {secret}\n")
    (tmp_path / "clean").write_text("nothing here\n")
    os.chmod(tmp_path / "stdout", 0o600)
    assert Redactor([secret]).scrub_tree(tmp_path) == 2
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text()
            assert json.dumps(secret)[1:-1] not in path.read_text()
    assert json.loads((tmp_path / "job_events" / "1.json").read_text()) == {"res": {"msg": f"x {MASK} y"}}
    assert oct((tmp_path / "stdout").stat().st_mode & 0o777) == "0o600"


def test_command_file_env_secrets_masked(tmp_path: Path) -> None:
    path = tmp_path / "command"
    path.write_text(json.dumps({"command": ["ansible-playbook"], "cwd": "/",
                                "env": {"AWS_SECRET_ACCESS_KEY": "abc123456", "HOME": "/root"}}))
    assert scrub_command_file(path) is True
    data = json.loads(path.read_text())
    assert data["env"] == {"AWS_SECRET_ACCESS_KEY": MASK, "HOME": "/root"}


# ---- execute() with a stand-in for ansible_runner.run ------------------------------------
class FakeResult:
    def __init__(self, rc: int, status: str) -> None:
        self.rc = rc
        self.status = status


def fake_run_standin(events: list[dict[str, Any]], rc: int, status: str, seen: dict[str, Any]):
    """Stand-in for ansible_runner.run: records kwargs, writes artifacts with the secret, feeds events."""

    def run(**kwargs: Any) -> FakeResult:
        seen.update(kwargs)
        art = Path(kwargs["artifact_dir"]) / kwargs["ident"]
        art.mkdir(parents=True, exist_ok=True)
        extra_paths = [a[1:] for a in shlex.split(kwargs["cmdline"]) if a.startswith("@")]
        seen["extravars_content"] = [Path(p).read_text() for p in extra_paths]
        (art / "command").write_text(json.dumps({"command": ["ansible-playbook", kwargs["cmdline"]],
                                                 "env": {"MY_TOKEN": "tok-value-1", "X": "1"}}))
        (art / "job_events").mkdir(exist_ok=True)
        for event in events:
            if kwargs["event_handler"](event):
                (art / "job_events" / f"{event['counter']}.json").write_text(json.dumps(event))
        (art / "rc").write_text(str(rc))
        (art / "leftover-partial.json").write_text(json.dumps({"res": {"msg": SECRET}}))
        return FakeResult(rc, status)

    return run


def _events(fail: bool) -> list[dict[str, Any]]:
    res = {"msg": f"bad password {SECRET}"} if fail else {"changed": True}
    name = "runner_on_failed" if fail else "runner_on_ok"
    return [
        {"counter": 1, "event": "playbook_on_task_start", "event_data": {"task": "Do it"}},
        {"counter": 2, "event": name, "stdout": f"fatal: {SECRET}" if fail else "changed: [h1]",
         "event_data": {"host": "h1", "res": res}},
        {"counter": 3, "event": "playbook_on_stats",
         "event_data": {"ok": {"h1": 1}, "changed": {} if fail else {"h1": 1}, "failures": {"h1": 1} if fail else {},
                        "dark": {}, "skipped": {}, "rescued": {}, "ignored": {}, "processed": {"h1": 1}}},
    ]


@pytest.mark.parametrize("fail,rc,status,code", [(True, 2, "failed", EXIT_HOST_FAILED),
                                                (False, 0, "successful", EXIT_OK),
                                                (False, 250, "failed", EXIT_INTERNAL)])
def test_execute_redacts_console_and_artifacts(tmp_path: Path, fail: bool, rc: int, status: str, code: int) -> None:
    spec = spec_for("run", PLAYBOOK, "-i", "localhost,", "-e", f"db_password={SECRET}",
                    "--artifact-dir", str(tmp_path / "art"), "--keep-artifacts", "3")
    seen: dict[str, Any] = {}
    out, err = io.StringIO(), io.StringIO()
    got = execute(spec, out=out, err=err, run_fn=fake_run_standin(_events(fail), rc, status, seen))
    assert got == code
    console = out.getvalue() + err.getvalue()
    assert SECRET not in console
    assert f"db_password={MASK}" in console
    row = next(line.split() for line in console.splitlines() if line.startswith("h1 "))
    assert row == ["h1", "1", "0" if fail else "1", "1" if fail else "0", "0", "0", "0", "0"]
    # what ansible-runner was told: secrets only via the temp file, no env files, no raw stdout file
    assert SECRET not in seen["cmdline"] and seen["suppress_env_files"] is True
    assert seen["suppress_output_file"] is True and seen["quiet"] is True
    assert any(SECRET in c for c in seen["extravars_content"])
    assert not Path(seen["private_data_dir"]).exists(), "temp extravars dir must be removed"
    files = [p for p in (tmp_path / "art").rglob("*") if p.is_file()]
    assert len(files) >= 5
    for path in files:
        text = path.read_text()
        assert SECRET not in text, path
        assert "tok-value-1" not in text, path


def test_execute_json_summary(tmp_path: Path) -> None:
    spec = spec_for("run", PLAYBOOK, "-i", "localhost,", "--json", "--artifact-dir", str(tmp_path))
    out = io.StringIO()
    code = execute(spec, out=out, err=io.StringIO(), run_fn=fake_run_standin(_events(True), 2, "failed", {}))
    objs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert objs[0]["type"] == "command" and objs[-1]["type"] == "summary"
    assert objs[-1]["exit_code"] == code == EXIT_HOST_FAILED
    assert objs[-1]["failed_hosts"] == ["h1"] and objs[-1]["recap"]["h1"]["failed"] == 1


def test_execute_runner_exception_is_exit_4(tmp_path: Path) -> None:
    spec = spec_for("run", PLAYBOOK, "-i", "localhost,", "-e", f"api_key={SECRET}", "--artifact-dir", str(tmp_path))

    def boom(**_kwargs: Any) -> None:
        raise RuntimeError(f"cannot start with {SECRET}")

    err = io.StringIO()
    assert execute(spec, out=io.StringIO(), err=err, run_fn=boom) == EXIT_INTERNAL
    assert "RuntimeError" in err.getvalue() and SECRET not in err.getvalue()


def test_execute_rotates_old_runs(tmp_path: Path) -> None:
    for day in range(1, 5):
        (tmp_path / f"2026010{day}T000000Z-deploy-00000{day}").mkdir()
    spec = spec_for("run", PLAYBOOK, "-i", "localhost,", "--artifact-dir", str(tmp_path), "--keep-artifacts", "2")
    execute(spec, out=io.StringIO(), err=io.StringIO(), run_fn=fake_run_standin(_events(False), 0, "successful", {}))
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and left[0] == "20260104T000000Z-deploy-000004" and "-run-" in left[1]


# ---- ./runner.py without the venv on the interpreter ------------------------------------------
SYSTEM_PY = Path("/usr/bin/python3")


def _system_python_lacks_runner() -> bool:
    if not SYSTEM_PY.exists():
        return False
    return subprocess.run([str(SYSTEM_PY), "-c", "import ansible_runner"], capture_output=True).returncode != 0


@pytest.mark.skipif(not _system_python_lacks_runner(), reason="needs a python without ansible_runner")
def test_reexecs_into_the_venv() -> None:
    proc = subprocess.run([str(SYSTEM_PY), str(ROOT / "runner.py"), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "exit codes" in proc.stdout


@pytest.mark.skipif(not _system_python_lacks_runner(), reason="needs a python without ansible_runner")
def test_missing_venv_says_run_bootstrap(tmp_path: Path) -> None:
    copy = tmp_path / "runner.py"
    copy.write_text((ROOT / "runner.py").read_text())
    env = {k: v for k, v in os.environ.items() if k != "CVAT_OPS_REEXECED"}
    proc = subprocess.run([str(SYSTEM_PY), str(copy), "deploy"], capture_output=True, text=True, env=env)
    assert proc.returncode == EXIT_INTERNAL
    assert "run scripts/bootstrap.sh" in proc.stderr


def test_execute_masks_secret_environment_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_secret = "AKIA-env-secret-0042"
    monkeypatch.setenv("CVAT_OPS_TEST_API_TOKEN", env_secret)
    events = _events(True)
    events[1]["event_data"]["res"]["msg"] = f"denied for {env_secret}"
    spec = spec_for("run", PLAYBOOK, "-i", "localhost,", "--artifact-dir", str(tmp_path))
    out = io.StringIO()
    assert execute(spec, out=out, err=io.StringIO(), run_fn=fake_run_standin(events, 2, "failed", {})) == 2
    assert f"FAILED: h1: denied for {MASK}" in out.getvalue() and env_secret not in out.getvalue()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert env_secret not in path.read_text(), path


def test_vaulted_extra_vars_file_secrets_are_learned_with_the_password_file(tmp_path: Path) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    password = tmp_path / "vault-pass"
    password.write_text("correct horse\n")
    vaulted = tmp_path / "secrets.vault.yml"
    plain = "cvat_superuser_password: VAULTED-PW-5150\ncvat_host: cvat.example.org\n"
    vaulted.write_bytes(VaultLib([("default", VaultSecret(b"correct horse"))]).encrypt(plain))
    assert b"VAULTED-PW-5150" not in vaulted.read_bytes()
    spec = spec_for("run", PLAYBOOK, "-i", "localhost,", "-e", f"@{vaulted}", "--vault-password-file", str(password))
    assert spec.secrets == ["VAULTED-PW-5150"]
    args = ansible_args(spec, {})
    assert args[args.index("--vault-password-file") + 1] == str(password.resolve())
    # without the password file runner.py cannot look inside; it still runs (ansible reports vault errors)
    assert spec_for("run", PLAYBOOK, "-i", "localhost,", "-e", f"@{vaulted}").secrets == []


@pytest.mark.parametrize("command,code", [("deploy", EXIT_HOST_FAILED), ("check", EXIT_HOST_FAILED), ("run", EXIT_OK)])
def test_deploy_that_matched_no_host_is_not_success(tmp_path: Path, command: str, code: int) -> None:
    # ansible-playbook exits 0 when no host matched (an empty aws_ec2 inventory, a wrong --limit)
    events = [{"counter": 1, "event": "playbook_on_no_hosts_matched", "event_data": {}},
              {"counter": 2, "event": "playbook_on_stats",
               "event_data": {"ok": {}, "changed": {}, "failures": {}, "dark": {}, "skipped": {}, "rescued": {},
                              "ignored": {}, "processed": {}}}]
    argv = [command, *([PLAYBOOK] if command == "run" else []), "-i", "localhost,", "--artifact-dir", str(tmp_path)]
    out, err = io.StringIO(), io.StringIO()
    got = execute(spec_for(*argv), out=out, err=err, run_fn=fake_run_standin(events, 0, "successful", {}))
    assert got == code
    if code != EXIT_OK:
        assert "no hosts matched" in out.getvalue()
