# shellcheck shell=bash
# Helpers for tests that run nvmeoe over a faulty network: three namespaces, host <-> mid <-> target,
# joined by two veth pairs, with nvmeoe-fault-relay in the middle forwarding the nvmeoe EtherType
# and injecting faults. Sourced, not a test itself. Builds on scripts/netns.sh (its trap tears
# everything down on every exit path; tests/e2e/lib.sh may be sourced before this file, and its
# start_target / connect_host / in_h / in_t then work unchanged over the relay).
#
#   fault_init PREFIX              once (skip it if e2e_init already ran): root check, trap, temp dir
#   fault_create [MTU]             namespaces and links; sets the variables below
#   fault_start_relay [ARGS...]    starts the relay in NS_M (ARGS: --drop 0.1 --seed 7 ...)
#   relay_control 'LINE'           a control line ("drop 0.5", "blackhole on", "left-to-right
#                                  delay-us 300", "clear"), waits until the relay applied it
#   relay_blackhole on|off         the same through SIGUSR1 / SIGUSR2
#   relay_stats                    prints a fresh stats line (both directions)
#   relay_counter DIR KEY [LINE]   a counter from LINE (default: the newest stats/summary line);
#                                  DIR left-to-right|right-to-left, KEY received|forwarded|dropped|
#                                  duplicated|reordered|delayed|corrupted|lost
#   relay_stop                     SIGTERM; fails unless the relay exits 0; summary in RELAY_LOG
#   fault_destroy                  stops the relay and removes the namespaces now (the trap would)
#
# Variables after fault_create: NS_H NS_M NS_T (namespaces), VETH_H (in NS_H) <-> VETH_MH (in NS_M),
# VETH_MT (in NS_M) <-> VETH_T (in NS_T), MAC_H MAC_T (the host's and the target's MACs; frames
# between them keep these MACs through the relay), MAC_MH MAC_MT. After fault_start_relay:
# RELAY_PID, RELAY_LOG, RELAY_FIFO. Left is the host side: left-to-right is host -> target.
# Nothing here sends traffic; the relay only forwards between the namespaces created here.

FAULT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAULT_REPO=$(cd "$FAULT_LIB_DIR/../.." && pwd)
FAULT_BIN=${NVMEOE_BIN_DIR:-$FAULT_REPO/build/bin}
RELAY=${RELAY:-$FAULT_BIN/nvmeoe-fault-relay}
RELAY_PID=${RELAY_PID:-}
RELAY_LOG=${RELAY_LOG:-}
RELAY_FIFO=${RELAY_FIFO:-}
FAULT_SEQ=0

# netns.sh resets its lists when sourced: only once per shell.
if ! declare -F netns_init >/dev/null; then
  # shellcheck source=../../scripts/netns.sh
  source "$FAULT_REPO/scripts/netns.sh"
fi

fault_fail() {
  echo "FAIL [$(basename "$0" .sh)]: $*" >&2
  if [ -n "$RELAY_LOG" ] && [ -f "$RELAY_LOG" ]; then
    echo "----- relay log ($RELAY_LOG) -----" >&2
    tail -n 20 "$RELAY_LOG" >&2
  fi
  exit 1
}

# fault_init PREFIX: PREFIX is at most 4 characters [a-z0-9].
fault_init() {
  [ "$(id -u)" = 0 ] || fault_fail "must run as root (network namespaces, raw sockets)"
  [ -x "$RELAY" ] || fault_fail "$RELAY is missing: build first (cmake -S . -B build -G Ninja && ninja -C build)"
  netns_init "$1" || fault_fail "netns_init failed"
}

