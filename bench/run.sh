#!/usr/bin/env bash
# bench/run.sh: Stevedore (all-in-one, filesystem storage, auth on) and Debian's docker-registry
# (CNCF distribution, filesystem) measured by ../shared/bench/registry-bench.sh in one run on this
# machine, one after the other, then the ratios. A benchmark, not a test: nothing here asserts a time.
#   bench/run.sh [--size-mb N] [--small N] [--duration S]     (passed to registry-bench.sh)
# Needs: redis-server docker-registry skopeo wrk jq curl. Binds only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH=${REGISTRY_BENCH:-$ROOT/../shared/bench/registry-bench.sh}
[ -x "$BENCH" ] || [ -f "$BENCH" ] || { echo "bench: registry-bench.sh not found at $BENCH (set REGISTRY_BENCH)" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/stevedore-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_http() { for _ in $(seq 1 120); do curl -s -o /dev/null "$1" && return 0; sleep 0.5; done; echo "bench: $1 did not answer" >&2; exit 1; }

RPORT=$(port); redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
pids+=($!)
SPORT=$(port); PASS=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
STEVEDORE_DATA_DIR="$T/stevedore" REDIS_URL="redis://127.0.0.1:$RPORT" PORT=$SPORT HOST=127.0.0.1 LOG_LEVEL=warn \
  STEVEDORE_ADMIN_PASSWORD="$PASS" NODE_ENV=production \
  node -r @swc-node/register apps/stevedore/src/main.ts >"$T/stevedore.log" 2>&1 &
pids+=($!)
DPORT=$(port); mkdir -p "$T/distribution"
cat >"$T/distribution.yml" <<YML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $T/distribution }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$DPORT }
YML
docker-registry serve "$T/distribution.yml" >"$T/distribution.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$SPORT/healthz"; wait_http "http://127.0.0.1:$DPORT/v2/"

echo "bench: docker-registry on :$DPORT" >&2
bash "$BENCH" "http://127.0.0.1:$DPORT" "$@" >"$T/distribution.out"
echo "bench: stevedore on :$SPORT" >&2
bash "$BENCH" "http://127.0.0.1:$SPORT" --user admin --password "$PASS" "$@" >"$T/stevedore.out"

echo "# metric                  stevedore   docker-registry   ratio"
for m in push_mbps pull_mbps manifest_get_rps manifest_get_p99 blob_get_rps blob_get_p99 blob_head_rps small_push_per_s; do
  s=$(awk -v m="$m" '$1==m{print $2}' "$T/stevedore.out"); d=$(awk -v m="$m" '$1==m{print $2}' "$T/distribution.out")
  awk -v m="$m" -v s="$s" -v d="$d" 'BEGIN{ r = (d > 0) ? s / d : 0; printf "%-24s %10s %17s %8.2fx\n", m, s, d, r }'
done
grep -E '_non2xx|digests_ok|identical' "$T/stevedore.out" | sed 's/^/# stevedore /'
