#!/usr/bin/env bash
# bench/run.sh: Stevedore (filesystem storage) and Debian's docker-registry (CNCF distribution,
# filesystem) measured side by side on this machine, then medians and ratios. A benchmark, not a
# test: nothing here asserts a time.
#
# Usage: bench/run.sh [--runs N] [--auth on|off] [--wiring all|split] [--suite skopeo|light|mixed|all]
#          [--size-mb N] [--small N] [--duration S]
#          [--light-mb N] [--chunk-mb N] [--light-runs N] [--light-small N]
#          [--mixed-sizes 1,10,100] [--mixed-concurrency 1,8,16] [--mixed-duration S]
#          [--gateway-processes N]
#   --runs N       interleaved runs: distribution, Stevedore, distribution, Stevedore, ... (each suite in
#                  turn); medians are printed (default 1; use >= 3 for figures worth quoting)
#   --auth         Stevedore with Docker token auth (default on) or STEVEDORE_AUTH=false
#   --wiring       all: one process (apps/stevedore); split: apps/blob-service, apps/metadata-service and
#                  apps/gateway as three processes sharing one Redis and data dir
#   --gateway-processes N  split only: HTTP processes of the gateway (default: one per core, as the
#                  all-in-one runs, so split against all-in-one measures the wiring, not the process
#                  count; on Kubernetes the gateway's replicas play this part). 1 = a single process.
#   --suite        skopeo: ../shared/bench/registry-bench.sh (skopeo + wrk), which takes --size-mb, --small
#                  and --duration; light: bench/light.ts (--light-mb, --chunk-mb, --light-runs,
#                  --light-small); mixed: bench/mixed.ts (--mixed-*); all (default): the three
# Output: the table of medians and ratios on stdout, and bench/results/<timestamp>/ (gitignored) with
# run<I>/<registry>.<suite>.out (raw figures), the servers' logs, config.json, summary.json and
# ratios.svg (a bar per throughput metric, 1.0x and each metric's target marked).
# With the defaults (the issue's sizes: 300 MB skopeo image, 256 MB light blob, 1/10/100 MB mixed images,
# 10 s per wrk and mixed step) one run takes roughly 10 minutes and writes several GB under $TMPDIR.
# Needs: redis-server docker-registry skopeo wrk jq curl. Binds only 127.0.0.1; a private Redis and
# data dirs under a temp dir, every process stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

RUNS=1 AUTH=on WIRING=all SUITE=all GATEWAY_PROCESSES=$(nproc)
SKOPEO_ARGS=() LIGHT_ARGS=() MIXED_ARGS=()
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
    --runs) RUNS=$2;; --auth) AUTH=$2;; --wiring) WIRING=$2;; --suite) SUITE=$2;;
    --size-mb|--small|--duration) SKOPEO_ARGS+=("$1" "$2");;
    --light-mb) LIGHT_ARGS+=(--blob-mb "$2");; --chunk-mb) LIGHT_ARGS+=(--chunk-mb "$2");;
    --light-runs) LIGHT_ARGS+=(--runs "$2");; --light-small) LIGHT_ARGS+=(--small "$2");;
    --mixed-sizes) MIXED_ARGS+=(--sizes "$2");; --mixed-concurrency) MIXED_ARGS+=(--concurrency "$2");;
    --mixed-duration) MIXED_ARGS+=(--duration "$2");;
    --gateway-processes) GATEWAY_PROCESSES=$2;;
    *) usage;;
  esac
  shift 2
done
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] || { echo "bench: --runs must be >= 1" >&2; exit 2; }
[[ $GATEWAY_PROCESSES =~ ^[0-9]+$ ]] && [ "$GATEWAY_PROCESSES" -ge 1 ] || { echo "bench: --gateway-processes must be >= 1" >&2; exit 2; }
case "$AUTH" in on|off) ;; *) usage;; esac
case "$WIRING" in all|split) ;; *) usage;; esac
case "$SUITE" in skopeo) SUITES=(skopeo);; light) SUITES=(light);; mixed) SUITES=(mixed);; all) SUITES=(skopeo light mixed);; *) usage;; esac

BENCH=${REGISTRY_BENCH:-$ROOT/../shared/bench/registry-bench.sh}
if [[ " ${SUITES[*]} " == *" skopeo "* ]] && [ ! -f "$BENCH" ]; then
  echo "bench: registry-bench.sh not found at $BENCH (set REGISTRY_BENCH)" >&2; exit 2
