#!/usr/bin/env bash
# deploy/local/bench-scale.sh: the rig's throughput with 1 and 2 gateways (and blob-services) through
# HAProxy, measured by bench/light.ts and bench/mixed.ts; prints a table of figures and ratios.
# Arguments: see the comment at the top of deploy/local/bench-scale.ts. Needs redis-server, haproxy.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node -r @swc-node/register deploy/local/bench-scale.ts "$@"