# fault_create [MTU]: NS_H/VETH_H <-> VETH_MH/NS_M/VETH_MT <-> VETH_T/NS_T.
fault_create() {
  local mtu=${1:-1500}
  [ -n "$NETNS_TMP" ] || fault_fail "call fault_init (or e2e_init) first"
  FAULT_SEQ=$((FAULT_SEQ + 1))
  local id="${NETNS_PREFIX}f${FAULT_SEQ}"
  NS_H="${id}-h-$$"
  NS_M="${id}-m-$$"
  NS_T="${id}-t-$$"
  VETH_H=$(printf '%.15s' "${id}h$$")
  VETH_MH=$(printf '%.15s' "${id}a$$")
  VETH_MT=$(printf '%.15s' "${id}b$$")
  VETH_T=$(printf '%.15s' "${id}t$$")
  local ns
  for ns in "$NS_H" "$NS_M" "$NS_T"; do
    ip netns add "$ns" || fault_fail "ip netns add $ns"
    NETNS_LIST+=("$ns")
    ip -n "$ns" link set lo up
    # Only nvmeoe frames on these links: no IPv6 router solicitations or DAD.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
  done
  ip -n "$NS_H" link add "$VETH_H" type veth peer name "$VETH_MH" netns "$NS_M" || fault_fail "veth $VETH_H"
  ip -n "$NS_T" link add "$VETH_T" type veth peer name "$VETH_MT" netns "$NS_M" || fault_fail "veth $VETH_T"
  ip -n "$NS_H" link set "$VETH_H" mtu "$mtu" up || fault_fail "link up $VETH_H"
  ip -n "$NS_M" link set "$VETH_MH" mtu "$mtu" up || fault_fail "link up $VETH_MH"
  ip -n "$NS_M" link set "$VETH_MT" mtu "$mtu" up || fault_fail "link up $VETH_MT"
  ip -n "$NS_T" link set "$VETH_T" mtu "$mtu" up || fault_fail "link up $VETH_T"
  MAC_H=$(netns_mac "$NS_H" "$VETH_H")
  # shellcheck disable=SC2034  # for the caller
  MAC_MH=$(netns_mac "$NS_M" "$VETH_MH")
  # shellcheck disable=SC2034  # for the caller
  MAC_MT=$(netns_mac "$NS_M" "$VETH_MT")
  MAC_T=$(netns_mac "$NS_T" "$VETH_T")
  local i
  for ((i = 0; i < 50; i++)); do
    ip -n "$NS_H" link show "$VETH_H" | grep -q LOWER_UP &&
      ip -n "$NS_T" link show "$VETH_T" | grep -q LOWER_UP &&
      ip -n "$NS_M" link show "$VETH_MH" | grep -q LOWER_UP &&
      ip -n "$NS_M" link show "$VETH_MT" | grep -q LOWER_UP && break
    sleep 0.1
  done
  netns_log "created $NS_H/$VETH_H ($MAC_H) <-> $NS_M/$VETH_MH|$VETH_MT <-> $NS_T/$VETH_T ($MAC_T), MTU $mtu"
}

# relay_lines PATTERN: how many lines of the relay log match the extended regex.
relay_lines() {
  local n
  n=$(grep -cE -- "$1" "$RELAY_LOG" 2>/dev/null) || true
  echo "${n:-0}"
}

# relay_wait_lines PATTERN COUNT [SECONDS]: waits until more than COUNT lines match.
relay_wait_lines() {
  local pattern=$1 before=$2 secs=${3:-5} i
  for ((i = 0; i < secs * 20; i++)); do
    (($(relay_lines "$pattern") > before)) && return 0
    kill -0 "$RELAY_PID" 2>/dev/null || fault_fail "the relay exited (waiting for /$pattern/)"
    sleep 0.05
  done
  fault_fail "the relay printed no /$pattern/ within $secs s"
}

# fault_start_relay [ARGS...]: the relay in NS_M, left = host side; waits until it forwards.
fault_start_relay() {
  [ -n "${NS_M:-}" ] || fault_fail "call fault_create first"
  RELAY_LOG="$NETNS_TMP/relay.$NS_M.log"
  RELAY_FIFO="$NETNS_TMP/relay.$NS_M.ctl"
  ip netns exec "$NS_M" "$RELAY" --left "$VETH_MH" --right "$VETH_MT" --control "$RELAY_FIFO" "$@" \
    >"$RELAY_LOG" 2>&1 </dev/null &
  RELAY_PID=$!
  netns_track_pid "$RELAY_PID"
  relay_wait_lines ': forwarding ' 0 10
}

