#!/usr/bin/env bash
# npm test: Debian packages, one shared S3 (Ceph RGW) for the whole run, then lint (module
# boundaries included), type checks and every project's tests through Nx. Fails on any of them.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false CI=${CI:-true} FORCE_COLOR=0
bash tools/scripts/deps.sh
[ -d node_modules/nx ] || npm ci --no-audit --no-fund

S3_DIR=$(mktemp -d "${TMPDIR:-/tmp}/stevedore-s3.XXXXXX")
cleanup() { node -r @swc-node/register libs/testing/src/s3-cli.ts stop "$S3_DIR" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "stevedore: starting the shared S3 server (Ceph RGW) for this run" >&2
eval "$(node -r @swc-node/register libs/testing/src/s3-cli.ts start "$S3_DIR" | sed -n 's/^\(STEVEDORE_TEST_S3_[A-Z_]*=.*\)$/export \1/p')"
: "${STEVEDORE_TEST_S3_ENDPOINT:?the S3 helper printed no endpoint}"

# Formatting (Prettier), lint and type checks of every project first (cheap, and they fail fast), then the tests one
# project at a time: the e2e suites start servers and two cores are easily saturated.
npx prettier --check --log-level warn "**/*.{ts,tsx,js,mjs,cjs}"
npx nx run-many -t lint typecheck --parallel=2 --outputStyle=stream "$@"
npx nx run-many -t test --parallel=1 --outputStyle=stream "$@"
