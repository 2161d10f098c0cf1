#!/usr/bin/env bash
# The seed workflow, unchanged: nvmet-eth-setup.sh in the target namespace with 20 GiB and 30 GiB
# sparse files, nvme-eth-connect.sh in the host namespace; `nvmeoe list` shows 21.47 GB and
# 32.21 GB, namespaces 1 and 2, model nvmeoe, 512 B format.
source "$(dirname "$0")/lib.sh"
e2e_init seed

NQN=nqn.test.eth
netns_create 1500
F20="$NETNS_TMP/disk20G.img"
F30="$NETNS_TMP/disk30G.img"
truncate -s 20G "$F20"
truncate -s 30G "$F30"

step "nvmet-eth-setup.sh $NQN $VETH_T $F20 $F30 (target namespace)"
export NVMEOE_LOG_DIR="$NETNS_TMP/log" NVMEOE_PIDFILE="$NETNS_TMP/target.pid"
out=$(ip netns exec "$NS_T" bash "$REPO/scripts/nvmet-eth-setup.sh" "$NQN" "$VETH_T" "$F20" "$F30") ||
  fail "nvmet-eth-setup.sh failed: $out"
echo "$out"
TARGET_PID=$(cat "$NVMEOE_PIDFILE")
netns_track_pid "$TARGET_PID"
kill -0 "$TARGET_PID" || fail "target (pid $TARGET_PID) is not running"
echo "$out" | grep -q "$NQN" || fail "set-up output does not name the NQN"
echo "$out" | grep -qi "$MAC_T" || fail "set-up output does not show the interface MAC $MAC_T"
echo "$out" | grep -q "$TARGET_PID" || fail "set-up output does not show the PID"

# The host's network namespace, but the root mount namespace: the default frontend's devices (FUSE
# files where the kernel has no ublk) must be visible here, as they are to a user on a real host.
step "nvme-eth-connect.sh $VETH_H $MAC_T $NQN (host network namespace)"
out=$(nsenter --net="/run/netns/$NS_H" bash "$REPO/scripts/nvme-eth-connect.sh" "$VETH_H" "$MAC_T" "$NQN") ||
  fail "nvme-eth-connect.sh failed: $out"
echo "$out"
CTRL=$(echo "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1)
[ -n "$CTRL" ] || fail "nvme-eth-connect.sh printed no controller"
netns_on_cleanup "ip netns exec '$NS_H' '$NVMEOE' disconnect '$CTRL'"

step "nvmeoe list"
table=$(nv list)
echo "$table"
# The Node column names the frontend's device or file (ublk: /dev/ublkbN; FUSE: .../nvmeoe0n1).
node_of() { nv list -o json | jq -r --arg n "$1" '.Devices[] | select(.Name == $n) | .DevicePath'; }
node1=$(node_of "${CTRL}n1") node2=$(node_of "${CTRL}n2")
row1=$(echo "$table" | grep -F "$node1 " | grep "^$node1 ") || fail "no row for ${CTRL}n1 ($node1)"
row2=$(echo "$table" | grep -F "$node2 " | grep "^$node2 ") || fail "no row for ${CTRL}n2 ($node2)"
echo "$row1" | grep -qE '21\.47 +GB' || fail "namespace 1 does not show 21.47 GB: $row1"
echo "$row2" | grep -qE '32\.21 +GB' || fail "namespace 2 does not show 32.21 GB: $row2"
for r in "$row1" "$row2"; do
  echo "$r" | grep -qw nvmeoe || fail "model is not nvmeoe: $r"
  echo "$r" | grep -qE '512 +B' || fail "format is not 512 B: $r"
done
[ "$(nv list -o json | jq '.Devices | length')" = 2 ] || fail "expected exactly 2 namespaces"
step "the default frontend's devices exist with the namespaces' sizes"
json=$(nv list -o json)
frontend=$(jq -r '.Devices[0].Frontend' <<<"$json")
echo "    frontend: $frontend"
[ "$frontend" != none ] || fail "the default frontend exported nothing"
for i in 0 1; do
  node=$(jq -r ".Devices[$i].DevicePath" <<<"$json")
  size=$(jq -r ".Devices[$i].PhysicalSize" <<<"$json")
  [ -e "$node" ] || fail "device $node of the default frontend does not exist"
  got=$(if [ -b "$node" ]; then blockdev --getsize64 "$node"; else stat -c %s "$node"; fi)
  [ "$got" = "$size" ] || fail "$node has $got bytes, the namespace $size"
  echo "    $node: $got bytes"
done
nsids=$(nv list -o json | jq -r '[.Devices[].NameSpace] | sort | map(tostring) | join(",")')
[ "$nsids" = "1,2" ] || fail "namespace IDs are $nsids, expected 1,2"

step "write and read back through the seed set-up"
write_verify "${CTRL}n1" 41943039 512 "$F20"
write_verify "${CTRL}n2" 0 4096 "$F30"

nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
stop_target
pass
