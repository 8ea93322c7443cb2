"""Secrets of the cvat role never appear in output or artifacts; they are generated once and reused.

Real runs of the role (`ansible-playbook -c local -v --diff`, `cvat_manage_stack: false`, so configuration and
secrets only) with every output captured. The secret values are then read back from where the role keeps them
(the `file` backend's directory on the "data volume" tmp dir, or SSM parameters in a moto server on 127.0.0.1)
and searched for in stdout/stderr, the fact cache, and every file written outside the secret stores (the backend's
directory and the per-reader files that compose mounts as secrets).
"""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import run_playbook

pytestmark = pytest.mark.slow

NAMES = ["db_password", "django_secret_key", "clickhouse_password", "superuser_password"]
PLAYBOOK = textwrap.dedent("""\
    - name: Run the cvat role locally (configuration and secrets only)
      hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
      roles:
        - cvat
      post_tasks:
        - name: Show that the superuser password fact is set without printing it
          ansible.builtin.debug:
            msg: "superuser password fact length {{ cvat_superuser_password | length }}"
    """)


def run_role(tmp: Path, extra: dict, env: dict | None = None, check: bool = True):
    data = tmp / "data"
    variables = {"cvat_manage_stack": False, "cvat_project_dir": str(tmp / "opt" / "cvat"),
                 "cvat_state_dir": str(data / "cvat"), "cvat_required_mounts": [str(data)],
                 "ansible_processor_vcpus": 2, "ansible_memtotal_mb": 4000, **extra}
    (tmp / "vars.json").write_text(json.dumps(variables))
    (tmp / "pb.yml").write_text(PLAYBOOK)
    full_env = {"ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp / "facts"), **(env or {})}
    proc = run_playbook(tmp / "pb.yml", "-v", "--diff", "-e", f"@{tmp / 'vars.json'}", inventory="localhost,",
                        env=full_env, check=check)
    return proc.stdout + proc.stderr if check else proc


def artifacts(tmp: Path) -> dict[str, str]:
    """Every file the run left behind, except the secret stores themselves (env files, secrets dir)."""
    out = {}
    for path in tmp.rglob("*"):
        if not path.is_file() or path.name in ("vars.json",):
            continue
        rel = path.relative_to(tmp).as_posix()
        if rel.startswith("data/cvat/secrets/") or rel.startswith("data/cvat/run-secrets/"):
            continue
        out[rel] = path.read_text(errors="replace")
    return out


def assert_not_leaked(secrets: dict[str, str], output: str, files: dict[str, str]):
    assert len(secrets) == len(NAMES) and all(len(v) >= 32 for v in secrets.values())
    for name, value in secrets.items():
        assert value not in output, f"{name} printed in the ansible output"
        for rel, text in files.items():
            assert value not in text, f"{name} found in artifact {rel}"


def test_file_backend_secrets_never_printed_and_reused(tmp_path):
    output = run_role(tmp_path, {})
    secrets_dir = tmp_path / "data" / "cvat" / "secrets"
    secrets = {n: (secrets_dir / n).read_text().strip() for n in NAMES}
    assert len(set(secrets.values())) == len(NAMES)  # independent values
    assert "superuser password fact length 40" in output
    assert_not_leaked(secrets, output, artifacts(tmp_path))
    # the secret files compose mounts carry them (0400 on the data volume): the grep above can find a secret where
    # one is; no env files any more (issue 12)
    run_secrets = tmp_path / "data" / "cvat" / "run-secrets"
    assert (run_secrets / "cvat_django_secret_key").read_text() == secrets["django_secret_key"]
    assert not (tmp_path / "data" / "cvat" / "env").exists()
    assert "cvat_django_secret_key" in (tmp_path / "opt" / "cvat" / "docker-compose.yml").read_text()

    # second run: same values, nothing printed
    output2 = run_role(tmp_path, {})
    assert {n: (secrets_dir / n).read_text().strip() for n in NAMES} == secrets
    assert_not_leaked(secrets, output2, artifacts(tmp_path))


def test_vault_value_wins_and_is_not_written(tmp_path):
    vault_pw = "VaultProvidedDbPassword0123456789abcdef"
    output = run_role(tmp_path, {"cvat_db_password": vault_pw})
    assert vault_pw not in output
    assert not (tmp_path / "data" / "cvat" / "secrets" / "db_password").exists()
    run_secrets = tmp_path / "data" / "cvat" / "run-secrets"
    assert (run_secrets / "postgres_password").read_text() == vault_pw
    assert (run_secrets / "cvat_postgres_password").read_text() == vault_pw
    assert vault_pw not in (tmp_path / "opt" / "cvat" / "docker-compose.yml").read_text()


def test_rotation_by_vault_value_rewrites_the_secret_files(tmp_path):
    """Rotation stays explicit: a new vault value replaces the file contents (stack.yml then restarts the readers);
    without it a second run keeps the files unchanged."""
    # the DB password from the vault too: the guard against a new DB password must not depend on this machine's Docker
    db = {"cvat_db_password": "Rotation-Test-Db-Password-0123456789"}
    run_role(tmp_path, {**db, "cvat_clickhouse_password": "First-Clickhouse-Password-0123456789"})
    run_secrets = tmp_path / "data" / "cvat" / "run-secrets"
    names = ["clickhouse_password", "cvat_clickhouse_password", "grafana_clickhouse_password"]
    assert {n: (run_secrets / n).read_text() for n in names} == dict.fromkeys(names, "First-Clickhouse-Password-0123456789")
    output = run_role(tmp_path, {**db, "cvat_clickhouse_password": "Second-Clickhouse-Password-0123456789"})
    assert {n: (run_secrets / n).read_text() for n in names} == dict.fromkeys(names, "Second-Clickhouse-Password-0123456789")
    assert "Second-Clickhouse-Password-0123456789" not in output


def test_ssm_backend_generates_once_in_securestring(tmp_path, moto):
    prefix = "/cvat/cvat.example.org"
    extra = {"cvat_secrets_backend": "ssm", "cvat_host": "cvat.example.org",
             "cvat_secrets_ssm_endpoint_url": moto.url, "cvat_secrets_ssm_region": "eu-west-1"}
    output = run_role(tmp_path, extra, env=moto.env)
    ssm = moto.client("ssm")
    params = {p["Name"]: p for p in ssm.describe_parameters()["Parameters"]}
    assert sorted(params) == sorted(f"{prefix}/{n}" for n in NAMES)
    assert {p["Type"] for p in params.values()} == {"SecureString"}
    secrets = {n: ssm.get_parameter(Name=f"{prefix}/{n}", WithDecryption=True)["Parameter"]["Value"] for n in NAMES}
    assert not (tmp_path / "data" / "cvat" / "secrets").exists() or not any((tmp_path / "data" / "cvat" / "secrets").iterdir())
    assert_not_leaked(secrets, output, artifacts(tmp_path))
    assert (tmp_path / "data/cvat/run-secrets/cvat_postgres_password").read_text() == secrets["db_password"]

    # second run reuses the parameters (versions unchanged) and prints nothing
    output2 = run_role(tmp_path, extra, env=moto.env)
    versions = {p["Name"]: p["Version"] for p in ssm.describe_parameters()["Parameters"]}
    assert set(versions.values()) == {1}
    assert_not_leaked(secrets, output2, artifacts(tmp_path))


def test_existing_database_without_its_password_fails_instead_of_generating_one(tmp_path):
    """A lost secrets store must not turn into a new DB password that locks CVAT out of its database."""
    volume = "cvat_cvat_db"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("needs the test machine's Docker engine")
    if subprocess.run(["docker", "volume", "inspect", volume], capture_output=True).returncode == 0:
        pytest.skip(f"a {volume} volume already exists on this machine's Docker: not touching it")
    subprocess.run(["docker", "volume", "create", "--label", "cvat-ops-test=secrets-guard", volume],
                   check=True, capture_output=True)
    try:
        proc = run_role(tmp_path, {}, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, out[-2000:]
        assert "cvat_cvat_db exists" in out and "Nothing was changed" in out, out[-2000:]
        assert not (tmp_path / "data" / "cvat" / "secrets" / "db_password").exists()
        assert not (tmp_path / "opt" / "cvat" / "docker-compose.yml").exists()
        # the vault value is the way out: with it the run goes through
        run_role(tmp_path, {"cvat_db_password": "restored-from-the-vault-0123456789"})
    finally:
        subprocess.run(["docker", "volume", "rm", volume], capture_output=True)
