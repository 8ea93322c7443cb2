#!/usr/bin/env bash
# The main job on the local sandbox: the whole deployment end to end on this one machine.
#
#   AWS       -> a moto server on 127.0.0.1 (stand-in for AWS); `runner.py provision` creates the bucket,
#                IAM roles, security group, EC2 instance and data volume there.
#   EC2 host  -> a systemd container "cvat-sandbox" (Debian 13), reached with the docker connection plugin.
#   EBS       -> a loop device passed in as /dev/nvme1n1, linked under the volume id moto gave the data volume,
#                exactly as udev links a Nitro EBS volume.
#   deploy    -> `runner.py deploy -i inventories/sandbox` (playbooks/site.yml: data_volume, docker, cvat,
#                cvat_serverless, cvat_seed).
#
# Images: first asks the registry API whether every image of the pinned stack can be pulled
# (tests/testbed/registry-probe.py, 5 s timeout per request), from Docker Hub / quay.io or from the mirror in
# SANDBOX_REGISTRY_MIRROR (cvat_image_registry_mirror: host[:port][/path], ECR pull-through cache layout; it must be
# reachable from inside the sandbox host). When they can, the sandbox host pulls the REAL images and runs real
# CVAT; when no registry answers, the stack runs on STAND-IN images built locally and tagged as the real ones (the
# stack's lifecycle runs, CVAT itself does not). One line at the top and one at the end say which.
#   SANDBOX_LOCAL_REGISTRY=1  test bed: a registry on the sandbox host's 127.0.0.1:5000 (Debian's docker-registry)
#                             holding the stand-ins under the mirror paths; the role pulls through it.
#   --probe                   only print that line (and the probe's findings) and exit 0 = real, 1 = stand-ins.
# The deployment gets cvat_sandbox_real_images (true/false) and cvat_sandbox_image_source
# (registry | local-registry | standins) as extra vars; CVAT_SANDBOX_REAL_IMAGES=1/0 is exported.
# What else this machine may not reach is replaced, and said so: GitHub (nuctl and function sources come from a
# local stand-in), AWS (moto).
#
# The sandbox's data volume file is kept between runs (never destroyed implicitly); remove it with
#   scripts/sandbox.sh --destroy
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
NAME=cvat-sandbox
MOTO_PORT=${SANDBOX_MOTO_PORT:-5055}
STATE=${SANDBOX_STATE_DIR:-$root/.cache/sandbox}
mkdir -p "$STATE"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

. scripts/bootstrap.sh
if [ "${1:-}" = "--destroy" ]; then
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  for p in moto cvat-standin; do [ -f "$STATE/$p.pid" ] && kill "$(cat "$STATE/$p.pid")" 2>/dev/null || true; done
  TESTBED_EBS_DIR="$STATE" tests/testbed/ebs-volume.sh destroy sandbox-data
  rm -rf "$STATE"; echo "sandbox destroyed (data volume file deleted)"; exit 0
fi

# --- images: real ones when a registry answers, else stand-ins (decided once, said at the top and at the end)
MIRROR=${SANDBOX_REGISTRY_MIRROR:-}
if [ "${SANDBOX_LOCAL_REGISTRY:-0}" = 1 ]; then
  MIRROR=127.0.0.1:5000; image_source=local-registry; real_images=false
  images_line="images: STAND-INS pulled through cvat_image_registry_mirror=$MIRROR (test-bed registry on the sandbox host, SANDBOX_LOCAL_REGISTRY=1): this is not CVAT"
elif python3 tests/testbed/registry-probe.py --mirror "$MIRROR" --timeout "${SANDBOX_PROBE_TIMEOUT:-5}" >"$STATE/registry-probe.log" 2>&1; then
  image_source=registry; real_images=true
  images_line="images: REAL CVAT images, pulled from ${MIRROR:-Docker Hub / quay.io} ($(tail -1 "$STATE/registry-probe.log" | sed 's/^registry probe: //'))"
else
  image_source=standins; real_images=false; MIRROR=""
  images_line="images: $(tail -1 "$STATE/registry-probe.log" | sed 's/^registry probe: //'); CVAT runs on STAND-IN images built locally, this is not CVAT"
