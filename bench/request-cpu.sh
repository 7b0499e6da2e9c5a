#!/usr/bin/env bash
# bench/request-cpu.sh: what one request costs the server in CPU. One all-in-one process
# (STEVEDORE_PROCESSES=1, auth off, filesystem, its own Redis) gets the shared bench's blob HEAD
# load (curl --parallel, 32 at once, HTTP/1.1 keep-alive, batches of 2,000: registry-bench.sh's
# curl_head) or the same load as GETs, after one warm-up batch. The process's user+system CPU is read
# from /proc before and after. Prints requests per second and server CPU per request (µs).
# A benchmark, not a test; run it on a quiet machine and compare runs made one after the other.
#
# Usage: bench/request-cpu.sh [--method HEAD|GET] [--duration S] [--runs N] [--log-level warn|info|...]
# Needs: redis-server curl sha256sum. Binds only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
METHOD=HEAD DUR=6 RUNS=1 LEVEL=warn
while [ $# -gt 0 ]; do
  case "$1" in
    --method) METHOD=$2;; --duration) DUR=$2;; --runs) RUNS=$2;; --log-level) LEVEL=$2;;
    *) sed -n '2,11p' "$0" >&2; exit 2;;
  esac
  shift 2
done
case "$METHOD" in HEAD) CURL_METHOD=(-I);; GET) CURL_METHOD=();; *) echo "bench: --method HEAD|GET" >&2; exit 2;; esac
source bench/common.sh

run_once() {
  local W rp pp pid d loc c0 c1 t0 t1 n
  W=$(mktemp -d "${TMPDIR:-/tmp}/stevedore-reqcpu.XXXXXX")
  rp=$(port); pp=$(port)
  redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --logfile "$W/redis.log" --dir "$W"
  STEVEDORE_DATA_DIR="$W/data" REDIS_URL="redis://127.0.0.1:$rp" HOST=127.0.0.1 PORT="$pp" LOG_LEVEL="$LEVEL" \
    STEVEDORE_ADMIN_PASSWORD="$(head -c 12 /dev/urandom | base64 | tr -d '/+=')" NODE_ENV=production \
    STEVEDORE_INTERNAL_TOKEN="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" STEVEDORE_TARGET=all \
    STEVEDORE_AUTH=false STEVEDORE_PROCESSES=1 node -r @swc-node/register apps/stevedore/src/main.ts >"$W/platform.log" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064
  trap "kill $pid 2>/dev/null || true; redis-cli -p $rp shutdown nosave >/dev/null 2>&1 || true; rm -rf '$W'" RETURN
  for _ in $(seq 120); do curl -s -o /dev/null "http://127.0.0.1:$pp/v2/" && break; sleep 0.25; done
  head -c 1500 /dev/urandom >"$W/blob"
  d="sha256:$(sha256sum "$W/blob" | cut -d' ' -f1)"
  loc=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$pp/v2/bench/cpu/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  curl -sf -o /dev/null -X PUT --data-binary @"$W/blob" "http://127.0.0.1:$pp$loc?digest=$d"
  for _ in $(seq 2000); do echo "url = \"http://127.0.0.1:$pp/v2/bench/cpu/blobs/$d\""; echo 'output = "/dev/null"'; done >"$W/load.curl"
  curl -s --http1.1 "${CURL_METHOD[@]}" -Z --parallel-max 32 -K "$W/load.curl" >/dev/null 2>&1 || true # warm-up
  cpu() { local s; read -ra s < <(sed 's/.*) //' "/proc/$pid/stat"); echo $((s[11] + s[12])); }
  c0=$(cpu); t0=$(date +%s.%N); : >"$W/codes"
  while :; do
    curl -s --http1.1 "${CURL_METHOD[@]}" -Z --parallel-max 32 -w '%{http_code}\n' -K "$W/load.curl" >>"$W/codes" 2>/dev/null || true
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v d="$DUR" 'BEGIN{exit !(b-a<d)}' || break
  done
  c1=$(cpu); n=$(grep -c '^200' "$W/codes" || true)
  [ "${n:-0}" -gt 0 ] || { echo "bench: no 200 answers" >&2; return 1; }
  awk -v n="$n" -v a="$t0" -v b="$t1" -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v m="$METHOD" -v l="$LEVEL" \
    'BEGIN{printf "%s log_level=%s rps=%.0f server_cpu_us_per_request=%.0f requests=%d\n", m, l, n/(b-a), c*1e6/hz/n, n}'
}
for _ in $(seq 1 "$RUNS"); do run_once; done
