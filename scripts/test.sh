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
  # one lane per scenario, run side by side (each scenario has its own instance, volume and network names); the
  # distros of one scenario run one after the other in its lane. MOLECULE_LANES=1 runs everything in sequence.
  scenarios=${MOLECULE_SCENARIOS:-$(cd molecule && ls -d */ | tr -d / | sort)}
  mlogs=$(mktemp -d)
  lane() {
    local s=$1 d
    local distros=trixie
    [ -f "molecule/$s/distros" ] && distros=$(cat "molecule/$s/distros")
    for d in $distros; do
      local t0=$(date +%s)
      if tests/testbed/run-molecule.sh "$s" "$d" >"$mlogs/$s-$d.log" 2>&1; then r=passed; else r=failed; fi
      echo "$s/$d $r $(( $(date +%s) - t0 ))s" >>"$mlogs/results"
      stamp "molecule $s ($d): $r"
    done
  }
  stamp "molecule: ${scenarios//$'\n'/ } (logs: $mlogs)"
  pids=()
  for s in $scenarios; do
    if [ "${MOLECULE_LANES:-0}" = 1 ]; then lane "$s"; else lane "$s" & pids+=($!); fi
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  # every scenario's output, failed ones last so they end the log
  for f in "$mlogs"/*.log; do
    n=$(basename "$f" .log)
    grep -q "^${n/-//} passed" "$mlogs/results" && { echo "---- molecule $n (passed)"; tail -n 15 "$f"; }
  done
  for f in "$mlogs"/*.log; do
    n=$(basename "$f" .log)
    grep -q "^${n/-//} passed" "$mlogs/results" || { echo "---- molecule $n (FAILED)"; cat "$f"; }
  done
  cat "$mlogs/results"
  passed=$(grep -c " passed " "$mlogs/results" || true); failed=$(grep -c " failed " "$mlogs/results" || true)
  stamp "molecule done"
  echo "molecule: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] || stages_failed+=(molecule)
fi
if [ ${#stages_failed[@]} -gt 0 ]; then
  stamp "FAILED stages: ${stages_failed[*]}"
  exit 1
fi
stamp "all tests passed"
