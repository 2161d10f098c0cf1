# shellcheck shell=bash
# Helpers for scripts and tests that need a private Ethernet: two network namespaces joined by a
# veth pair, with names unique to this process, and a teardown that removes only what this process
# created. Source it, then:
#
#   netns_init PREFIX            # once: sets the EXIT/INT/TERM trap and a private temp dir
#   netns_create MTU             # a new pair; sets NS_T NS_H VETH_T VETH_H MAC_T MAC_H
#   netns_create_bridged N MTU   # N namespaces on one bridge (in its own namespace); sets
#                                # BR_NS[i] BR_IF[i] BR_MAC[i] for i in 0..N-1
#   netns_track_pid PID          # a process to stop at teardown
#   netns_on_cleanup 'cmd'       # a command to run first at teardown (e.g. a disconnect)
#   netns_destroy                # tears down the newest pair now (teardown does it for all)
#
# NETNS_TMP is a private temp directory (removed at teardown); NVMEOE_RUN_DIR is exported inside
# it, so the agents and locks of this run never meet those of another.
# Nothing here sends traffic: it only builds the namespaces the caller's traffic stays in.

NETNS_PREFIX=${NETNS_PREFIX:-nvoe}
NETNS_TMP=${NETNS_TMP:-}
NETNS_LIST=()      # namespaces created by this process
NETNS_PIDS=()      # processes started by this process
NETNS_CLEANUP=()   # caller's commands, run first at teardown
NETNS_SEQ=0
NETNS_DONE=0

netns_log() { echo "[netns] $*" >&2; }

# netns_init PREFIX: PREFIX is at most 4 characters [a-z0-9] (interface names are limited to 15).
netns_init() {
  NETNS_PREFIX=${1:-nvoe}
  NETNS_PREFIX=${NETNS_PREFIX:0:4}
  if [ "$(id -u)" != 0 ]; then
    echo "error: network namespaces need root; run as root (sudo)" >&2
    return 1
  fi
  NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nvmeoe-${NETNS_PREFIX}-$$.XXXXXX")
  export NVMEOE_RUN_DIR="$NETNS_TMP/run"
  mkdir -p "$NVMEOE_RUN_DIR"
  # For tests/run-all.sh, which checks afterwards that nothing named after this PID is left.
  if [ -n "${NETNS_REPORT_PIDS:-}" ]; then echo "$$" >>"$NETNS_REPORT_PIDS"; fi
  trap 'netns_teardown' EXIT
  trap 'netns_teardown; trap - EXIT; exit 130' INT
  trap 'netns_teardown; trap - EXIT; exit 143' TERM
}

# netns_create MTU: creates NS_T (target side) and NS_H (host side) joined by VETH_T <-> VETH_H.
netns_create() {
  local mtu=${1:-1500}
  NETNS_SEQ=$((NETNS_SEQ + 1))
  local id="${NETNS_PREFIX}${NETNS_SEQ}"
  NS_T="${id}-t-$$"
  NS_H="${id}-h-$$"
  VETH_T="${id}t$$"
  VETH_H="${id}h$$"
  VETH_T=${VETH_T:0:15}
  VETH_H=${VETH_H:0:15}
  ip netns add "$NS_T" || return 1
  NETNS_LIST+=("$NS_T")
  ip netns add "$NS_H" || return 1
  NETNS_LIST+=("$NS_H")
  ip -n "$NS_T" link add "$VETH_T" type veth peer name "$VETH_H" netns "$NS_H" || return 1
  local ns dev
  for ns in "$NS_T" "$NS_H"; do
    ip -n "$ns" link set lo up
    # No IPv6 chatter (router solicitations, DAD) on the test link: it only carries nvmeoe frames.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
  done
  ip -n "$NS_T" link set "$VETH_T" mtu "$mtu" up || return 1
  ip -n "$NS_H" link set "$VETH_H" mtu "$mtu" up || return 1
  MAC_T=$(netns_mac "$NS_T" "$VETH_T")
  MAC_H=$(netns_mac "$NS_H" "$VETH_H")
  # Wait for carrier on both ends (veth is up as soon as both ends are).
  for _ in $(seq 50); do
    if ip -n "$NS_T" link show "$VETH_T" | grep -q 'LOWER_UP' &&
       ip -n "$NS_H" link show "$VETH_H" | grep -q 'LOWER_UP'; then
      break
    fi
    sleep 0.1
  done
  netns_log "created $NS_T/$VETH_T ($MAC_T) <-> $NS_H/$VETH_H ($MAC_H), MTU $mtu"
}

