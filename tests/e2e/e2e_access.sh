#!/usr/bin/env bash
# Access control and start-up errors: an allow-listed host connects, any other host NQN is refused;
# a wrong subsystem NQN, a duplicate target NQN, a missing or down interface, an MTU too small, a
# missing backing device, no CAP_NET_RAW, an unreachable target MAC and bad flags all fail with a
# clear message and a non-zero status, promptly.
source "$(dirname "$0")/lib.sh"
e2e_init acc

NQN=nqn.2024-01.io.nvmeoe:e2e-access
ALLOWED=nqn.2014-08.org.nvmexpress:uuid:6f1c2a3e-0d7b-4c1e-9a55-1b2c3d4e5f60
OTHER=nqn.2014-08.org.nvmexpress:uuid:0a0b0c0d-1111-2222-3333-444455556666

netns_create 1500
BACKING="$NETNS_TMP/disk.img"
make_sparse "$BACKING" 256M
# A second veth pair inside the target namespace, for the down and small-MTU cases.
ip -n "$NS_T" link add "${VETH_T}x" type veth peer name "${VETH_T}y"
XA="${VETH_T}x"
XB="${VETH_T}y"

H=(ip netns exec "$NS_H")
T=(ip netns exec "$NS_T")

step "target start-up errors"
expect_fail 10 'not found|no such' "${T[@]}" "$TARGET" --nqn "$NQN" --iface nosuch0 "$BACKING"
expect_fail 10 'down' "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$XA" "$BACKING"
ip -n "$NS_T" link set "$XA" mtu 1000 up
ip -n "$NS_T" link set "$XB" mtu 1000 up
expect_fail 10 'MTU' "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$XA" "$BACKING"
expect_fail 10 'not found|no such|does not exist|missing' "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$VETH_T" "$NETNS_TMP/missing.img"
expect_fail 10 'CAP_NET_RAW|permission|not permitted|root' \
  "${T[@]}" setpriv --inh-caps=-all --bounding-set=-net_raw -- "$TARGET" --nqn "$NQN" --iface "$VETH_T" "$BACKING"
expect_fail 10 'nqn|required' "${T[@]}" "$TARGET" --iface "$VETH_T" "$BACKING"
expect_fail 10 'nqn' "${T[@]}" "$TARGET" --nqn not-an-nqn --iface "$VETH_T" "$BACKING"
expect_fail 10 'ethertype' "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$VETH_T" --ethertype 0x10 "$BACKING"
expect_fail 10 'unrecognized|unknown|invalid|not expected|extras|bogus' "${T[@]}" "$TARGET" --bogus-flag --nqn "$NQN" --iface "$VETH_T" "$BACKING"
expect_fail 10 'size|invalid|mem' "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$VETH_T" mem:banana

step "seed scripts: argument errors"
expect_fail 10 'usage' "${T[@]}" bash "$REPO/scripts/nvmet-eth-setup.sh" "$NQN" "$VETH_T"
expect_fail 10 "interface 'nosuch0' not found" "${T[@]}" bash "$REPO/scripts/nvmet-eth-setup.sh" "$NQN" nosuch0 "$BACKING"
expect_fail 10 'does not exist' "${T[@]}" bash "$REPO/scripts/nvmet-eth-setup.sh" "$NQN" "$VETH_T" "$NETNS_TMP/missing.img"
expect_fail 10 'usage' "${H[@]}" bash "$REPO/scripts/nvme-eth-connect.sh" "$VETH_H" "$MAC_T"
expect_fail 10 "interface 'nosuch0' not found" "${H[@]}" bash "$REPO/scripts/nvme-eth-connect.sh" nosuch0 "$MAC_T" "$NQN"
expect_fail 10 'not a MAC' "${H[@]}" bash "$REPO/scripts/nvme-eth-connect.sh" "$VETH_H" 02:00:00:00:00 "$NQN"

step "target with an allow-list"
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" --allow-host "$ALLOWED" "$BACKING"

