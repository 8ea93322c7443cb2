#!/usr/bin/env bash
# TEST BED ONLY: the distribution registry (Debian package docker-registry, installed when missing; nothing is
# pulled) on this machine's 127.0.0.1, storage under /var/tmp. No auth, plain HTTP (loopback).
#   local-registry.sh start PORT [DIR]   starts it in the background, waits for /v2/; prints its pid
#   local-registry.sh stop PID DIR       stops it and removes its storage
set -euo pipefail
cmd=${1:?start|stop}
case "$cmd" in
  start)
    port=${2:?port}; dir=${3:-$(mktemp -d /var/tmp/testbed-registry.XXXXXX)}
    command -v docker-registry >/dev/null 2>&1 || {
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null; }
    }
    mkdir -p "$dir/data"
    cat > "$dir/config.yml" <<CFG
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
    nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do
      curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && { echo "$pid"; exit 0; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    echo "local-registry: did not answer on 127.0.0.1:$port (log: $dir/registry.log)" >&2
    cat "$dir/registry.log" >&2 || true
    kill "$pid" 2>/dev/null || true
    exit 1 ;;
  stop)
    pid=${2:?pid}; dir=${3:?dir}
    kill "$pid" 2>/dev/null || true
    case "$dir" in /var/tmp/testbed-registry.*) rm -rf "$dir" ;; esac ;;
  *) echo "usage: $0 start PORT [DIR] | stop PID DIR" >&2; exit 2 ;;
esac
