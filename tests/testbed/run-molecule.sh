#!/usr/bin/env bash
# Runs one molecule scenario on the test bed: a fresh "EBS volume" (loop device) per scenario, the
# cached systemd host image, then `molecule test -s SCENARIO` (create, prepare, converge, idempotence,
# verify, destroy). The loop device is detached afterwards whatever the outcome.
#   usage: run-molecule.sh SCENARIO [DISTRO]      DISTRO: trixie (default) | bookworm
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
scenario=${1:?scenario}; distro=${2:-trixie}
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
tag=$(tests/testbed/build-host-image.sh "$distro" | awk '{print $2}')
vol_name="molecule-$scenario-$distro"
export TESTBED_HOST_IMAGE="$tag"
export TESTBED_DISTRO="$distro"
export TESTBED_EBS_DEVICE=$(tests/testbed/ebs-volume.sh create "$vol_name" "${TESTBED_EBS_SIZE:-60G}")
export TESTBED_EBS_FILE="${TESTBED_EBS_DIR:-/var/tmp/cvat-testbed-ebs}/$vol_name.img"
# a well-formed, unique EBS volume id for this run (17 hex digits, like AWS)
export TESTBED_EBS_VOLUME_ID="vol-0$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cleanup() { tests/testbed/ebs-volume.sh destroy "$vol_name" || true; }
trap cleanup EXIT
echo "== molecule $scenario on $distro ($tag), EBS $TESTBED_EBS_VOLUME_ID at $TESTBED_EBS_DEVICE"
molecule test -s "$scenario"
