#!/usr/bin/env bash
# bench/light-ceiling.sh: what bounds the light suite's figures. bench/light.ts runs against
# distribution, Stevedore (all-in-one, auth off) and bench/ceiling-registry.ts in three shapes (blobs
# in memory; on disk without fsync, as distribution writes; on disk with an fsync before each rename,
# as Stevedore writes), interleaved, N runs; prints the median of each metric per target and each
# target against distribution. The ceilings show what the machine and the client allow at all, and
# what the fsync alone costs. A benchmark, not a test: run it on a quiet machine.
#
# Usage: bench/light-ceiling.sh [--runs N] [--light-mb N] [--chunk-mb N] [--light-runs N] [--light-small N]
#          [--processes N]   (HTTP processes of Stevedore and of the disk ceilings; default one per core)
#          [--targets a,b,...] (default stevedore,ceiling-memory,ceiling-disk,ceiling-disk-fsync;
#                            distribution is always measured, the ratios are to it)
# Needs: redis-server docker-registry curl. Binds only 127.0.0.1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd) && cd "$ROOT"
WANT=stevedore,ceiling-memory,ceiling-disk,ceiling-disk-fsync RUNS=3 MB=128 CHUNK=16 LRUNS=3 SMALL=50 PROCS=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2;; --light-mb) MB=$2;; --chunk-mb) CHUNK=$2;; --light-runs) LRUNS=$2;; --light-small) SMALL=$2;;
    --processes) PROCS=$2;; --targets) WANT=$2;;
    *) sed -n '2,14p' "$0" >&2; exit 2;;
  esac
  shift 2
done
T=$(mktemp -d "${TMPDIR:-/tmp}/stevedore-ceiling.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
source bench/common.sh

declare -A URL
if [[ ",$WANT," == *,stevedore,* ]]; then
  RPORT=$(port); redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
  pids+=($!)
  SPORT=$(port)
  STEVEDORE_DATA_DIR="$T/stevedore" REDIS_URL="redis://127.0.0.1:$RPORT" HOST=127.0.0.1 PORT=$SPORT LOG_LEVEL=warn \
    STEVEDORE_ADMIN_PASSWORD=bench-only NODE_ENV=production STEVEDORE_INTERNAL_TOKEN=bench-only-internal-token \
    STEVEDORE_TARGET=all STEVEDORE_AUTH=false STEVEDORE_PROCESSES="$PROCS" \
    node -r @swc-node/register apps/stevedore/src/main.ts >"$T/stevedore.log" 2>&1 &
  pids+=($!); URL[stevedore]=http://127.0.0.1:$SPORT
fi
DPORT=$(port)
source bench/distribution.sh
start_distribution "$T/distribution" "$DPORT"
pids+=($!); URL[distribution]=http://127.0.0.1:$DPORT
ceiling() { # NAME STORE FSYNC PROCESSES
  local p; p=$(port)
  node -r @swc-node/register bench/ceiling-registry.ts --port "$p" --dir "$T/$1" --store "$2" --fsync "$3" --processes "$4" >"$T/$1.log" 2>&1 &
  pids+=($!); URL[$1]=http://127.0.0.1:$p
}
for t in ${WANT//,/ }; do
  case "$t" in
    ceiling-memory) ceiling "$t" memory off 1;;
    ceiling-disk) ceiling "$t" disk off "$PROCS";;
    ceiling-disk-fsync) ceiling "$t" disk on "$PROCS";;
  esac
done
TARGETS=(distribution)
for t in ${WANT//,/ }; do [ "$t" = distribution ] || [ -z "${URL[$t]:-}" ] || TARGETS+=("$t"); done
for t in "${TARGETS[@]}"; do wait_http "${URL[$t]}/v2/"; done

for i in $(seq 1 "$RUNS"); do
  for t in "${TARGETS[@]}"; do
    sync
    echo "bench: run $i/$RUNS, light against $t" >&2
    node -r @swc-node/register bench/light.ts "${URL[$t]}" --blob-mb "$MB" --chunk-mb "$CHUNK" --runs "$LRUNS" --small "$SMALL" \
      --repo "bench/ceiling$i" >"$T/$t.$i.out"
  done
done

echo "# light suite medians of $RUNS runs (${MB} MB blob, ${CHUNK} MB chunks, $SMALL small pushes), $PROCS HTTP processes; ratio to distribution"
printf '%-24s' metric; for t in "${TARGETS[@]}"; do printf '%22s' "$t"; done; echo
for m in blob_put_mono_mbps blob_put_chunked_mbps blob_get_c4_mbps small_push_per_s; do
  printf '%-24s' "$m"
  d=$(for i in $(seq 1 "$RUNS"); do awk -v m="$m" '$1==m{print $2}' "$T/distribution.$i.out"; done | sort -g | awk '{a[NR]=$1}END{print a[int((NR+1)/2)]}')
  for t in "${TARGETS[@]}"; do
    v=$(for i in $(seq 1 "$RUNS"); do awk -v m="$m" '$1==m{print $2}' "$T/$t.$i.out"; done | sort -g | awk '{a[NR]=$1}END{print a[int((NR+1)/2)]}')
    printf '%22s' "$(awk -v v="$v" -v d="$d" 'BEGIN{printf "%.1f (%.2fx)", v, (d>0? v/d : 0)}')"
  done
  echo
done
