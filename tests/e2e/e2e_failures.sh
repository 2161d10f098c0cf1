#!/usr/bin/env bash
# Failures a user meets, and what nvmeoe tells them:
# - kill -9 of an agent under a mounted FUSE file (ext4 on a loop device over it): `list` shows the
#   controller dead, and the next `connect` cleans up the stale mount and run files by itself and
#   succeeds, with working files; `disconnect` of a dead controller cleans up and succeeds;
# - an agent that does not answer (stopped) is listed as unreachable;
# - a user without root is told "needs root (CAP_NET_RAW ...)" first, by nvmeoe and nvmeoe-target;
# - the agent logs to a file when asked to (NVMEOE_AGENT_LOG) and when there is no syslog socket;
# - mem:SIZE beyond the machine's memory draws a warning.
source "$(dirname "$0")/lib.sh"
e2e_init fail
source "$(dirname "$0")/lib_fuse.sh"

NQN=nqn.2024-01.io.nvmeoe:e2e-failures
netns_create 1500
F1="$NETNS_TMP/ns1.img"
make_sparse "$F1" 128M
export NVMEOE_AGENT_LOG="$NETNS_TMP/agent.log"
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" "$F1"
netns_on_cleanup fuse_cleanup
D="$NETNS_TMP/out"

step "kill -9 of an agent under an ext4 mounted on a loop over its FUSE file"
fuse_connect -n "$NQN"
OLD_CTRL=$CTRL OLD_MNT=$FUSE_MNT
[ "$FUSE_MNT" = "$NVMEOE_RUN_DIR/fuse/$CTRL" ] || fail "FUSE files under $FUSE_MNT, expected the default mountpoint"
fuse_losetup "$FUSE_FILE1"
timeout 60 mkfs.ext4 -q -F -E nodiscard "$LOOP" || fail "mkfs.ext4 on $LOOP failed"
M="$NETNS_TMP/ext4"
mkdir -p "$M"
timeout 30 mount "$LOOP" "$M" || fail "mount $LOOP failed"
FUSE_EXT4_MOUNTS+=("$M")
timeout 30 dd if=/dev/urandom of="$M/f" bs=1M count=2 conv=fsync status=none || fail "write through ext4 failed"
kill -9 "$AGENT_PID"
netns_wait_gone "$AGENT_PID" 100 || fail "agent $AGENT_PID did not die"

step "list shows the controller dead"
nvh list >"$D.list" 2>"$D.list.err" || fail "list failed: $(cat "$D.list.err")"
grep -qE "^$OLD_CTRL +- .*\(dead: no agent answers\)" "$D.list" || fail "list does not show $OLD_CTRL dead: $(cat "$D.list")"
grep -q "$OLD_CTRL: dead (its agent pid $AGENT_PID is gone)" "$D.list.err" || fail "list says nothing on stderr: $(cat "$D.list.err")"
nvh list -v -o json >"$D.lv" || fail "list -v -o json failed"
jq -e --arg c "$OLD_CTRL" '[.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .State] == ["dead"]' \
  "$D.lv" >/dev/null || fail "list -v -o json does not show $OLD_CTRL dead: $(cat "$D.lv")"

step "the next connect cleans up by itself and works"
out=$(hn timeout 40 "$NVMEOE" connect -a "$MAC_T" -f "$VETH_H" -n "$NQN" --frontend fuse 2>&1) || fail "connect after the kill failed: $out"
echo "$out"
grep -q "cleaned up $OLD_CTRL ($NQN): its agent (pid $AGENT_PID) is gone; removed its stale FUSE mount $OLD_MNT" <<<"$out" ||
  fail "connect did not say what it cleaned up: $out"
CTRL=$(grep -oE '^nvmeoe[0-9]+$' <<<"$out")
FUSE_CTRLS+=("$CTRL")
[ "$CTRL" = "$OLD_CTRL" ] || fail "the dead controller's name $OLD_CTRL was not reused (got $CTRL)"
NEW_FILE="$NVMEOE_RUN_DIR/fuse/$CTRL/${CTRL}n1"
[ -f "$NEW_FILE" ] || fail "no FUSE file $NEW_FILE after the reconnect"
head -c 65536 /dev/urandom >"$D.data"
timeout 20 dd if="$D.data" of="$NEW_FILE" bs=65536 seek=64 oflag=direct conv=notrunc status=none || fail "write to $NEW_FILE failed"
timeout 20 dd if="$NEW_FILE" bs=65536 skip=64 count=1 iflag=direct status=none | cmp -s - "$D.data" ||
  fail "read-back through the new FUSE file differs"
