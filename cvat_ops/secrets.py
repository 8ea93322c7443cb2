"""Knowing which values are secret and keeping them out of the console and the artifacts.

A value is secret when the variable (or environment variable) that carries it has a name that looks secret:
it contains `password`, `passwd`, `passphrase`, `secret`, `token`, `key` or `credential` (any case).
The `Redactor` holds the secret values of one run and replaces them in text, in JSON-like objects and in
every file of an artifact directory.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

MASK = "********"
SECRET_NAME_RE = re.compile(r"pass(word|wd|phrase)?|secret|token|key|credential", re.IGNORECASE)
# Values shorter than this are masked by key (echo, env) but not searched for in free text: replacing
# "on" or "1" everywhere would wreck every line without protecting anything.
MIN_SCAN_LEN = 4


# names that match the pattern but are settings, not secrets
NOT_SECRET_RE = re.compile(r"(KEY_CHECKING|_KEY_NAME|_KEY_PATH|_KEY_FILE|_PUBKEY)$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """True when a variable name looks like it carries a secret."""
    name = str(name)
    return bool(SECRET_NAME_RE.search(name)) and not NOT_SECRET_RE.search(name)


def secret_leaves(obj: Any, inherited: bool = False) -> Iterator[str]:
    """Every scalar value found under a secret-looking key (at any depth) of a dict/list structure."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from secret_leaves(value, inherited or is_secret_name(str(key)))
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from secret_leaves(value, inherited)
    elif inherited and obj is not None and not isinstance(obj, bool):
        yield str(obj)


class Redactor:
    """Replaces known secret values with a mask, in strings, objects and files."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str) -> None:
        value = str(value)
        if len(value) >= MIN_SCAN_LEN:
            self._secrets.add(value)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def _forms(self) -> list[tuple[str, str]]:
        """(needle, replacement) pairs, longest first: the raw value and its JSON-escaped spelling."""
        forms: dict[str, str] = {}
        for value in self._secrets:
            forms[value] = MASK
            escaped = json.dumps(value)[1:-1]
            forms[escaped] = MASK
            forms[json.dumps(value, ensure_ascii=False)[1:-1]] = MASK
        return sorted(forms.items(), key=lambda kv: len(kv[0]), reverse=True)

    def redact(self, text: str) -> str:
        for needle, replacement in self._forms():
            if needle in text:
                text = text.replace(needle, replacement)
        return text

    def redact_obj(self, obj: Any) -> Any:
        """A copy of a JSON-like object with secrets masked in every string (keys included)."""
        if not self._secrets:
            return obj
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.redact_obj(v) for v in obj]
        return obj

    def scrub_file(self, path: Path) -> bool:
        """Masks secrets inside one file in place; True when it changed."""
        try:
            raw = path.read_bytes()
        except OSError:
            return False
        text = raw.decode("utf-8", errors="surrogateescape")
        cleaned = self.redact(text)
        if cleaned == text:
            return False
        mode = path.stat().st_mode & 0o7777
        tmp = path.with_name(path.name + ".redact-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(cleaned.encode("utf-8", errors="surrogateescape"))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        return True

    def scrub_tree(self, root: Path) -> int:
        """Masks secrets in every regular file below root; returns how many files changed."""
        changed = 0
        if not self._secrets or not root.is_dir():
            return 0
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = Path(dirpath) / name
                if path.is_symlink() or not path.is_file():
                    continue
                if self.scrub_file(path):
                    changed += 1
        return changed


def mask_env(env: dict[str, Any]) -> dict[str, Any]:
    """A copy of an environment with the values of secret-looking variables masked."""
    return {k: (MASK if is_secret_name(k) and v not in ("", None) else v) for k, v in env.items()}


def scrub_command_file(path: Path) -> bool:
    """ansible-runner writes the whole environment into artifacts/<ident>/command: mask its secret variables."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    env = data.get("env")
    if not isinstance(env, dict):
        return False
    masked = mask_env(env)
    if masked == env:
        return False
    data["env"] = masked
    mode = path.stat().st_mode & 0o7777
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.chmod(path, mode)
    return True
