"""The `runner.py` command line: argument parsing, validation, the ansible-runner call, artifacts, exit codes."""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets as pysecrets
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

from cvat_ops import EXIT_HOST_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from cvat_ops.events import ARTIFACT_POLICIES, EventRenderer, exit_code_for
from cvat_ops.secrets import MASK, Redactor, is_secret_name, scrub_command_file, secret_leaves

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INVENTORY = "inventories/sandbox"
DEFAULT_ARTIFACT_DIR = ROOT / ".cache" / "runner"
DEFAULT_KEEP = 10
ENV_SECRET_MIN_LEN = 8
IDENT_RE = re.compile(r"^\d{8}T\d{6}Z-[a-z]+-[0-9a-f]{6}$")
KV_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)

COMMANDS: dict[str, dict[str, Any]] = {
    "deploy": {"playbook": "playbooks/site.yml",
               "help": "deploy CVAT on the inventory's hosts (playbooks/site.yml: host, cvat, seed)"},
    "check": {"playbook": "playbooks/site.yml",
              "help": "dry run of deploy: playbooks/site.yml with --check --diff, changes nothing"},
    "provision": {"playbook": "playbooks/provision.yml",
                  "help": "create/update the AWS resources (playbooks/provision.yml, runs on localhost)"},
    "destroy": {"playbook": "playbooks/destroy.yml",
                "help": "delete the AWS resources (playbooks/destroy.yml); refuses without --yes"},
    "run": {"playbook": None, "help": "run any other playbook: a path, or a name under playbooks/"},
}

EPILOG = f"""\
exit codes:
  {EXIT_OK}    every host ok
  {EXIT_HOST_FAILED}    a host failed or was unreachable (see the recap)
  {EXIT_USAGE}    argument error (unknown inventory/playbook/-e file, bad -e syntax, destroy without --yes)
  {EXIT_INTERNAL}    ansible-runner/ansible failed without a host failure (syntax error, crash, timeout)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)

output:
  Default: a line per play, task and host result as events arrive, then a recap table
  (host, ok, changed, failed, unreachable, skipped, rescued, ignored), the playbook's custom stats
  (set_stats, aggregate) and any `runner_display` fact a task set.
  --json: JSON lines on stdout, one object each: {{"type": "command"}} (the masked command line),
  {{"type": "event"}} (event, play, task, host, status, msg), {{"type": "display"}} (runner_display),
  {{"type": "message"}} (ansible errors/warnings) and last {{"type": "summary"}} with exit_code, rc, status,
  recap, failed_hosts, custom_stats, runner_display and artifact_dir.

secrets:
  -e values whose key contains password/passwd/passphrase/secret/token/key/credential (also such keys
  inside -e @file or JSON) are masked in the echoed command, reach ansible only through temporary 0600
  files removed afterwards, and are masked on the console and in every artifact file. Values (8+ chars)
  of secret-looking environment variables are masked the same way, and in the artifact `command` file.
  no_log results stay censored. A vaulted -e @file is decrypted with --vault-password-file to learn its
  secret values; without a password file only no_log protects them.

artifacts:
  <artifact-dir>/<UTC timestamp>-<command>-<id>/: stdout (masked transcript), job_events/, command,
  rc, status. The newest --keep-artifacts run directories are kept.

examples:
  ./runner.py check --limit cvat_hosts
  ./runner.py deploy -i inventories/production -e @secrets.vault.yml --vault-password-file ~/.vault-pass
  ./runner.py provision --json
  ./runner.py destroy --yes
  ./runner.py run seed -i inventories/sandbox
"""


class UsageError(Exception):
    """A bad argument: runner.py exits with EXIT_USAGE and this message."""


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on errors; 2 means host failures here, so argument errors raise UsageError (exit 3)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


@dataclass
class ExtraVar:
    kind: str  # "kv" | "file" | "json"
    raw: str
    key: str = ""
    value: Any = None
    path: Path | None = None


