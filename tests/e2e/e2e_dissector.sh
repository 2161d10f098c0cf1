#!/usr/bin/env bash
# The Wireshark dissector (dissector/nvmeoe.lua) against a real capture: tcpdump records a run
# with every frame kind -- connect, writes and reads with data both ways under header and data
# digests, a Discover Query and its Reply, a Retransmit Request (answered by a Terminate, Unknown
# Association), a frame with a corrupted header digest, and the Terminates of a disconnect. tshark
# with the dissector must show all nine kinds, opcode and status names, the NQNs of the Connect
# data, digests verified, responses linked to their commands, the corrupted digest flagged, and no
# malformed packet or Lua error anywhere.
source "$(dirname "$0")/lib.sh"
e2e_init diss "$RAWSEND"
command -v tshark >/dev/null || fail "tshark is missing (scripts/install-deps.sh installs it)"
command -v tcpdump >/dev/null || fail "tcpdump is missing (scripts/install-deps.sh installs it)"

LUA="$REPO/dissector/nvmeoe.lua"
NQN=nqn.2024-01.io.nvmeoe:e2e-dissector
PCAP="$NETNS_TMP/nvmeoe.pcap"

netns_create 1500
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" mem:64M

step "capture on both ends"
# Both programs send with PACKET_QDISC_BYPASS, which skips the capture taps of the sending side, so
# each side's capture holds what it received; mergecap joins them in time order.
start_capture() {
  local ns=$1 ifc=$2 out=$3
  ip netns exec "$ns" timeout 120 tcpdump -i "$ifc" --immediate-mode -U -w "$out" 'ether proto 0x88b5' >"$out.log" 2>&1 &
  netns_track_pid $!
  CAPTURE_PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    grep -q 'listening on' "$out.log" && return 0
    sleep 0.1
  done
  fail "tcpdump on $ifc did not start: $(cat "$out.log")"
}
CAPTURE_PIDS=()
start_capture "$NS_T" "$VETH_T" "$NETNS_TMP/t.pcap"
start_capture "$NS_H" "$VETH_H" "$NETNS_TMP/h.pcap"
sleep 0.5

step "connect with header and data digests; writes and reads of 4 KiB and 64 KiB"
connect_host -n "$NQN" -i 1 -g --data-digest
node="${CTRL}n1"
rand_file "$NETNS_TMP/w4k" 4096
rand_file "$NETNS_TMP/w64k" 65536
nv write "$node" -s 0 -c 7 -z 4096 -d "$NETNS_TMP/w4k" >/dev/null || fail "write 4 KiB failed"
nv write "$node" -s 64 -c 127 -z 65536 -d "$NETNS_TMP/w64k" >/dev/null || fail "write 64 KiB failed"
nv read "$node" -s 64 -c 127 -z 65536 -d "$NETNS_TMP/r64k" >/dev/null || fail "read 64 KiB failed"
cmp -s "$NETNS_TMP/w64k" "$NETNS_TMP/r64k" || fail "read-back differs"

step "nvmeoe discover (broadcast Discover Query, Discover Reply)"
out=$(nv discover --host-iface "$VETH_H" --timeout 500) || fail "nvmeoe discover failed: $out"
echo "$out" | grep -q "$NQN" || fail "nvmeoe discover does not list $NQN: $out"

step "crafted frames: Discover Query, Retransmit Request, corrupted header digest"
for mode in discover retransmit-request bad-digest; do
  in_h timeout 10 "$RAWSEND" --iface "$VETH_H" --dst "$MAC_T" --mode "$mode" --count 1 >/dev/null ||
    fail "nvmeoe-rawsend --mode $mode failed"
done
sleep 0.3

step "disconnect (Terminate), stop the capture"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
sleep 1  # let tcpdump read the last frames before it is stopped
for pid in "${CAPTURE_PIDS[@]}"; do kill -INT "$pid"; done
for pid in "${CAPTURE_PIDS[@]}"; do wait "$pid" || true; done
cat "$NETNS_TMP/t.pcap.log" "$NETNS_TMP/h.pcap.log"
mergecap -w "$PCAP" "$NETNS_TMP/t.pcap" "$NETNS_TMP/h.pcap" || fail "mergecap failed"
[ -s "$PCAP" ] || fail "empty capture"

