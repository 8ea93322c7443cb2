#!/usr/bin/env bash
# The test bed's EBS volume: a sparse file on a loop device.
#   ebs-volume.sh create NAME SIZE   -> prints the loop device (e.g. /dev/loop3)
#   ebs-volume.sh grow NAME SIZE     -> enlarges the file and tells the kernel (like modifying an EBS volume)
#   ebs-volume.sh destroy NAME       -> detaches the loop device and deletes the file
set -euo pipefail
dir=${TESTBED_EBS_DIR:-/var/tmp/cvat-testbed-ebs}
cmd=${1:?usage: ebs-volume.sh create|grow|destroy NAME [SIZE]}; name=${2:?NAME missing}
file="$dir/$name.img"
mkdir -p "$dir"
dev_of() { losetup -j "$file" -O NAME -n 2>/dev/null | head -1; }
case "$cmd" in
  create)
    size=${3:?SIZE missing (e.g. 60G)}
    old=$(dev_of || true); [ -n "$old" ] && losetup -d "$old"
    rm -f "$file"; truncate -s "$size" "$file"
    losetup -f --show "$file" ;;
  grow)
    size=${3:?SIZE missing}
    truncate -s "$size" "$file"; dev=$(dev_of); losetup -c "$dev"; echo "$dev" ;;
  destroy)
    dev=$(dev_of || true); [ -n "$dev" ] && losetup -d "$dev"; rm -f "$file" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
