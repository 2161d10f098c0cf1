#!/usr/bin/env bash
# End-to-end fault test: host <-> nvmeoe-fault-relay <-> target over two veth pairs, the target
# serving a 2 GiB sparse file. `nvmeoe perf --verify` (random read/write, random power-of-two
# sizes 4 KiB..1 MiB, default settings: header CRC and data digest on) must finish with no error and
# no mismatch:
#   a. clean link (baseline MiB/s)
#   b. 1% drop, duplicate, reorder and 0.1% corruption both ways: at least FAULTY_MIN_RATIO (0.7) of
#      a's throughput, and both ends counted the corrupted frames they dropped
#   c. 10% loss
#   d. target kill -9 and restart during the run (perf reconnects); then a flushed write survives
#      a kill -9 in the backing file
#   e. target link down for 10 s during the run
#   f. 5% corruption host -> target: corrupted write data is never applied
# Expects build/bin (or NVMEOE_BIN_DIR); runs as root; bounded under 6 minutes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$HERE/../e2e/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck disable=SC2034  # used by fail/step/pass in ../e2e/lib.sh
E2E_NAME=fault_e2e

e2e_init fe2e "$RELAY"
fault_create 1500

NQN="nqn.2024-01.io.nvmeoe:fault-e2e-$$"
BACKING="$NETNS_TMP/disk.img"
make_sparse "$BACKING" 2G
netns_on_cleanup "rm -f '$BACKING'"
TLOG="$NETNS_TMP/target.log"

target_up() { start_target "$TLOG" --nqn "$NQN" --iface "$VETH_T" "$BACKING"; }
target_kill9() {
  kill -KILL "$TARGET_PID"
  wait "$TARGET_PID" 2>/dev/null || true
}

PERF_COMMON=(-a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" -w randrw -q 16 --verify
  --json -l 60 -c 1)

# perf_run NAME ARGS...: runs perf in NS_H (foreground), output in $NETNS_TMP/NAME.json.
perf_run() {
  local name=$1 rc=0
  shift
  in_h timeout 200 "$NVMEOE" perf "${PERF_COMMON[@]}" --bs-range "${BS:-4096-1048576}" "$@" >"$NETNS_TMP/$name.json" 2>"$NETNS_TMP/$name.err" || rc=$?
  perf_check "$name" "$rc"
}

# perf_check NAME RC: 0 errors, 0 mismatches, some data checked; prints the numbers.
perf_check() {
  local name=$1 rc=$2 j="$NETNS_TMP/$1.json"
  { [ -s "$j" ] && jq -e .errors "$j" >/dev/null 2>&1; } || fail "$name: perf printed no JSON (status $rc): $(cat "$NETNS_TMP/$name.err" "$j" | head -c 2000)"
  echo "    $name: $(jq -r '"\(.mib_per_s | . * 100 | round / 100) MiB/s, \(.bytes) bytes in \(.seconds | . * 100 | round / 100) s, reads \(.reads), writes \(.writes), errors \(.errors), checked blocks \(.verify.checked_blocks), skipped \(.verify.skipped_blocks), mismatches \(.verify.mismatches), reconnects \(.reconnects)"' "$j")"
  [ "$(jq -r .errors "$j")" = 0 ] || fail "$name: perf errors: $(jq -r '.first_error // ""' "$j")"
  [ "$(jq -r .verify.mismatches "$j")" = 0 ] || fail "$name: data mismatches: $(jq -r '.first_error // ""' "$j")"
  [ "$(jq -r .verify.checked_blocks "$j")" -gt 0 ] || fail "$name: perf checked no block"
  [ "$rc" = 0 ] || fail "$name: perf exited with status $rc: $(cat "$NETNS_TMP/$name.err")"
}
mibs() { jq -r '.mib_per_s | . * 100 | round / 100' "$NETNS_TMP/$1.json"; }

# relay_line: a stats line, shortened.
show_relay() { echo "    relay: $(relay_stats | sed 's/^.*: stats //')"; }

target_up
fault_start_relay --seed 7

step "a. clean link: 1 GiB, randrw 4K-1M, depth 16, verified"
relay_control "clear"
perf_run clean --bytes 1G -t 150
show_relay
CLEAN=$(mibs clean)

step "b. 1% drop/duplicate/reorder, 0.1% corruption both ways, default settings: 1 GiB verified"
relay_control "drop 0.01"
relay_control "duplicate 0.01"
relay_control "reorder 0.01"
relay_control "corrupt 0.001"
perf_run faulty --bytes 1G -t 150
show_relay
FAULTY=$(mibs faulty)
RATIO=$(awk -v f="$FAULTY" -v c="$CLEAN" 'BEGIN { printf "%.2f", (c > 0) ? f / c : 0 }')
echo "    clean ${CLEAN} MiB/s, faulty ${FAULTY} MiB/s: faulty/clean = $RATIO"
awk -v r="$RATIO" -v m="${FAULTY_MIN_RATIO:-0.7}" 'BEGIN { exit !(r >= m) }' ||
  fail "faulty/clean = $RATIO, below ${FAULTY_MIN_RATIO:-0.7}"