fi
banner() { printf '\033[1m>> %s\033[0m\n' "$images_line"; }
banner
if [ "${1:-}" = "--probe" ]; then
  cat "$STATE/registry-probe.log" 2>/dev/null || true
  [ "$real_images" = true ]; exit
fi
export CVAT_SANDBOX_REAL_IMAGES=$([ "$real_images" = true ] && echo 1 || echo 0)
python3 - "$STATE/images-vars.yml" "$MIRROR" "$image_source" "$real_images" <<'PY'
import sys, yaml
path, mirror, source, real = sys.argv[1:]
real = real == "true"
values = {"cvat_sandbox_real_images": real, "cvat_sandbox_image_source": source,
          "cvat_image_registry_mirror": mirror, "cvat_pull_policy": "missing"}
if real:
    # real CVAT: Django runs, so the superuser can be made; the first boot migrates the database (minutes on vfs)
    values.update({"cvat_superuser_manage": True, "cvat_health_retries": 120, "cvat_health_delay": 5})
yaml.safe_dump(values, open(path, "w"))
PY

tests/testbed/ensure-docker.sh

say "AWS stand-in: moto on 127.0.0.1:$MOTO_PORT (no AWS account is reachable from here)"
if ! curl -sf "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1; then
  MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$STATE/moto.log" 2>&1 &
  echo $! > "$STATE/moto.pid"
  for _ in $(seq 1 30); do curl -sf "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1 && break; sleep 0.5; done
fi
export AWS_ACCESS_KEY_ID=AKIAMOTOSANDBOXFAKE AWS_SECRET_ACCESS_KEY=moto-sandbox-fake-secret-0000 AWS_DEFAULT_REGION=eu-west-1 AWS_REGION=eu-west-1
export AWS_URL="http://127.0.0.1:$MOTO_PORT" AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export SANDBOX_MOTO_URL="http://127.0.0.1:$MOTO_PORT"

python3 tests/testbed/moto-seed.py "$AWS_URL" eu-west-1 cvat-sandbox-vault

say "provision (runner.py provision -i inventories/sandbox) against moto"
./runner.py provision -i inventories/sandbox -e "aws_infra_outputs_file=$STATE/aws_outputs.yml"
vol_id=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data_volume_id"])' "$STATE/aws_outputs.yml")
[[ "$vol_id" =~ ^vol-[0-9a-f]{8,17}$ ]] || { echo "sandbox: provisioning gave no data volume id ($vol_id)" >&2; exit 1; }

say "EBS data volume $vol_id: loop device (kept between runs)"
file="$STATE/sandbox-data.img"
dev=$(losetup -j "$file" -O NAME -n 2>/dev/null | head -1 || true)
if [ -z "$dev" ]; then
  [ -f "$file" ] || truncate -s "${SANDBOX_VOLUME_SIZE:-60G}" "$file"
  dev=$(losetup -f --show "$file")
fi
echo "$file on $dev"

say "EC2 host stand-in: systemd container $NAME"
image=$(tests/testbed/build-host-image.sh trixie | awk '{print $2}')
if ! docker inspect "$NAME" >/dev/null 2>&1; then
  docker run -d --name "$NAME" --hostname "$NAME" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add MKNOD --cap-add SYS_PTRACE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cgroupns=host \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    --device "$dev:/dev/nvme1n1" -p 127.0.0.1:${SANDBOX_HTTP_PORT:-8080}:8080 "$image" /sbin/init >/dev/null
