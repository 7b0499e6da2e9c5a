#!/usr/bin/env bash
# bench/skopeo-push.sh: back-to-back skopeo pushes of fresh images (3 gzip layers of random data) to
# Debian's docker-registry and a Stevedore all-in-one, alternating, each push with the server's and
# skopeo's CPU seconds: what a push costs once the server is warm, apart from the rest of bench/run.sh.
# A benchmark, not a test. Usage: bench/skopeo-push.sh [--runs N] [--size-mb N] [--auth on|off]
# Needs: redis-server docker-registry skopeo jq tar gzip sha256sum. Binds only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3 SIZE=100 AUTH=off
while [ $# -gt 0 ]; do
  case "$1" in --runs) RUNS=$2;; --size-mb) SIZE=$2;; --auth) AUTH=$2;; *) sed -n '2,7p' "$0" >&2; exit 2;; esac
  shift 2
done
T=$(mktemp -d "${TMPDIR:-/tmp}/stevedore-push.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
source bench/common.sh

# layout DIR: an OCI layout of 3 layers of SIZE/3 MB random data each
layout() {
  local d=$1 layers="" diffs="" i
  mkdir -p "$d/blobs/sha256" "$d/w"
  for i in 1 2 3; do
    head -c $((SIZE * 1048576 / 3)) /dev/urandom >"$d/w/blob$i"
    tar -C "$d/w" -cf "$d/w/l.tar" "blob$i"
    diffs+="\"sha256:$(sha256sum "$d/w/l.tar" | cut -d' ' -f1)\","
    gzip -1 -n -c "$d/w/l.tar" >"$d/w/l.tgz"
    local h; h=$(sha256sum "$d/w/l.tgz" | cut -d' ' -f1); mv "$d/w/l.tgz" "$d/blobs/sha256/$h"
    layers+="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$h\",\"size\":$(stat -c %s "$d/blobs/sha256/$h")},"
  done
  rm -rf "$d/w"
  put() { local h; h=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$d/blobs/sha256/$h"; echo "$h $(stat -c %s "$d/blobs/sha256/$h")"; }
  echo "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[${diffs%,}]}}" >"$d/c.json"
  read -r ch cs < <(put "$d/c.json")
  echo "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$ch\",\"size\":$cs},\"layers\":[${layers%,}]}" >"$d/m.json"
  read -r mh ms < <(put "$d/m.json")
  echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
  echo "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$mh\",\"size\":$ms,\"annotations\":{\"org.opencontainers.image.ref.name\":\"bench\"}}]}" >"$d/index.json"
}
for i in $(seq $((2 * RUNS))); do layout "$T/L$i"; done
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"

RPORT=$(port); SPORT=$(port); DPORT=$(port); PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
redis-server --port "$RPORT" --save '' --appendonly no --daemonize yes --logfile "$T/redis.log"
env STEVEDORE_TARGET=all PORT="$SPORT" HOST=127.0.0.1 STEVEDORE_DATA_DIR="$T/s" REDIS_URL="redis://127.0.0.1:$RPORT" LOG_LEVEL=warn \
  NODE_ENV=production STEVEDORE_AUTH=$([ "$AUTH" = on ] && echo true || echo false) STEVEDORE_ADMIN_PASSWORD="$PASS" \
  STEVEDORE_INTERNAL_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') \
  node -r @swc-node/register apps/stevedore/src/main.ts >"$T/s.log" 2>&1 &
pids+=($!); SP=$!
source bench/distribution.sh
start_distribution "$T/d" "$DPORT"
pids+=($!); DP=$!
wait_http "http://127.0.0.1:$SPORT/healthz"; wait_http "http://127.0.0.1:$DPORT/v2/"
cpu() { local t=0 p; for p in $1 $(pgrep -P "$1" || true); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
TCK=$(getconf CLK_TCK)
for r in $(seq "$RUNS"); do
  for who in distribution stevedore; do
    if [ "$who" = distribution ]; then p=$DPORT pid=$DP L=$((2 * r - 1)) creds=(); else p=$SPORT pid=$SP L=$((2 * r)) creds=(); [ "$AUTH" = on ] && creds=(--dest-creds "admin:$PASS"); fi
    c0=$(cpu "$pid"); s=$(date +%s%N)
    /usr/bin/time -f "%U %S" -o "$T/skt" skopeo --policy "$T/policy.json" copy -q --dest-tls-verify=false "${creds[@]}" "oci:$T/L$L:bench" "docker://127.0.0.1:$p/bench/r$r:bench"
    e=$(date +%s%N); c1=$(cpu "$pid")
    awk -v who="$who" -v r="$r" -v mb="$SIZE" -v ns=$((e - s)) -v c=$((c1 - c0)) -v tck="$TCK" -v sk="$(awk '{print $1+$2}' "$T/skt")" \
      'BEGIN { printf "%-12s run %d: %7.1f MB/s; server %.2f CPU-s, skopeo %.2f CPU-s\n", who, r, mb / (ns / 1e9), c / tck, sk }'
  done
done
