#!/usr/bin/env bash
# The AF_XDP link (--link af_xdp) over a veth pair, at MTU 1500 and at MTU 9000: target and host
# both on AF_XDP; write/read/verify of 512 B to 1 MiB against the read-back and the backing file
# and a short `nvmeoe perf --verify`; ARP and ping across the veth while the XDP programs are
# attached (the program passes every frame that is not nvmeoe's); a target killed with SIGKILL
# leaves no XDP program on its interface; a second AF_XDP link on an interface that has one is
# refused clearly; a target on AF_XDP and a host on AF_PACKET (and the reverse) interoperate;
# NVMEOE_LINK selects the link; `nvmeoe list -v` shows it; bad --link values, missing privileges
# and a too-large MTU are clear errors.
source "$(dirname "$0")/lib.sh"
e2e_init afx

NQN=nqn.2024-01.io.nvmeoe:e2e-af-xdp
NS_BYTES=$((256 << 20))

has_xdp() { ip -n "$1" link show dev "$2" | grep -qwE "xdp|xdpgeneric|xdpdrv"; }

# ping_peer: ARP and ICMP across the veth, from the host namespace to the target's interface, with
# IPv4 link-local addresses that exist only inside this test's namespaces.
ping_peer() {
  ip -n "$NS_T" addr add 169.254.88.1/24 dev "$VETH_T"
  ip -n "$NS_H" addr add 169.254.88.2/24 dev "$VETH_H"
  in_h ping -c 3 -i 0.2 -W 2 169.254.88.1 >"$NETNS_TMP/ping.log" 2>&1 || {
    cat "$NETNS_TMP/ping.log" >&2
    fail "ping across the veth fails while the XDP programs are attached"
  }
  grep -E 'packets transmitted' "$NETNS_TMP/ping.log" | sed 's/^/    /'
  in_h ip neigh show 169.254.88.1 | grep -q lladdr || fail "no ARP entry for the target's address"
}

# perf_ok JSON: the perf run moved data, verified blocks, and saw no error and no mismatch.
perf_ok() {
  jq -e '.errors == 0 and .bytes > 0 and .verify.mismatches == 0 and .verify.checked_blocks > 0' "$1" >/dev/null ||
    fail "perf result not clean: $(cat "$1")"
  echo "    $(jq -r '"\(.mib_per_s | round) MiB/s, \(.reads) reads, \(.writes) writes, \(.verify.checked_blocks) blocks checked, errors \(.errors)"' "$1")"
}

