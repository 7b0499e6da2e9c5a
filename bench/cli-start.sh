#!/usr/bin/env bash
# bench/cli-start.sh: how long `stevedore --version` takes to start, against `node -e 0` in the same
# run (interleaved, medians of N), so a figure says how much the CLI adds to Node's own start.
# A benchmark, not a test. Usage: bench/cli-start.sh [N] (default 20). Builds the bundle if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
[ -f tools/cli/dist/main.js ] || node tools/scripts/build-cli.mjs >&2
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
: >/tmp/cli-start.node; : >/tmp/cli-start.cli; : >/tmp/cli-start.npx
node tools/cli/bin/stevedore.js --version >/dev/null # the first start writes V8's code cache
for _ in $(seq "$N"); do
  ms node -e 0 >>/tmp/cli-start.node
  ms node tools/cli/bin/stevedore.js --version >>/tmp/cli-start.cli
  ms npx --no-install stevedore --version >>/tmp/cli-start.npx
done
node_ms=$(median </tmp/cli-start.node); cli_ms=$(median </tmp/cli-start.cli); npx_ms=$(median </tmp/cli-start.npx)
echo "node -e 0                    ${node_ms} ms"
echo "stevedore --version (bin)    ${cli_ms} ms (+$((cli_ms - node_ms)) ms over node)"
echo "npx stevedore --version      ${npx_ms} ms"
echo "medians of $N interleaved runs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
