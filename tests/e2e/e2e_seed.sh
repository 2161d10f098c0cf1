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

step "nvme-eth-connect.sh $VETH_H $MAC_T $NQN (host namespace)"
out=$(ip netns exec "$NS_H" bash "$REPO/scripts/nvme-eth-connect.sh" "$VETH_H" "$MAC_T" "$NQN") ||
  fail "nvme-eth-connect.sh failed: $out"
echo "$out"
CTRL=$(echo "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1)
[ -n "$CTRL" ] || fail "nvme-eth-connect.sh printed no controller"
netns_on_cleanup "ip netns exec '$NS_H' '$NVMEOE' disconnect '$CTRL'"

step "nvmeoe list"
table=$(nv list)
echo "$table"
row1=$(echo "$table" | grep -E "^${CTRL}n1 ") || fail "no ${CTRL}n1 row"
row2=$(echo "$table" | grep -E "^${CTRL}n2 ") || fail "no ${CTRL}n2 row"
echo "$row1" | grep -qE '21\.47 +GB' || fail "namespace 1 does not show 21.47 GB: $row1"
echo "$row2" | grep -qE '32\.21 +GB' || fail "namespace 2 does not show 32.21 GB: $row2"
for r in "$row1" "$row2"; do
  echo "$r" | grep -qw nvmeoe || fail "model is not nvmeoe: $r"
  echo "$r" | grep -qE '512 +B' || fail "format is not 512 B: $r"
done
echo "$table" | grep -cE "^${CTRL}n[0-9]+ " | grep -qx 2 || fail "expected exactly 2 namespaces"
nsids=$(nv list -o json | jq -r '[.Devices[].NameSpace] | sort | map(tostring) | join(",")')
[ "$nsids" = "1,2" ] || fail "namespace IDs are $nsids, expected 1,2"

step "write and read back through the seed set-up"
write_verify "${CTRL}n1" 41943039 512 "$F20"
write_verify "${CTRL}n2" 0 4096 "$F30"

nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
stop_target
pass
