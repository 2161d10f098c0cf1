#!/usr/bin/env bash
# The FUSE frontend when its agent dies under a mounted file system: ext4 on a direct-I/O loop
# device over the agent's FUSE file, with a writer running, then the agent gets SIGTERM (one run)
# or SIGKILL (another run). Nothing may hang: the agent exits, the writer and every command see
# errors rather than sleeping in D state, and the documented recovery (umount -l, losetup -d, abort
# through /sys/fs/fuse/connections, fusermount3 -u) leaves no mount, loop device or process.
source "$(dirname "$0")/lib.sh"
e2e_init fkil
source "$(dirname "$0")/lib_fuse.sh"

NQN=nqn.2024-01.io.nvmeoe:e2e-fuse-kill

netns_create 9000
F1="$NETNS_TMP/ns1.img"
make_sparse "$F1" $((1 << 30))
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" "$F1"
netns_on_cleanup fuse_cleanup

# state_of PID: the process state letter, or nothing once it is gone.
state_of() { [ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1; }

run_kill() {
  local sig=$1 mnt="$NETNS_TMP/mnt-$1" M="$NETNS_TMP/ext4-$1"
  step "$sig: connect (--mountpoint $mnt), ext4 on a loop over the FUSE file, writer running"
  fuse_connect -n "$NQN" --mountpoint "$mnt"
  [ "$FUSE_MNT" = "$mnt" ] || fail "files are under $FUSE_MNT, expected $mnt"
  fuse_losetup "$FUSE_FILE1"
  timeout 60 mkfs.ext4 -q -F -E nodiscard "$LOOP" || fail "mkfs.ext4 on $LOOP failed"
  mkdir -p "$M"
  timeout 30 mount "$LOOP" "$M" || fail "mount $LOOP failed"
  FUSE_EXT4_MOUNTS+=("$M")
  timeout 30 dd if=/dev/urandom of="$M/before" bs=1M count=8 conv=fsync status=none || fail "write before the kill failed"
  # A writer that keeps data in flight through ext4, the loop device and FUSE.
  (
    for i in $(seq 1000); do
      dd if=/dev/zero of="$M/w$((i % 4))" bs=1M count=4 conv=fsync status=none 2>/dev/null || exit 0
    done
  ) &
  local writer=$! agent=$AGENT_PID
  sleep 1

  step "$sig: kill -$sig the agent ($agent)"
  kill "-$sig" "$agent"
  local start=$SECONDS
  netns_wait_gone "$agent" 150 || fail "agent $agent did not exit within 15 s of SIG$sig (state $(state_of "$agent"))"
  echo "    agent gone after $((SECONDS - start)) s"
  # The writer must end (with errors) rather than sleep forever on the dead device.
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$writer" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$writer" 2>/dev/null; then
    local pids
    pids=$(pgrep -P "$writer" | tr '\n' ' ')
    # shellcheck disable=SC2086
    no_d_state "$writer" $pids
    kill "$writer" $pids 2>/dev/null
    netns_wait_gone "$writer" 50 || fail "writer $writer still running 30 s after the agent died"
  fi
  wait "$writer" 2>/dev/null || true
  local rc=0
  timeout 10 dd if="$M/before" of=/dev/null bs=1M iflag=direct status=none 2>/dev/null || rc=$?
  [ "$rc" != 124 ] || fail "reading ext4 on the dead FUSE file hung"
  [ "$rc" != 0 ] || fail "a direct read through ext4 on the dead FUSE file succeeded"
  echo "    direct read on ext4 after the kill: status $rc (an I/O error, no hang)"

  step "$sig: recovery: umount -l, losetup -d, abort the FUSE connection, fusermount3 -u"
  local conn
  timeout 20 umount -l "$M" || fail "umount -l $M failed"
  timeout 20 losetup -d "$LOOP" || fail "losetup -d $LOOP failed"
  conn=$(fuse_conn_of "$mnt")
  if [ -n "$conn" ]; then
    echo "    FUSE connection $conn still mounted at $mnt: aborting it"
    fuse_abort "$conn" || fail "abort of FUSE connection $conn failed"
    timeout 20 fusermount3 -u -z "$mnt" || fail "fusermount3 -u $mnt failed"
  fi
  [ "$sig" = KILL ] || [ -z "$conn" ] || fail "SIGTERM left the FUSE mount behind (the agent should unmount)"
  rmdir "$mnt" 2>/dev/null || true
  [ ! -e "$mnt" ] || fail "mountpoint $mnt left behind"
  # Nothing of ours sleeps in D state, and nothing is left.
  local p stuck=()
  for p in /proc/[0-9]*; do
    [ "$(sed 's/^.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f1)" = D ] || continue
    grep -q -- "$NETNS_TMP\|nvmeoe" "$p/cmdline" 2>/dev/null && stuck+=("${p#/proc/}")
  done
  [ ${#stuck[@]} = 0 ] || fail "processes in D state: ${stuck[*]}"
  nothing_left
  FUSE_EXT4_MOUNTS=()
  FUSE_LOOPS=()
  FUSE_MOUNTPOINTS=()
  FUSE_CTRLS=()
}

run_kill TERM
run_kill KILL
stop_target
pass
