#!/usr/bin/env bash
# (The project's copy of shared/s3/ceph-rgw.sh; libs/testing/src/s3-server.ts drives it.)
# A real S3 server on loopback for tests: a single-node Ceph cluster (one monitor, one manager, one
# memstore OSD) with the RADOS Gateway in front, from Debian's packages, started without systemd.
#   ceph-rgw.sh start DIR [PORT]   -> prints S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY lines; ~30 s
#   ceph-rgw.sh stop DIR           -> stops the daemons it started (by their pid files) and removes DIR
# Needs (as root): apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common
# Data lives in memory (memstore, capped by MEM_BYTES, default 4 GiB): nothing survives stop.
set -euo pipefail
cmd=${1:-}; D=${2:-}; PORT=${3:-7480}
[ -n "$cmd" ] && [ -n "$D" ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
D=$(mkdir -p "$D" && cd "$D" && pwd)
C=(-c "$D/ceph.conf")
stop() {
  local pids=() p
  for p in "$D"/run/*.pid; do [ -f "$p" ] && pids+=("$(cat "$p")"); done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 40); do
    local alive=0; for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.25
  done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$D"
}
case "$cmd" in
  stop) stop; exit 0;;
  start) ;;
  *) echo "unknown command: $cmd" >&2; exit 2;;
esac
for b in ceph-mon ceph-osd ceph-mgr radosgw radosgw-admin ceph monmaptool ceph-authtool; do
  command -v "$b" >/dev/null || { echo "missing $b: apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common" >&2; exit 2; }
done
MON_PORT=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})' 2>/dev/null || echo 6789)
mkdir -p "$D"/{mon/a,osd0,mgr,rgw,run,log}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat >"$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
keyring = $D/keyring
osd objectstore = memstore
memstore device bytes = ${MEM_BYTES:-4294967296}
ms bind ipv6 = false
[mon.a]
mon data = $D/mon/a
[osd.0]
osd data = $D/osd0
[mgr.x]
mgr data = $D/mgr
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
CONF
trap 'echo "ceph-rgw: start failed; logs in $D/log" >&2' ERR
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" >/dev/null 2>&1
ceph-mon "${C[@]}" -i a >/dev/null 2>&1
timeout 30 ceph "${C[@]}" osd create >/dev/null
ceph-osd "${C[@]}" -i 0 --mkfs >/dev/null 2>&1
ceph-osd "${C[@]}" -i 0 >/dev/null 2>&1
timeout 30 ceph "${C[@]}" osd crush add osd.0 1.0 host=localhost root=default >/dev/null 2>&1
ceph-mgr "${C[@]}" -i x >/dev/null 2>&1
radosgw "${C[@]}" -n client.rgw.a >/dev/null 2>&1
for _ in $(seq 1 120); do
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/" 2>/dev/null | grep -q 200 && break; sleep 0.5
done
curl -s -o /dev/null "http://127.0.0.1:$PORT/" || { echo "radosgw did not answer on $PORT" >&2; exit 1; }
AK=AK$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F); SK=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
timeout 60 radosgw-admin "${C[@]}" user create --uid=tests --display-name=tests --access-key="$AK" --secret-key="$SK" >/dev/null
echo "S3_ENDPOINT=http://127.0.0.1:$PORT"
echo "S3_ACCESS_KEY=$AK"
echo "S3_SECRET_KEY=$SK"
