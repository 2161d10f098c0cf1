#!/usr/bin/env bash
# Target shutdown while a host is connected and doing I/O: SIGTERM (and SIGINT) make it exit 0
# within 15 s, and data written and flushed before is in the backing file.
source "$(dirname "$0")/lib.sh"
e2e_init shut

NQN=nqn.2024-01.io.nvmeoe:e2e-shutdown
netns_create 1500
BACKING="$NETNS_TMP/disk.img"
make_sparse "$BACKING" 1G

for sig in TERM INT; do
  step "SIG$sig: target, host, flushed data"
  start_target "$NETNS_TMP/target-$sig.log" --nqn "$NQN" --iface "$VETH_T" "$BACKING"
  connect_host -n "$NQN"
  NODE="${CTRL}n1"
  DATA="$NETNS_TMP/data-$sig.bin"
  rand_file "$DATA" 1048576
  nv write "$NODE" -s 2048 -c 2047 -z 1048576 -d "$DATA" >/dev/null || fail "write failed"
  nv flush "$NODE" >/dev/null || fail "flush failed"

  step "SIG$sig with I/O in flight"
  ( # Writes elsewhere until the target goes away; their outcome does not matter.
    for i in $(seq 1 200); do
      ip netns exec "$NS_H" timeout 5 "$NVMEOE" write "$NODE" -s $((100000 + i * 256)) -c 255 -z 131072 \
        -d "$DATA" >/dev/null 2>&1 || break
    done
  ) &
  loop=$!
  netns_track_pid "$loop"
  sleep 0.5
  start=$SECONDS
  kill -"$sig" "$TARGET_PID"
  for ((i = 0; i < 150; i++)); do
    kill -0 "$TARGET_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$TARGET_PID" 2>/dev/null && fail "target still running 15 s after SIG$sig"
  rc=0
  wait "$TARGET_PID" || rc=$?
  [ "$rc" = 0 ] || { cat "$NETNS_TMP/target-$sig.log" >&2; fail "target exited with status $rc after SIG$sig (expected 0)"; }
  echo "    target exited 0 after $((SECONDS - start)) s"
  wait "$loop" || true

  backing_bytes "$BACKING" 2048 1048576 | cmp -s - "$DATA" || fail "flushed data is not in the backing file after SIG$sig"

  # What the host does next (fail the I/O, or hold it while it tries to reconnect) is the host's
  # policy, not this test's subject: only report it, bounded.
  rc=0
  ip netns exec "$NS_H" timeout 5 "$NVMEOE" read "$NODE" -s 0 -c 0 -z 512 -d "$NETNS_TMP/after" >/dev/null 2>&1 || rc=$?
  echo "    host read after the target stopped: status $rc$([ "$rc" = 124 ] && echo ' (still waiting after 5 s)')"
  # Disconnecting from a target that is gone must still work, promptly.
  start=$SECONDS
  out=$(ip netns exec "$NS_H" timeout 30 "$NVMEOE" disconnect "$CTRL" 2>&1) ||
    fail "nvmeoe disconnect $CTRL after the target stopped failed: $out"
  nv list | grep -qE "^${CTRL}n" && fail "$CTRL still listed after disconnect"
  echo "    disconnect after the target stopped: $((SECONDS - start)) s"
  rm -f "$NETNS_TMP/after"
done
pass