@dataclass
class RunSpec:
    command: str
    playbook: Path
    inventories: list[str]
    extra_vars: list[ExtraVar] = field(default_factory=list)
    limit: str | None = None
    tags: str | None = None
    skip_tags: str | None = None
    check: bool = False
    diff: bool = False
    vault_password_files: list[Path] = field(default_factory=list)
    verbosity: int = 0
    json_mode: bool = False
    artifact_dir: Path = DEFAULT_ARTIFACT_DIR
    keep_artifacts: int = DEFAULT_KEEP
    artifact_event_data: str = "failed"
    secrets: list[str] = field(default_factory=list)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> Parser:
    parser = Parser(prog="runner.py", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                    description="Operate the CVAT-on-AWS deployment through ansible-runner:\n"
                                "live progress, a recap, kept artifacts, no secrets on screen or on disk.")
    common = Parser(add_help=False)
    common.add_argument("-i", "--inventory", action="append", metavar="PATH",
                        help=f"inventory path or host list (repeatable; default {DEFAULT_INVENTORY})")
    common.add_argument("-l", "--limit", metavar="PATTERN", help="limit to hosts/groups (ansible --limit)")
    common.add_argument("-t", "--tags", metavar="TAGS", help="only tasks with these tags (comma-separated)")
    common.add_argument("--skip-tags", metavar="TAGS", help="skip tasks with these tags")
    common.add_argument("-e", "--extra-vars", action="append", default=[], metavar="KEY=VALUE|@FILE|JSON",
                        help="extra variable (repeatable): key=value, @file (YAML/JSON) or a JSON object; "
                             "values of secret-looking keys are never echoed or kept")
    common.add_argument("--vault-password-file", action="append", default=[], metavar="FILE",
                        help="passed to ansible-playbook (repeatable)")
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="ansible verbosity (-v .. -vvvv); also prints ansible's verbose output")
    common.add_argument("--json", action="store_true", dest="json_mode",
                        help="JSON lines on stdout instead of human output (see 'output' below)")
    common.add_argument("--artifact-dir", type=Path, default=None, metavar="DIR",
                        help=f"where run artifacts go, one subdirectory per run (default {DEFAULT_ARTIFACT_DIR})")
    common.add_argument("--keep-artifacts", type=_non_negative, default=DEFAULT_KEEP, metavar="N",
                        help=f"keep the newest N run directories, delete older ones (0 = keep all; "
                             f"default {DEFAULT_KEEP}); only directories runner.py created are touched")
    common.add_argument("--artifact-event-data", choices=ARTIFACT_POLICIES, default="failed",
                        help="task results kept in artifacts/job_events: all, failed/unreachable only "
                             "(default), or none")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for name, spec in COMMANDS.items():
        cmd = sub.add_parser(name, parents=[common], help=spec["help"], description=spec["help"],
                             formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
        if name == "run":
            cmd.add_argument("playbook", metavar="PLAYBOOK",
                             help="playbook path, or NAME for playbooks/NAME.yml")
        else:
            cmd.add_argument("--playbook", default=None, metavar="PATH",
                             help=f"override the playbook (default {spec['playbook']})")
        if name != "check":
            cmd.add_argument("-C", "--check", action="store_true", help="ansible check mode (change nothing)")
            cmd.add_argument("-D", "--diff", action="store_true", help="show diffs of changed files")
        if name == "destroy":
            cmd.add_argument("--yes", action="store_true",
                             help="confirm the deletion of the AWS resources (required)")
    return parser


# ---- validation ---------------------------------------------------------------
def _existing_path(value: str, what: str, candidates: Sequence[Path]) -> Path:
    candidates = list(dict.fromkeys(candidates))
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    raise UsageError(f"{what} not found: {value!r} (looked in: {', '.join(str(c) for c in candidates)})")


def resolve_inventory(value: str) -> str:
    """A host list (`localhost,`) passes as is; a path must exist (relative to the cwd or the project)."""
    if "," in value:
        return value
    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, ROOT / path]
    return str(_existing_path(value, "inventory", candidates))


def resolve_playbook(value: str) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = [Path.cwd() / path, ROOT / path, ROOT / "playbooks" / path]
        if path.suffix not in (".yml", ".yaml"):
            candidates.append(ROOT / "playbooks" / f"{value}.yml")
    found = _existing_path(value, "playbook", candidates)
    if not found.is_file():
        raise UsageError(f"playbook is not a file: {value!r}")
    return found


def _describe_bad(value: str) -> str:
    """The bad -e value for an error message, without leaking it if it may carry a secret."""
    if is_secret_name(value):
        head = re.split(r"[\s=:]", value, maxsplit=1)[0]
        return f"{head!r}… (rest hidden: looks secret)"
    return repr(value)


