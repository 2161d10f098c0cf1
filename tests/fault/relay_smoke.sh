#!/usr/bin/env bash
# Smoke test of nvmeoe-fault-relay between three namespaces (host <-> mid <-> target): with no
# faults every frame arrives unchanged, with --drop 0.5 about half do (the relay's counters and the
# target's interface counters agree), a duplicate fault doubles them, the blackhole (SIGUSR1 /
# SIGUSR2) stops and restarts everything, and the relay exits 0 with a summary on SIGTERM.
# Expects build/bin (or NVMEOE_BIN_DIR); runs as root; bounded well under 60 s.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
RAWSEND=$FAULT_BIN/nvmeoe-rawsend
NAME=relay_smoke

fail() { fault_fail "$*"; }
step() { echo "--- [$NAME] $*"; }

[ -x "$RAWSEND" ] || fail "$RAWSEND is missing: build first"
fault_init frs
fault_create 1500

# Frames the target's interface has received (its kernel counter; only the relay feeds it).
target_rx() { ip netns exec "$NS_T" cat "/sys/class/net/$VETH_T/statistics/rx_packets"; }
host_rx() { ip netns exec "$NS_H" cat "/sys/class/net/$VETH_H/statistics/rx_packets"; }

# send_from NS IFACE DST COUNT: well-formed nvmeoe frames, paced (veth has no flow control).
send_from() {
  local out
  out=$(ip netns exec "$1" timeout 20 "$RAWSEND" --iface "$2" --dst "$3" --mode unknown-association \
    --count "$4" --pps 50000 --seed 11 2>&1) || fail "nvmeoe-rawsend failed: $out"
  case $out in
    *"(0 dropped locally)"*) ;;
    *) fail "nvmeoe-rawsend lost frames locally: $out" ;;
  esac
}

# wait_settled GETTER: waits until GETTER's value stops changing (frames in flight have landed),
# prints it.
wait_settled() {
  local last=-1 now i
  for ((i = 0; i < 40; i++)); do
    now=$("$1")
    [ "$now" = "$last" ] && { echo "$now"; return 0; }
    last=$now
    sleep 0.1
  done
  echo "$now"
}

# expect_range NAME VALUE LO HI
expect_range() {
  (($2 >= $3 && $2 <= $4)) || fail "$1 is $2, expected $3..$4"
  echo "    $1 = $2 (expected $3..$4)"
}

step "relay without faults: frames arrive unchanged, MACs kept"
fault_start_relay --seed 3
cap_h="$NETNS_TMP/h.pcap"
cap_t="$NETNS_TMP/t.pcap"
ip netns exec "$NS_T" timeout 15 tcpdump -i "$VETH_T" -U -c 200 -w "$cap_t" 'ether proto 0x88b5' \
  >"$NETNS_TMP/tcpdump-t.log" 2>&1 &
tcpdump_t=$!
netns_track_pid "$tcpdump_t"
# rawsend bypasses the qdisc and with it the host's own taps: capture where the relay receives.
ip netns exec "$NS_M" timeout 15 tcpdump -i "$VETH_MH" -Q in -U -c 200 -w "$cap_h" 'ether proto 0x88b5' \
  >"$NETNS_TMP/tcpdump-h.log" 2>&1 &
tcpdump_h=$!
netns_track_pid "$tcpdump_h"
for _ in $(seq 100); do
  grep -q 'listening on' "$NETNS_TMP/tcpdump-t.log" && grep -q 'listening on' "$NETNS_TMP/tcpdump-h.log" && break
  sleep 0.05
