#!/usr/bin/env bash
# nvmeoe demo, from a fresh Debian 12 machine: installs the build dependencies, builds, and runs a
# target and a host in two network namespaces joined by a veth pair. It exports two sparse files
# (20 GiB and 30 GiB), connects, lists them (with the block devices or FUSE files the default
# frontend made), writes and reads back random data (checked against the read-back and the backing
# files), shows a short `nvmeoe perf` run, disconnects, and removes everything it created, also on
# Ctrl-C or failure.
#
# Environment: NVMEOE_DEMO_SKIP_SETUP=1 skips installing and building (binaries must exist).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "demo: needs root (network namespaces, raw sockets); run it as root" >&2; exit 1; }
  echo "demo: needs root (network namespaces, raw sockets); re-running with sudo"
  exec sudo --preserve-env=NVMEOE_DEMO_SKIP_SETUP,TMPDIR bash "$0" "$@"
fi

STEPS=10
step_no=0
step() {
  step_no=$((step_no + 1))
  printf '\n==> [%d/%d] %s\n' "$step_no" "$STEPS" "$*"
}
die() { echo "demo: error: $*" >&2; exit 1; }

step "Dependencies"
if [ "${NVMEOE_DEMO_SKIP_SETUP:-0}" = 1 ]; then
  echo "skipped (NVMEOE_DEMO_SKIP_SETUP=1)"
else
  bash "$REPO/scripts/install-deps.sh"
fi

step "Build"
BIN="$REPO/build/bin"
if [ "${NVMEOE_DEMO_SKIP_SETUP:-0}" = 1 ]; then
  echo "skipped (NVMEOE_DEMO_SKIP_SETUP=1)"
else
  launcher=()
  command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  if [ -f "$REPO/build/CMakeCache.txt" ]; then
    cmake -S "$REPO" -B "$REPO/build" -G Ninja "${launcher[@]}" >/dev/null
  else
    cmake -S "$REPO" -B "$REPO/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
  fi
  ninja -C "$REPO/build" nvmeoe nvmeoe-target
fi
for b in nvmeoe nvmeoe-target; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing (build first, or run without NVMEOE_DEMO_SKIP_SETUP)"
done
NVMEOE="$BIN/nvmeoe"
export NVMEOE_BIN_DIR="$BIN"

# shellcheck source=netns.sh
source "$REPO/scripts/netns.sh"
netns_init demo
demo_cleanup() {
  local rc=$?
  echo
  if [ "$rc" = 0 ]; then echo "==> Cleaning up"; else echo "==> Failed (status $rc); cleaning up"; fi
  netns_teardown
  echo "==> Removed the namespaces, interfaces, processes and files of this demo"
  exit "$rc"
}
trap demo_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "Network: two namespaces joined by a veth pair"
netns_create 1500
echo "namespaces: $NS_T and $NS_H"
echo "veth: $VETH_T <-> $VETH_H (MTU 1500)"
echo "target side: $VETH_T in $NS_T, MAC $MAC_T"
echo "host side:   $VETH_H in $NS_H, MAC $MAC_H"

step "Backing files: sparse 20 GiB and 30 GiB"
F1="$NETNS_TMP/disk-20G.img"
F2="$NETNS_TMP/disk-30G.img"
truncate -s 20G "$F1"
truncate -s 30G "$F2"
ls -ls "$F1" "$F2"

NQN=nqn.2024-01.io.nvmeoe:demo
step "Target: nvmet-eth-setup.sh $NQN $VETH_T (in $NS_T)"
export NVMEOE_LOG_DIR="$NETNS_TMP" NVMEOE_PIDFILE="$NETNS_TMP/target.pid"
ip netns exec "$NS_T" bash "$REPO/scripts/nvmet-eth-setup.sh" "$NQN" "$VETH_T" "$F1" "$F2"
netns_track_pid "$(cat "$NVMEOE_PIDFILE")"

# The host side runs in NS_H's network namespace but this shell's mount namespace (nsenter --net,
# not `ip netns exec`), so that the devices or files of the default frontend are visible here.
step "Host: nvme-eth-connect.sh $VETH_H $MAC_T $NQN (in $NS_H's network)"
out=$(nsenter --net="/run/netns/$NS_H" bash "$REPO/scripts/nvme-eth-connect.sh" "$VETH_H" "$MAC_T" "$NQN")
echo "$out"
CTRL=$(echo "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1)
[ -n "$CTRL" ] || die "no controller name in the connect output"
netns_on_cleanup "ip netns exec '$NS_H' timeout 20 '$NVMEOE' disconnect '$CTRL'"
h() { ip netns exec "$NS_H" timeout 60 "$NVMEOE" "$@"; }

step "nvmeoe list"
table=$(h list)
echo "$table"
echo "$table" | grep -qE "^[^ ]*(${CTRL}n1|ublkb[0-9]+) .* 1 +21\.47 +GB" || die "namespace 1 is not listed as 21.47 GB"
echo "$table" | grep -qE "^[^ ]*(${CTRL}n2|ublkb[0-9]+) .* 2 +32\.21 +GB" || die "namespace 2 is not listed as 32.21 GB"
echo "The Node column shows what the default frontend made of the namespaces:"
h list -o json | jq -r '.Devices[] | "  \(.Name): \(.DevicePath) (\(.Frontend))"'
h list -o json | jq -r '.Devices[].DevicePath' | while read -r node; do
  [ -e "$node" ] && ls -l "$node"
done
echo "(a FUSE file becomes a block device with: losetup --direct-io=on --find --show FILE)"

step "Write, read back and verify random data"
D="$NETNS_TMP/data"
mkdir -p "$D"
# verify NODE LBA BYTES BACKING
verify() {
  local node=$1 lba=$2 bytes=$3 backing=$4 blocks=$(($3 / 512))
  head -c "$bytes" /dev/urandom >"$D/in"
  h write "$node" -s "$lba" -c $((blocks - 1)) -z "$bytes" -d "$D/in"
  h read "$node" -s "$lba" -c $((blocks - 1)) -z "$bytes" -d "$D/out"
  cmp "$D/in" "$D/out" || die "$node: data read back differs from data written"
  h flush "$node"
  dd if="$backing" bs=512 skip="$lba" count="$blocks" status=none | cmp - "$D/in" ||
    die "$node: the backing file does not hold the data written"
  echo "$node: $bytes bytes at LBA $lba: read-back and backing file ($(basename "$backing")) match ($(sha256sum <"$D/in" | cut -c1-16)...)"
}
verify "${CTRL}n1" 2048 1048576 "$F1"
verify "${CTRL}n2" 123456 262144 "$F2"

step "nvmeoe perf: 4 KiB random reads, queue depth 32, 3 seconds (its own association)"
ip netns exec "$NS_H" timeout 60 "$NVMEOE" perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" \
  -q 32 -o 4096 -w randread -t 3

step "Disconnect"
h disconnect "$CTRL"
h list

printf '\nDemo completed successfully.\n'