def parse_extra_var(value: str) -> ExtraVar:
    """key=value, @file or a JSON/YAML mapping; anything else is a UsageError naming the value."""
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        if not value[1:] or not path.is_file():
            raise UsageError(f"-e file not found: {value!r}")
        return ExtraVar("file", value, path=path.resolve())
    if value.lstrip().startswith("{"):
        try:
            obj = json.loads(value)
        except ValueError:
            import yaml  # ansible's dependency, in the venv

            try:
                obj = yaml.safe_load(value)
            except yaml.YAMLError:
                obj = None
        if not isinstance(obj, dict):
            raise UsageError(f"bad -e value {_describe_bad(value)}: not a valid JSON/YAML mapping")
        return ExtraVar("json", value, value=obj)
    match = KV_RE.match(value)
    if not match:
        raise UsageError(f"bad -e value {_describe_bad(value)}: expected key=value, @file or a JSON object "
                         "(key: letters, digits, underscores)")
    return ExtraVar("kv", value, key=match.group(1), value=match.group(2))


def load_vars_file(path: Path, vault_password_files: Sequence[Path] = ()) -> Any:
    """A YAML/JSON vars file as ansible reads it, decrypting vault (whole-file or inline) with the given
    password files; None when it cannot be read (e.g. vaulted and no password file)."""
    try:
        from ansible.cli import CLI
        from ansible.parsing.dataloader import DataLoader

        loader = DataLoader()
        if vault_password_files:
            loader.set_vault_secrets(CLI.setup_vault_secrets(
                loader, vault_ids=[], vault_password_files=[str(p) for p in vault_password_files],
                ask_vault_pass=False))
        data = loader.load_from_file(str(path))
        return json.loads(json.dumps(data, default=str))  # decrypts inline vault values, plain types
    except Exception:  # unreadable for us; ansible will report it properly
        pass
    try:
        import yaml  # ansible's dependency, in the venv

        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception:  # not YAML either: nothing to learn
        return None


def secrets_of(extra: ExtraVar, vault_password_files: Sequence[Path] = ()) -> list[str]:
    """The secret values an -e argument carries (for @file: under secret-looking keys, vault decrypted)."""
    if extra.kind == "kv":
        return [str(extra.value)] if is_secret_name(extra.key) else []
    if extra.kind == "json":
        return list(secret_leaves(extra.value))
    assert extra.path is not None
    return list(secret_leaves(load_vars_file(extra.path, vault_password_files)))


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """Validates the parsed arguments (before anything runs) and builds the RunSpec."""
    if args.command == "destroy" and not args.yes:
        raise UsageError("destroy deletes the AWS resources: add --yes to confirm (missing: --yes)")
    playbook_arg = args.playbook if args.playbook else COMMANDS[args.command]["playbook"]
    playbook = resolve_playbook(playbook_arg)
    inventories = [resolve_inventory(i) for i in (args.inventory or [DEFAULT_INVENTORY])]
    extra = [parse_extra_var(e) for e in args.extra_vars]
    vault_files = []
    for vpf in args.vault_password_file:
        path = Path(vpf).expanduser()
        if not path.exists():
            raise UsageError(f"vault password file not found: {vpf!r}")
        vault_files.append(path.resolve())
    found: list[str] = []
    for item in extra:
        found.extend(secrets_of(item, vault_files))
    check = args.command == "check" or bool(getattr(args, "check", False))
    diff = args.command == "check" or bool(getattr(args, "diff", False))
    return RunSpec(command=args.command, playbook=playbook, inventories=inventories, extra_vars=extra,
                   limit=args.limit, tags=args.tags, skip_tags=args.skip_tags, check=check, diff=diff,
                   vault_password_files=vault_files, verbosity=args.verbose, json_mode=args.json_mode,
                   artifact_dir=(args.artifact_dir or DEFAULT_ARTIFACT_DIR).expanduser().resolve(),
                   keep_artifacts=args.keep_artifacts, artifact_event_data=args.artifact_event_data,
                   secrets=found)


