# -*- coding: utf-8 -*-
"""Test-only callback: SIGKILLs ansible-playbook right after a named task reported `changed`.

Reproduces a run killed (Ctrl-C twice, lost SSH session, OOM) between a config write and its handler: the
strategy processes a task's results (and calls this callback) before it queues the next task, so the kill
lands exactly after the named task and before anything later, handlers included.
"""
from __future__ import annotations

DOCUMENTATION = r"""
name: kill_after_task
type: aggregate
short_description: SIGKILL ansible-playbook right after the task named in KILL_AFTER_TASK changed something (tests only)
description:
  - Test bed only (molecule/docker). Never enable it elsewhere.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=kill_after_task
  - environment variable KILL_AFTER_TASK (the task's name, without the role prefix)
"""

import os
import signal

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "kill_after_task"
    CALLBACK_NEEDS_ENABLED = True

    def v2_runner_on_ok(self, result):
        if result._task.name == os.environ.get("KILL_AFTER_TASK") and result._result.get("changed"):
            self._display.display("kill_after_task: SIGKILL after %r" % result._task.name)
            os.kill(os.getpid(), signal.SIGKILL)
