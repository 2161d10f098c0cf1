# shellcheck shell=bash
# Shared helpers of the end-to-end tests (sourced, not a test itself: run-all.sh runs e2e_*.sh).
# Each test gets private namespaces, veth pair, temp dir and NVMEOE_RUN_DIR from scripts/netns.sh,
# and removes them on every exit path.
set -euo pipefail

E2E_NAME=$(basename "$0" .sh)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${NVMEOE_BIN_DIR:-$REPO/build/bin}
NVMEOE=$BIN/nvmeoe
TARGET=$BIN/nvmeoe-target
RAWSEND=$BIN/nvmeoe-rawsend
export NVMEOE_BIN_DIR=$BIN

# shellcheck source=../../scripts/netns.sh
source "$REPO/scripts/netns.sh"

fail() {
  echo "FAIL [$E2E_NAME]: $*" >&2
  exit 1
}
step() { echo "--- [$E2E_NAME] $*"; }

# e2e_init PREFIX [BINARY...]: PREFIX (<= 4 chars) names this test's namespaces and interfaces.
e2e_init() {
  local prefix=$1 b
  shift
  [ "$(id -u)" = 0 ] || fail "must run as root (network namespaces, raw sockets)"
  for b in "$NVMEOE" "$TARGET" "$@"; do
    [ -x "$b" ] || fail "$b is missing: build first (cmake -S . -B build -G Ninja && ninja -C build)"
  done
  netns_init "$prefix"
}

in_t() { ip netns exec "$NS_T" "$@"; }
in_h() { ip netns exec "$NS_H" "$@"; }

# start_target LOG ARGS...: starts nvmeoe-target in NS_T with ARGS, waits until it says "serving",
# sets TARGET_PID.
start_target() {
  local log=$1
  shift
  ip netns exec "$NS_T" "$TARGET" "$@" >"$log" 2>&1 </dev/null &
  TARGET_PID=$!
  netns_track_pid "$TARGET_PID"
  local i
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$TARGET_PID" 2>/dev/null; then
      cat "$log" >&2
      fail "nvmeoe-target exited during start-up (args: $*)"
    fi
    grep -qi 'serving' "$log" && return 0
    sleep 0.1
  done
  cat "$log" >&2
  fail "nvmeoe-target did not report 'serving' within 10 s"
}

# stop_target [PID]: SIGTERM, expects the exit within 15 s, and status 0 when it is our child
# (a target started by nvmet-eth-setup.sh is not, and its status cannot be collected).
stop_target() {
  local pid=${1:-$TARGET_PID} rc=0 child=0
  [ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$$" ] && child=1
  kill -TERM "$pid"
  local i
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "nvmeoe-target (pid $pid) still running 15 s after SIGTERM"
  ((child)) || return 0
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "nvmeoe-target exited with status $rc after SIGTERM (expected 0)"
}

# connect_host ARGS...: `nvmeoe connect` in NS_H to the target; sets CTRL (e.g. nvmeoe0). The
# controller gets no frontend (--frontend none) unless ARGS ask for one: `ip netns exec` gives each
# command its own mount namespace, where a FUSE mount would be out of the test's sight.
connect_host() {
  local out rc=0 fe=(--frontend none)
  [[ " $* " == *" --frontend "* ]] && fe=()
  out=$(in_h timeout 30 "$NVMEOE" connect -a "$MAC_T" --host-iface "$VETH_H" "${fe[@]}" "$@" 2>&1) || rc=$?
  [ "$rc" = 0 ] || fail "nvmeoe connect $* failed (status $rc): $out"
  CTRL=$(printf '%s\n' "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1 || true)
  [ -n "$CTRL" ] || fail "nvmeoe connect printed no controller name: $out"
  netns_on_cleanup "ip netns exec '$NS_H' '$NVMEOE' disconnect '$CTRL'"
}

# nv ARGS...: nvmeoe in NS_H, bounded.
nv() { in_h timeout 60 "$NVMEOE" "$@"; }

# expect_fail SECONDS PATTERN CMD...: CMD must exit non-zero within SECONDS (not by timeout) and
# print something matching the extended regex PATTERN (case-insensitive). Prints the output.
expect_fail() {
  local secs=$1 pattern=$2
  shift 2
  local out rc=0 start=$SECONDS
  out=$(timeout "$secs" "$@" 2>&1) || rc=$?
  echo "    -> status $rc after $((SECONDS - start)) s: $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
  [ "$rc" != 0 ] || fail "expected failure but it succeeded: $*"
  [ "$rc" != 124 ] || fail "no answer within $secs s (killed by timeout): $*"
  printf '%s' "$out" | grep -qiE -- "$pattern" || fail "message does not match /$pattern/: $*"
}

# make_sparse FILE SIZE
make_sparse() { truncate -s "$2" "$1"; }

# rand_file FILE BYTES
rand_file() { head -c "$2" /dev/urandom >"$1"; }

# backing_bytes FILE LBA BYTES: prints the bytes at LBA (512-byte blocks) of FILE.
backing_bytes() {
  dd if="$1" bs=512 skip="$2" count=$((($3 + 511) / 512)) status=none
}

# write_verify NODE LBA BYTES BACKING: writes random data at LBA, reads it back, compares both the
# read-back and the bytes in the target's backing file. BYTES is a multiple of 512.
write_verify() {
  local node=$1 lba=$2 bytes=$3 backing=$4
  local blocks=$((bytes / 512))
  local d="$NETNS_TMP/wv.$node.$lba.$bytes"
  rand_file "$d.in" "$bytes"
  nv write "$node" -s "$lba" -c $((blocks - 1)) -z "$bytes" -d "$d.in" >"$d.log" 2>&1 ||
    fail "write of $bytes bytes at LBA $lba on $node failed: $(cat "$d.log")"
  nv read "$node" -s "$lba" -c $((blocks - 1)) -z "$bytes" -d "$d.out" >"$d.log" 2>&1 ||
    fail "read of $bytes bytes at LBA $lba on $node failed: $(cat "$d.log")"
  cmp -s "$d.in" "$d.out" || fail "read-back of $bytes bytes at LBA $lba on $node differs from what was written"
  nv flush "$node" >"$d.log" 2>&1 || fail "flush of $node failed: $(cat "$d.log")"
  backing_bytes "$backing" "$lba" "$bytes" | cmp -s - "$d.in" ||
    fail "backing file $backing at LBA $lba does not hold the $bytes bytes written to $node"
  rm -f "$d.in" "$d.out" "$d.log"
}

# read_is_zero NODE LBA BYTES: reads and checks the data is all zero bytes.
read_is_zero() {
  local node=$1 lba=$2 bytes=$3
  local d="$NETNS_TMP/rz.$node.$lba"
  nv read "$node" -s "$lba" -c $((bytes / 512 - 1)) -z "$bytes" -d "$d" >/dev/null 2>"$d.err" ||
    fail "read of $bytes bytes at LBA $lba on $node failed: $(cat "$d.err")"
  cmp -s "$d" <(head -c "$bytes" /dev/zero) || fail "$bytes bytes at LBA $lba on $node are not zeroes"
  rm -f "$d" "$d.err"
}

# backing_is_zero FILE LBA BYTES
backing_is_zero() {
  backing_bytes "$1" "$2" "$3" | cmp -s - <(head -c "$3" /dev/zero) ||
    fail "backing file $1 at LBA $2 is not zeroes ($3 bytes)"
}

pass() {
  echo "PASS [$E2E_NAME]${1:+: $1}"
}
