#!/usr/bin/env bash
# Garbage frames of every kind (random bytes, truncated headers, huge length fields, packed frames
# whose segments contradict each other, unknown associations, bad versions, version 1 Connect
# Requests, wrong EtherTypes) sent from the host namespace to the target's MAC
# while a connected host keeps doing verified I/O: the target must stay up, the host's I/O must
# keep succeeding, and all data must verify at the end (read-back and backing file).
source "$(dirname "$0")/lib.sh"
e2e_init garb "$RAWSEND"

NQN=nqn.2024-01.io.nvmeoe:e2e-garbage
FRAMES=${GARBAGE_FRAMES:-4000}   # per mode, paced
MODES=(random truncated huge-length packed-garbage unknown-association bad-version v1-connect wrong-ethertype)

netns_create 1500
BACKING="$NETNS_TMP/disk.img"
make_sparse "$BACKING" 1G
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" "$BACKING"
connect_host -n "$NQN" -i 2
NODE="${CTRL}n1"

target_alive() {
  kill -0 "$TARGET_PID" 2>/dev/null || {
    tail -n 50 "$NETNS_TMP/target.log" >&2
    fail "nvmeoe-target died ($1)"
  }
}

# Reference data written before any garbage, checked again at the end.
step "reference data"
REF="$NETNS_TMP/ref.bin"
rand_file "$REF" 262144
nv write "$NODE" -s 1000 -c 511 -z 262144 -d "$REF" >/dev/null || fail "reference write failed"

seed=1
lba=100000
for mode in "${MODES[@]}"; do
  step "mode $mode: $FRAMES frames interleaved with I/O"
  ip netns exec "$NS_H" "$RAWSEND" --iface "$VETH_H" --dst "$MAC_T" --mode "$mode" --count "$FRAMES" \
    --seed "$seed" --pps 4000 >"$NETNS_TMP/rawsend.out" 2>&1 &
  rs=$!
  netns_track_pid "$rs"
  ios=0
  while kill -0 "$rs" 2>/dev/null || [ "$ios" -lt 4 ]; do
    for size in 512 4096 131072; do
      write_verify "$NODE" "$lba" "$size" "$BACKING"
      lba=$((lba + 512))
      ios=$((ios + 1))
    done
  done
  rc=0
  wait "$rs" || rc=$?
  [ "$rc" = 0 ] || fail "nvmeoe-rawsend --mode $mode failed ($rc): $(cat "$NETNS_TMP/rawsend.out")"
  cat "$NETNS_TMP/rawsend.out"
  grep -qE "sent [1-9][0-9]* frames" "$NETNS_TMP/rawsend.out" || fail "nvmeoe-rawsend sent nothing"
  target_alive "after $mode"
  echo "    $mode: target alive, $ios verified I/Os during the burst"
  seed=$((seed + 1))
done

step "unpaced burst of every mode at once, then I/O"
pids=()
for mode in "${MODES[@]}"; do
  ip netns exec "$NS_H" "$RAWSEND" --iface "$VETH_H" --dst "$MAC_T" --mode "$mode" --count "$FRAMES" \
    --seed "$seed" >"$NETNS_TMP/burst.$mode.out" 2>&1 &
  pids+=($!)
  netns_track_pid "$!"
  seed=$((seed + 1))
done
for p in "${pids[@]}"; do wait "$p" || fail "nvmeoe-rawsend (burst) failed"; done
target_alive "after the burst"
sleep 0.5
write_verify "$NODE" 300000 1048576 "$BACKING"

step "final checks"
nv read "$NODE" -s 1000 -c 511 -z 262144 -d "$NETNS_TMP/ref.out" >/dev/null || fail "reference read failed"
cmp -s "$REF" "$NETNS_TMP/ref.out" || fail "reference data changed"
backing_bytes "$BACKING" 1000 262144 | cmp -s - "$REF" || fail "reference data in the backing file changed"
nv list | grep -qE "^$NODE " || fail "controller vanished from nvmeoe list"
target_alive "at the end"
if grep -qE 'AddressSanitizer|runtime error:|terminate called|Segmentation' "$NETNS_TMP/target.log"; then
  cat "$NETNS_TMP/target.log" >&2
  fail "target log shows a crash or sanitizer report"
fi
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
stop_target
pass "$((${#MODES[@]} * FRAMES * 2)) garbage frames"
