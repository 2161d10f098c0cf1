#!/usr/bin/env bash
# Seed-compatible target set-up: exports DEV... as namespaces 1..N of subsystem NQN on Ethernet
# interface IFACE, by starting nvmeoe-target in the background.
#
#   nvmet-eth-setup.sh NQN IFACE DEV...
#
# DEV is a block device, a regular file, or mem:SIZE (RAM). Environment (all optional):
#   NVMEOE_LOG_DIR      where the log goes (default /var/log): nvmeoe-target-<nqn>.log
#   NVMEOE_PIDFILE      where the PID goes (default: the log path with .pid)
#   NVMEOE_TARGET_ARGS  extra nvmeoe-target flags, e.g. "--allow-host nqn... --readonly"
#   NVMEOE_BIN_DIR      directory holding nvmeoe-target (default: build/bin of this repo, then PATH)
#   NVMEOE_START_TIMEOUT seconds to wait for the target to come up (default 15)
#
# DH-HMAC-CHAP (docs/SECURITY.md), from the environment or key files: one host that must
# authenticate; it is added to the allow-list.
#   NVMEOE_DHCHAP_HOST            that host's NQN
#   NVMEOE_DHCHAP_KEY_FILE        file holding its secret (DHHC-1:xx:...:, from gen-dhchap-key)
#   NVMEOE_DHCHAP_KEY             the secret itself (the file wins when both are set)
#   NVMEOE_DHCHAP_CTRL_KEY_FILE   the controller's secret, for bidirectional authentication
#   NVMEOE_DHCHAP_CTRL_KEY        the same, itself
#   NVMEOE_DHCHAP_HASH            hmac(sha256) (default), hmac(sha384), hmac(sha512)
#   NVMEOE_DHCHAP_DHGROUP         null (default), ffdhe2048 ... ffdhe8192
# Secrets reach nvmeoe-target as files (one given itself through a private temporary file,
# removed once the target has read it), never on its command line.
set -euo pipefail

prog=$(basename "$0")
usage() {
  cat >&2 <<USAGE
usage: $prog NQN IFACE DEV...
  NQN    subsystem NQN to export, e.g. nqn.2014-08.org.example:disk1
  IFACE  Ethernet interface to serve on, e.g. eth0
  DEV    block device, regular file, or mem:SIZE (one or more; namespace IDs in this order)
USAGE
  exit 2
}
# shellcheck source=seed-common.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/seed-common.sh"

[ $# -ge 3 ] || usage
case "$1" in -h|--help) usage ;; esac
NQN=$1
IFACE=$2
shift 2
DEVS=("$@")


[[ $NQN == nqn.* ]] || die "'$NQN' is not an NQN (it must start with 'nqn.')"

# The interface: present in this network namespace and up.
require_iface_up "$IFACE"
MAC=$(ip link show dev "$IFACE" | awk '/link\/(ether|loopback)/ {print $2; exit}')
MTU=$(ip link show dev "$IFACE" | sed -n 's/.* mtu \([0-9]*\).*/\1/p' | head -n1)

human() {  # bytes -> "21.47 GB (20.00 GiB)"
  awk -v b="$1" 'BEGIN {
    split("B kB MB GB TB PB", si, " "); split("B KiB MiB GiB TiB PiB", bi, " ");
    s = b; i = 1; while (s >= 1000 && i < 6) { s /= 1000; i++ }
    t = b; j = 1; while (t >= 1024 && j < 6) { t /= 1024; j++ }
    printf "%.2f %s (%.2f %s)", s, si[i], t, bi[j] }'
}

# The backing devices: each must exist (mem:SIZE needs nothing).
SIZES=()
for dev in "${DEVS[@]}"; do
  case "$dev" in
    mem:*)
      [ -n "${dev#mem:}" ] || die "'$dev': mem: needs a size, e.g. mem:1G"
      SIZES+=("RAM ${dev#mem:}")
      ;;
    *)
      if [ -b "$dev" ]; then
        SIZES+=("block device, $(human "$(blockdev --getsize64 "$dev")")")
      elif [ -f "$dev" ]; then
        SIZES+=("file, $(human "$(stat -L -c %s "$dev")")")
      elif [ -e "$dev" ]; then
        die "backing device '$dev' is neither a block device nor a regular file"
      else
        die "backing device or file '$dev' does not exist"
      fi
      ;;
  esac
done

TARGET=$(find_bin nvmeoe-target)
LOG_DIR=${NVMEOE_LOG_DIR:-/var/log}
mkdir -p "$LOG_DIR" || die "cannot create log directory $LOG_DIR"
tag=$(printf '%s' "$NQN" | tr -c 'A-Za-z0-9._-' '_')
LOG="$LOG_DIR/nvmeoe-target-$tag.log"
PIDFILE=${NVMEOE_PIDFILE:-${LOG%.log}.pid}
touch "$LOG" || die "cannot write log file $LOG"
start_offset=$(stat -c %s "$LOG")

