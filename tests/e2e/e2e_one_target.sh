#!/usr/bin/env bash
# One interface, one target process: a second nvmeoe-target on an interface and EtherType already
# served is refused (whatever its NQN) with a message that points to --config, and the first one
# keeps serving; another EtherType on the same interface is a separate target. Interfaces without
# a usable unicast MAC (loopback, a tun device) are refused by the target and by the host.
source "$(dirname "$0")/lib.sh"
e2e_init one

NQN_A=nqn.2024-01.io.nvmeoe:e2e-one-a
NQN_B=nqn.2024-01.io.nvmeoe:e2e-one-b
netns_create 1500
T=(ip netns exec "$NS_T")
H=(ip netns exec "$NS_H")

step "first target serves $NQN_A on $VETH_T"
start_target "$NETNS_TMP/a.log" --nqn "$NQN_A" --iface "$VETH_T" mem:16M
PID_A=$TARGET_PID

step "a second target with another NQN on the same interface is refused"
expect_fail 10 "pid $PID_A\) already serves $VETH_T \(EtherType 0x88b5\).*--config" \
  "${T[@]}" "$TARGET" --nqn "$NQN_B" --iface "$VETH_T" mem:16M
expect_fail 10 'already serves.*--config' "${T[@]}" "$TARGET" --nqn "$NQN_A" --iface "$VETH_T" mem:16M
cat >"$NETNS_TMP/b.json" <<EOF
{"ports": [{"portid": 1, "addr": {"trtype": "eth", "traddr": "$VETH_T"}, "subsystems": ["$NQN_B"]}],
 "subsystems": [{"nqn": "$NQN_B", "attr": {"allow_any_host": "1"},
                 "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "mem:16M"}}]}]}
EOF
expect_fail 10 'already serves.*--config' "${T[@]}" "$TARGET" --config "$NETNS_TMP/b.json"
kill -0 "$PID_A" || fail "the first target died when a second one tried to start"

step "the first target still serves its subsystem"
connect_host -n "$NQN_A"
nv list -o json | jq -e --arg c "$CTRL" '[.Devices[] | select(.Name | startswith($c))] | length == 1' >/dev/null ||
  fail "nvmeoe list does not show the namespace of $CTRL"
nv disconnect "$CTRL" >/dev/null || fail "disconnect $CTRL failed"

step "another EtherType on the same interface is another target"
start_target "$NETNS_TMP/b.log" --nqn "$NQN_B" --iface "$VETH_T" --ethertype 0x88b6 mem:16M
PID_B=$TARGET_PID
connect_host -n "$NQN_B" --ethertype 0x88b6
nv disconnect "$CTRL" >/dev/null || fail "disconnect $CTRL failed"
stop_target "$PID_B"
stop_target "$PID_A"

step "after the first target stops, the interface is free again"
start_target "$NETNS_TMP/b2.log" --nqn "$NQN_B" --iface "$VETH_T" mem:16M
stop_target "$TARGET_PID"

step "interfaces without a usable MAC are refused"
ip -n "$NS_T" link set lo up
expect_fail 10 'interface lo has no usable unicast MAC address \(loopback\)' \
  "${T[@]}" "$TARGET" --nqn "$NQN_A" --iface lo mem:16M
ip -n "$NS_H" link set lo up
expect_fail 10 'interface lo has no usable unicast MAC address' \
  "${H[@]}" "$NVMEOE" connect -a "$MAC_T" -n "$NQN_A" --host-iface lo --frontend none
expect_fail 10 'interface lo has no usable unicast MAC address' "${H[@]}" "$NVMEOE" discover --host-iface lo
if ip -n "$NS_T" tuntap add mode tun name onetun0 2>/dev/null; then
  ip -n "$NS_T" link set onetun0 up
  expect_fail 10 'interface onetun0 has no usable unicast MAC address' \
    "${T[@]}" "$TARGET" --nqn "$NQN_A" --iface onetun0 mem:16M
else
  echo "    (no tun device here: skipping the tun case)"
fi
[ -z "$(ls "$NVMEOE_RUN_DIR" | grep '^target-' || true)" ] || fail "lock files left in $NVMEOE_RUN_DIR: $(ls "$NVMEOE_RUN_DIR")"

pass
