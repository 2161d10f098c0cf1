#!/usr/bin/env bash
# The Wireshark dissector (dissector/nvmeoe.lua) against a real capture: tcpdump records a run
# with every segment kind -- connect, writes and reads with data both ways (header CRC and data
# digest, the defaults), packed frames from 4 KiB random reads at queue depth 32, a Discover Query
# and its Reply, a Retransmit Request (answered by a Terminate, Unknown Association), a frame with
# a corrupted digest, a protocol version 1 Connect Request and the target's version 1 refusal, and
# the Terminates of a disconnect. tshark with the dissector must show all nine kinds, every segment
# of every packed frame, opcode and status names, the NQNs of the Connect data, digests verified,
# responses (and SUCCESS data) linked to their commands, the corrupted digest flagged, and no
# malformed packet or Lua error anywhere.
source "$(dirname "$0")/lib.sh"
e2e_init diss "$RAWSEND"
command -v tshark >/dev/null || fail "tshark is missing (scripts/install-deps.sh installs it)"
command -v tcpdump >/dev/null || fail "tcpdump is missing (scripts/install-deps.sh installs it)"

# grep that reads all its input: `grep -q` stops at the first match, and the writer then fails
# with SIGPIPE, which pipefail reports.
matches() { grep "$@" >/dev/null; }

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
  # A large buffer: the queue depth 32 run sends bursts faster than a small one drains.
  ip netns exec "$ns" timeout 120 tcpdump -i "$ifc" -B 65536 --immediate-mode -U -w "$out" 'ether proto 0x88b5' >"$out.log" 2>&1 &
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

step "connect (defaults: header CRC and data digest); writes and reads of 4 KiB and 64 KiB"
connect_host -n "$NQN" -i 1
node="${CTRL}n1"
rand_file "$NETNS_TMP/w4k" 4096
rand_file "$NETNS_TMP/w64k" 65536
nv write "$node" -s 0 -c 7 -z 4096 -d "$NETNS_TMP/w4k" >/dev/null || fail "write 4 KiB failed"
nv write "$node" -s 64 -c 127 -z 65536 -d "$NETNS_TMP/w64k" >/dev/null || fail "write 64 KiB failed"
nv read "$node" -s 64 -c 127 -z 65536 -d "$NETNS_TMP/r64k" >/dev/null || fail "read 64 KiB failed"
cmp -s "$NETNS_TMP/w64k" "$NETNS_TMP/r64k" || fail "read-back differs"

step "nvmeoe perf: 1 MiB of 4 KiB random reads at queue depth 32 (packed frames)"
in_h timeout 30 "$NVMEOE" perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" -q 32 -o 4096 -w randread -t 5 \
  --bytes 1M --json >"$NETNS_TMP/perf.json" || fail "nvmeoe perf failed: $(cat "$NETNS_TMP/perf.json")"

step "nvmeoe discover (broadcast Discover Query, Discover Reply)"
out=$(nv discover --host-iface "$VETH_H" --timeout 500) || fail "nvmeoe discover failed: $out"
echo "$out" | matches "$NQN" || fail "nvmeoe discover does not list $NQN: $out"

step "crafted frames: Discover Query, Retransmit Request, corrupted digest, version 1 Connect Request"
for mode in discover retransmit-request bad-digest v1-connect; do
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
# The CRCs (in Lua, over every byte) are checked where a step is about them (tsd) and at the end.
ts() { timeout 60 tshark -r "$PCAP" -X lua_script:"$LUA" -o nvmeoe.check_digests:FALSE "$@" 2>>"$NETNS_TMP/tshark.err"; }
tsd() { timeout 120 tshark -r "$PCAP" -X lua_script:"$LUA" "$@" 2>>"$NETNS_TMP/tshark.err"; }

step "every segment kind is decoded, and every segment of every packed frame"
kinds=$(ts -T fields -e nvmeoe.kind | tr ',' '\n' | sort -n | uniq -c)
echo "$kinds"
for k in 1 2 3 4 5 6 7 8 9; do
  echo "$kinds" | matches -E " $k\$" || fail "no frame of kind $k in the capture"
done
ts -Y 'nvmeoe.kind == 8 && eth.dst == ff:ff:ff:ff:ff:ff' -T fields -e eth.src | matches . ||
  fail "the broadcast Discover Query of nvmeoe discover is not in the capture"