fi
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
OUT="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$ROOT/bench/results" && mkdir "$OUT" # not -p: two runs started in the same second must not share a folder
T=$(mktemp -d "${TMPDIR:-/tmp}/stevedore-bench.XXXXXX")
pids=()
cleanup() {
  # Newest first: the gateway before the services it calls, Redis last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  cp "$T"/*.log "$OUT"/ 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source bench/common.sh

RPORT=$(port); redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
pids+=($!)

# ---- Stevedore: one process, or the three split targets (as libs/testing/src/stevedore-harness.ts starts them)
PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
export STEVEDORE_DATA_DIR="$T/stevedore" REDIS_URL="redis://127.0.0.1:$RPORT" HOST=127.0.0.1 LOG_LEVEL=warn \
  STEVEDORE_ADMIN_PASSWORD="$PASS" NODE_ENV=production STEVEDORE_INTERNAL_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
[ "$AUTH" = off ] && export STEVEDORE_AUTH=false
start_target() { # TARGET APP PORT [VAR=VALUE...]: start one process and wait for its /healthz
  local target=$1 app=$2 p=$3; shift 3
  env STEVEDORE_TARGET="$target" PORT="$p" "$@" node -r @swc-node/register "apps/$app/src/main.ts" >"$T/stevedore-$target.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$p/healthz"
}
if [ "$WIRING" = all ]; then
  SPORT=$(port); start_target all stevedore "$SPORT"
else
  BPORT=$(port); start_target blob-service blob-service "$BPORT"
  MPORT=$(port); start_target metadata-service metadata-service "$MPORT" STEVEDORE_BLOB_SERVICE_URL="http://127.0.0.1:$BPORT"
  SPORT=$(port); start_target gateway gateway "$SPORT" STEVEDORE_PROCESSES="$GATEWAY_PROCESSES" \
    STEVEDORE_BLOB_SERVICE_URL="http://127.0.0.1:$BPORT" STEVEDORE_METADATA_SERVICE_URL="http://127.0.0.1:$MPORT"
fi
CREDS=(); [ "$AUTH" = on ] && CREDS=(--user admin --password "$PASS")

# ---- distribution
DPORT=$(port)
source bench/distribution.sh
start_distribution "$T/distribution" "$DPORT"
pids+=($!)
wait_http "http://127.0.0.1:$DPORT/v2/"

jq -n --arg started "$STARTED" --argjson runs "$RUNS" --arg auth "$AUTH" --arg wiring "$WIRING" --argjson gatewayProcesses "$GATEWAY_PROCESSES" --arg suite "$SUITE" \
  --arg skopeo "${SKOPEO_ARGS[*]:-}" --arg light "${LIGHT_ARGS[*]:-}" --arg mixed "${MIXED_ARGS[*]:-}" \
  --arg host "$(uname -n)" --arg cpus "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
  '{started: $started, runs: $runs, auth: $auth, wiring: $wiring, gatewayProcesses: $gatewayProcesses, suite: $suite,
    args: {skopeo: $skopeo, light: $light, mixed: $mixed}, host: $host, cpus: $cpus, loadavg_at_start: $load}' >"$OUT/config.json"

measure() { # REGISTRY URL SUITE OUTFILE [creds...]
  local reg=$1 url=$2 suite=$3 out=$4; shift 4
  # Write back what the last measurement left dirty first: distribution never fsyncs, so without
  # this the next registry's fsyncs (Stevedore's write order needs them) paid for its page cache too
  # (on ext4 an fsync waits for the journal commit, and that for other files' dirty data).
  sync
  echo "bench: $suite against $reg ($url)" >&2
  case "$suite" in
    skopeo) bash "$BENCH" "$url" "$@" "${SKOPEO_ARGS[@]}" >"$out";;
    light) node -r @swc-node/register bench/light.ts "$url" "$@" "${LIGHT_ARGS[@]}" >"$out";;
    mixed) node -r @swc-node/register bench/mixed.ts "$url" "$@" "${MIXED_ARGS[@]}" >"$out";;
  esac
}
for i in $(seq 1 "$RUNS"); do
  mkdir -p "$OUT/run$i"
  for suite in "${SUITES[@]}"; do
    echo "bench: run $i/$RUNS, $suite" >&2
    measure distribution "http://127.0.0.1:$DPORT" "$suite" "$OUT/run$i/distribution.$suite.out"
    measure stevedore "http://127.0.0.1:$SPORT" "$suite" "$OUT/run$i/stevedore.$suite.out" "${CREDS[@]}"
  done
done

node -r @swc-node/register bench/report.ts "$OUT" | tee "$OUT/table.txt"
grep -h -E '_non2xx|digests_ok|identical|_errors' "$OUT"/run*/stevedore.*.out | awk '$2 != 0 || $1 ~ /ok|identical/' | sed 's/^/# stevedore /' || true
echo "bench: results in ${OUT#"$ROOT"/} (summary.json, ratios.svg)" >&2
