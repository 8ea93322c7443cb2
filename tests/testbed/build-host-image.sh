#!/usr/bin/env bash
# Builds (once) and caches the systemd test-host images the molecule scenarios and the sandbox run on.
# No container registry is reachable, so the image is made with debootstrap from Debian's mirror and
# imported with `docker import`. The tag carries a hash of this script: change the recipe, get a new image.
#
# usage: build-host-image.sh [trixie|bookworm ...]     (default: trixie bookworm)
# prints one line per release: <release> <image-tag>
set -euo pipefail

MIRROR=${TESTBED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE_DIR=${TESTBED_CACHE_DIR:-/var/cache/cvat-testbed}
here=$(cd "$(dirname "$0")" && pwd)
recipe_hash=$(sha256sum "$0" | cut -c1-10)

# Packages baked into the image: what a cloud image has (systemd, python3 for Ansible, python3-apt for
# the apt module, udev for /dev/disk links). Packages the roles install themselves are only *downloaded*
# into apt's cache, so the roles really install them but without re-downloading on every test run.
INCLUDE=systemd,systemd-sysv,dbus,udev,python3,python3-apt,ca-certificates,iproute2,procps,kmod,curl,gnupg,util-linux,e2fsprogs
PREFETCH="docker.io docker-compose xfsprogs containerd runc tini"

build() {
  local release=$1 tag rootfs
  tag="cvat-testhost:${release}-${recipe_hash}"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$release $tag"; return
  fi
  mkdir -p "$CACHE_DIR"
  local tarball="$CACHE_DIR/${release}-${recipe_hash}.tar"
  if [ ! -s "$tarball" ]; then
    rootfs=$(mktemp -d /var/tmp/testhost-rootfs.XXXXXX)
    echo "building $release rootfs in $rootfs (debootstrap, about 70-120 s)" >&2
    debootstrap --variant=minbase --include="$INCLUDE" "$release" "$rootfs" "$MIRROR" >&2
    cat > "$rootfs/etc/apt/sources.list" <<SRC
deb $MIRROR $release main
SRC
    # keep downloaded packages (Debian's docker-clean hook would delete them)
    rm -f "$rootfs/etc/apt/apt.conf.d/docker-clean"
    echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > "$rootfs/etc/apt/apt.conf.d/01keep-debs"
    chroot "$rootfs" apt-get update -qq >&2
    # shellcheck disable=SC2086
    chroot "$rootfs" apt-get install -y -qq --download-only $PREFETCH >&2 || true
    # a container has no consoles to get; these units only fail or hang there
    for unit in getty@tty1.service console-getty.service systemd-firstboot.service \
                systemd-udev-trigger.service systemd-networkd-wait-online.service; do
      ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
    done
    echo "testhost-$release" > "$rootfs/etc/hostname"
    : > "$rootfs/etc/machine-id"
    tar -C "$rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$rootfs"
  fi
  docker import -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' \
    "$tarball" "$tag" >/dev/null
  docker tag "$tag" "cvat-testhost:${release}"
  echo "$release $tag"
}

releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(trixie bookworm)
for r in "${releases[@]}"; do build "$r"; done
