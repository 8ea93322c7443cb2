"""Structural tests of the cvat role's rendered compose stack and its early input validation.

The role runs for real with `ansible-playbook -c local` into a temporary directory with
`cvat_manage_stack: false` (render configuration and secrets only; no Docker, no systemd). The rendered
docker-compose.yml is parsed and compared with the service list extracted from upstream CVAT v2.73.0
(UPSTREAM below). `docker compose config` of the same file runs in the molecule scenario `cvat` (the real
compose v2 implementation lives on the test host, not on this machine).
"""
from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import run_playbook

pytestmark = pytest.mark.slow

# Extracted from upstream CVAT v2.73.0 (commit ac6e63b96bddbc462a0a8c0acce307c4c0c6e972 of the release merge):
# docker-compose.yml + components/serverless/docker-compose.serverless.yml. service -> (image, command, named volumes)
UPSTREAM_COMMIT = "ac6e63b96bddbc462a0a8c0acce307c4c0c6e972"
BACKEND_VOLUMES = ["cvat_data:/home/django/data", "cvat_keys:/home/django/keys", "cvat_logs:/home/django/logs"]
UPSTREAM = {
    "cvat_db": ("postgres:15-alpine", None, ["cvat_db:/var/lib/postgresql/data"]),
    "cvat_redis_inmem": ("redis:7.2.11-alpine", ["redis-server", "--save", "60", "100", "--appendonly", "yes"],
                         ["cvat_inmem_db:/data"]),
    "cvat_redis_ondisk": ("apache/kvrocks:2.15.0", ["--compact-cron", "0 3 * * *"], ["cvat_cache_db:/var/lib/kvrocks"]),
    "cvat_server": ("cvat/server:v2.73.0", "init run server nginx", BACKEND_VOLUMES),
    "cvat_worker_utils": ("cvat/server:v2.73.0", "run worker notifications cleaning", BACKEND_VOLUMES),
    "cvat_worker_import": ("cvat/server:v2.73.0", "run worker import", BACKEND_VOLUMES),
    "cvat_worker_export": ("cvat/server:v2.73.0", "run worker export", BACKEND_VOLUMES),
    "cvat_worker_annotation": ("cvat/server:v2.73.0", "run worker annotation", BACKEND_VOLUMES),
    "cvat_worker_webhooks": ("cvat/server:v2.73.0", "run worker webhooks --with-scheduler", BACKEND_VOLUMES),
    "cvat_worker_quality_reports": ("cvat/server:v2.73.0", "run worker quality_reports", BACKEND_VOLUMES),
    "cvat_worker_chunks": ("cvat/server:v2.73.0", "run worker chunks", BACKEND_VOLUMES),
    "cvat_worker_consensus": ("cvat/server:v2.73.0", "run worker consensus", BACKEND_VOLUMES),
    "cvat_ui": ("cvat/ui:v2.73.0", None, []),
    "traefik": ("traefik:v3.6", None, ["/var/run/docker.sock:/var/run/docker.sock:ro"]),
    "cvat_opa": ("openpolicyagent/opa:1.12.2",
                 ["run", "--server", "--addr=:8181", "--log-level=error",
                  "--set=services.cvat.url=http://cvat-server:8080", "--set=bundles.cvat.service=cvat",
                  "--set=bundles.cvat.resource=/api/auth/rules", "--set=bundles.cvat.polling.min_delay_seconds=5",
                  "--set=bundles.cvat.polling.max_delay_seconds=15"], []),
    "cvat_clickhouse": ("clickhouse/clickhouse-server:23.11-alpine", None, ["cvat_events_db:/var/lib/clickhouse/"]),
    "cvat_vector": ("timberio/vector:0.26.0-alpine", None, []),
    "cvat_grafana": ("grafana/grafana-oss:10.1.2", None, []),
    "nuclio": ("quay.io/nuclio/dashboard:1.16.3-amd64", None, ["/var/run/docker.sock:/var/run/docker.sock"]),
}
UPSTREAM_VOLUMES = {"cvat_db", "cvat_data", "cvat_keys", "cvat_logs", "cvat_inmem_db", "cvat_events_db", "cvat_cache_db"}
NETWORK_ALIASES = {"cvat_server": "cvat-server", "cvat_opa": "opa", "cvat_clickhouse": "clickhouse",
                   "cvat_vector": "vector", "cvat_grafana": "grafana"}
SECRET_NAMES = ["db_password", "django_secret_key", "clickhouse_password", "superuser_password"]

PLAYBOOK = textwrap.dedent("""\
    - name: Render the cvat role locally
      hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
      roles:
        - cvat
    """)