run_at_mtu() {
  local mtu=$1
  step "MTU $mtu: target with --link af_xdp"
  netns_create "$mtu"
  local f="$NETNS_TMP/ns-$mtu.img" log="$NETNS_TMP/target-$mtu.log"
  make_sparse "$f" "$NS_BYTES"
  start_target "$log" --link af_xdp --nqn "$NQN" --iface "$VETH_T" "$f"
  grep -E "AF_XDP link, (native|generic)" "$log" || fail "the target did not say which XDP mode it uses"
  has_xdp "$NS_T" "$VETH_T" || fail "no XDP program on $VETH_T while the target runs"

  ip -n "$NS_T" link show dev "$VETH_T" | sed "s/^/    /"
  step "MTU $mtu: host with --link af_xdp, write/read/verify"
  connect_host -n "$NQN" -i 2 --link af_xdp
  has_xdp "$NS_H" "$VETH_H" || fail "no XDP program on $VETH_H while the agent runs"
  nv list -v | grep -E "via $VETH_H, link af_xdp (native|generic)" || fail "nvmeoe list -v does not show the AF_XDP link"
  nv list -v -o json | jq -e --arg c "$CTRL" '.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .Link | startswith("af_xdp")' \
    >/dev/null || fail "nvmeoe list -v -o json has no Link af_xdp for $CTRL"
  local size lba
  for size in 512 4096 131072 1048576; do
    for lba in 0 9 $((NS_BYTES / 512 - size / 512)); do
      write_verify "${CTRL}n1" "$lba" "$size" "$f"
    done
    echo "    $size bytes: ok"
  done

  step "MTU $mtu: a second AF_XDP link on the same interface is refused"
  expect_fail 20 'already has an XDP program' ip netns exec "$NS_H" "$NVMEOE" perf -a "$MAC_T" -n "$NQN" \
    --host-iface "$VETH_H" --link af_xdp -t 1

  step "MTU $mtu: ping across the veth with both XDP programs attached"
  ping_peer

  step "MTU $mtu: disconnect removes the host's XDP program"
  nv disconnect "$CTRL" >/dev/null || fail "disconnect $CTRL failed"
  local i
  for ((i = 0; i < 50; i++)); do
    has_xdp "$NS_H" "$VETH_H" || break
    sleep 0.1
  done
  has_xdp "$NS_H" "$VETH_H" && fail "an XDP program remains on $VETH_H after disconnect: $(ip -n "$NS_H" link show dev "$VETH_H"; pgrep -af "nvmeoe")"

  step "MTU $mtu: perf --verify over af_xdp (randrw, 4 KiB to 1 MiB)"
  nv perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" --link af_xdp -w randrw --bs-range 4096-1048576 \
    -q 8 -i 2 -t 3 --verify --json >"$NETNS_TMP/perf-$mtu.json" 2>"$NETNS_TMP/perf-$mtu.err" ||
    fail "perf --verify over af_xdp failed: $(cat "$NETNS_TMP/perf-$mtu.err")"
  perf_ok "$NETNS_TMP/perf-$mtu.json"

  step "MTU $mtu: mixed: target af_xdp, host packet (NVMEOE_LINK=packet)"
  in_h env NVMEOE_LINK=packet timeout 60 "$NVMEOE" perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" \
    -w randrw --bs-range 4096-131072 -q 8 -t 2 --verify --json >"$NETNS_TMP/mixed-$mtu.json" 2>&1 ||
    fail "host on AF_PACKET against a target on AF_XDP failed: $(cat "$NETNS_TMP/mixed-$mtu.json")"
  perf_ok "$NETNS_TMP/mixed-$mtu.json"
  has_xdp "$NS_H" "$VETH_H" && fail "a packet-link host attached an XDP program"

  step "MTU $mtu: SIGKILL of the target leaves no XDP program behind"
  kill -KILL "$TARGET_PID"
  wait "$TARGET_PID" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    has_xdp "$NS_T" "$VETH_T" || break
    sleep 0.1
  done
  has_xdp "$NS_T" "$VETH_T" && fail "an XDP program remains on $VETH_T after SIGKILL: $(ip -n "$NS_T" link show dev "$VETH_T")"

  step "MTU $mtu: mixed: target packet, host af_xdp (from NVMEOE_LINK)"
  start_target "$NETNS_TMP/target2-$mtu.log" --link packet --nqn "$NQN" --iface "$VETH_T" "$f"
  has_xdp "$NS_T" "$VETH_T" && fail "a packet-link target attached an XDP program"
  in_h env NVMEOE_LINK=af_xdp timeout 60 "$NVMEOE" perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" \
    -w randrw --bs-range 4096-131072 -q 8 -t 2 --verify --json >"$NETNS_TMP/mixed2-$mtu.json" 2>&1 ||
    fail "host on AF_XDP against a target on AF_PACKET failed: $(cat "$NETNS_TMP/mixed2-$mtu.json")"
  perf_ok "$NETNS_TMP/mixed2-$mtu.json"
  stop_target
  netns_destroy
  rm -f "$f"
  echo "    MTU $mtu: ok"
}

run_at_mtu 1500
run_at_mtu 9000

step "errors: bad --link, bad NVMEOE_LINK, missing interface, no CAP_BPF, MTU too large for the UMEM"
netns_create 1500
expect_fail 10 'invalid link .tcp.: use packet or af_xdp' "$TARGET" --link tcp --nqn "$NQN" --iface lo mem:1M
expect_fail 10 'NVMEOE_LINK.*invalid link .xdp.' env NVMEOE_LINK=xdp "$TARGET" --nqn "$NQN" --iface lo mem:1M
expect_fail 10 'invalid link .tcp.' "$NVMEOE" discover --host-iface lo --link tcp
expect_fail 10 'NVMEOE_LINK.*invalid link' env NVMEOE_LINK=bogus "$NVMEOE" discover --host-iface lo
expect_fail 10 'not found' ip netns exec "$NS_H" "$NVMEOE" discover --host-iface nvmeoe-nope0 --link af_xdp
expect_fail 10 'needs CAP_BPF and CAP_NET_ADMIN' ip netns exec "$NS_H" setpriv --bounding-set=-bpf,-sys_admin \
  --inh-caps=-all -- "$NVMEOE" discover --host-iface "$VETH_H" --link af_xdp
ip -n "$NS_T" link set "$VETH_T" mtu 65000
expect_fail 10 'too large for the AF_XDP link' ip netns exec "$NS_T" "$TARGET" --link af_xdp --nqn "$NQN" \
  --iface "$VETH_T" mem:1M
netns_destroy

pass "AF_XDP link at MTU 1500 and 9000, ping, cleanup after SIGKILL, mixed links, errors"
