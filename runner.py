#!/usr/bin/env python3
"""Operations CLI for the CVAT-on-AWS project: deploy, check, provision, destroy, run — through ansible-runner.

    ./runner.py deploy -i inventories/sandbox
    ./runner.py check --limit cvat-sandbox
    ./runner.py provision -e aws_infra_instance_type=m6i.xlarge
    ./runner.py destroy --yes
    ./runner.py run playbooks/seed.yml --json

`./runner.py --help` documents every command, the exit codes (0 ok, 2 host failures, 3 argument errors,
4 runner/internal errors, 130 interrupted) and the --json output. Internals live in cvat_ops/.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_PYTHON = HERE / ".venv" / "bin" / "python"
REEXEC_GUARD = "CVAT_OPS_REEXECED"


def ensure_venv() -> None:
    """Re-executes this script with the project venv's python when ansible_runner is not importable."""
    try:
        import ansible_runner  # noqa: F401
        return
    except ImportError:
        pass
    if VENV_PYTHON.exists() and not os.environ.get(REEXEC_GUARD):
        os.environ[REEXEC_GUARD] = "1"
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
    where = "is missing" if not VENV_PYTHON.exists() else "has no ansible_runner"
    sys.stderr.write(f"runner.py: the project venv {VENV_PYTHON.parent.parent} {where}: run scripts/bootstrap.sh\n")
    sys.exit(4)


if __name__ == "__main__":
    ensure_venv()
    sys.path.insert(0, str(HERE))
    from cvat_ops.cli import main

    sys.exit(main())
