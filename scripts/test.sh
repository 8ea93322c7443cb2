#!/usr/bin/env bash
# Every test of the project, from a clean clone on a fresh Debian machine:
#   bootstrap (Debian packages, pinned venv) -> Docker engine -> cached test-host images ->
#   yamllint, ansible-lint (production profile) -> pytest -> every molecule scenario.
# Environment: MOLECULE_SCENARIOS="a b" runs only those scenarios; SKIP_MOLECULE=1 skips them; PYTEST_WORKERS=N
# (default 3) parallel pytest workers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start ))s] $*"; }

stamp "bootstrap"
. scripts/bootstrap.sh
tests/testbed/ensure-docker.sh
stamp "test-host images"
tests/testbed/build-host-image.sh trixie bookworm

# every stage runs even when an earlier one failed, so one CI run reports every failure; the exit code is
# non-zero when any stage failed
stages_failed=()
stamp "yamllint"
yamllint -s . || stages_failed+=(yamllint)
stamp "ansible-lint (production profile)"
ansible-lint -q || stages_failed+=(ansible-lint)

stamp "pytest"
# files run in parallel (one file per worker: module fixtures, moto and stand-ins stay per file); the slowest
# tests are listed at the end
pytest -q -n "${PYTEST_WORKERS:-3}" --dist loadfile --durations=25 tests || stages_failed+=(pytest)

if [ "${SKIP_MOLECULE:-0}" != 1 ]; then
  passed=0; failed=0; failed_names=()
  scenarios=${MOLECULE_SCENARIOS:-$(cd molecule && ls -d */ | tr -d / | sort)}
  for s in $scenarios; do
    distros=trixie
    [ -f "molecule/$s/distros" ] && distros=$(cat "molecule/$s/distros")
    for d in $distros; do
      stamp "molecule $s ($d)"
      if tests/testbed/run-molecule.sh "$s" "$d"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$s/$d"); fi
    done
  done
  stamp "molecule done"
  [ $failed -eq 0 ] || echo "failed scenarios: ${failed_names[*]}"
  echo "molecule: $passed passed, $failed failed"
  [ $failed -eq 0 ] || stages_failed+=(molecule)
fi
if [ ${#stages_failed[@]} -gt 0 ]; then
  stamp "FAILED stages: ${stages_failed[*]}"
  exit 1
fi
stamp "all tests passed"