# tshark with the dissector; its stderr (where a script that fails to load is reported) is kept.
ts() { timeout 60 tshark -r "$PCAP" -X lua_script:"$LUA" "$@" 2>>"$NETNS_TMP/tshark.err"; }

step "every frame kind is decoded"
kinds=$(ts -T fields -e nvmeoe.kind | sort -n | uniq -c)
echo "$kinds"
for k in 1 2 3 4 5 6 7 8 9; do
  echo "$kinds" | grep -qE " $k\$" || fail "no frame of kind $k in the capture"
done
ts -Y 'nvmeoe.kind == 8 && eth.dst == ff:ff:ff:ff:ff:ff' -T fields -e eth.src | grep -q . ||
  fail "the broadcast Discover Query of nvmeoe discover is not in the capture"
names=$(ts -T fields -e nvmeoe.kind_name | sort -u | tr '\n' ',')
for n in "Connect Request" "Connect Response" Command Response Data "Retransmit Request" Terminate \
  "Discover Query" "Discover Reply"; do
  [[ ",$names" == *",$n,"* ]] || fail "kind name '$n' missing: $names"
done

step "opcode and status names, Connect data, SQE fields"
ops=$(ts -Y 'nvmeoe.kind == 3' -T fields -e nvmeoe.sqe.opcode_name | sort | uniq -c)
echo "$ops"
for op in "Fabrics Connect" "Fabrics Property Get" "Fabrics Property Set" Identify Write Read; do
  echo "$ops" | grep -qE "^ *[0-9]+ $op\$" || fail "no command named '$op'"
done
[ "$(ts -Y 'nvmeoe.sqe.opcode_name == "Write"' -T fields -e nvmeoe.sqe.nlb | sort -u | tr '\n' ' ')" = "127 7 " ] ||
  fail "Write NLB fields are not 7 and 127"
ts -Y 'nvmeoe.sqe.opcode_name == "Read"' -T fields -e nvmeoe.sqe.slba -e nvmeoe.sqe.nsid -e nvmeoe.sqe.sgl.length |
  grep -qP '^64\t1\t65536$' || fail "Read SQE fields (slba 64, nsid 1, SGL length 65536) not decoded"
ts -Y 'nvmeoe.kind == 4' -T fields -e nvmeoe.cqe.status_name | grep -qx Success || fail "no Success status"
cids=$(ts -Y 'nvmeoe.kind == 3 && !nvmeoe.hdgst.ok == 0' -T fields -e nvmeoe.cid -e nvmeoe.sqe.cid | awk '$1 != $2' | wc -l)
[ "$cids" = 0 ] || fail "$cids Commands whose header CID differs from the SQE CID"
cids=$(ts -Y 'nvmeoe.kind == 4' -T fields -e nvmeoe.cid -e nvmeoe.cqe.cid | awk '$1 != $2' | wc -l)
[ "$cids" = 0 ] || fail "$cids Responses whose header CID differs from the CQE CID"
ts -Y 'nvmeoe.connect_data.subnqn' -T fields -e nvmeoe.connect_data.subnqn | grep -qx "$NQN" ||
  fail "Connect data does not show the subsystem NQN"
ts -Y 'nvmeoe.connect_data.hostnqn' -T fields -e nvmeoe.connect_data.hostnqn | grep -q '^nqn\.' ||
  fail "Connect data does not show the host NQN"
ts -Y 'nvmeoe.kind == 9' -T fields -e nvmeoe.discover.subnqn_entry | grep -qx "$NQN" ||
  fail "Discover Reply does not list $NQN"
ts -Y 'nvmeoe.kind == 6' -T fields -e nvmeoe.rr.offset -e nvmeoe.rr.length | grep -qP '^0,2928\t1464,512$' ||
  fail "Retransmit Request ranges not decoded"