# relay_control LINE: sends one control line and waits for its acknowledgement.
relay_control() {
  local before
  before=$(relay_lines ': (applied|control):')
  kill -0 "$RELAY_PID" 2>/dev/null || fault_fail "the relay is not running"
  # The relay holds the FIFO open, so this open does not block; the timeout is for a dead relay.
  # shellcheck disable=SC2016  # expanded by the inner shell
  timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$1" "$RELAY_FIFO" || fault_fail "cannot write to $RELAY_FIFO"
  relay_wait_lines ': (applied|control):' "$before"
  local last
  last=$(grep -E ': (applied|control):' "$RELAY_LOG" | tail -n 1)
  case $last in
    *": control:"*) fault_fail "relay refused '$1': $last" ;;
  esac
}

# relay_blackhole on|off: through SIGUSR1 / SIGUSR2.
relay_blackhole() {
  local before sig
  case $1 in
    on) sig=USR1 ;;
    off) sig=USR2 ;;
    *) fault_fail "relay_blackhole on|off" ;;
  esac
  before=$(relay_lines ': applied:')
  kill -"$sig" "$RELAY_PID" || fault_fail "cannot signal the relay"
  relay_wait_lines ': applied:' "$before"
}

# relay_stats: asks for a stats line now and prints it.
relay_stats() {
  local before
  before=$(relay_lines ': stats ')
  # shellcheck disable=SC2016  # expanded by the inner shell
  timeout 5 bash -c 'printf "stats\n" >"$1"' _ "$RELAY_FIFO" || fault_fail "cannot write to $RELAY_FIFO"
  relay_wait_lines ': stats ' "$before"
  grep -E ': stats ' "$RELAY_LOG" | tail -n 1
}

# relay_counter DIR KEY [LINE]: prints the counter KEY of direction DIR.
relay_counter() {
  local dir=$1 key=$2 line=${3:-}
  [ -n "$line" ] || line=$(grep -E ': (stats|summary) ' "$RELAY_LOG" | tail -n 1)
  # In a stats line the directions are separated by '|'; a summary line holds one direction.
  printf '%s\n' "$line" | tr '|' '\n' | grep -E -- "(^| )$dir " | grep -oE -- "(^| )$key=[0-9]+" |
    head -n 1 | cut -d= -f2
}

# relay_stop: SIGTERM, waits for exit status 0.
relay_stop() {
  [ -n "$RELAY_PID" ] || return 0
  kill -TERM "$RELAY_PID" 2>/dev/null || fault_fail "the relay (pid $RELAY_PID) was not running"
  netns_wait_gone "$RELAY_PID" 100 || fault_fail "the relay did not exit within 10 s of SIGTERM"
  local rc=0
  wait "$RELAY_PID" || rc=$?
  RELAY_PID=
  [ "$rc" = 0 ] || fault_fail "the relay exited with status $rc"
  grep -q ': summary left-to-right ' "$RELAY_LOG" || fault_fail "the relay printed no summary"
}

# fault_destroy: everything of the newest fault_create, now.
fault_destroy() {
  if [ -n "$RELAY_PID" ]; then
    netns_stop_pids "$RELAY_PID"
    RELAY_PID=
  fi
  local ns
  for ns in "$NS_H" "$NS_M" "$NS_T"; do
    netns_delete_ns "$ns"
  done
  local keep=() n
  for n in "${NETNS_LIST[@]}"; do
    [ "$n" = "$NS_H" ] || [ "$n" = "$NS_M" ] || [ "$n" = "$NS_T" ] || keep+=("$n")
  done
  NETNS_LIST=("${keep[@]}")
}