host_dgst=$(jq -r .digest_errors "$NETNS_TMP/faulty.json")
target_dgst=$(in_t "$NVMEOE" target-stats -o json | jq '[.processes[].targets[].totals.digest_errors] | add')
echo "    frames dropped for a bad header CRC or data digest: host $host_dgst, target $target_dgst"
[ "${host_dgst:-0}" -gt 0 ] || fail "the host counted no corrupted frame under 0.1% corruption"
[ "${target_dgst:-0}" -gt 0 ] || fail "the target counted no corrupted frame under 0.1% corruption"

step "c. 10% loss both ways: 20 s verified over 16 MiB, sizes 4K-64K"
relay_control "clear"
relay_control "drop 0.10"
BS=4096-65536 perf_run loss10 --connect-timeout 30 --bytes 128M -t 20 --size 16M
show_relay
relay_control "clear"

# perf_bg NAME ARGS...: perf in the background; PERF_BG_PID.
perf_bg() {
  local name=$1
  shift
  in_h timeout 200 "$NVMEOE" perf "${PERF_COMMON[@]}" --bs-range "${BS:-4096-1048576}" "$@" >"$NETNS_TMP/$name.json" 2>"$NETNS_TMP/$name.err" &
  PERF_BG_PID=$!
  netns_track_pid "$PERF_BG_PID"
}
perf_wait() {
  local rc=0
  wait "$PERF_BG_PID" || rc=$?
  perf_check "$1" "$rc"
}

step "d. target kill -9 after 5 s, restart 2 s later, during a 25 s verified run"
perf_bg kill9 -t 25 --size 256M
sleep 5
kill -0 "$PERF_BG_PID" 2>/dev/null || fail "perf ended before the target was killed: $(cat "$NETNS_TMP/kill9.err")"
old=$TARGET_PID
target_kill9
echo "    killed target pid $old (kill -9)"
sleep 2
target_up
echo "    restarted target as pid $TARGET_PID"
perf_wait kill9
[ "$(jq -r .reconnects "$NETNS_TMP/kill9.json")" -ge 1 ] || fail "kill9: perf reports no reconnect"

step "d2. a flushed 1 MiB write is in the backing file after kill -9"
connect_host -n "$NQN" -l 60 -c 1
NODE=$CTRL
LBA=123456
rand_file "$NETNS_TMP/flush.in" $((1 << 20))
nv write "$NODE" -s "$LBA" -c $((2048 - 1)) -z $((1 << 20)) -d "$NETNS_TMP/flush.in" >"$NETNS_TMP/flush.log" 2>&1 ||
  fail "write failed: $(cat "$NETNS_TMP/flush.log")"
nv flush "$NODE" >"$NETNS_TMP/flush.log" 2>&1 || fail "flush failed: $(cat "$NETNS_TMP/flush.log")"
target_kill9
backing_bytes "$BACKING" "$LBA" $((1 << 20)) | cmp -s - "$NETNS_TMP/flush.in" ||
  fail "the flushed 1 MiB at LBA $LBA is not in the backing file after kill -9"
echo "    1 MiB at LBA $LBA flushed, target killed -9: the backing file holds it"
target_up
nv disconnect "$NODE" >"$NETNS_TMP/flush.log" 2>&1 || fail "disconnect $NODE failed: $(cat "$NETNS_TMP/flush.log")"
rm -f "$NETNS_TMP/flush.in" "$NETNS_TMP/flush.log"

step "e. target link down for 10 s during a 25 s verified run"
perf_bg linkdown -t 25 --size 256M
sleep 5
ip -n "$NS_T" link set "$VETH_T" down
echo "    $VETH_T down"
sleep 10
ip -n "$NS_T" link set "$VETH_T" up
echo "    $VETH_T up"
perf_wait linkdown

step "f. 5% corruption host -> target only, default settings: 64 MiB verified, corrupt data never applied"
relay_stop
fault_start_relay --seed 11 --direction left-to-right --corrupt 0.05
perf_run corrupt --bytes 64M -t 40 --size 256M
line=$(relay_stats)
echo "    relay: ${line#*: stats }"
corrupted=$(relay_counter left-to-right corrupted "$line")
[ "${corrupted:-0}" -gt 0 ] || fail "the relay corrupted no frame: $line"
echo "    relay corrupted $corrupted host -> target frames"
relay_stop
stop_target

rm -f "$BACKING"
pass "clean $CLEAN MiB/s, faulty $FAULTY MiB/s, in $SECONDS s"