step "duplicate NQN on the same interface is refused"
expect_fail 10 'duplicate|already|in use|running' "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$VETH_T" mem:16M
kill -0 "$TARGET_PID" || fail "the first target died when a duplicate tried to start"

step "host refused or failing to connect"
expect_fail 20 'Connect Invalid Host|refused' "${H[@]}" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" -q "$OTHER"
expect_fail 20 'nqn|subsystem|Invalid Parameters|refused|not found' \
  "${H[@]}" "$NVMEOE" connect -a "$MAC_T" -n nqn.2024-01.io.nvmeoe:no-such-subsystem --host-iface "$VETH_H" -q "$ALLOWED"
start=$SECONDS
expect_fail 8 'no answer' "${H[@]}" "$NVMEOE" connect -a 02:00:5e:00:53:99 -n "$NQN" --host-iface "$VETH_H" -q "$ALLOWED" --connect-timeout 2
[ $((SECONDS - start)) -le 5 ] || fail "connect to an unreachable MAC took $((SECONDS - start)) s (limit 5)"
expect_fail 10 'not found|no such' "${H[@]}" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface nosuch0 -q "$ALLOWED"
ip -n "$NS_H" link set "$VETH_H" down
expect_fail 10 'down' "${H[@]}" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" -q "$ALLOWED"
ip -n "$NS_H" link set "$VETH_H" mtu 1000 up
expect_fail 10 'MTU' "${H[@]}" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" -q "$ALLOWED"
ip -n "$NS_H" link set "$VETH_H" mtu 1500 up
expect_fail 10 'CAP_NET_RAW|permission|not permitted|root' \
  "${H[@]}" setpriv --inh-caps=-all --bounding-set=-net_raw -- "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" -q "$ALLOWED"

step "bad flags"
expect_fail 10 'MAC' "${H[@]}" "$NVMEOE" connect -a not-a-mac -n "$NQN" --host-iface "$VETH_H"
expect_fail 10 'MAC|broadcast|multicast' "${H[@]}" "$NVMEOE" connect -a ff:ff:ff:ff:ff:ff -n "$NQN" --host-iface "$VETH_H"
expect_fail 10 'required|-n|nqn' "${H[@]}" "$NVMEOE" connect -a "$MAC_T" --host-iface "$VETH_H"
expect_fail 10 'unrecognized|unknown|invalid|not expected|extras|bogus' "${H[@]}" "$NVMEOE" connect --bogus -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H"
expect_fail 10 'subcommand|not expected|unknown' "${H[@]}" "$NVMEOE" frobnicate
expect_fail 10 'workload|invalid|read' "${H[@]}" "$NVMEOE" perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" -q 1 -o 4096 -w sideways -t 1
expect_fail 10 'does not exist|not found|no such|not connected' "${H[@]}" "$NVMEOE" read nvmeoe77n1 -s 0 -c 0 -z 512 -d "$NETNS_TMP/x"
expect_fail 10 'does not exist|not found|no such|not connected' "${H[@]}" "$NVMEOE" disconnect nvmeoe77
rm -f "$NETNS_TMP/x"

# Nothing failed to connect may leave an agent behind.
left=$(ip netns pids "$NS_H" | tr '\n' ' ')
[ -z "$left" ] || fail "failed connects left processes in the host namespace: $(ps -o pid=,args= -p "$(echo $left | tr " " ,)")"

step "allow-listed host connects"
connect_host -n "$NQN" -q "$ALLOWED"
nv list | grep -qE "^${CTRL}n1 " || fail "allowed host sees no namespace"
write_verify "${CTRL}n1" 100 4096 "$BACKING"

step "a second host NQN is refused while the first stays connected"
expect_fail 20 'Connect Invalid Host|refused' "${H[@]}" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" -q "$OTHER"
write_verify "${CTRL}n1" 200 4096 "$BACKING"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"

stop_target
pass