fi
docker start "$NAME" >/dev/null
serial=${vol_id//-/}
docker exec "$NAME" sh -c "mkdir -p /dev/disk/by-id && ln -sfn ../../nvme1n1 /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial"
echo "linked /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial -> /dev/nvme1n1 (udev stand-in)"

say "host: data volume and Docker (runner.py run host)"
./runner.py run host -i inventories/sandbox -e "data_volume_id=$vol_id"

case "$image_source" in
  registry)
    say "container images: the cvat role pulls the REAL images from ${MIRROR:-Docker Hub / quay.io} into $NAME (several GB on the first run)"
    # stand-ins of an earlier offline run carry the real names: drop them, or `pull missing` would keep them
    docker exec "$NAME" sh -c 'docker images -q --filter label=org.example.standin=true | sort -u | xargs -r docker rmi -f' >/dev/null ;;
  local-registry)
    say "container images: STAND-INS pushed to a test-bed registry on $NAME's 127.0.0.1:5000; the role pulls them through cvat_image_registry_mirror"
    ANSIBLE_CONFIG="$root/ansible.cfg" ansible-playbook -i inventories/sandbox tests/testbed/standin-images.yml -e "data_volume_id=$vol_id"
    ANSIBLE_CONFIG="$root/ansible.cfg" ansible-playbook -i inventories/sandbox tests/testbed/local-registry.yml -e "data_volume_id=$vol_id" ;;
  *)
    say "container images: no registry answered; building STAND-IN images inside $NAME (they are not CVAT)"
    ANSIBLE_CONFIG="$root/ansible.cfg" ansible-playbook -i inventories/sandbox tests/testbed/standin-images.yml -e "data_volume_id=$vol_id" ;;
esac

if [ "$real_images" = true ]; then
  say "seed: the REAL CVAT of this stack (through Traefik at http://localhost:${SANDBOX_HTTP_PORT:-8080}, the superuser the cvat role made)"
  say "      S3 cloud storage and task batches are left out: CVAT inside $NAME cannot reach moto on this machine's loopback"
  export SANDBOX_CVAT_API_URL="http://localhost:${SANDBOX_HTTP_PORT:-8080}"
  python3 - "$STATE/aws_outputs.yml" "$STATE/deploy-vars.yml" <<'PY'
import sys, yaml
o = yaml.safe_load(open(sys.argv[1]))
yaml.safe_dump({"data_volume_id": o["data_volume_id"], "cvat_seed_bucket": "", "cvat_seed_tasks": [],
                "cvat_seed_storage_user": o["storage_user_name"]}, open(sys.argv[2], "w"))
PY
else
  say "CVAT API stand-in on 127.0.0.1 for the seed role (CVAT's server cannot run here: no images)"
  api_port=${SANDBOX_CVAT_API_PORT:-5056}
  if ! curl -sf "http://127.0.0.1:$api_port/api/server/health/" >/dev/null 2>&1; then
    nohup python3 tests/cvat_standin/server.py --port "$api_port" --admin admin --password "sandbox-admin" \
      --s3-endpoint "$AWS_URL" >"$STATE/cvat-standin.log" 2>&1 &
    echo $! > "$STATE/cvat-standin.pid"
    for _ in $(seq 1 30); do curl -sf "http://127.0.0.1:$api_port/api/server/health/" >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  export SANDBOX_CVAT_API_URL="http://127.0.0.1:$api_port"
  # inventory facts from provisioning (what aws_ec2.yml composes from the instance tags in production)
  python3 - "$STATE/aws_outputs.yml" "$STATE/deploy-vars.yml" <<'PY'
import sys, yaml
o = yaml.safe_load(open(sys.argv[1]))
yaml.safe_dump({"data_volume_id": o["data_volume_id"], "cvat_seed_bucket": o["bucket"],
                "cvat_seed_storage_user": o["storage_user_name"],
                # the stand-in's admin password (not a secret: it exists only in this sandbox)
                "cvat_seed_admin_password": "sandbox-admin"}, open(sys.argv[2], "w"))
PY
fi

say "deploy (runner.py deploy -i inventories/sandbox)"
./runner.py deploy -i inventories/sandbox -e "@$STATE/deploy-vars.yml" -e "@$STATE/images-vars.yml" "$@"
if [ "$real_images" = true ]; then
  say "sandbox ready: CVAT at http://localhost:${SANDBOX_HTTP_PORT:-8080}/ (user admin; password: docker exec $NAME cat /data/cvat/secrets/superuser_password)"
else
  say "sandbox ready: CVAT stand-in stack at http://127.0.0.1:${SANDBOX_HTTP_PORT:-8080}/ (host header localhost)"
fi
banner