names=$(ts -T fields -e nvmeoe.kind_name | tr ',' '\n' | sort -u | tr '\n' ',')
for n in "Connect Request" "Connect Response" Command Response Data "Retransmit Request" Terminate \
  "Discover Query" "Discover Reply"; do
  [[ ",$names" == *",$n,"* ]] || fail "kind name '$n' missing: $names"
done

# A frame's segment count equals the segments decoded in it (the version 1 frames have no count).
ts -Y 'nvmeoe.count' -T fields -e nvmeoe.count -e nvmeoe.kind |
  awk -F'\t' '{ n = split($2, k, ","); if (n != $1) { bad++; print "frame with count " $1 " decoded " n > "/dev/stderr" } }
    END { exit bad > 0 }' || fail "some segments of packed frames were not decoded"
packed=$(ts -Y 'nvmeoe.count > 1' | wc -l)
most=$(ts -T fields -e nvmeoe.count | sort -n | tail -n 1)
echo "    packed frames: $packed (up to $most segments)"
((packed >= 20)) || fail "too few packed frames: $packed"
success=$(ts -Y 'nvmeoe.seg.flags.success == 1' -T fields -e frame.number | wc -l)
((success >= 200)) || fail "too few SUCCESS data segments: $success"
ts -Y 'eth.src == '"$MAC_T"' && nvmeoe.version == 1' -T fields -e frame.number | matches . ||
  fail "the target's version 1 refusal is not in the capture"

step "opcode and status names, Connect data, SQE fields"
ops=$(ts -Y 'nvmeoe.kind == 3' -T fields -e nvmeoe.sqe.opcode_name | tr ',' '\n' | sort | uniq -c)
echo "$ops"
for op in "Fabrics Connect" "Fabrics Property Get" "Fabrics Property Set" Identify Write Read; do
  echo "$ops" | matches -E "^ *[0-9]+ $op\$" || fail "no command named '$op'"
done
nlbs=$(tsd -Y 'nvmeoe.sqe.opcode_name == "Write" && nvmeoe.hcrc.ok == 1 && !(nvmeoe.ddgst.ok == 0)' -T fields \
  -e nvmeoe.sqe.nlb | sort -u | tr '\n' ' ')
[ "$nlbs" = "127 7 " ] || fail "Write NLB fields are not 7 and 127: $nlbs"
ts -Y 'nvmeoe.sqe.opcode_name == "Read"' -T fields -e nvmeoe.sqe.slba -e nvmeoe.sqe.nsid -e nvmeoe.sqe.sgl.length |
  matches -P '^64\t1\t65536$' || fail "Read SQE fields (slba 64, nsid 1, SGL length 65536) not decoded"
ts -Y 'nvmeoe.kind == 4' -T fields -e nvmeoe.cqe.status_name | tr ',' '\n' | matches -x Success || fail "no Success status"
# Every SQE's (CQE's) CID is among the segment CIDs of its frame.
cid_subset() {
  awk -F'\t' '{ n = split($1, c, ","); m = split($2, e, ","); for (i = 1; i <= m; i++) { ok = 0
    for (j = 1; j <= n; j++) if (c[j] == e[i]) ok = 1; if (!ok) bad++ } } END { print bad + 0 }'
}
cids=$(ts -Y 'nvmeoe.kind == 3' -T fields -e nvmeoe.cid -e nvmeoe.sqe.cid | cid_subset)
[ "$cids" = 0 ] || fail "$cids SQEs whose CID is not their segment's"
cids=$(ts -Y 'nvmeoe.kind == 4' -T fields -e nvmeoe.cid -e nvmeoe.cqe.cid | cid_subset)
[ "$cids" = 0 ] || fail "$cids CQEs whose CID is not their segment's"
ts -Y 'nvmeoe.connect_data.subnqn' -T fields -e nvmeoe.connect_data.subnqn | matches -x "$NQN" ||
  fail "Connect data does not show the subsystem NQN"
ts -Y 'nvmeoe.connect_data.hostnqn' -T fields -e nvmeoe.connect_data.hostnqn | matches '^nqn\.' ||
  fail "Connect data does not show the host NQN"
ts -Y 'nvmeoe.kind == 9' -T fields -e nvmeoe.discover.subnqn_entry | matches -x "$NQN" ||
  fail "Discover Reply does not list $NQN"
ts -Y 'nvmeoe.kind == 6' -T fields -e nvmeoe.rr.offset -e nvmeoe.rr.length | matches -P '^0,2928\t1464,512$' ||
  fail "Retransmit Request ranges not decoded"
