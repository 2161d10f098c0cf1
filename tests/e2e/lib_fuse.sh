# shellcheck shell=bash
# Helpers of the FUSE frontend tests (sourced after lib.sh). The host agent runs in the host's
# network namespace but in the root mount namespace (nsenter --net), so that its FUSE files are
# visible to losetup and mount here and no mount namespace dies with the agent (the D-state trap of
# a FUSE daemon that is the last process of a namespace holding an ext4 on a loop over its file).
# fuse_cleanup, registered first, takes everything down in the order that cannot hang: ext4
# mounts, loop devices, the agent, then any FUSE mount left (aborted through
# /sys/fs/fuse/connections, then lazily unmounted).

FUSE_EXT4_MOUNTS=()
FUSE_LOOPS=()
FUSE_MOUNTPOINTS=()
FUSE_CTRLS=()
FUSE_CTL_MOUNTED=0

for tool in nsenter losetup mkfs.ext4 fusermount3 fallocate md5sum; do
  command -v "$tool" >/dev/null || fail "$tool is missing (bash scripts/install-deps.sh)"
done
[ -c /dev/fuse ] || fail "/dev/fuse is missing: this kernel has no FUSE"

# hn CMD...: CMD in the host's network namespace and the root mount namespace.
hn() { nsenter --net="/run/netns/$NS_H" "$@"; }
# nvh ARGS...: nvmeoe on the host side, bounded.
nvh() { hn timeout 60 "$NVMEOE" "$@"; }

# fuse_conn_of MOUNTPOINT: the FUSE connection number of a mount (its device minor), or nothing.
fuse_conn_of() {
  awk -v m="$1" '$5 == m && / - fuse\.nvmeoe / {split($3, d, ":"); print d[2]}' /proc/self/mountinfo | tail -n1
}

# fuse_abort CONN: aborts a FUSE connection through the fusectl file system (mounted on
# /sys/fs/fuse/connections for the purpose when it is not there yet).
fuse_abort() {
  local d=/sys/fs/fuse/connections
  if ! grep -q " $d fusectl " /proc/mounts; then
    mount -t fusectl fusectl "$d" || return 1
    FUSE_CTL_MOUNTED=1
  fi
  [ -e "$d/$1/abort" ] || return 0  # already gone with its last file descriptor
  echo 1 >"$d/$1/abort"
}

fuse_cleanup() {
  local m l c conn
  for m in "${FUSE_EXT4_MOUNTS[@]}"; do
    grep -q " $m " /proc/mounts && timeout 20 umount -l "$m"
  done
  for l in "${FUSE_LOOPS[@]}"; do
    timeout 20 losetup -d "$l" 2>/dev/null
  done
  for c in "${FUSE_CTRLS[@]}"; do
    hn timeout 20 "$NVMEOE" disconnect "$c" >/dev/null 2>&1
  done
  for m in "${FUSE_MOUNTPOINTS[@]}"; do
    conn=$(fuse_conn_of "$m")
    if [ -n "$conn" ]; then
      fuse_abort "$conn"
      timeout 20 fusermount3 -u -z "$m" 2>/dev/null || timeout 20 umount -l "$m"
    fi
    rmdir "$m" 2>/dev/null
  done
  ((FUSE_CTL_MOUNTED)) && umount /sys/fs/fuse/connections
  return 0
}

# fuse_connect ARGS...: connects with the FUSE frontend; sets CTRL, AGENT_PID, FUSE_MNT and
# FUSE_FILE1 (namespace 1's file), FUSE_FILE2 (namespace 2's, if any).
fuse_connect() {
  local out rc=0 info
  out=$(hn timeout 40 "$NVMEOE" connect -a "$MAC_T" --host-iface "$VETH_H" --frontend fuse "$@" 2>&1) || rc=$?
  [ "$rc" = 0 ] || fail "nvmeoe connect --frontend fuse $* failed (status $rc): $out"
  CTRL=$(printf '%s\n' "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1 || true)
  [ -n "$CTRL" ] || fail "nvmeoe connect printed no controller name: $out"
  FUSE_CTRLS+=("$CTRL")
  info=$(nvh list -v -o json)
  AGENT_PID=$(jq -r --arg c "$CTRL" '.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .AgentPid' <<<"$info")
  netns_track_pid "$AGENT_PID"
  [ "$(jq -r --arg c "$CTRL" '.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .Frontend' <<<"$info")" = fuse ] ||
    fail "nvmeoe list -v -o json does not show the fuse frontend for $CTRL: $info"
  FUSE_FILE1=$(jq -r --arg n "${CTRL}n1" '.Devices[].Subsystems[].Controllers[].Namespaces[] | select(.NameSpace == $n) | .DevicePath' <<<"$info")
  FUSE_FILE2=$(jq -r --arg n "${CTRL}n2" '.Devices[].Subsystems[].Controllers[].Namespaces[] | select(.NameSpace == $n) | .DevicePath' <<<"$info")
  FUSE_MNT=$(dirname "$FUSE_FILE1")
  FUSE_MOUNTPOINTS+=("$FUSE_MNT")
  [ -f "$FUSE_FILE1" ] || fail "FUSE file $FUSE_FILE1 of ${CTRL}n1 does not exist"
}

# fuse_losetup FILE: attaches a direct-I/O loop device; sets LOOP.
fuse_losetup() {
  LOOP=$(timeout 20 losetup --direct-io=on --find --show "$1") || fail "losetup --direct-io=on $1 failed"
  FUSE_LOOPS+=("$LOOP")
}

# no_d_state PID...: fails if one of the processes is in uninterruptible sleep (D).
no_d_state() {
  local pid state
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    state=$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
    [ "$state" != D ] || fail "process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline")) is in D state"
  done
}

# nothing_left: no mount under the test's directory, no loop device on its files. `losetup -d` of a
# device that something still has open (a udev or blkid probe after umount) only marks it for
# removal at the last close, so loop devices get a few seconds to go.
nothing_left() {
  ! grep -q -- "$NETNS_TMP" /proc/mounts || fail "mounts left: $(grep -- "$NETNS_TMP" /proc/mounts)"
  local i
  for ((i = 0; i < 100; i++)); do
    losetup -a | grep -q -- "$NETNS_TMP" || return 0
    sleep 0.1
  done
  fail "loop devices left: $(losetup -a | grep -- "$NETNS_TMP")"
}