[ "$(grep -c " $NVMEOE_RUN_DIR/fuse/$CTRL " /proc/self/mounts)" = 1 ] || fail "more than one mount at the mountpoint"
timeout 10 dd if="$M/f" of=/dev/null bs=1M iflag=direct status=none 2>/dev/null &&
  fail "ext4 on the dead FUSE file still reads (it should fail with EIO, not be silently served)"
nvh disconnect "$CTRL" >/dev/null || fail "disconnect $CTRL failed"
FUSE_CTRLS=()

step "disconnect of a dead controller cleans up and succeeds"
connect_host -n "$NQN"
pid=$(nv list -v -o json | jq -r --arg c "$CTRL" '.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .AgentPid')
kill -9 "$pid"
netns_wait_gone "$pid" 100 || fail "agent $pid did not die"
out=$(nv disconnect "$CTRL" 2>&1) || fail "disconnect of the dead $CTRL failed: $out"
grep -q "cleaned up $CTRL" <<<"$out" || fail "disconnect did not say it cleaned up $CTRL: $out"
[ -z "$(ls "$NVMEOE_RUN_DIR" | grep "^$CTRL\.")" ] || fail "run files of $CTRL left: $(ls "$NVMEOE_RUN_DIR")"

step "an agent that does not answer is unreachable"
connect_host -n "$NQN"
pid=$(nv list -v -o json | jq -r --arg c "$CTRL" '.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .AgentPid')
kill -STOP "$pid"
nv list >"$D.l2" 2>"$D.l2.err" || fail "list failed"
kill -CONT "$pid"
grep -qE "^$CTRL +- .*\(unreachable: no agent answers\)" "$D.l2" || fail "list does not show $CTRL unreachable: $(cat "$D.l2")"
grep -q "$CTRL: unreachable (its agent pid $pid holds the name" "$D.l2.err" || fail "list: $(cat "$D.l2.err")"
grep -q "^${CTRL}n1 " <<<"$(nv list)" || fail "$CTRL did not come back after SIGCONT"

step "the agent logs to a file"
grep -q "nvmeoe-agent\[[0-9]*\]: $CTRL: connected to $NQN" "$NVMEOE_AGENT_LOG" ||
  fail "agent log $NVMEOE_AGENT_LOG lacks the connect line: $(cat "$NVMEOE_AGENT_LOG" 2>&1)"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
grep -q "$CTRL: disconnected (disconnect requested)" "$NVMEOE_AGENT_LOG" || fail "agent log lacks the disconnect line"
if [ ! -S /dev/log ]; then
  unset NVMEOE_AGENT_LOG
  connect_host -n "$NQN"
  nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
  grep -q "$CTRL: connected to $NQN" "$NVMEOE_RUN_DIR/agent.log" ||
    fail "without a syslog socket the agent should log to $NVMEOE_RUN_DIR/agent.log"
fi

step "a user without root is told first"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
H=(ip netns exec "$NS_H")
expect_fail 10 '^nvmeoe connect needs root \(CAP_NET_RAW' "${H[@]}" "${NOBODY[@]}" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" -f "$VETH_H"
expect_fail 10 '^nvmeoe discover needs root \(CAP_NET_RAW' "${H[@]}" "${NOBODY[@]}" "$NVMEOE" discover -f "$VETH_H"
expect_fail 10 'nvmeoe-target needs root \(CAP_NET_RAW' ip netns exec "$NS_T" "${NOBODY[@]}" "$TARGET" --nqn "$NQN" --iface "$VETH_T" mem:1M
connect_host -n "$NQN"
out=$("${H[@]}" "${NOBODY[@]}" "$NVMEOE" list 2>&1 >/dev/null || true)
grep -q "nvmeoe list needs root" <<<"$out" || fail "list as nobody should say it needs root: $out"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"

step "mem:SIZE beyond the machine's memory warns"
stop_target
total_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
big="mem:$((total_kib * 2))K"
start_target "$NETNS_TMP/big.log" --nqn "$NQN" --iface "$VETH_T" "$big"
grep -q "more than this machine's memory" "$NETNS_TMP/big.log" || fail "no warning for $big: $(cat "$NETNS_TMP/big.log")"
stop_target
start_target "$NETNS_TMP/small.log" --nqn "$NQN" --iface "$VETH_T" mem:16M
grep -q "more than this machine's memory" "$NETNS_TMP/small.log" && fail "a warning for mem:16M"
stop_target

fuse_cleanup || true
nothing_left
pass
