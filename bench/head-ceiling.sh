#!/usr/bin/env bash
# bench/head-ceiling.sh: how many HEADs per second the shared bench's client (curl --parallel, 32 at
# once, HTTP/1.1 keep-alive, in batches of 2,000 per curl process: ../shared/bench/registry-bench.sh's
# curl_head) can send at all, against a server that costs nothing: HAProxy answering every request
# itself (`http-request return`, no backend). A registry's blob HEAD figure in that bench cannot go
# above this; run it on the same quiet machine as the bench.
#
# Usage: bench/head-ceiling.sh [--duration S] [--runs N]
# Prints one "head_ceiling_rps <median> req/s" line (and each run on stderr). Needs haproxy, curl.
set -euo pipefail
DUR=5 RUNS=3
while [ $# -gt 0 ]; do
  case $1 in
    --duration) DUR=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--runs N]" >&2; exit 2 ;;
  esac
done
T=$(mktemp -d)
trap '[ -f "$T/pid" ] && kill "$(cat "$T/pid")" 2>/dev/null; rm -rf "$T"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/haproxy.cfg" <<CFG
global
  quiet
  maxconn 1024
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend null
  bind 127.0.0.1:$PORT
  http-request return status 200 hdr Docker-Content-Digest sha256:0000000000000000000000000000000000000000000000000000000000000000
CFG
haproxy -f "$T/haproxy.cfg" -D -p "$T/pid"
URL="http://127.0.0.1:$PORT/v2/bench/img/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000"
for i in $(seq 1 2000); do echo "url = \"$URL\""; echo 'output = "/dev/null"'; done >"$T/head.curl"
now() { date +%s.%N; }
rates=()
for r in $(seq 1 "$RUNS"); do
  : >"$T/times"
  t0=$(now)
  while :; do
    curl -s --http1.1 -I -Z --parallel-max 32 -w '%{http_code} %{time_total}\n' -K "$T/head.curl" >>"$T/times" 2>/dev/null || true
    t1=$(now)
    awk -v a="$t0" -v b="$t1" -v d="$DUR" 'BEGIN{exit !(b-a < d)}' || break
  done
  n=$(grep -c '^200' "$T/times" || true)
  rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/(b-a)}')
  echo "run $r: $n HEADs in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s: $rate req/s" >&2
  rates+=("$rate")
done
printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END{printf "head_ceiling_rps %s req/s\n", a[int((NR+1)/2)]}'
