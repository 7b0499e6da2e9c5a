#!/usr/bin/env bash
# deps.sh: make sure the Debian packages the tests use are present. As root, installs what is
# missing; otherwise stops with the exact apt-get line to run.
set -euo pipefail
declare -A BIN_PKG=(
  [redis-server]=redis-server [skopeo]=skopeo [umoci]=umoci [docker-registry]=docker-registry
  [ceph-mon]=ceph-mon [ceph-osd]=ceph-osd [ceph-mgr]=ceph-mgr [radosgw]=radosgw [ceph]=ceph-common
  [jq]=jq [wrk]=wrk [haproxy]=haproxy [curl]=curl [chromium]=chromium [podman]=podman [buildah]=buildah [zstd]=zstd
)
missing=()
for bin in "${!BIN_PKG[@]}"; do command -v "$bin" >/dev/null 2>&1 || missing+=("${BIN_PKG[$bin]}"); done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "stevedore: the tests need Debian packages that are missing. Run as root:" >&2
  echo "  $line" >&2
  exit 1
fi
echo "stevedore: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
