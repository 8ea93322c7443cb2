"""Internals of `runner.py`, the operations CLI that drives the project's playbooks through ansible-runner."""
from __future__ import annotations

EXIT_OK = 0
EXIT_HOST_FAILED = 2
EXIT_USAGE = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130