reasons=$(ts -Y 'nvmeoe.kind == 7' -T fields -e nvmeoe.terminate.reason -e nvmeoe.nonce | sort -u | tr '\n' ' ')
[[ "$reasons" == *"1	"* && "$reasons" == *"2	"* ]] ||
  fail "Terminate reasons 1 (disconnect) and 2 (unknown association) not both seen: $reasons"

step "header CRCs and data digests verified, the corrupted one flagged"
good_h=$(tsd -Y 'nvmeoe.hcrc.ok == 1' | wc -l)
good_d=$(tsd -Y 'nvmeoe.ddgst.ok == 1' | wc -l)
bad=$(tsd -Y 'nvmeoe.hcrc.ok == 0 || nvmeoe.ddgst.ok == 0' -T fields -e frame.number | wc -l)
frames=$(tsd -Y 'nvmeoe.version == 2' | wc -l)
echo "    frames: $frames, header CRCs ok: $good_h, data digests ok: $good_d, bad: $bad"
((good_h > 300 && good_d > 300)) || fail "too few verified digests"
bad_h=$(tsd -Y 'nvmeoe.hcrc.ok == 0' | wc -l)
[ "$((good_h + bad_h))" = "$frames" ] || fail "not every version 2 frame has its header CRC checked"
[ "$bad" = 1 ] || fail "expected exactly one frame with a bad digest (the crafted one), got $bad"
tsd -Y 'nvmeoe.hcrc.ok == 0 || nvmeoe.ddgst.ok == 0' -V | matches -E 'Expert Info \(Error/Checksum\): (Header CRC|Data digest)' ||
  fail "the corrupted digest has no expert info"

step "responses linked to commands, with service time"
ts -2 -Y 'nvmeoe.kind == 4 && nvmeoe.request_in && nvmeoe.service_time' -T fields -e nvmeoe.request_in |
  matches . || fail "no Response links to its Command"
ts -2 -Y 'nvmeoe.kind == 3 && nvmeoe.response_in' -T fields -e nvmeoe.response_in | matches . ||
  fail "no Command links to its Response (two-pass)"

step "no malformed packets, no Lua errors"
full=$(tsd -2 -V)
grep -qiE 'malformed|lua error|dissector error|dissector could not' <<<"$full" &&
  fail "tshark -V reports a problem: $(echo "$full" | grep -iE 'malformed|lua error|dissector' | head -5)"
grep -qiE 'lua|error' "$NETNS_TMP/tshark.err" && fail "tshark reported errors: $(cat "$NETNS_TMP/tshark.err")"
ts >"$NETNS_TMP/summary.txt"
sed -n '1,12p;/Retransmit Request/p;/Discover/p;/Terminate/p' "$NETNS_TMP/summary.txt"

step "garbage, truncated and oversized frames: expert info, never a Lua error"
CAPTURE_PIDS=()
start_capture "$NS_T" "$VETH_T" "$NETNS_TMP/junk.pcap"
sleep 0.5
for mode in random truncated huge-length bad-version packed-garbage; do
  in_h timeout 20 "$RAWSEND" --iface "$VETH_H" --dst "$MAC_T" --mode "$mode" --count 150 --pps 1000 --seed 7 >/dev/null ||
    fail "nvmeoe-rawsend --mode $mode failed"
done
sleep 1
kill -INT "${CAPTURE_PIDS[0]}"
wait "${CAPTURE_PIDS[0]}" || true
PCAP="$NETNS_TMP/junk.pcap"
junk=$(tsd -V)
frames=$(grep -c '^Frame ' <<<"$junk" || true)
echo "    $frames frames"
((frames >= 200)) || fail "too few junk frames captured: $frames"
grep -qiE 'lua error|dissector error|dissector could not' <<<"$junk" &&
  fail "the dissector failed on junk: $(echo "$junk" | grep -iE 'lua error|dissector' | head -3)"
grep -qE 'Expert Info \(Error/Malformed\): (Segment [0-9]+ (header|metadata)|Frame has|Segments say|No room)' <<<"$junk" ||
  fail "no truncation expert info on junk"
grep -qE 'Version [0-9]+ \(receivers drop it\)' <<<"$junk" || fail "no version expert info on junk"
grep -qE 'Expert Info \(Error/Malformed\): .*(packed with other segments|bytes of metadata and)' <<<"$junk" ||
  fail "no expert info on inconsistent packed frames"
grep -qiE 'lua|error' "$NETNS_TMP/tshark.err" && fail "tshark reported errors: $(cat "$NETNS_TMP/tshark.err")"
pass
