#!/usr/bin/env bash
# Seed-compatible host set-up: connects to subsystem NQN at TARGET_MAC through IFACE, then lists
# the namespaces.
#
#   nvme-eth-connect.sh IFACE TARGET_MAC NQN
#
# Environment (optional): NVMEOE_CONNECT_ARGS extra `nvmeoe connect` flags (e.g. "-i 2 -q HOSTNQN");
# NVMEOE_BIN_DIR directory holding nvmeoe (default: build/bin of this repo, then PATH);
# NVMEOE_RUN_DIR as for nvmeoe itself.
#
# DH-HMAC-CHAP (when the target requires it; docs/SECURITY.md), from the environment or key files:
#   NVMEOE_DHCHAP_SECRET_FILE       file holding this host's secret (DHHC-1:xx:...:, from
#                                   `nvmeoe gen-dhchap-key` or `nvme gen-dhchap-key`)
#   NVMEOE_DHCHAP_SECRET            the secret itself (the file wins when both are set)
#   NVMEOE_DHCHAP_CTRL_SECRET_FILE  the controller's secret: the target must prove it (bidirectional)
#   NVMEOE_DHCHAP_CTRL_SECRET       the same, itself
# Secrets are handed to nvmeoe as files (a secret given itself goes through a private temporary
# file that is removed at once), so they never appear in a process listing.
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
# shellcheck source=seed-common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/seed-common.sh"

[ $# -eq 3 ] || usage
case "$1" in -h|--help) usage ;; esac
IFACE=$1
MAC=$2
NQN=$3

require_iface_up "$IFACE"
[[ $MAC =~ ^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$ ]] || die "'$MAC' is not a MAC address (expected aa:bb:cc:dd:ee:ff)"
[[ $NQN == nqn.* ]] || die "'$NQN' is not an NQN (it must start with 'nqn.')"

NVMEOE=$(find_bin nvmeoe)
# shellcheck disable=SC2206 # word splitting of the extra flags is intended
EXTRA=(${NVMEOE_CONNECT_ARGS:-})

# The secrets, as file paths for nvmeoe (seed-common.sh).
secret_dir_if_needed "${NVMEOE_DHCHAP_SECRET:-}" "${NVMEOE_DHCHAP_CTRL_SECRET:-}"
key=$(secret_file "${NVMEOE_DHCHAP_SECRET_FILE:-}" "${NVMEOE_DHCHAP_SECRET:-}" host-secret)
ctrl_key=$(secret_file "${NVMEOE_DHCHAP_CTRL_SECRET_FILE:-}" "${NVMEOE_DHCHAP_CTRL_SECRET:-}" ctrl-secret)
[ -z "$key" ] || EXTRA+=(--dhchap-secret "$key")
[ -z "$ctrl_key" ] || EXTRA+=(--dhchap-ctrl-secret "$ctrl_key")
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
[ -z "$key" ] || echo "  DH-HMAC-CHAP:  host secret given${ctrl_key:+, controller secret given (bidirectional)}"
echo "  disconnect:    nvmeoe disconnect $ctrl"
echo
"$NVMEOE" list