def render(tmp: Path, extra: dict | None = None, *args: str, check: bool = True):
    """Runs the role with connection local into `tmp`; returns (process, project dir, state dir)."""
    tmp.mkdir(parents=True, exist_ok=True)
    data = tmp / "data"
    variables = {
        "cvat_manage_stack": False,
        "cvat_project_dir": str(tmp / "opt" / "cvat"),
        "cvat_state_dir": str(data / "cvat"),
        "cvat_required_mounts": [str(data)],
        "ansible_processor_vcpus": 2,
        "ansible_memtotal_mb": 7800,
        **(extra or {}),
    }
    (tmp / "vars.json").write_text(json.dumps(variables))
    (tmp / "pb.yml").write_text(PLAYBOOK)
    env = {"ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp / "facts"), "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp")}
    proc = run_playbook(tmp / "pb.yml", "-e", f"@{tmp / 'vars.json'}", *args, inventory="localhost,", env=env,
                        check=check)
    return proc, tmp / "opt" / "cvat", data / "cvat"


def recap_changed(stdout: str) -> int:
    line = [ln for ln in stdout.splitlines() if ln.startswith("localhost") and "changed=" in ln][-1]
    return int(line.split("changed=")[1].split()[0])


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cvat-default")
    first, project, state = render(tmp)
    second, _, _ = render(tmp)
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())
    return {"first": first, "second": second, "project": project, "state": state, "compose": compose}


def test_every_upstream_service_with_its_image_and_command(default_stack):
    services = default_stack["compose"]["services"]
    assert default_stack["compose"]["name"] == "cvat"
    assert set(services) == set(UPSTREAM), f"differs from upstream {UPSTREAM_COMMIT}"
    for name, (image, command, volumes) in UPSTREAM.items():
        svc = services[name]
        assert svc["image"] == image, name
        if name == "cvat_db":  # ours adds tuning arguments to the image's default `postgres`
            assert svc["command"][0] == "postgres" and any(a.startswith("shared_buffers=") for a in svc["command"])
        else:
            assert svc.get("command") == command, name
        rendered = [v for v in svc.get("volumes", []) if isinstance(v, str)]
        for volume in volumes:
            assert volume in rendered, f"{name}: {volume} missing from {rendered}"
        assert svc.get("restart") == "always", name
        assert "cvat" in svc["networks"], name
    for name, alias in NETWORK_ALIASES.items():
        assert alias in services[name]["networks"]["cvat"]["aliases"], name


def test_volumes_and_network_keep_upstream_names(default_stack):
    compose = default_stack["compose"]
    assert UPSTREAM_VOLUMES <= set(compose["volumes"])
    assert set(compose["networks"]) == {"cvat"}


def test_only_traefik_publishes_ports(default_stack):
    services = default_stack["compose"]["services"]
    publishing = sorted(name for name, svc in services.items() if svc.get("ports"))
    assert publishing == ["traefik"]
    assert services["traefik"]["ports"] == ["0.0.0.0:8080:8080"]
    assert not any("expose" in svc for svc in services.values())


def test_serverless_extras(default_stack):
    services = default_stack["compose"]["services"]
    assert services["cvat_server"]["environment"]["CVAT_SERVERLESS"] == "1"
    for name in ("cvat_server", "cvat_worker_annotation"):
        assert services[name]["extra_hosts"] == ["host.docker.internal:host-gateway"], name
    others = [n for n, s in services.items() if "extra_hosts" in s and n not in ("cvat_server", "cvat_worker_annotation")]
    assert others == []


def test_traefik_routes_and_grafana_behind_forward_auth(default_stack):
    services = default_stack["compose"]["services"]
    labels = services["cvat_server"]["labels"]
    assert "Host(`localhost`)" in labels["traefik.http.routers.cvat.rule"]
    assert labels["traefik.http.routers.cvat.entrypoints"] == "web"
    assert "labels" not in services["cvat_grafana"]  # never exposed by a label: only the file route below
    rules = yaml.safe_load((default_stack["project"] / "components/traefik/rules/cvat.yml").read_text())
    grafana = rules["http"]["routers"]["grafana"]
    assert grafana["middlewares"][0] == "analytics-auth"
    assert "PathPrefix(`/analytics`)" in grafana["rule"]
    assert rules["http"]["middlewares"]["analytics-auth"]["forwardAuth"]["address"] == "http://cvat_server:8080/analytics"
    dashboards = sorted(p.name for p in (default_stack["project"] / "components/analytics/grafana/dashboards").iterdir())
    assert dashboards == ["all_events.json", "management.json", "monitoring.json", "users_exceptions.json"]


def test_secrets_kept_on_data_volume_and_out_of_the_compose_file(default_stack):
    state, project = default_stack["state"], default_stack["project"]
    secrets_dir = state / "secrets"
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    compose_text = (project / "docker-compose.yml").read_text()
    for name in SECRET_NAMES:
        path = secrets_dir / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        value = path.read_text().strip()
        assert len(value) >= 32
        assert value not in compose_text, name
    backend_env = (state / "env" / "backend.env").read_text()
    assert stat.S_IMODE((state / "env" / "backend.env").stat().st_mode) == 0o600
    assert f"CVAT_POSTGRES_PASSWORD='{(secrets_dir / 'db_password').read_text().strip()}'" in backend_env
    db_env = (state / "env" / "db.env").read_text()
    assert f"POSTGRES_PASSWORD='{(secrets_dir / 'db_password').read_text().strip()}'" in db_env
    services = default_stack["compose"]["services"]
    assert services["cvat_db"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] != "trust"
    assert services["cvat_server"]["env_file"] == [str(state / "env" / "backend.env")]