# shellcheck disable=SC2206 # word splitting of the extra flags is intended
EXTRA=(${NVMEOE_TARGET_ARGS:-})

# The secrets, as file paths for nvmeoe-target (seed-common.sh).
secret_dir_if_needed "${NVMEOE_DHCHAP_KEY:-}" "${NVMEOE_DHCHAP_CTRL_KEY:-}"
key=$(secret_file "${NVMEOE_DHCHAP_KEY_FILE:-}" "${NVMEOE_DHCHAP_KEY:-}" key)
ctrl_key=$(secret_file "${NVMEOE_DHCHAP_CTRL_KEY_FILE:-}" "${NVMEOE_DHCHAP_CTRL_KEY:-}" ctrl-key)
AUTH=()
if [ -n "$key" ]; then
  host=${NVMEOE_DHCHAP_HOST:-}
  [[ $host == nqn.* ]] || die "a DH-HMAC-CHAP key needs NVMEOE_DHCHAP_HOST, the NQN of the host it belongs to"
  AUTH+=(--allow-host "$host" --dhchap-key "$host=$key")
  [ -z "$ctrl_key" ] || AUTH+=(--dhchap-ctrl-key "$host=$ctrl_key")
  [ -z "${NVMEOE_DHCHAP_HASH:-}" ] || AUTH+=(--dhchap-hash "$NVMEOE_DHCHAP_HASH")
  [ -z "${NVMEOE_DHCHAP_DHGROUP:-}" ] || AUTH+=(--dhchap-dhgroup "$NVMEOE_DHCHAP_DHGROUP")
elif [ -n "$ctrl_key" ]; then
  die "NVMEOE_DHCHAP_CTRL_KEY needs NVMEOE_DHCHAP_KEY (or _FILE) too"
fi
EXTRA+=("${AUTH[@]}")
{
  echo "--- $(date '+%F %T') $prog: $TARGET --nqn $NQN --iface $IFACE ${EXTRA[*]} ${DEVS[*]}"
} >>"$LOG"
nohup "$TARGET" --nqn "$NQN" --iface "$IFACE" "${EXTRA[@]}" "${DEVS[@]}" >>"$LOG" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PIDFILE"

# Up means: still alive, and the log (this run's part) says it is serving.
new_log() { tail -c +"$((start_offset + 1))" "$LOG"; }
deadline=$((SECONDS + ${NVMEOE_START_TIMEOUT:-15}))
up=0
while [ $SECONDS -lt "$deadline" ]; do
  if ! kill -0 "$PID" 2>/dev/null; then
    rc=0
    wait "$PID" || rc=$?
    echo "$prog: error: nvmeoe-target exited with status $rc during start-up; its log ($LOG):" >&2
    new_log | sed 's/^/  /' >&2
    rm -f "$PIDFILE"
    exit 1
  fi
  if new_log | grep -qi 'serving'; then
    up=1
    break
  fi
  sleep 0.2
done
if [ "$up" != 1 ]; then
  kill -TERM "$PID" 2>/dev/null || true
  rm -f "$PIDFILE"
  echo "$prog: error: nvmeoe-target did not report 'serving' within ${NVMEOE_START_TIMEOUT:-15} s; stopped it. Log ($LOG):" >&2
  new_log | sed 's/^/  /' >&2
  exit 1
fi
# Alive a moment later too (a failure right after start-up is still a failure to start).
sleep 0.3
kill -0 "$PID" 2>/dev/null || { echo "$prog: error: nvmeoe-target died right after start; log: $LOG" >&2; new_log >&2; exit 1; }

echo "nvmeoe target started"
echo "  subsystem NQN: $NQN"
echo "  interface:     $IFACE, MAC $MAC, MTU $MTU"
i=1
for dev in "${DEVS[@]}"; do
  echo "  namespace $i:   $dev (${SIZES[$((i - 1))]})"
  i=$((i + 1))
done
[ ${#EXTRA[@]} -eq 0 ] || echo "  extra flags:   ${EXTRA[*]}"
[ -z "$key" ] || echo "  DH-HMAC-CHAP:  required of $NVMEOE_DHCHAP_HOST${ctrl_key:+ (with a controller key)}"
echo "  PID:           $PID (pid file $PIDFILE)"
echo "  log:           $LOG"
echo "  stop with:     kill $PID"
echo "  hosts connect: nvme-eth-connect.sh HOST_IFACE $MAC $NQN"
