#!/usr/bin/env bash
# Runs scripts/demo.sh (set-up skipped: run-all.sh has built already) and checks that it exits 0
# and leaves no namespace, interface, process or temp directory behind.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL [e2e_demo]: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nvmeoe-demo-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
LOG="$TMP/demo.log"

rc=0
NVMEOE_DEMO_SKIP_SETUP=1 TMPDIR="$TMP" bash "$REPO/scripts/demo.sh" >"$LOG" 2>&1 </dev/null &
demo=$!
wait "$demo" || rc=$?
cat "$LOG"
[ "$rc" = 0 ] || fail "demo.sh exited with status $rc"

# Names the demo used, from its own output.
grep -q '21.47 *GB' "$LOG" || fail "demo output does not show 21.47 GB"
grep -q '32.21 *GB' "$LOG" || fail "demo output does not show 32.21 GB"
mapfile -t nss < <(grep -oE 'namespaces: [^ ]+ and [^ ]+' "$LOG" | head -n1 | awk '{print $2; print $4}')
[ ${#nss[@]} = 2 ] || fail "demo output does not name its namespaces"
for ns in "${nss[@]}"; do
  ip netns list | awk '{print $1}' | grep -qx -- "$ns" && fail "namespace $ns left behind"
done
for dev in $(grep -oE 'veth: [^ ]+ <-> [^ ]+' "$LOG" | head -n1 | awk '{print $2, $4}'); do
  ip link show "$dev" >/dev/null 2>&1 && fail "interface $dev left behind"
done
# Any process that still has this test's temp dir in its environment was started by the demo.
for p in /proc/[0-9]*; do
  if grep -qs -- "$TMP" "$p/environ" 2>/dev/null; then
    fail "process $(basename "$p") ($(tr '\0' ' ' <"$p/cmdline")) left behind"
  fi
done
left=$(find "$TMP" -mindepth 1 -maxdepth 1 ! -name demo.log)
[ -z "$left" ] || fail "temp files left behind: $left"
echo "PASS [e2e_demo]"
