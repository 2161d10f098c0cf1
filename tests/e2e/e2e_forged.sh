#!/usr/bin/env bash
# A third station on the segment forges frames into a live authenticated association: host,
# target and an attacker namespace on one Linux bridge. While the host runs a verified
# read/write load with DH-HMAC-CHAP, the attacker copies the association's host MAC, queue ids,
# controller id and nonces (from the target's statistics, as a sniffer would from one frame) and
# sends Writes of 0xEE blocks and Terminates for the admin and the I/O queue, half of them
# untagged, half with made-up frame tags (nvmeoe-rawsend forged-write / forged-terminate).
# Expected: none is applied (the backing file holds no 0xEE block, the association survives, the
# load ends with 0 errors and 0 mismatches), and the target counts them in auth_errors.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
E2E_NAME=e2e_forged
e2e_init forg "$RAWSEND"
command -v jq >/dev/null || fail "jq is missing (bash scripts/install-deps.sh)"

step "namespaces: host, target, attacker on a bridge"
NS_T="forg-t-$$" NS_H="forg-h-$$" NS_A="forg-a-$$" NS_B="forg-b-$$"
for ns in "$NS_B" "$NS_T" "$NS_H" "$NS_A"; do
  ip netns add "$ns" || fail "ip netns add $ns"
  NETNS_LIST+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
done
ip -n "$NS_B" link add br0 type bridge || fail "no bridge support in this kernel"
ip -n "$NS_B" link set br0 up
for x in t h a; do
  ns_var="NS_${x^^}"
  port="fb$x$$" end="f$x$$"
  ip -n "$NS_B" link add "${port:0:15}" type veth peer name "${end:0:15}" netns "${!ns_var}"
  ip -n "$NS_B" link set "${port:0:15}" master br0 up
  ip -n "${!ns_var}" link set "${end:0:15}" up
done
# The attacker claims the host's MAC: its port must not teach the bridge that the host lives there.
port="fba$$"
ip -n "$NS_B" link set dev "${port:0:15}" type bridge_slave learning off
VETH_T="ft$$" VETH_H="fh$$" VETH_A="fa$$"
VETH_T=${VETH_T:0:15} VETH_H=${VETH_H:0:15} VETH_A=${VETH_A:0:15}
MAC_T=$(netns_mac "$NS_T" "$VETH_T")
MAC_H=$(netns_mac "$NS_H" "$VETH_H")
sleep 0.5

NQN=nqn.2024-01.io.nvmeoe:e2e-forged
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:f0f0f0f0-0000-4000-8000-000000000001
BACKING="$NETNS_TMP/disk.img"
make_sparse "$BACKING" 64M
"$NVMEOE" gen-dhchap-key -n "$HOSTNQN" >"$NETNS_TMP/host.key"
chmod 600 "$NETNS_TMP/host.key"
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" --allow-host "$HOSTNQN" \
  --dhchap-key "$NETNS_TMP/host.key" --dhchap-dhgroup ffdhe2048 "$BACKING"

step "host: 10 s of verified random reads and writes over an authenticated association"
in_h timeout 60 "$NVMEOE" perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" --hostnqn "$HOSTNQN" \
  --dhchap-secret "$NETNS_TMP/host.key" -i 1 -q 8 -o 4096 -w randrw --verify -t 10 --json \
  >"$NETNS_TMP/perf.json" 2>"$NETNS_TMP/perf.err" &
PERF_PID=$!
netns_track_pid "$PERF_PID"
stats() { in_t timeout 10 "$NVMEOE" target-stats --associations -o json; }
for _ in $(seq 100); do
  n=$(stats | jq '[.processes[].targets[].queues[] | select(.hostnqn == "'"$HOSTNQN"'")] | length' 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.1
done
[ "${n:-0}" -ge 2 ] || fail "the host's queues never appeared in the target's statistics"
sleep 1
Q=$(stats | jq -c '[.processes[].targets[].queues[] | select(.hostnqn == "'"$HOSTNQN"'")]')
CNTLID=$(jq -r '.[0].cntlid' <<<"$Q")
NONCE0=$(jq -r '.[] | select(.qid == 0) | .nonce' <<<"$Q")
NONCE1=$(jq -r '.[] | select(.qid == 1) | .nonce' <<<"$Q")
echo "    association: host $MAC_H, controller $CNTLID, nonces q0 $NONCE0 q1 $NONCE1"
before=$(stats | jq '[.processes[].targets[].totals.auth_errors] | add')

step "attacker: 400 forged Writes and 200 forged Terminates as $MAC_H"
forge() {
  ip netns exec "$NS_A" timeout 30 "$RAWSEND" --iface "$VETH_A" --dst "$MAC_T" --as "$MAC_H" \
    --cntlid "$CNTLID" --pps 400 "$@" >>"$NETNS_TMP/rawsend.log" 2>&1 || fail "nvmeoe-rawsend $* failed: $(cat "$NETNS_TMP/rawsend.log")"
}
forge --mode forged-write --qid 1 --nonce "$NONCE1" --lba 2048 --count 200
forge --mode forged-terminate --qid 1 --nonce "$NONCE1" --count 100
forge --mode forged-write --qid 1 --nonce "$NONCE1" --lba 4096 --count 200
forge --mode forged-terminate --qid 0 --nonce "$NONCE0" --count 100

rc=0
wait "$PERF_PID" || rc=$?
[ "$rc" = 0 ] || fail "perf failed during the attack (status $rc): $(cat "$NETNS_TMP/perf.err") $(cat "$NETNS_TMP/perf.json")"
jq -e '.errors == 0 and .verify.mismatches == 0 and .reconnects == 0 and .verify.checked_blocks > 0' \
  "$NETNS_TMP/perf.json" >/dev/null || fail "the host's load saw errors, mismatches or a reconnect: $(cat "$NETNS_TMP/perf.json")"
echo "    host: $(jq -c '{iops, errors, reconnects, verify}' "$NETNS_TMP/perf.json")"

step "nothing forged was applied, and the target counted it"
after=$(stats | jq '[.processes[].targets[].totals.auth_errors] | add')
echo "    target auth_errors: $before -> $after"
[ $((after - before)) -ge 590 ] || fail "expected about 600 forged frames counted in auth_errors, got $((after - before))"
evil=$(python3 - "$BACKING" <<'PY'
import sys
bad = b"\xee" * 512
n = 0
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(512)
        if not b:
            break
        n += b == bad
print(n)
PY
)
[ "$evil" = 0 ] || fail "$evil blocks of the forged Writes' 0xEE pattern reached the backing file"
grep -q "dropped a frame" "$NETNS_TMP/target.log" || fail "the target logged no dropped forged frame"
stop_target
echo "PASS [$E2E_NAME]"
