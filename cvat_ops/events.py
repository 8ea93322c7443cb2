"""Turning ansible-runner events into progress lines (or JSON lines), per-host counters and a recap.

`EventRenderer.handle` is the `event_handler` given to `ansible_runner.run`: it is called once per event
(dict with `event`, `counter`, `event_data`, `stdout`, ...), prints what a person needs to follow the run,
counts per-host results, masks secrets in the event, trims the event data kept in the artifacts
(`artifact_event_data` policy) and returns True so ansible-runner writes the (cleaned) event to
`artifacts/<ident>/job_events/`. With a `transcript` file it also writes the (masked) ansible output there:
runner.py turns off ansible-runner's own raw `stdout` file, so the secret never reaches the disk.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from cvat_ops import EXIT_HOST_FAILED, EXIT_INTERNAL, EXIT_OK
from cvat_ops.secrets import Redactor

RECAP_COLUMNS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")
# playbook_on_stats key -> recap column
STATS_KEYS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
              "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}
FAILED_EVENTS = {"runner_on_failed", "runner_on_async_failed", "runner_item_on_failed", "runner_on_unreachable"}
ARTIFACT_POLICIES = ("full", "failed", "none")


@dataclass
class HostCounts:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


def result_status(event: dict[str, Any]) -> str | None:
    """The per-host outcome of a task event: ok, changed, failed, ignored, skipped, unreachable; None otherwise."""
    name = event.get("event", "")
    data = event.get("event_data") or {}
    res = data.get("res") if isinstance(data.get("res"), dict) else {}
    if name in ("runner_on_ok", "runner_on_async_ok"):
        return "changed" if res.get("changed") else "ok"
    if name in ("runner_on_failed", "runner_on_async_failed"):
        return "ignored" if data.get("ignore_errors") else "failed"
    if name == "runner_on_skipped":
        return "skipped"
    if name == "runner_on_unreachable":
        return "unreachable"
    return None


def failure_message(res: Any) -> str:
    """A one-line reason from a failed/unreachable result (`censored` for no_log tasks)."""
    if not isinstance(res, dict):
        return ""
    for key in ("msg", "censored", "reason", "stderr", "module_stderr", "stdout"):
        value = res.get(key)
        if value:
            text = str(value).strip().splitlines()
            return text[-1][:300] if key in ("stderr", "module_stderr", "stdout") else " ".join(text)[:300]
    if res.get("results"):
        return "one or more items failed"
    return ""


def exit_code_for(recap: dict[str, dict[str, int]], rc: int | None, status: str | None) -> int:
    """0 all good; 2 a host failed or was unreachable; 4 ansible/runner failed without a host failure."""
    if any(c.get("failed", 0) or c.get("unreachable", 0) for c in recap.values()):
        return EXIT_HOST_FAILED
    if status not in (None, "successful") or (rc not in (0, None)):
        return EXIT_INTERNAL
    return EXIT_OK


class EventRenderer:
    """Renders ansible-runner events for a person (default) or as JSON lines (`json_mode`)."""

    def __init__(self, write: Callable[[str], None], redactor: Redactor | None = None, *,
                 json_mode: bool = False, verbosity: int = 0, artifact_event_data: str = "failed",
                 transcript: TextIO | None = None) -> None:
        if artifact_event_data not in ARTIFACT_POLICIES:
            raise ValueError(f"artifact_event_data must be one of {ARTIFACT_POLICIES}, got {artifact_event_data!r}")
        self.write = write
        self.redactor = redactor or Redactor()
        self.json_mode = json_mode
        self.verbosity = verbosity
        self.artifact_event_data = artifact_event_data
        self.transcript = transcript
        self.live: dict[str, HostCounts] = {}
        self.stats: dict[str, dict[str, int]] | None = None
        self.custom_stats: dict[str, Any] = {}
        self.displays: list[tuple[str, Any]] = []
        self.messages: list[str] = []
        self.events_seen = 0
        self.render_errors = 0
        self._task_shown: str | None = None
        self._pending_task: str | None = None

    # ---- output helpers -------------------------------------------------
    def _line(self, text: str) -> None:
        if not self.json_mode:
            self.write(self.redactor.redact(text))

    def _json(self, obj: dict[str, Any]) -> None:
        if self.json_mode:
            self.write(json.dumps(self.redactor.redact_obj(obj), sort_keys=True, default=str))

    def _host(self, host: str) -> HostCounts:
        return self.live.setdefault(host, HostCounts())

    def _flush_task_header(self) -> None:
        if self._pending_task is not None:
            self._line(self._pending_task)
            self._task_shown = self._pending_task
            self._pending_task = None

    # ---- the event handler ----------------------------------------------
    def handle(self, event: dict[str, Any]) -> bool:
        """ansible-runner `event_handler`: render, count, clean the event in place; True = write it."""
        self.events_seen += 1
        name = event.get("event", "")
        data = event.get("event_data") or {}
        try:
            self._render(name, data, event)
        except Exception as exc:  # a display problem must never abort the playbook run
            self.render_errors += 1
            if self.render_errors == 1:
                self._line(f"(runner.py could not render a {name!r} event: {type(exc).__name__}: {exc})")
        finally:
            self._clean_for_artifacts(name, event)
            text = event.get("stdout")
            if self.transcript is not None and text:
                self.transcript.write(str(text) + "\n")
                self.transcript.flush()
        return True

    def _render(self, name: str, data: dict[str, Any], event: dict[str, Any]) -> None:
        if name == "playbook_on_start":
            self._line(f"PLAYBOOK {data.get('playbook', '')}")
            self._json({"type": "event", "event": name, "playbook": data.get("playbook")})
        elif name == "playbook_on_play_start":
            play = data.get("play") or data.get("name") or data.get("play_pattern") or ""
            self._line("")
            self._line(f"PLAY [{play}]")
            self._json({"type": "event", "event": name, "play": play})
        elif name in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            task = data.get("task") or data.get("name") or data.get("task_action") or ""
            role = data.get("role")
            label = f"{role} : {task}" if role else task
            kind = "RUNNING HANDLER" if name == "playbook_on_handler_task_start" else "TASK"
            # printed lazily with the first host result, so tasks skipped by tags leave no noise
            self._pending_task = f"{kind} [{label}]"
            self._json({"type": "event", "event": name, "task": label, "play": data.get("play")})
        elif name in ("runner_on_ok", "runner_on_async_ok", "runner_on_failed", "runner_on_async_failed",
                      "runner_on_skipped", "runner_on_unreachable"):
            self._render_result(name, data)
        elif name in ("runner_item_on_failed",):
            host = data.get("host", "?")
            self._flush_task_header()
            self._line(f"  item failed: {host}: {failure_message(data.get('res'))}")
        elif name == "runner_retry":
            self._flush_task_header()
            res = data.get("res") or {}
            self._line(f"  retrying: {data.get('host', '?')} ({res.get('retries', '?')} retries left)")
        elif name == "playbook_on_no_hosts_matched":
            self._line("  no hosts matched")
            self._json({"type": "event", "event": name})
        elif name == "playbook_on_stats":
            self._take_stats(data)
            self._json({"type": "event", "event": name, "recap": self.recap()})
        elif name in ("error", "warning", "deprecated", "system_warning", "verbose", "debug"):
            text = (event.get("stdout") or "").strip()
            if not text:
                return
            important = name in ("error", "warning", "system_warning") or text.lstrip().startswith(
                ("ERROR", "[ERROR]", "[WARNING]", "[DEPRECATION"))
            if important or self.verbosity > 0:
                self.messages.append(self.redactor.redact(text))
                self._line(text)
                self._json({"type": "message", "event": name, "text": text})

    def _render_result(self, name: str, data: dict[str, Any]) -> None:
        status = result_status({"event": name, "event_data": data})
        host = str(data.get("host", "?"))
        counts = self._host(host)
        res = data.get("res") if isinstance(data.get("res"), dict) else {}
        if status == "changed":
            counts.changed += 1
            counts.ok += 1
        elif status is not None:
            setattr(counts, status, getattr(counts, status) + 1)
        self._flush_task_header()
        detail = ""
        if status in ("failed", "unreachable", "ignored"):
            detail = failure_message(res)
        labels = {"failed": "FAILED", "unreachable": "UNREACHABLE", "ignored": "failed (ignored)"}
        label = labels.get(status or "", status)
        self._line(f"  {label}: {host}" + (f": {detail}" if detail else ""))
        self._json({"type": "event", "event": name, "host": host, "status": status,
                    "task": data.get("task"), "play": data.get("play"),
                    **({"msg": detail} if detail else {})})
        facts = res.get("ansible_facts") if isinstance(res.get("ansible_facts"), dict) else {}
        if "runner_display" in facts:
            self.displays.append((host, facts["runner_display"]))
            self._render_display(host, facts["runner_display"])

    def _render_display(self, host: str, value: Any) -> None:
        self._line(f"  [{host}] runner_display:")
        if isinstance(value, (list, tuple)):
            for item in value:
                self._line(f"    - {item}")
        elif isinstance(value, dict):
            for key, item in value.items():
                self._line(f"    {key}: {item}")
        else:
            for line in str(value).splitlines():
                self._line(f"    {line}")
        self._json({"type": "display", "host": host, "runner_display": value})

    def _take_stats(self, data: dict[str, Any]) -> None:
        stats: dict[str, dict[str, int]] = {}
        for key, column in STATS_KEYS.items():
            per_host = data.get(key) or {}
            if not isinstance(per_host, dict):
                continue
            for host, count in per_host.items():
                stats.setdefault(host, {c: 0 for c in RECAP_COLUMNS})[column] = int(count)
        for host in data.get("processed") or {}:
            stats.setdefault(host, {c: 0 for c in RECAP_COLUMNS})
        self.stats = stats
        custom = data.get("artifact_data")
        if isinstance(custom, dict) and custom:
            self.custom_stats = custom

    def _clean_for_artifacts(self, name: str, event: dict[str, Any]) -> None:
        data = event.get("event_data")
        if isinstance(data, dict) and "res" in data:
            keep = self.artifact_event_data == "full" or (
                self.artifact_event_data == "failed" and name in FAILED_EVENTS)
            if not keep:
                data["res"] = {"_omitted_by": "runner.py --artifact-event-data " + self.artifact_event_data}
        cleaned = self.redactor.redact_obj(event)
        if cleaned is not event:  # redact_obj returns the same object when there is nothing to mask
            event.clear()
            event.update(cleaned)

    # ---- results --------------------------------------------------------
    def recap(self) -> dict[str, dict[str, int]]:
        """Per-host counts: from the playbook_on_stats event, or the live counters when it never came."""
        if self.stats is not None:
            return self.stats
        return {host: asdict(c) for host, c in self.live.items()}

    def render_recap(self) -> list[str]:
        recap = self.recap()
        if not recap:
            return ["RECAP: no host results"]
        width = max(len("host"), *(len(h) for h in recap))
        head = "host".ljust(width) + "  " + "  ".join(c.rjust(len(c)) for c in RECAP_COLUMNS)
        lines = ["", "RECAP", head]
        for host in sorted(recap):
            row = recap[host]
            cells = "  ".join(str(row.get(c, 0)).rjust(len(c)) for c in RECAP_COLUMNS)
            lines.append(host.ljust(width) + "  " + cells)
        return [self.redactor.redact(line) for line in lines]

    def render_custom_stats(self) -> list[str]:
        if not self.custom_stats:
            return []
        lines = ["", "CUSTOM STATS"]
        for key, value in self.custom_stats.items():
            if isinstance(value, (dict, list)):
                dumped = json.dumps(value, indent=2, sort_keys=True, default=str).splitlines()
                lines.append(f"  {key}: {dumped[0]}")
                lines.extend(f"  {line}" for line in dumped[1:])
            else:
                lines.append(f"  {key}: {value}")
        return [self.redactor.redact(line) for line in lines]

    def failed_hosts(self) -> list[str]:
        return sorted(h for h, c in self.recap().items() if c.get("failed") or c.get("unreachable"))
