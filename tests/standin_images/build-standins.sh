#!/bin/sh
# Builds STAND-IN images for the CVAT stack inside a test host's Docker, tagged as the real images
# (e.g. cvat/server:v2.73.0), because no container registry is reachable on the test machines.
# Each stand-in is busybox-static + one small script (/standin); the role under test renders the real
# compose file and the stand-ins only have to start under it:
#   server   (cvat/server)  busybox httpd on 8080 answering /api/server/health/ with a JSON body
#   traefik  (traefik)      busybox httpd on 8080/80/443 whose CGI forwards /api/.../ to http://cvat-server:8080
#                           only when the Host header equals $CVAT_HOST (a crude copy of the Host rule), else 404
#   db       (postgres)     writes a marker into /var/lib/postgresql/data (proves the volume path), then idles
#   others                  idle until SIGTERM (grafana's upstream entrypoint script runs first and ends in /run.sh)
# They do NOT prove: a real CVAT boot, Django migrations, OPA policies, Traefik's routing rules or TLS,
# PostgreSQL authentication, the analytics pipeline (Vector -> ClickHouse -> Grafana), Nuclio.
#
# usage: build-standins.sh KEY=IMAGE [KEY=IMAGE ...]   (KEY: a key of the role's cvat_images)
# needs: docker, /bin/busybox from the Debian package busybox-static. Idempotent: existing stand-ins are kept.
set -eu
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || { echo "build-standins: $BUSYBOX missing (apt-get install busybox-static)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/standin.XXXXXX)
trap 'rm -rf "$work"' EXIT

make_rootfs() {
  role=$1; root=$work/$role
  mkdir -p "$root/bin" "$root/tmp" "$root/www/api/server/health" "$root/www/cgi-bin" "$root/etc"
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nstandin:x:1000:1000::/tmp:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\nstandin:x:1000:\n' > "$root/etc/group"
  chmod 1777 "$root/tmp"
  cat > "$root/standin" <<'SCRIPT'
#!/bin/sh
# STAND-IN entrypoint (see tests/standin_images/README.md); arguments of the real command are ignored.
echo "standin $STANDIN_ROLE started (args: $*)"
idle() { trap 'exit 0' TERM INT; while :; do sleep 1 & wait $!; done; }
case "$STANDIN_ROLE" in
  server)
    echo '{"Cache backend: default": "working", "DatabaseBackend": "working", "standin": "cvat_server"}' \
      > /www/api/server/health/index.html
    httpd -p 8080 -h /www
    idle ;;
  traefik)
    rm -rf /www/api
    httpd -p 80 -h /www; httpd -p 443 -h /www; httpd -p 8080 -h /www
    idle ;;
  db)
    mkdir -p /var/lib/postgresql/data
    date > /var/lib/postgresql/data/STANDIN_MARKER
    idle ;;
  *) idle ;;
esac
SCRIPT
  cat > "$root/www/cgi-bin/index.cgi" <<'SCRIPT'
#!/bin/sh
# STAND-IN router: forwards /api/ requests for Host $CVAT_HOST to cvat-server:8080, like the cvat router.
host=${HTTP_HOST%%:*}
case "$REQUEST_URI" in
  /api/*)
    # static busybox cannot use glibc's resolver: ask Docker's DNS with nslookup, then wget the address
    dns=$(sed -n 's/^nameserver //p' /etc/resolv.conf | head -1)
    ip=$(nslookup cvat-server "$dns" 2>/dev/null | sed -n 's/^Address: *\([0-9.]*\)$/\1/p' | head -1)
    if [ "$host" = "$CVAT_HOST" ] && [ -n "$ip" ] && body=$(timeout 5 wget -q -O - "http://$ip:8080$REQUEST_URI"); then
      printf 'Status: 200\r\nContent-Type: application/json\r\n\r\n%s\n' "$body"; exit 0
    fi ;;
esac
printf 'Status: 404\r\nContent-Type: text/plain\r\n\r\n404 page not found (standin traefik)\n'
SCRIPT
  printf '#!/bin/sh\nexec /standin "$@"\n' > "$root/run.sh"
  chmod 0755 "$root/standin" "$root/www/cgi-bin/index.cgi" "$root/run.sh"
}

for pair in "$@"; do
  key=${pair%%=*}; image=${pair#*=}
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "kept $image"; continue
  fi
  case "$key" in server|traefik|db) role=$key ;; *) role=idle ;; esac
  [ -d "$work/$role" ] || make_rootfs "$role"
  tar -C "$work/$role" -c . | docker import \
    -c 'ENTRYPOINT ["/standin"]' -c "ENV STANDIN_ROLE=$role" -c 'ENV PATH=/bin' \
    -c "LABEL org.example.standin=true org.example.standin.key=$key" - "$image" >/dev/null
  echo "built $image (standin $role)"
done