# ---- command line for ansible-playbook ----------------------------------------------
def ansible_args(spec: RunSpec, extra_files: dict[int, Path] | None = None, *, masked: bool = False) -> list[str]:
    """ansible-playbook options (without the playbook). extra_files maps -e index -> temp file for kv/json;
    masked=True renders the -e values for display instead (secret values replaced)."""
    args: list[str] = []
    for inv in spec.inventories:
        args += ["-i", inv]
    if spec.limit:
        args += ["--limit", spec.limit]
    if spec.tags:
        args += ["--tags", spec.tags]
    if spec.skip_tags:
        args += ["--skip-tags", spec.skip_tags]
    if spec.check:
        args.append("--check")
    if spec.diff:
        args.append("--diff")
    for vpf in spec.vault_password_files:
        args += ["--vault-password-file", str(vpf)]
    for index, extra in enumerate(spec.extra_vars):
        if extra.kind == "file":
            args += ["-e", f"@{extra.path}"]
        elif masked:
            if extra.kind == "kv":
                shown = f"{extra.key}={MASK}" if is_secret_name(extra.key) else extra.raw
            else:
                shown = json.dumps(_mask_obj(extra.value), separators=(",", ":"))
            args += ["-e", shown]
        else:
            assert extra_files is not None and index in extra_files
            args += ["-e", f"@{extra_files[index]}"]
    if spec.verbosity:
        args.append("-" + "v" * min(spec.verbosity, 6))
    return args


def _mask_obj(obj: Any, inherited: bool = False) -> Any:
    if isinstance(obj, dict):
        return {k: _mask_obj(v, inherited or is_secret_name(str(k))) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mask_obj(v, inherited) for v in obj]
    return MASK if inherited and obj is not None else obj


def echo_command(spec: RunSpec) -> str:
    """The command line as shown to people and logs: secret -e values masked."""
    return shlex.join(["ansible-playbook", *ansible_args(spec, masked=True), str(spec.playbook)])


def write_extra_files(spec: RunSpec, directory: Path) -> dict[int, Path]:
    """kv and JSON -e values go to 0600 JSON files (one per -e, order kept), never onto the command line."""
    files: dict[int, Path] = {}
    for index, extra in enumerate(spec.extra_vars):
        if extra.kind == "file":
            continue
        data = {extra.key: extra.value} if extra.kind == "kv" else extra.value
        path = directory / f"extravars-{index}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        files[index] = path
    return files


def rotate_artifacts(base: Path, keep: int) -> list[Path]:
    """Deletes the oldest run directories beyond `keep`; only names runner.py creates are considered."""
    if keep <= 0 or not base.is_dir():
        return []
    runs = sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and IDENT_RE.match(p.name))
    doomed = runs[:-keep] if len(runs) > keep else []
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def new_ident(command: str) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{command}-{pysecrets.token_hex(3)}"


