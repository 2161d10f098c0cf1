#!/usr/bin/env bash
# Runs the README's first command, `bash scripts/demo.sh`, exactly as a new user would: in a fresh
# copy of the tree (the files git tracks, plus new ones not yet committed, nothing built), so that
# its own dependency check and its own Release build are tested too. Checks that it exits 0 and
# leaves no namespace, interface, process or temp file behind.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL [e2e_demo]: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nvmeoe-demo-test.XXXXXX")
# The copy lives outside TMPDIR: the demo's own temporary files are what TMPDIR checks.
COPY=$(mktemp -d /tmp/nvmeoe-demo-tree.XXXXXX)
trap 'rm -rf "$TMP" "$COPY"' EXIT
LOG="$TMP/demo.log"

# (Files deleted in a working tree but not yet in git are skipped.)
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r cp --parents -t "$COPY" 2>/dev/null) || true
[ -f "$COPY/scripts/demo.sh" ] || fail "the copy has no scripts/demo.sh"
[ ! -e "$COPY/build" ] || fail "the copy already has a build directory"

rc=0
# With ccache (run-all.sh uses it), the copy's objects are found under their relative paths.
(cd "$COPY" && TMPDIR="$TMP" CCACHE_BASEDIR="$COPY" bash scripts/demo.sh) >"$LOG" 2>&1 </dev/null &
demo=$!
wait "$demo" || rc=$?
cat "$LOG"
[ "$rc" = 0 ] || fail "demo.sh exited with status $rc"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$COPY/build/CMakeCache.txt" || fail "the demo did not make a Release build"

# Names the demo used, from its own output.
grep -q '21.47 *GB' "$LOG" || fail "demo output does not show 21.47 GB"
grep -q '32.21 *GB' "$LOG" || fail "demo output does not show 32.21 GB"
grep -q 'Demo completed successfully' "$LOG" || fail "demo did not reach its end"
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
