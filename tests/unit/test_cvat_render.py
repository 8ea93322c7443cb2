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
import re
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import run_playbook

pytestmark = pytest.mark.slow


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that fails on a key repeated in one mapping (PyYAML silently keeps the last one, compose refuses)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key_node, deep=deep) for key_node, _ in node.value]
        duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
        if duplicates:
            raise AssertionError(f"duplicate keys {duplicates} in one mapping (line {node.start_mark.line + 1})")
        return super().construct_mapping(node, deep=deep)


def load_compose(project: Path) -> dict:
    return yaml.load((project / "docker-compose.yml").read_text(), Loader=_UniqueKeyLoader)  # noqa: S506

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
# Upstream volumes we drop on purpose: Traefik reads its routes from the file provider, never the Docker socket
# (issue 12); the Nuclio dashboard keeps it (it builds and runs function containers).
DOCKER_SOCKET = "/var/run/docker.sock:/var/run/docker.sock"
VOLUMES_DROPPED = {"traefik": {DOCKER_SOCKET + ":ro"}}
# Compose secrets per reader: (role secret, uid of the reading process in its image) -- README: secrets as files.
COMPOSE_SECRETS = {"postgres_password": ("db_password", 0), "cvat_postgres_password": ("db_password", 1000),
                   "cvat_django_secret_key": ("django_secret_key", 1000),
                   "cvat_clickhouse_password": ("clickhouse_password", 1000),
                   "clickhouse_password": ("clickhouse_password", 0),
                   "grafana_clickhouse_password": ("clickhouse_password", 472)}

# ---- Environment keys per service at the pin (facts read from upstream's files at ac6e63b, kept as data) --------
# docker-compose.yml: x-backend-env, x-clickhouse-env and each service's own keys; serverless override
# (components/serverless/docker-compose.serverless.yml) adds CVAT_SERVERLESS on cvat_server and the nuclio service;
# the https override (docker-compose.https.yml) adds the Traefik keys in UPSTREAM_ENV_HTTPS_TRAEFIK.
UP_BACKEND_ENV = {"CVAT_POSTGRES_HOST", "CVAT_REDIS_INMEM_HOST", "CVAT_REDIS_INMEM_PORT", "CVAT_REDIS_ONDISK_HOST",
                  "CVAT_REDIS_ONDISK_PORT", "CVAT_LOG_IMPORT_ERRORS", "CVAT_ALLOW_STATIC_CACHE",
                  "CVAT_DEFAULT_BACKING_CS_ID", "CVAT_NUM_PROXIES", "DJANGO_LOG_SERVER_HOST", "DJANGO_LOG_SERVER_PORT",
                  "no_proxy", "SMOKESCREEN_OPTS"}
