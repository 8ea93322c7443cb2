"""runner.py event handling: synthetic ansible-runner events in, rendered lines, counters and recap out."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cvat_ops import EXIT_HOST_FAILED, EXIT_INTERNAL, EXIT_OK  # noqa: E402
from cvat_ops.events import EventRenderer, exit_code_for, failure_message, result_status  # noqa: E402
from cvat_ops.secrets import MASK, Redactor  # noqa: E402

SECRET = "hunter2-Very-Secret"


def ev(name: str, counter: int = 1, stdout: str = "", **data: Any) -> dict[str, Any]:
    """An event shaped like the ones ansible-runner passes to event_handler."""
    return {"uuid": f"u{counter}", "counter": counter, "event": name, "stdout": stdout, "event_data": data}


def play_events() -> list[dict[str, Any]]:
    return [
        ev("playbook_on_start", 1, playbook="site.yml"),
        ev("playbook_on_play_start", 2, play="Prepare the host"),
        ev("playbook_on_task_start", 3, task="Install docker", role="docker"),
        ev("runner_on_ok", 4, host="web1", task="Install docker", res={"changed": True}),
        ev("runner_on_ok", 5, host="web2", task="Install docker", res={"changed": False}),
        ev("playbook_on_task_start", 6, task="Mount data volume"),
        ev("runner_on_failed", 7, host="web1", task="Mount data volume",
           res={"msg": f"mount failed for {SECRET}", "changed": False}),
        ev("runner_on_failed", 8, host="web2", task="Mount data volume", ignore_errors=True,
           res={"msg": "ignored problem"}),
        ev("runner_on_unreachable", 9, host="web3", task="Mount data volume",
           res={"msg": "ssh: connect to host web3 port 22: Connection refused", "unreachable": True}),
        ev("playbook_on_task_start", 10, task="Tagged away"),
        ev("playbook_on_task_start", 11, task="Optional step"),
        ev("runner_on_skipped", 12, host="web2", task="Optional step"),
        ev("runner_on_ok", 13, host="web2", task="Use secret",
           res={"censored": "the output has been hidden due to the fact that 'no_log: true' was specified "
                            "for this result", "changed": True}),
        ev("playbook_on_stats", 14, ok={"web1": 1, "web2": 3}, changed={"web1": 1, "web2": 1},
           failures={"web1": 1}, dark={"web3": 1}, skipped={"web2": 1}, rescued={}, ignored={"web2": 1},
           processed={"web1": 1, "web2": 1, "web3": 1},
           artifact_data={"sizing": {"instance_type": "m6i.xlarge", "reason": "4 vCPU for 8 workers"}}),
    ]


def render(events: list[dict[str, Any]], **kwargs: Any) -> tuple[EventRenderer, list[str]]:
    lines: list[str] = []
    renderer = EventRenderer(lines.append, Redactor([SECRET]), **kwargs)
    for event in events:
        assert renderer.handle(event) is True
    return renderer, lines


def test_progress_lines_show_play_task_and_each_host_result() -> None:
    _, lines = render(play_events())
    assert "PLAY [Prepare the host]" in lines
    assert "TASK [docker : Install docker]" in lines
    assert "  changed: web1" in lines
    assert "  ok: web2" in lines
    assert f"  FAILED: web1: mount failed for {MASK}" in lines
    assert "  failed (ignored): web2: ignored problem" in lines
    assert any(line.startswith("  UNREACHABLE: web3: ssh: connect") for line in lines)
    assert "  skipped: web2" in lines
    # a task without any host result (skipped by tags) prints no header
    assert "TASK [Tagged away]" not in lines
    # header comes before its results
    assert lines.index("TASK [Mount data volume]") < lines.index(f"  FAILED: web1: mount failed for {MASK}")


def test_secret_never_rendered() -> None:
    _, lines = render(play_events())
    assert not any(SECRET in line for line in lines)


def test_live_counters_and_recap_from_stats() -> None:
    renderer, _ = render(play_events()[:-1])
    live = renderer.recap()  # no stats event yet: live counters
    assert live["web1"] == {"ok": 1, "changed": 1, "failed": 1, "unreachable": 0, "skipped": 0,
                            "rescued": 0, "ignored": 0}
    assert live["web2"]["ignored"] == 1 and live["web2"]["skipped"] == 1 and live["web2"]["changed"] == 1
    assert live["web3"]["unreachable"] == 1
    renderer.handle(play_events()[-1])
    recap = renderer.recap()
    assert recap["web2"] == {"ok": 3, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 1,
                             "rescued": 0, "ignored": 1}
    assert renderer.failed_hosts() == ["web1", "web3"]


def test_recap_table_rows_and_custom_stats() -> None:
    renderer, _ = render(play_events())
    table = renderer.render_recap()
    header = next(line for line in table if line.startswith("host"))
    assert header.split() == ["host", "ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored"]
    rows = {line.split()[0]: line.split()[1:] for line in table if line.startswith("web")}
    assert rows == {"web1": ["1", "1", "1", "0", "0", "0", "0"], "web2": ["3", "1", "0", "0", "1", "0", "1"],
                    "web3": ["0", "0", "0", "1", "0", "0", "0"]}
    custom = "\n".join(renderer.render_custom_stats())
    assert "CUSTOM STATS" in custom and "m6i.xlarge" in custom and "4 vCPU for 8 workers" in custom


def test_runner_display_fact_is_shown() -> None:
    events = [ev("playbook_on_task_start", 1, task="Size"),
              ev("runner_on_ok", 2, host="localhost",
                 res={"changed": False, "ansible_facts": {"runner_display": ["t3.large: 2 vCPU, 8 GiB",
                                                                             "why: 1 annotator"]}})]
    renderer, lines = render(events)
    assert "  [localhost] runner_display:" in lines
    assert "    - t3.large: 2 vCPU, 8 GiB" in lines and "    - why: 1 annotator" in lines
    assert renderer.displays == [("localhost", ["t3.large: 2 vCPU, 8 GiB", "why: 1 annotator"])]


def test_json_mode_emits_one_json_object_per_line() -> None:
    renderer, lines = render(play_events(), json_mode=True)
    objs = [json.loads(line) for line in lines]
    failed = [o for o in objs if o.get("status") == "failed"]
    assert failed == [{"type": "event", "event": "runner_on_failed", "host": "web1", "status": "failed",
                       "task": "Mount data volume", "play": None, "msg": f"mount failed for {MASK}"}]
    stats = [o for o in objs if o.get("event") == "playbook_on_stats"]
    assert stats and stats[0]["recap"]["web3"]["unreachable"] == 1
    assert not any(SECRET in line for line in lines)
    assert not any(line.startswith("PLAY") for line in lines)


@pytest.mark.parametrize("policy,kept", [("full", {4, 7, 9}), ("failed", {7, 9}), ("none", set())])
def test_artifact_event_data_policy_trims_results(policy: str, kept: set[int]) -> None:
    events = play_events()
    render(events, artifact_event_data=policy)
    with_res = {e["counter"] for e in events
                if "res" in e["event_data"] and "_omitted_by" not in e["event_data"]["res"]}
    assert kept <= with_res
    if policy != "full":
        assert 4 not in with_res and 13 not in with_res
    if policy == "none":
        assert with_res == set()
    # the event dict handed back to ansible-runner (written to job_events) is masked in place
    assert SECRET not in json.dumps(events)
    # stats survive every policy: the recap needs them
    assert events[-1]["event_data"]["failures"] == {"web1": 1}


def test_verbose_errors_are_shown_and_kept() -> None:
    events = [ev("verbose", 1, stdout=f"[ERROR]: couldn't resolve module, token {SECRET}"),
              ev("verbose", 2, stdout="Using /work/main/ansible.cfg as config file")]
    renderer, lines = render(events)
    assert lines == [f"[ERROR]: couldn't resolve module, token {MASK}"]
    _, verbose_lines = render(events, verbosity=1)
    assert len(verbose_lines) == 2
    assert renderer.messages == [f"[ERROR]: couldn't resolve module, token {MASK}"]


def test_transcript_gets_masked_event_stdout(tmp_path: Path) -> None:
    path = tmp_path / "stdout"
    with path.open("w") as handle:
        renderer = EventRenderer(lambda _l: None, Redactor([SECRET]), transcript=handle)
        renderer.handle(ev("runner_on_failed", 1, stdout=f"fatal: [web1]: FAILED! => msg: {SECRET}",
                           host="web1", res={"msg": SECRET}))
    text = path.read_text()
    assert f"fatal: [web1]: FAILED! => msg: {MASK}" in text and SECRET not in text


def test_result_status_and_failure_message() -> None:
    assert result_status(ev("runner_on_ok", res={"changed": True})) == "changed"
    assert result_status(ev("runner_on_ok", res={})) == "ok"
    assert result_status(ev("runner_on_failed", ignore_errors=True)) == "ignored"
    assert result_status(ev("runner_on_failed")) == "failed"
    assert result_status(ev("runner_on_unreachable")) == "unreachable"
    assert result_status(ev("playbook_on_task_start")) is None
    assert failure_message({"censored": "hidden (no_log)"}) == "hidden (no_log)"
    assert failure_message({"stderr": "line1\nlast line"}) == "last line"
    assert failure_message({"results": [{"failed": True}]}) == "one or more items failed"


@pytest.mark.parametrize("recap,rc,status,code", [
    ({"a": {"ok": 3}}, 0, "successful", EXIT_OK),
    ({"a": {"ok": 3, "failed": 1}}, 2, "failed", EXIT_HOST_FAILED),
    ({"a": {"ok": 3}, "b": {"unreachable": 1}}, 4, "failed", EXIT_HOST_FAILED),
    ({"a": {"ok": 3, "ignored": 2}}, 0, "successful", EXIT_OK),
    ({}, 4, "failed", EXIT_INTERNAL),          # e.g. syntax error: no host ran
    ({"a": {"ok": 1}}, 1, "failed", EXIT_INTERNAL),
    ({"a": {"ok": 1}}, None, "timeout", EXIT_INTERNAL),
])
def test_exit_codes(recap: dict[str, dict[str, int]], rc: int | None, status: str, code: int) -> None:
    assert exit_code_for(recap, rc, status) == code


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="'most'"):
        EventRenderer(print, artifact_event_data="most")


def test_events_without_secrets_are_left_intact() -> None:
    events = play_events()
    before = json.dumps(events[-1])
    renderer = EventRenderer(lambda _l: None, Redactor(), artifact_event_data="full")
    for event in events:
        renderer.handle(event)
    assert json.dumps(events[-1]) == before
    assert events[3]["event_data"]["res"] == {"changed": True} and events[3]["counter"] == 4


def test_malformed_event_does_not_abort_the_run() -> None:
    renderer, lines = render([ev("playbook_on_stats", 1, ok="not-a-dict-of-hosts", failures={"h": "x"}),
                              ev("runner_on_ok", 2, host="h", res={"changed": False})])
    assert renderer.render_errors == 1 and len([line for line in lines if "could not render" in line]) == 1
    assert "  ok: h" in lines
