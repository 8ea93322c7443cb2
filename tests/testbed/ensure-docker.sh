#!/usr/bin/env bash
# Starts a Docker engine for the test bed when none answers. vfs is the only storage driver that works
# on these CI machines (no overlay on overlay); this is a test-bed setting, not a production one.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
command -v dockerd >/dev/null || { echo "ensure-docker: dockerd missing (run scripts/bootstrap.sh)" >&2; exit 1; }
log=${TESTBED_LOG_DIR:-/var/log/cvat-testbed}/dockerd.log
mkdir -p "$(dirname "$log")"
echo "ensure-docker: starting dockerd (storage-driver vfs), log $log" >&2
nohup dockerd --storage-driver=vfs >"$log" 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60 s; last log lines:" >&2
tail -20 "$log" >&2
exit 1