UP_CLICKHOUSE_ENV = {"CLICKHOUSE_HOST", "CLICKHOUSE_PORT", "CLICKHOUSE_DB", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"}
UP_TRAEFIK_ACCESSLOG = {f"TRAEFIK_ACCESSLOG_FIELDS_NAMES_{f}" for f in (
    "ClientHost", "DownstreamContentSize", "DownstreamStatus", "Duration", "RequestHost", "RequestMethod",
    "RequestPath", "RequestPort", "RequestProtocol", "RouterName", "StartUTC")}
UPSTREAM_ENV = {
    "cvat_db": {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_HOST_AUTH_METHOD"},
    "cvat_redis_inmem": set(),
    "cvat_redis_ondisk": set(),
    "cvat_server": UP_BACKEND_ENV | UP_CLICKHOUSE_ENV | {
        "DJANGO_MODWSGI_EXTRA_ARGS", "ALLOWED_HOSTS", "ADAPTIVE_AUTO_ANNOTATION", "NUMPROCS", "CVAT_ANALYTICS",
        "CVAT_BASE_URL", "ONE_RUNNING_JOB_IN_QUEUE_PER_USER", "CVAT_SERVERLESS"},
    "cvat_worker_utils": UP_BACKEND_ENV | {"CVAT_REDIS_INMEM_PASSWORD", "NUMPROCS"},
    "cvat_worker_import": UP_BACKEND_ENV | {"NUMPROCS"},
    "cvat_worker_export": UP_BACKEND_ENV | UP_CLICKHOUSE_ENV | {"NUMPROCS"},
    "cvat_worker_annotation": UP_BACKEND_ENV | {"NUMPROCS"},
    "cvat_worker_webhooks": UP_BACKEND_ENV | {"NUMPROCS"},
    "cvat_worker_quality_reports": UP_BACKEND_ENV | {"NUMPROCS"},
    "cvat_worker_chunks": UP_BACKEND_ENV | {"NUMPROCS"},
    "cvat_worker_consensus": UP_BACKEND_ENV | {"NUMPROCS"},
    "cvat_ui": set(),
    "traefik": {"CVAT_HOST", "DJANGO_LOG_VIEWER_HOST", "DJANGO_LOG_VIEWER_PORT", "TRAEFIK_ACCESSLOG_FORMAT",
                "TRAEFIK_ACCESSLOG_FIELDS_DEFAULTMODE", "TRAEFIK_LOG_FORMAT", "TRAEFIK_ENTRYPOINTS_web_ADDRESS",
                "TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT", "TRAEFIK_PROVIDERS_DOCKER_NETWORK",
                "TRAEFIK_PROVIDERS_FILE_DIRECTORY"} | UP_TRAEFIK_ACCESSLOG,
    "cvat_opa": set(),
    "cvat_clickhouse": UP_CLICKHOUSE_ENV,
    "cvat_vector": UP_CLICKHOUSE_ENV,
    "cvat_grafana": UP_CLICKHOUSE_ENV | {
        "GF_PATHS_PROVISIONING", "GF_AUTH_BASIC_ENABLED", "GF_AUTH_ANONYMOUS_ENABLED", "GF_AUTH_ANONYMOUS_ORG_ROLE",
        "GF_AUTH_DISABLE_LOGIN_FORM", "GF_SERVER_ROOT_URL", "GF_INSTALL_PLUGINS",
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"},
    "nuclio": {"http_proxy", "https_proxy", "no_proxy", "NUCLIO_CHECK_FUNCTION_CONTAINERS_HEALTHINESS",
               "NUCLIO_DASHBOARD_DEFAULT_FUNCTION_MOUNT_MODE"},
}
UPSTREAM_ENV_HTTPS_TRAEFIK = {
    "TRAEFIK_ENTRYPOINTS_web_HTTP_REDIRECTIONS_ENTRYPOINT_TO", "TRAEFIK_ENTRYPOINTS_web_HTTP_REDIRECTIONS_ENTRYPOINT_SCHEME",
    "TRAEFIK_ENTRYPOINTS_websecure_ADDRESS", "TRAEFIK_CERTIFICATESRESOLVERS_lets-encrypt_ACME_EMAIL",
    "TRAEFIK_CERTIFICATESRESOLVERS_lets-encrypt_ACME_TLSCHALLENGE", "TRAEFIK_CERTIFICATESRESOLVERS_lets-encrypt_ACME_STORAGE"}
_BACKEND_SERVICES = ["cvat_server"] + [f"cvat_worker_{q}" for q in (
    "utils", "import", "export", "annotation", "webhooks", "quality_reports", "chunks", "consensus")]
# Intentional differences (environment + env_file keys), service -> (keys we add, upstream keys we drop). Every entry
# says why; anything else that differs fails the test.
ENV_ALLOWED_DIFFERENCES = {
    # PostgreSQL with scram-sha-256 and a kept password (a file: compose secret) instead of upstream's trust.
    "cvat_db": ({"POSTGRES_PASSWORD_FILE"}, set()),
    # Traefik: our file-provider rules are rendered by Ansible with Grafana's address (grafana:3000); upstream's
    # DJANGO_LOG_VIEWER_HOST/PORT only feed the `{{ env }}` templating of its grafana_conf.yml (README). No docker
    # provider: no Docker socket in Traefik (issue 12), every route comes from the file provider.
    "traefik": (set(), {"DJANGO_LOG_VIEWER_HOST", "DJANGO_LOG_VIEWER_PORT", "TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT",
                        "TRAEFIK_PROVIDERS_DOCKER_NETWORK"}),
    # the ClickHouse password is a file (compose secret) read by a wrapper or Grafana's start script, never env
    "cvat_clickhouse": (set(), {"CLICKHOUSE_PASSWORD"}),
    "cvat_vector": (set(), {"CLICKHOUSE_PASSWORD"}),
    "cvat_grafana": (set(), {"CLICKHOUSE_PASSWORD"}),
    **{name: (
        # secrets as files: the DB password through CVAT's CVAT_POSTGRES_PASSWORD_FILE, the Django key and the
        # ClickHouse password through the role's settings module (DJANGO_SETTINGS_MODULE=cvat.settings.cvat_ops);
        # CVAT_HOST and CVAT_BASE_URL on every backend service (links in e-mails and webhooks; upstream: server only
        # for CVAT_BASE_URL, nowhere for CVAT_HOST).
        {"CVAT_POSTGRES_PASSWORD_FILE", "DJANGO_SETTINGS_MODULE", "CVAT_HOST"}
        | ({"CVAT_BASE_URL"} if name != "cvat_server" else set()),
        {"CLICKHOUSE_PASSWORD"} if name in ("cvat_server", "cvat_worker_export") else set())
        for name in _BACKEND_SERVICES},
}

# ---- What the image's supervisord configs expand (upstream supervisord/ and backend_entrypoint.d/ at ac6e63b) ----
# config file -> %(ENV_X)s variables it references. supervisord exits (code 2, "cannot be expanded") when one is unset.
SUPERVISORD_ENV = {
    "server.conf": {"CVAT_SUPERVISORD_INCLUDES", "NUMPROCS"},
    "worker.conf": {"CVAT_SUPERVISORD_INCLUDES", "CVAT_QUEUES", "CVAT_RQWORKER_EXTRA_FLAGS", "NUMPROCS"},
    "nginx.conf": set(),
    "reusable/supervisord.conf": set(),
    "reusable/nginx.conf": set(),
    "reusable/smokescreen.conf": {"SMOKESCREEN_OPTS"},
    "reusable/rqscheduler.conf": {"CVAT_REDIS_INMEM_HOST", "CVAT_REDIS_INMEM_PORT", "CVAT_REDIS_INMEM_PASSWORD"},
    "reusable/clamav.conf": {"HOME"},
}
# backend_entrypoint.d/cvat.conf: component -> reusable configs `run` includes for it (clamav only with CLAM_AV=yes).
SUPERVISORD_COMPONENT_INCLUDES = {
    "annotation": ["smokescreen"], "chunks": ["smokescreen"], "consensus": [], "export": ["smokescreen"],
    "import": ["smokescreen", "clamav"], "quality_reports": [], "cleaning": ["rqscheduler"],
    "webhooks": ["smokescreen"], "notifications": [], "server": ["smokescreen", "clamav"],
}
# Set outside the compose environment: backend_entrypoint.sh exports these before `exec supervisord`; Docker sets HOME.
SUPERVISORD_ENV_PROVIDED = {"CVAT_SUPERVISORD_INCLUDES", "CVAT_QUEUES", "CVAT_RQWORKER_EXTRA_FLAGS", "HOME"}

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
    compose = load_compose(project)
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
            if volume in VOLUMES_DROPPED.get(name, set()):
                assert volume not in rendered, name
                continue
            assert volume in rendered, f"{name}: {volume} missing from {rendered}"
        assert svc.get("restart") == "always", name
        assert "cvat" in svc["networks"], name
    for name, alias in NETWORK_ALIASES.items():
        assert alias in services[name]["networks"]["cvat"]["aliases"], name


def rendered_env(service: dict) -> dict[str, str]:
    """The environment a container gets: env_file entries, then `environment` (compose's precedence)."""
    env: dict[str, str] = {}
    for path in service.get("env_file", []):
        for line in Path(path).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value
    env.update({k: "" if v is None else str(v) for k, v in (service.get("environment") or {}).items()})
    return env


def compare_env_keys(services: dict, upstream: dict[str, set]) -> list[str]:
    problems = []
    for name, up_keys in upstream.items():
        ours = set(rendered_env(services[name]))
        added, dropped = ENV_ALLOWED_DIFFERENCES.get(name, (set(), set()))
        if ours - up_keys - added:
            problems.append(f"{name}: keys not in upstream {UPSTREAM_COMMIT[:7]} nor allowed: {sorted(ours - up_keys - added)}")
        if up_keys - ours - dropped:
            problems.append(f"{name}: upstream keys missing: {sorted(up_keys - ours - dropped)}")
        if added & up_keys or dropped - up_keys or added & ours != added:
            problems.append(f"{name}: stale allow-list entry (added {sorted(added)}, dropped {sorted(dropped)})")
    return problems


def test_environment_keys_match_upstream_per_service(default_stack):
    assert compare_env_keys(default_stack["compose"]["services"], UPSTREAM_ENV) == []


def supervisord_configs(command: str, env: dict[str, str]) -> list[str]:
    """The supervisord config files `backend_entrypoint.sh run ...` loads for a service's command."""
    args = command.split()
    args = args[args.index("run") + 1:]
    component, rest = args[0], args[1:]
    if component == "nginx":
        return ["nginx.conf", "reusable/supervisord.conf", "reusable/nginx.conf"]
    if component == "server":
        includes = SUPERVISORD_COMPONENT_INCLUDES["server"] + rest
    else:
        includes = [inc for queue in rest if not queue.startswith("--") for inc in SUPERVISORD_COMPONENT_INCLUDES[queue]]
    includes = [inc for inc in includes if inc != "clamav" or env.get("CLAM_AV") == "yes"]
    return [f"{component}.conf", "reusable/supervisord.conf"] + [f"reusable/{inc}.conf" for inc in dict.fromkeys(includes)]


def test_every_variable_the_images_supervisord_configs_expand_is_set(default_stack):
    """supervisord exits with code 2 when a %(ENV_X)s of its config is unset: the service restarts in a loop."""
    services = default_stack["compose"]["services"]
    missing = {}
    for name in _BACKEND_SERVICES:
        env = rendered_env(services[name])
        for config in supervisord_configs(services[name]["command"], env):
            absent = SUPERVISORD_ENV[config] - SUPERVISORD_ENV_PROVIDED - set(env)
            if absent:
                missing[f"{name} ({config})"] = sorted(absent)
    assert missing == {}
    # the guard is really configured: production deny rules by default
    opts = services["cvat_server"]["environment"]["SMOKESCREEN_OPTS"].split()
    assert opts == ["--deny-range=169.254.169.254/32", "--deny-range=fd00:ec2::254/128", "--deny-range=172.31.0.0/16"]
    for name in _BACKEND_SERVICES:
        assert services[name]["environment"]["SMOKESCREEN_OPTS"] == services["cvat_server"]["environment"]["SMOKESCREEN_OPTS"]


UPSTREAM_GIT_DIR = Path(os.environ.get("CVAT_UPSTREAM_GIT_DIR",
                                       "/work/.mirror/Christanding+cvat-yolo26-annotation-tool/repo"))


def _git_show(path: str) -> str:
    return subprocess.run(["git", f"--git-dir={UPSTREAM_GIT_DIR}", "show", f"{UPSTREAM_COMMIT}:{path}"],
                          check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(not UPSTREAM_GIT_DIR.is_dir(), reason="no upstream CVAT git mirror on this machine")
def test_upstream_facts_kept_as_data_match_the_pinned_sources():
    """Re-reads the facts above from upstream's files at the pin (when a mirror is present) so the data cannot rot."""
    for config, variables in SUPERVISORD_ENV.items():
        assert set(re.findall(r"%\(ENV_(\w+)\)s", _git_show(f"supervisord/{config}"))) == variables, config
    includes = dict(re.findall(r'\["(\w+)"\]="([^"]*)"', _git_show("backend_entrypoint.d/cvat.conf")))
    assert {k: v.split() for k, v in includes.items()} == SUPERVISORD_COMPONENT_INCLUDES
    base = yaml.safe_load(_git_show("docker-compose.yml"))["services"]
    serverless = yaml.safe_load(_git_show("components/serverless/docker-compose.serverless.yml"))["services"]
    https = yaml.safe_load(_git_show("docker-compose.https.yml"))["services"]
    keys = {name: set(svc.get("environment") or {}) for name, svc in base.items()}
    for name, svc in serverless.items():
        keys.setdefault(name, set()).update(svc.get("environment") or {})
    assert keys == UPSTREAM_ENV
    assert set(https["traefik"]["environment"]) - keys["traefik"] == UPSTREAM_ENV_HTTPS_TRAEFIK


def test_operator_extra_env_wins_once_and_is_escaped(tmp_path):
    extra = {"CVAT_ALLOW_STATIC_CACHE": "yes", "CVAT_NUM_PROXIES": 2, "CVAT_HEALTH_DISK_USAGE_MAX": 95,
             "ALLOWED_HOSTS": "cvat.example.org", "CVAT_EXAMPLE": "a$b"}
    _, project, _ = render(tmp_path, {"cvat_backend_extra_env": extra, "cvat_no_proxy": "internal.example.org",
                                      "cvat_https_proxy": "http://proxy.example.org:3128",
                                      "cvat_one_running_job_in_queue_per_user": True})
    services = load_compose(project)["services"]  # fails on a key rendered twice in one service
    for name in _BACKEND_SERVICES:
        env = services[name]["environment"]
        assert env["CVAT_ALLOW_STATIC_CACHE"] == "yes" and env["CVAT_NUM_PROXIES"] == "2", name
        assert env["CVAT_HEALTH_DISK_USAGE_MAX"] == "95", name
        assert env["CVAT_EXAMPLE"] == "a$$b", name  # compose reads `$$` as a literal `$`
        assert env["no_proxy"] == "clickhouse,grafana,vector,nuclio,opa,internal.example.org", name
    assert services["cvat_server"]["environment"]["ALLOWED_HOSTS"] == "cvat.example.org"
    assert services["cvat_server"]["environment"]["ONE_RUNNING_JOB_IN_QUEUE_PER_USER"] == "true"
    assert services["nuclio"]["environment"]["https_proxy"] == "http://proxy.example.org:3128"
    assert services["nuclio"]["environment"]["no_proxy"] == "internal.example.org"


def test_smtp_mail_backend_settings_module_and_secret_only_in_a_file(tmp_path):
    """CVAT has no mail backend by default (invitations of unknown e-mails answer 500): with cvat_smtp_enabled the
    settings module cvat.settings.cvat_ops of server and workers adds SMTP, the password only in a 0400 secret file."""
    password = "Ses-Smtp-Pw-Never-In-Compose-77"
    proc, project, state = render(tmp_path, {"cvat_smtp_enabled": True, "cvat_host": "cvat.example.org",
                                             "cvat_smtp_host": "email-smtp.eu-west-1.amazonaws.com",
                                             "cvat_smtp_username": "AKIAEXAMPLESMTP", "cvat_smtp_password": password,
                                             "cvat_smtp_from": "annotation@example.org"})
    assert password not in proc.stdout + proc.stderr
    services = load_compose(project)["services"]
    for name in _BACKEND_SERVICES:
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "cvat.settings.cvat_ops", name
        assert (env["CVAT_OPS_SMTP_HOST"], env["CVAT_OPS_SMTP_PORT"], env["CVAT_OPS_SMTP_SECURITY"]) == (
            "email-smtp.eu-west-1.amazonaws.com", "587", "starttls"), name
        assert env["CVAT_OPS_SMTP_FROM"] == "annotation@example.org", name
        assert f"{project}/settings/cvat_ops.py:/opt/cvat/cvat/settings/cvat_ops.py:ro" in services[name]["volumes"], name
        assert "cvat_smtp_password" in services[name]["secrets"], name
        assert password not in json.dumps(rendered_env(services[name])), name
    assert password not in (project / "docker-compose.yml").read_text()
    settings = (project / "settings" / "cvat_ops.py").read_text()
    assert "from cvat.settings.production import *" in settings and "smtp.EmailBackend" in settings
    assert 'EMAIL_HOST_PASSWORD = _secret("cvat_smtp_password")' in settings
    assert password not in settings
    secret_file = state / "run-secrets" / "cvat_smtp_password"
    assert secret_file.read_text() == password
    assert (oct(secret_file.stat().st_mode & 0o777), secret_file.stat().st_uid) == ("0o400", 1000)


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
    """Every route comes from the file provider; Traefik has no Docker socket and no docker provider (issue 12)."""
    services = default_stack["compose"]["services"]
    assert [n for n, s in services.items() if "labels" in s] == []
    traefik = services["traefik"]
    assert not any("docker.sock" in str(v) for v in traefik["volumes"]), traefik["volumes"]
    assert not any(k.startswith("TRAEFIK_PROVIDERS_DOCKER") for k in traefik["environment"])
    assert traefik["environment"]["TRAEFIK_PROVIDERS_FILE_DIRECTORY"] == "/etc/traefik/rules"
    assert "./components/traefik/rules:/etc/traefik/rules:ro" in traefik["volumes"]
    # the Nuclio dashboard is the only service with the socket, and it publishes nothing
    assert [n for n, s in services.items() if any("docker.sock" in str(v) for v in s.get("volumes", []))] == ["nuclio"]
    assert DOCKER_SOCKET in services["nuclio"]["volumes"] and "ports" not in services["nuclio"]
    rules = yaml.safe_load((default_stack["project"] / "components/traefik/rules/cvat.yml").read_text())
    routers, backends = rules["http"]["routers"], rules["http"]["services"]
    assert routers["cvat"]["rule"] == ("Host(`localhost`) && (PathPrefix(`/api/`) || PathPrefix(`/static/`) || "
                                       "PathPrefix(`/admin`) || PathPrefix(`/django-rq`))")
    assert routers["cvat-ui"]["rule"] == "Host(`localhost`)"
    assert {n: r["entryPoints"] for n, r in routers.items()} == {"cvat": ["web"], "cvat-ui": ["web"], "grafana": ["web"]}
    assert not any("tls" in r for r in routers.values())
    assert backends["cvat"]["loadBalancer"]["servers"] == [{"url": "http://cvat-server:8080"}]
    assert backends["cvat-ui"]["loadBalancer"]["servers"] == [{"url": "http://cvat_ui:8000"}]
    # the addresses resolve on the cvat network: the server's alias and the UI's service name
    assert "cvat-server" in services["cvat_server"]["networks"]["cvat"]["aliases"] and "cvat_ui" in services
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
    assert not (state / "env").exists()  # no env files any more
    services = default_stack["compose"]["services"]
    assert services["cvat_db"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] != "trust"
    assert services["cvat_db"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert services["cvat_server"]["environment"]["CVAT_POSTGRES_PASSWORD_FILE"] == "/run/secrets/cvat_postgres_password"


def test_secrets_reach_containers_only_as_files(default_stack):
    """Each compose secret is a 0400 file in a 0700 directory on the data volume, owned by the uid that reads it in
    its image, holding exactly the kept value; services mount only the ones they read; no env_file anywhere."""
    state, compose = default_stack["state"], default_stack["compose"]
    run_secrets = state / "run-secrets"
    assert stat.S_IMODE(run_secrets.stat().st_mode) == 0o700 and run_secrets.stat().st_uid == 0
    assert {n: s["file"] for n, s in compose["secrets"].items()} == {n: str(run_secrets / n) for n in COMPOSE_SECRETS}
    for name, (secret, uid) in COMPOSE_SECRETS.items():
        path = run_secrets / name
        assert (stat.S_IMODE(path.stat().st_mode), path.stat().st_uid, path.stat().st_gid) == (0o400, uid, uid), name
        assert path.read_text() == (state / "secrets" / secret).read_text().strip(), name  # no trailing newline
    services = compose["services"]
    readers = {name: sorted(svc.get("secrets", [])) for name, svc in services.items() if svc.get("secrets")}
    backend = ["cvat_django_secret_key", "cvat_postgres_password"]
    assert readers == {
        "cvat_db": ["postgres_password"], "cvat_clickhouse": ["clickhouse_password"],
        "cvat_vector": ["cvat_clickhouse_password"], "cvat_grafana": ["grafana_clickhouse_password"],
        **{n: sorted(backend + (["cvat_clickhouse_password"] if n in ("cvat_server", "cvat_worker_export") else []))
           for n in _BACKEND_SERVICES}}
    assert [n for n, s in services.items() if "env_file" in s] == []
    # images without a file variant: a wrapper reads the file in the container, then runs the image's entrypoint
    for name, path, target in (("cvat_clickhouse", "/run/secrets/clickhouse_password", "exec /entrypoint.sh"),
                               ("cvat_vector", "/run/secrets/cvat_clickhouse_password", "exec /usr/local/bin/vector")):
        script = services[name]["entrypoint"][2]
        assert f'CLICKHOUSE_PASSWORD="$$(cat {path})"' in script and target in script, name
    assert "/run/secrets/grafana_clickhouse_password" in services["cvat_grafana"]["entrypoint"][2]
    assert "CLICKHOUSE_PASSWORD" not in services["cvat_grafana"]["entrypoint"][2]
    # the backend: settings module reading the files, and the entrypoint hook for ClickHouse's schema script
    project = default_stack["project"]
    settings = (project / "settings/cvat_ops.py").read_text()
    assert 'SECRET_KEY = _secret("cvat_django_secret_key")' in settings
    assert 'CLICKHOUSE["events"]["PASSWORD"] = _secret("cvat_clickhouse_password")' in settings
    hook = f"{project}/init.d/cvat_ops_clickhouse.sh:/etc/cvat/init.d/cvat_ops_clickhouse.sh:ro"
    assert [n for n, s in services.items() if hook in s.get("volumes", [])] == ["cvat_server"]


def test_clickhouse_init_hook_hands_the_password_to_init_py_only(default_stack, tmp_path):
    """Sources the rendered hook in bash as backend_entrypoint.sh does: init.py sees the password, nothing else."""
    hook = (default_stack["project"] / "init.d/cvat_ops_clickhouse.sh").read_text()
    hook = hook.replace("/run/secrets/cvat_clickhouse_password", str(tmp_path / "pw"))
    (tmp_path / "pw").write_text("Hook-Password-1234")
    (tmp_path / "hook.sh").write_text(hook)
    script = tmp_path / "components/analytics/clickhouse/init.py"
    script.parent.mkdir(parents=True)
    script.write_text('import os; print("init", os.environ.get("CLICKHOUSE_PASSWORD"))')
    (tmp_path / "run.sh").write_text(textwrap.dedent(f"""\
        set -eu
        SCRIPT_DIR={tmp_path}
        . {tmp_path}/hook.sh
        python "$SCRIPT_DIR/components/analytics/clickhouse/init.py"
        python -c 'import os; print("other", os.environ.get("CLICKHOUSE_PASSWORD"))'
        echo "shell ${{CLICKHOUSE_PASSWORD:-unset}}"
        """))
    out = subprocess.run(["bash", str(tmp_path / "run.sh")], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["init Hook-Password-1234", "other None", "shell unset"]


@pytest.mark.skipif(not UPSTREAM_GIT_DIR.is_dir(), reason="no upstream CVAT git mirror on this machine")
def test_upstream_secret_facts_at_the_pin():
    """What the backend image reads at the pin, on which the file wiring above relies."""
    base = _git_show("cvat/settings/base.py")
    assert 'os.getenv("CVAT_POSTGRES_PASSWORD_FILE")' in base
    assert 'SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")' in base  # no file variant
    assert '"PASSWORD": os.getenv("CLICKHOUSE_PASSWORD", "user")' in base  # no file variant
    entrypoint = _git_show("backend_entrypoint.sh")
    assert "for init_script in /etc/cvat/init.d/*; do" in entrypoint
    assert 'python "$SCRIPT_DIR/components/analytics/clickhouse/init.py"' in entrypoint
    assert "os.getenv(CLICKHOUSE_PASSWORD_ENV_VAR)" in _git_show("components/analytics/clickhouse/init.py")
    assert "USER 1000:1000" in _git_show("Dockerfile")  # owner of the backend's secret files


def test_known_secret_values_appear_nowhere_but_their_files(tmp_path):
    """Vault values for every secret (and SMTP): none in the compose file, any service's environment, any file of
    the compose project, or the output; each only in its secret files."""
    values = {"cvat_db_password": "Known-Db-Password-0001-abcdef", "cvat_django_secret_key": "Known-Django-Key-0002-abcdef",
              "cvat_clickhouse_password": "Known-Ch-Password-0003-abcdef",
              "cvat_superuser_password": "Known-Superuser-Pw-0004-abcdef", "cvat_smtp_password": "Known-Smtp-Pw-0005-abc"}
    proc, project, state = render(tmp_path, {**values, "cvat_smtp_enabled": True, "cvat_host": "cvat.example.org",
                                             "cvat_smtp_host": "email-smtp.eu-west-1.amazonaws.com",
                                             "cvat_smtp_username": "AKIAEXAMPLESMTP",
                                             "cvat_smtp_from": "annotation@example.org"})
    compose = load_compose(project)
    project_files = {p: p.read_text(errors="replace") for p in project.rglob("*") if p.is_file()}
    assert len(project_files) > 5
    for var, value in values.items():
        assert value not in proc.stdout + proc.stderr, var
        for path, text in project_files.items():
            assert value not in text, f"{var} in {path}"
        for name, svc in compose["services"].items():
            assert value not in json.dumps(rendered_env(svc)), f"{var} in the environment of {name}"
            assert value not in json.dumps(svc), f"{var} in the definition of {name}"
    files = {p.name: p.read_text() for p in (state / "run-secrets").iterdir()}
    assert files["postgres_password"] == files["cvat_postgres_password"] == values["cvat_db_password"]
    assert files["cvat_django_secret_key"] == values["cvat_django_secret_key"]
    assert files["clickhouse_password"] == files["grafana_clickhouse_password"] == values["cvat_clickhouse_password"]
    assert files["cvat_smtp_password"] == values["cvat_smtp_password"]
    assert values["cvat_superuser_password"] not in files.values()  # only the role uses it (docker exec stdin)


SECRET_FILES_PLAYBOOK = textwrap.dedent("""\
    - name: Check the secret files as the role does before the stack starts
      hosts: localhost
      connection: local
      gather_facts: false
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
      tasks:
        - name: Run the role's secret-file check
          ansible.builtin.include_role:
            name: cvat
            tasks_from: secret_files.yml
    """)


@pytest.mark.parametrize("damage, message", [
    ("missing", "secret file {path} is missing:"),
    ("owner", "secret file {path} is unreadable by uid 1000 (owner uid 0, mode 0400)"),
], ids=["missing", "wrong-owner"])
def test_missing_or_unreadable_secret_file_stops_before_the_stack_naming_the_path(tmp_path, damage, message):
    _, project, state = render(tmp_path)
    path = state / "run-secrets" / "cvat_django_secret_key"
    if damage == "missing":
        path.unlink()
    else:
        os.chown(path, 0, 0)
    (tmp_path / "check.yml").write_text(SECRET_FILES_PLAYBOOK)
    proc = run_playbook(tmp_path / "check.yml", "-e", f"@{tmp_path / 'vars.json'}", inventory="localhost,",
                        check=False)
    assert proc.returncode != 0
    assert message.format(path=path) in proc.stdout + proc.stderr
    assert "cvat_worker_consensus would not start" in proc.stdout + proc.stderr
    # the intact state passes the same check
    (tmp_path / "check.yml").write_text(SECRET_FILES_PLAYBOOK)
    render(tmp_path)
    assert run_playbook(tmp_path / "check.yml", "-e", f"@{tmp_path / 'vars.json'}", inventory="localhost,").returncode == 0


def test_second_run_changes_nothing_and_keeps_secrets(default_stack):
    assert recap_changed(default_stack["first"].stdout) > 0
    assert recap_changed(default_stack["second"].stdout) == 0


def test_big_host_with_acme_and_without_serverless(tmp_path):
    """One render for the variants (each run of the role costs seconds): sizing, overrides, ACME, nuclio off."""
    _, project, _ = render(tmp_path, {"ansible_processor_vcpus": 16, "ansible_memtotal_mb": 64000,
                                      "cvat_worker_replicas": {"webhooks": 1, "quality_reports": 3},
                                      "cvat_tls_mode": "acme", "cvat_acme_email": "ops@example.org",
                                      "cvat_host": "cvat.example.org", "cvat_nuclio_enabled": False})
    services = load_compose(project)["services"]
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
    assert compare_env_keys(services, {"traefik": UPSTREAM_ENV["traefik"] | UPSTREAM_ENV_HTTPS_TRAEFIK}) == []
    routers = yaml.safe_load((project / "components/traefik/rules/cvat.yml").read_text())["http"]["routers"]
    for name in ("cvat", "cvat-ui", "grafana"):
        assert routers[name]["tls"] == {"certResolver": "lets-encrypt"}, name
        assert routers[name]["entryPoints"] == ["websecure"], name
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
    # issue 16: each refused before any change, naming the variable and the value
    ({"cvat_superuser_email": "not-an-email"}, "cvat_superuser_email='not-an-email'"),
    ({"cvat_http_port": 70000}, "cvat_http_port=70000 (1..65535)"),
    ({"cvat_backend_extra_env": {"CVAT_POSTGRES_PASSWORD": "x"}},
     "CVAT_POSTGRES_PASSWORD is refused: a managed secret: set cvat_db_password"),
    ({"cvat_secret_length": 8}, "cvat_secret_length 8 is invalid: generated secrets need 12..256 characters"),
    # the same gaps elsewhere in the role's inputs
    ({"cvat_backend_extra_env": {"CVAT_HOST": "cvat.example.org"}}, "CVAT_HOST is refused: set cvat_host"),
    ({"cvat_backend_extra_env": {"EMAIL_HOST_PASSWORD": "x"}}, "EMAIL_HOST_PASSWORD is refused: a secret-looking name"),
    ({"cvat_backend_extra_env": {"1BAD-NAME": "x"}}, "keys ['1BAD-NAME'] are not environment variable names"),
    ({"cvat_backend_extra_env": {"NESTED": {"a": 1}}}, "keys ['NESTED'] need a string, number or boolean value"),
    ({"cvat_superuser_username": "bad name"}, "cvat_superuser_username='bad name'"),
    ({"cvat_bind_address": "0.0.0.0:80"}, "cvat_bind_address='0.0.0.0:80'"),
    ({"cvat_vpc_cidrs": ["10.0.0.0/33"]}, "cvat_vpc_cidrs=['10.0.0.0/33']"),
    ({"cvat_smokescreen_opts": "--deny-range 10.0.0.0/8"}, "cvat_smokescreen_opts='--deny-range 10.0.0.0/8'"),
    ({"cvat_worker_numprocs": {"export": 4}}, "cvat_worker_numprocs={'export': 4} (every queue of"),
    ({"cvat_db_max_connections": 0}, "cvat_db_max_connections=0"),
    ({"cvat_nuclio_version": "latest"}, "cvat_nuclio_version='latest'"),
    ({"cvat_smtp_enabled": True, "cvat_smtp_from": "nobody"}, "cvat_smtp_from='nobody'"),
    ({"cvat_smtp_enabled": True, "cvat_smtp_username": "AKIAEXAMPLE", "cvat_smtp_password": ""},
     "cvat_smtp_username='AKIAEXAMPLE' needs cvat_smtp_password (vault) set=False"),
]
ISSUE16_ROWS = BAD_INPUTS[8:12]


@pytest.mark.parametrize("bad, message", BAD_INPUTS, ids=[m[:40] for _, m in BAD_INPUTS])
def test_bad_input_fails_early_naming_the_value(tmp_path, bad, message):
    proc, project, state = render(tmp_path, bad, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    # nothing was changed before the failure
    assert not project.exists() and not state.exists()
    assert "changed: [localhost]" not in proc.stdout


@pytest.mark.parametrize("bad, message", ISSUE16_ROWS, ids=[m[:40] for _, m in ISSUE16_ROWS])
def test_bad_input_refused_in_check_mode_before_any_would_be_change(tmp_path, bad, message):
    proc, project, state = render(tmp_path, bad, "--check", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert "changed: [localhost]" not in proc.stdout  # check mode reports would-be changes as changed
    assert not project.exists() and not state.exists()


def test_short_vault_secret_refused_by_name_without_printing_it(tmp_path):
    proc, project, state = render(tmp_path, {"cvat_db_password": "tiny-pw-1"}, check=False)
    assert proc.returncode != 0
    assert "vault values too short or unusable in an env file: cvat_db_password" in proc.stdout + proc.stderr
    assert "tiny-pw-1" not in proc.stdout + proc.stderr
    assert not project.exists() and not state.exists()


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