done
t0=$(target_rx)
send_from "$NS_H" "$VETH_H" "$MAC_T" 200
wait "$tcpdump_t" || fail "tcpdump in $NS_T did not see 200 frames: $(cat "$NETNS_TMP/tcpdump-t.log")"
wait "$tcpdump_h" || fail "tcpdump in $NS_M did not see 200 frames: $(cat "$NETNS_TMP/tcpdump-h.log")"
# Same bytes in the same order on both sides (timestamps stripped).
dump() { tcpdump -r "$1" -xx -e -t 2>/dev/null; }
cmp -s <(dump "$cap_h") <(dump "$cap_t") || fail "frames changed between host and target with no faults"
grep -q "$MAC_T" <(dump "$cap_t") || fail "frames at the target do not carry the target's MAC"
n=$(($(wait_settled target_rx) - t0))
[ "$n" = 200 ] || fail "target received $n frames, expected 200"
send_from "$NS_H" "$VETH_H" "$MAC_T" 2000
n=$(($(wait_settled target_rx) - t0))
[ "$n" = 2200 ] || fail "target received $n frames, expected 2200"
line=$(relay_stats)
echo "    $line"
[ "$(relay_counter left-to-right received "$line")" = 2200 ] || fail "relay counted no 2200 received: $line"
[ "$(relay_counter left-to-right forwarded "$line")" = 2200 ] || fail "relay counted no 2200 forwarded: $line"
[ "$(relay_counter left-to-right dropped "$line")" = 0 ] || fail "relay dropped frames without faults: $line"

step "the other direction (target -> host) is forwarded too"
h0=$(host_rx)
send_from "$NS_T" "$VETH_T" "$MAC_H" 300
n=$(($(wait_settled host_rx) - h0))
[ "$n" = 300 ] || fail "host received $n frames, expected 300"

step "drop 0.5: about half arrive"
relay_control "drop 0.5"
line0=$(relay_stats)
t0=$(target_rx)
send_from "$NS_H" "$VETH_H" "$MAC_T" 4000
n=$(($(wait_settled target_rx) - t0))
line=$(relay_stats)
echo "    $line"
rcv=$(($(relay_counter left-to-right received "$line") - $(relay_counter left-to-right received "$line0")))
drp=$(($(relay_counter left-to-right dropped "$line") - $(relay_counter left-to-right dropped "$line0")))
fwd=$(($(relay_counter left-to-right forwarded "$line") - $(relay_counter left-to-right forwarded "$line0")))
[ "$rcv" = 4000 ] || fail "relay received $rcv frames, expected 4000"
expect_range "dropped by the relay" "$drp" 1700 2300
[ "$fwd" = $((rcv - drp)) ] || fail "forwarded $fwd != received $rcv - dropped $drp"
[ "$n" = "$fwd" ] || fail "target received $n frames, relay forwarded $fwd"

step "duplicate 1: every frame arrives twice"
relay_control "clear"
relay_control "left-to-right duplicate 1"
t0=$(target_rx)
send_from "$NS_H" "$VETH_H" "$MAC_T" 500
n=$(($(wait_settled target_rx) - t0))
[ "$n" = 1000 ] || fail "target received $n frames, expected 1000"
relay_control "clear"

step "blackhole on (SIGUSR1): nothing passes; off (SIGUSR2): everything again"
relay_blackhole on
t0=$(target_rx)
h0=$(host_rx)
send_from "$NS_H" "$VETH_H" "$MAC_T" 1000
send_from "$NS_T" "$VETH_T" "$MAC_H" 100
sleep 0.3
n=$(($(target_rx) - t0))
[ "$n" = 0 ] || fail "target received $n frames through the blackhole"
n=$(($(host_rx) - h0))
[ "$n" = 0 ] || fail "host received $n frames through the blackhole"
relay_blackhole off
send_from "$NS_H" "$VETH_H" "$MAC_T" 1000
n=$(($(wait_settled target_rx) - t0))
[ "$n" = 1000 ] || fail "target received $n frames after the blackhole, expected 1000"
relay_control "blackhole on"
send_from "$NS_H" "$VETH_H" "$MAC_T" 100
sleep 0.2
n=$(($(target_rx) - t0))
[ "$n" = 1000 ] || fail "blackhole from the control FIFO let $((n - 1000)) frames through"

step "SIGTERM: exit 0 and a summary"
relay_stop
grep -E ': summary ' "$RELAY_LOG" | sed 's/^/    /'
sum=$(grep -E ': summary left-to-right ' "$RELAY_LOG")
[ "$(relay_counter left-to-right received "$sum")" = 8800 ] || fail "summary: received is not 8800: $sum"
[ "$(relay_counter right-to-left received "$(grep -E ': summary right-to-left ' "$RELAY_LOG")")" = 400 ] ||
  fail "summary: right-to-left received is not 400"

echo "PASS [$NAME] in $SECONDS s"
