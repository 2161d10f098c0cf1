#!/usr/bin/env bash
# Seed-compatible host set-up: connects to subsystem NQN at TARGET_MAC through IFACE, then lists
# the namespaces.
#
#   nvme-eth-connect.sh IFACE TARGET_MAC NQN
#
# Environment (optional): NVMEOE_CONNECT_ARGS extra `nvmeoe connect` flags (e.g. "-i 2 -q HOSTNQN");
# NVMEOE_BIN_DIR directory holding nvmeoe (default: build/bin of this repo, then PATH);
# NVMEOE_RUN_DIR as for nvmeoe itself.
set -euo pipefail

prog=$(basename "$0")
usage() {
  cat >&2 <<USAGE
usage: $prog IFACE TARGET_MAC NQN
  IFACE       local Ethernet interface facing the target, e.g. eth0
  TARGET_MAC  the target interface's MAC address, e.g. 02:00:00:00:00:01
  NQN         subsystem NQN to connect to
USAGE
  exit 2
}
die() { echo "$prog: error: $*" >&2; exit 1; }

[ $# -eq 3 ] || usage
case "$1" in -h|--help) usage ;; esac
IFACE=$1
MAC=$2
NQN=$3

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
find_bin() {
  local name=$1
  if [ -n "${NVMEOE_BIN_DIR:-}" ] && [ -x "$NVMEOE_BIN_DIR/$name" ]; then echo "$NVMEOE_BIN_DIR/$name"; return; fi
  if [ -x "$repo/build/bin/$name" ]; then echo "$repo/build/bin/$name"; return; fi
  command -v "$name" 2>/dev/null || die "$name not found: build it first (cmake -S . -B build -G Ninja && ninja -C build) or put it in PATH"
}

if ! ip link show dev "$IFACE" >/dev/null 2>&1; then
  die "network interface '$IFACE' not found (interfaces here: $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | tr '\n' ' '))"
fi
if ! ip link show dev "$IFACE" | head -n1 | grep -q '[<,]UP[,>]'; then
  die "network interface '$IFACE' is down (bring it up: ip link set $IFACE up)"
fi
[[ $MAC =~ ^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$ ]] || die "'$MAC' is not a MAC address (expected aa:bb:cc:dd:ee:ff)"
[[ $NQN == nqn.* ]] || die "'$NQN' is not an NQN (it must start with 'nqn.')"

NVMEOE=$(find_bin nvmeoe)
# shellcheck disable=SC2206 # word splitting of the extra flags is intended
EXTRA=(${NVMEOE_CONNECT_ARGS:-})
rc=0
out=$("$NVMEOE" connect -a "$MAC" -n "$NQN" --host-iface "$IFACE" "${EXTRA[@]}") || rc=$?
if [ $rc -ne 0 ]; then
  [ -z "$out" ] || echo "$out" >&2
  die "nvmeoe connect to $NQN at $MAC via $IFACE failed (exit status $rc; its message is above)"
fi
ctrl=$(printf '%s\n' "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1 || true)
[ -n "$ctrl" ] || die "nvmeoe connect succeeded but printed no controller name: $out"

echo "connected: controller $ctrl"
echo "  subsystem NQN: $NQN"
echo "  target MAC:    $MAC via $IFACE"
echo "  disconnect:    nvmeoe disconnect $ctrl"
echo
"$NVMEOE" list
