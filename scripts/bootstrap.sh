#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (idempotent, fast when done before):
#   - Debian packages: docker.io (test bed engine), debootstrap (test-host images), python3-venv
#   - the pinned Python dependencies (requirements.txt) in a virtualenv cached outside the clone,
#     keyed by the hash of requirements.txt, and linked as ./.venv
# Source it (`. scripts/bootstrap.sh`) to get the venv's bin on PATH.
set -euo pipefail
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

_need=()
command -v dockerd >/dev/null 2>&1 || _need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || _need+=(debootstrap)
command -v losetup >/dev/null 2>&1 || _need+=(mount)
command -v make >/dev/null 2>&1 || _need+=(make)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || _need+=(python3-venv)
if [ ${#_need[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${_need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${_need[@]}" >&2
fi

_hash=$(sha256sum "$_root/requirements.txt" | cut -c1-12)
_cache=${CVAT_OPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cvat-ops}
_venv="$_cache/venv-$_hash"
if [ ! -f "$_venv/.complete" ]; then
  echo "bootstrap: creating $_venv from requirements.txt (a few minutes, once)" >&2
  rm -rf "$_venv"
  python3 -m venv "$_venv"
  "$_venv/bin/pip" install -q --disable-pip-version-check -r "$_root/requirements.txt" >&2
  touch "$_venv/.complete"
fi
ln -sfn "$_venv" "$_root/.venv"
export PATH="$_root/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$_root/ansible.cfg"