def test_second_run_changes_nothing_and_keeps_secrets(default_stack):
    assert recap_changed(default_stack["first"].stdout) > 0
    assert recap_changed(default_stack["second"].stdout) == 0


def test_big_host_with_acme_and_without_serverless(tmp_path):
    """One render for the variants (each run of the role costs seconds): sizing, overrides, ACME, nuclio off."""
    _, project, _ = render(tmp_path, {"ansible_processor_vcpus": 16, "ansible_memtotal_mb": 64000,
                                      "cvat_worker_replicas": {"webhooks": 1, "quality_reports": 3},
                                      "cvat_tls_mode": "acme", "cvat_acme_email": "ops@example.org",
                                      "cvat_host": "cvat.example.org", "cvat_nuclio_enabled": False})
    services = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]
    # sizing: scale = min(16 // 4, 64000 // 8192) = 4 for the busy queues; overrides win; others stay single
    assert services["cvat_server"]["environment"]["NUMPROCS"] == "8"
    assert services["cvat_worker_export"]["deploy"]["replicas"] == 4
    assert services["cvat_worker_quality_reports"]["deploy"]["replicas"] == 3
    assert "container_name" not in services["cvat_worker_export"]  # container_name forbids replicas
    assert services["cvat_worker_webhooks"]["container_name"] == "cvat_worker_webhooks"
    assert "deploy" not in services["cvat_worker_webhooks"]
    assert services["cvat_db"]["shm_size"] == "4000m"
    assert "shared_buffers=8000MB" in services["cvat_db"]["command"]
    # ACME: 80/443 only, resolver on both routers
    traefik = services["traefik"]
    assert traefik["ports"] == ["0.0.0.0:80:80", "0.0.0.0:443:443"]
    assert traefik["environment"]["TRAEFIK_CERTIFICATESRESOLVERS_lets-encrypt_ACME_EMAIL"] == "ops@example.org"
    assert "cvat_letsencrypt:/letsencrypt" in traefik["volumes"]
    assert services["cvat_server"]["labels"]["traefik.http.routers.cvat.tls.certresolver"] == "lets-encrypt"
    assert services["cvat_ui"]["labels"]["traefik.http.routers.cvat-ui.entrypoints"] == "websecure"
    assert services["cvat_server"]["environment"]["CVAT_BASE_URL"] == "https://cvat.example.org"
    # serverless off: no dashboard, no CVAT_SERVERLESS, no extra_hosts
    assert "nuclio" not in services
    assert "CVAT_SERVERLESS" not in services["cvat_server"]["environment"]
    assert not any("extra_hosts" in s for s in services.values())
    assert sorted(n for n, s in services.items() if s.get("ports")) == ["traefik"]


BAD_INPUTS = [
    ({"cvat_version": "2.73.0"}, "cvat_version '2.73.0' is invalid"),
    ({"cvat_version": "v2.73"}, "cvat_version 'v2.73' is invalid"),
    ({"cvat_tls_mode": "acme", "cvat_host": "cvat.example.org"}, "cvat_tls_mode=acme needs cvat_acme_email (got '')"),
    ({"cvat_tls_mode": "certificate", "cvat_host": "cvat.example.org", "cvat_tls_certificate": ""},
     "cvat_tls_mode=certificate needs PEM content in cvat_tls_certificate (empty)"),
    ({"cvat_host": "https://cvat.example.org"}, "cvat_host 'https://cvat.example.org' is invalid"),
    ({"cvat_worker_replicas": {"exprt": 2}}, "cvat_worker_replicas {'exprt': 2} is invalid"),
    ({"cvat_state_dir": "/opt/cvat-state"}, "cvat_secrets_dir '/opt/cvat-state/secrets' is not under any of"),
    ({"cvat_tls_mode": "https"}, "value of cvat_tls_mode must be one of"),
]


@pytest.mark.parametrize("bad, message", BAD_INPUTS, ids=[m[:40] for _, m in BAD_INPUTS])
def test_bad_input_fails_early_naming_the_value(tmp_path, bad, message):
    proc, project, state = render(tmp_path, bad, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    # nothing was changed before the failure
    assert not project.exists() and not state.exists()
    assert "changed: [localhost]" not in proc.stdout


def test_check_mode_on_a_fresh_host_changes_nothing(tmp_path):
    proc, project, state = render(tmp_path, None, "--check", "--diff")
    assert recap_changed(proc.stdout) > 0  # it reports what it would do ...
    assert not project.exists() and not state.exists()  # ... and does nothing


def test_role_argument_spec_lists_every_default():
    role = Path(__file__).resolve().parents[2] / "roles" / "cvat"
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text())
    spec = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) <= set(spec), set(defaults) - set(spec)
    readme = (role / "README.md").read_text()
    missing = [name for name in defaults if f"`{name}`" not in readme]
    assert missing == [], f"variables missing from README: {missing}"
    assert os.path.exists(role / "files/grafana/LICENSE.upstream-cvat")