# netns_create_bridged N MTU: a bridge in a namespace of its own and N namespaces, each joined to it
# by a veth pair: a small Ethernet segment where broadcasts reach every member.
netns_create_bridged() {
  local n=$1 mtu=${2:-1500} i
  NETNS_SEQ=$((NETNS_SEQ + 1))
  local id="${NETNS_PREFIX}${NETNS_SEQ}"
  local nsb="${id}-br-$$"
  ip netns add "$nsb" || return 1
  NETNS_LIST+=("$nsb")
  ip -n "$nsb" link set lo up
  ip netns exec "$nsb" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
  ip -n "$nsb" link add br0 type bridge || return 1
  ip -n "$nsb" link set br0 mtu "$mtu" up || return 1
  BR_NS=()
  BR_IF=()
  BR_MAC=()
  for ((i = 0; i < n; i++)); do
    local ns="${id}-m${i}-$$" dev="${id}m${i}$$" peer="${id}p${i}$$"
    dev=${dev:0:15}
    peer=${peer:0:15}
    ip netns add "$ns" || return 1
    NETNS_LIST+=("$ns")
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
    ip -n "$ns" link add "$dev" type veth peer name "$peer" netns "$nsb" || return 1
    ip -n "$nsb" link set "$peer" mtu "$mtu" master br0 up || return 1
    ip -n "$ns" link set "$dev" mtu "$mtu" up || return 1
    BR_NS+=("$ns")
    BR_IF+=("$dev")
    BR_MAC+=("$(netns_mac "$ns" "$dev")")
  done
  for _ in $(seq 50); do
    local up=1
    for ((i = 0; i < n; i++)); do
      ip -n "${BR_NS[i]}" link show "${BR_IF[i]}" | grep -q 'LOWER_UP' || up=0
    done
    ((up)) && break
    sleep 0.1
  done
  netns_log "created bridge $nsb/br0 with ${n} members: ${BR_NS[*]}"
}

# netns_mac NS IFACE: prints the interface's MAC address.
netns_mac() {
  ip -n "$1" link show "$2" | awk '/link\/ether/ {print $2; exit}'
}

netns_track_pid() { NETNS_PIDS+=("$1"); }
netns_on_cleanup() { NETNS_CLEANUP+=("$1"); }

# Waits up to $2 tenths of a second for process $1 to exit; returns 0 if it did.
netns_wait_gone() {
  local pid=$1 tenths=${2:-50} i
  for ((i = 0; i < tenths; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$pid" 2>/dev/null
}

# Stops a list of PIDs: SIGTERM, up to 5 s grace, then SIGKILL.
netns_stop_pids() {
  local pid alive=()
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      alive+=("$pid")
    fi
  done
  for pid in "${alive[@]}"; do
    if ! netns_wait_gone "$pid" 50; then
      netns_log "pid $pid did not stop on SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      netns_wait_gone "$pid" 20 || true
    fi
  done
}

# Deletes one namespace after stopping every process still inside it (processes in a namespace
# this run created were started by this run).
netns_delete_ns() {
  local ns=$1
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$ns" || return 0
  local pids
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    netns_stop_pids $pids
  fi
  local dev
  for dev in $(ip -n "$ns" -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip -n "$ns" link del "$dev" 2>/dev/null || true
  done
  ip netns del "$ns" 2>/dev/null || netns_log "warning: could not delete namespace $ns"
}

# Tears down the most recently created pair now.
netns_destroy() {
  local n=${#NETNS_LIST[@]}
  ((n >= 2)) || return 0
  local h=${NETNS_LIST[n - 1]} t=${NETNS_LIST[n - 2]}
  netns_delete_ns "$h"
  netns_delete_ns "$t"
  unset 'NETNS_LIST[n-1]' 'NETNS_LIST[n-2]'
  NETNS_LIST=("${NETNS_LIST[@]}")
}

# The trap handler: idempotent, keeps the script's exit status.
netns_teardown() {
  local rc=$?
  ((NETNS_DONE)) && return $rc
  NETNS_DONE=1
  set +e
  local cmd ns
  for cmd in "${NETNS_CLEANUP[@]}"; do
    eval "$cmd" >/dev/null 2>&1
  done
  ((${#NETNS_PIDS[@]})) && netns_stop_pids "${NETNS_PIDS[@]}"
  for ns in "${NETNS_LIST[@]}"; do
    netns_delete_ns "$ns"
  done
  NETNS_LIST=()
  if [ -n "$NETNS_TMP" ] && [ -d "$NETNS_TMP" ]; then
    rm -rf -- "$NETNS_TMP"
  fi
  return $rc
}