def runner_env() -> dict[str, str]:
    """Environment for ansible-playbook: the venv's tools first on PATH, the project's ansible.cfg."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    env = {"PATH": venv_bin + (os.pathsep + path if path else ""), "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_NOCOLOR": "1", "PYTHONUNBUFFERED": "1"}
    env["ANSIBLE_CONFIG"] = os.environ.get("ANSIBLE_CONFIG") or str(ROOT / "ansible.cfg")
    return env


# ---- running ---------------------------------------------------------------------------
def execute(spec: RunSpec, out: TextIO | None = None, err: TextIO | None = None,
            run_fn: Callable[..., Any] | None = None) -> int:
    """Runs the playbook through ansible-runner; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    redactor = Redactor(spec.secrets)
    # credentials in the environment (AWS_SECRET_ACCESS_KEY, *_TOKEN, ...) are masked too; short values are
    # skipped (see ENV_SECRET_MIN_LEN) so that test placeholders like "testing" do not mask ordinary words
    for name, value in os.environ.items():
        if is_secret_name(name) and len(value) >= ENV_SECRET_MIN_LEN:
            redactor.add(value)

    def write(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    if run_fn is None:
        try:
            import ansible_runner
        except ImportError:
            err.write("runner.py: ansible_runner is not importable; run scripts/bootstrap.sh\n")
            return EXIT_INTERNAL
        run_fn = ansible_runner.run

    ident = new_ident(spec.command)
    artifact_path = spec.artifact_dir / ident
    echoed = echo_command(spec)
    if spec.json_mode:
        write(json.dumps({"type": "command", "command": echoed, "artifact_dir": str(artifact_path)}))
    else:
        write(f"$ {echoed}")
        write(f"artifacts: {artifact_path}")

    spec.artifact_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    artifact_path.mkdir(mode=0o700)
    # ansible-runner's own `stdout` file gets raw output; ours gets the masked event output instead
    transcript_fd = os.open(artifact_path / "stdout", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    transcript = os.fdopen(transcript_fd, "w", encoding="utf-8")
    renderer = EventRenderer(write, redactor, json_mode=spec.json_mode, verbosity=spec.verbosity,
                             artifact_event_data=spec.artifact_event_data, transcript=transcript)
    private = Path(tempfile.mkdtemp(prefix="cvat-ops-"))
    started = time.monotonic()
    result: Any = None
    code = EXIT_INTERNAL
    try:
        extra_files = write_extra_files(spec, private)
        cmdline = shlex.join(ansible_args(spec, extra_files))
        try:
            result = run_fn(private_data_dir=str(private), project_dir=str(ROOT), artifact_dir=str(spec.artifact_dir),
                            ident=ident, playbook=str(spec.playbook), cmdline=cmdline, envvars=runner_env(),
                            quiet=True, suppress_env_files=True, suppress_output_file=True,
                            event_handler=renderer.handle,
                            fact_cache_type="ansible.cfg", rotate_artifacts=0)
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
        except Exception as exc:  # ansible-runner could not start/finish: an internal error, not a host failure
            err.write(redactor.redact(f"runner.py: ansible-runner failed: {type(exc).__name__}: {exc}") + "\n")
            code = EXIT_INTERNAL
    finally:
        transcript.close()
        shutil.rmtree(private, ignore_errors=True)
        # the artifacts must not keep what the console does not show
        scrub_command_file(artifact_path / "command")
        redactor.scrub_tree(artifact_path)
        removed = rotate_artifacts(spec.artifact_dir, spec.keep_artifacts)

    duration = round(time.monotonic() - started, 1)
    rc = getattr(result, "rc", None) if result is not None else None
    status = getattr(result, "status", None) if result is not None else None
    if result is not None:
        code = EXIT_INTERRUPTED if status == "canceled" else exit_code_for(renderer.recap(), rc, status)
    recap = renderer.recap()
    # a deployment that matched no host did nothing: never report that as success (an empty aws_ec2 inventory,
    # a wrong --limit); ansible-playbook itself exits 0 there
    no_hosts = code == EXIT_OK and not recap and spec.command in ("deploy", "check")
    if no_hosts:
        code = EXIT_HOST_FAILED
    if spec.json_mode:
        write(json.dumps(redactor.redact_obj({
            "type": "summary", "exit_code": code, "rc": rc, "status": status, "recap": recap,
            "failed_hosts": renderer.failed_hosts(), "custom_stats": renderer.custom_stats,
            "runner_display": [{"host": h, "value": v} for h, v in renderer.displays],
            "artifact_dir": str(artifact_path), "removed_artifacts": [str(p) for p in removed],
            "duration_s": duration},
        ), sort_keys=True, default=str))
    else:
        for line in renderer.render_recap() + renderer.render_custom_stats():
            write(line)
        write("")
        verdict = {EXIT_OK: "ok", EXIT_HOST_FAILED: ("no hosts matched the inventory and --limit: nothing was deployed"
                                                     if no_hosts else
                                                     f"host failures: {', '.join(renderer.failed_hosts())}"),
                   EXIT_INTERNAL: f"ansible/runner error (rc={rc}, status={status}); see {artifact_path}/stdout",
                   EXIT_INTERRUPTED: "interrupted"}[code]
        write(f"result: {verdict} (exit {code}) in {duration}s; artifacts: {artifact_path}")
    return code


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        spec = spec_from_args(args)
    except UsageError as exc:
        err.write(f"error: {exc}\n")
        err.write("run 'runner.py --help' for usage (argument errors exit 3)\n")
        if "--json" in (sys.argv[1:] if argv is None else argv):
            summary = {"type": "summary", "exit_code": EXIT_USAGE, "error": str(exc)}
            (out or sys.stdout).write(json.dumps(summary) + "\n")
        return EXIT_USAGE
    return execute(spec, out=out, err=err)


__all__ = ["main", "execute", "build_parser", "spec_from_args", "parse_extra_var", "echo_command",
           "rotate_artifacts", "RunSpec", "UsageError"]