reasons=$(ts -Y 'nvmeoe.kind == 7' -T fields -e nvmeoe.terminate.reason -e nvmeoe.nonce | sort -u | tr '\n' ' ')
[[ "$reasons" == *"1	"* && "$reasons" == *"2	"* ]] ||
  fail "Terminate reasons 1 (disconnect) and 2 (unknown association) not both seen: $reasons"

step "digests verified, the corrupted one flagged"
good_h=$(ts -Y 'nvmeoe.hdgst.ok == 1' | wc -l)
good_d=$(ts -Y 'nvmeoe.ddgst.ok == 1' | wc -l)
bad_h=$(ts -Y 'nvmeoe.hdgst.ok == 0' -T fields -e frame.number | wc -l)
echo "    header digests ok: $good_h, data digests ok: $good_d, bad header digests: $bad_h"
((good_h > 10 && good_d > 10)) || fail "too few verified digests"
[ "$bad_h" = 1 ] || fail "expected exactly one bad header digest, got $bad_h"
[ "$(ts -Y 'nvmeoe.ddgst.ok == 0' | wc -l)" = 0 ] || fail "a data digest of a real frame failed"
ts -Y 'nvmeoe.hdgst.ok == 0' -V | grep -q 'Expert Info (Error/Checksum): Header digest' ||
  fail "the corrupted header digest has no expert info"

step "responses linked to commands, with service time"
ts -2 -Y 'nvmeoe.kind == 4 && nvmeoe.request_in && nvmeoe.service_time' -T fields -e nvmeoe.request_in |
  grep -q . || fail "no Response links to its Command"
ts -2 -Y 'nvmeoe.kind == 3 && nvmeoe.response_in' -T fields -e nvmeoe.response_in | grep -q . ||
  fail "no Command links to its Response (two-pass)"

step "no malformed packets, no Lua errors"
full=$(ts -2 -V)
grep -qiE 'malformed|lua error|dissector error|dissector could not' <<<"$full" &&
  fail "tshark -V reports a problem: $(echo "$full" | grep -iE 'malformed|lua error|dissector' | head -5)"
grep -qiE 'lua|error' "$NETNS_TMP/tshark.err" && fail "tshark reported errors: $(cat "$NETNS_TMP/tshark.err")"
ts >"$NETNS_TMP/summary.txt"
sed -n '1,12p;/Retransmit Request/p;/Discover/p;/Terminate/p' "$NETNS_TMP/summary.txt"

step "garbage, truncated and oversized frames: expert info, never a Lua error"
CAPTURE_PIDS=()
start_capture "$NS_T" "$VETH_T" "$NETNS_TMP/junk.pcap"
sleep 0.5
for mode in random truncated huge-length bad-version; do
  in_h timeout 20 "$RAWSEND" --iface "$VETH_H" --dst "$MAC_T" --mode "$mode" --count 150 --pps 1000 --seed 7 >/dev/null ||
    fail "nvmeoe-rawsend --mode $mode failed"
done
sleep 1
kill -INT "${CAPTURE_PIDS[0]}"
wait "${CAPTURE_PIDS[0]}" || true
PCAP="$NETNS_TMP/junk.pcap"
junk=$(ts -V)
frames=$(grep -c '^Frame ' <<<"$junk" || true)
echo "    $frames frames"
((frames >= 200)) || fail "too few junk frames captured: $frames"
grep -qiE 'lua error|dissector error|dissector could not' <<<"$junk" &&
  fail "the dissector failed on junk: $(echo "$junk" | grep -iE 'lua error|dissector' | head -3)"
grep -qE 'Expert Info \(Error/Malformed\): (Header says|Frame has)' <<<"$junk" || fail "no truncation expert info on junk"
grep -qE 'Version [0-9]+ \(v1 peers drop it\)' <<<"$junk" || fail "no version expert info on junk"
grep -qiE 'lua|error' "$NETNS_TMP/tshark.err" && fail "tshark reported errors: $(cat "$NETNS_TMP/tshark.err")"
pass
