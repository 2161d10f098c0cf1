#!/usr/bin/env bash
# Profiles one nvmeoe workload across a private veth pair: nvmeoe-target in one namespace serving a
# 2 GiB file on /dev/shm, `nvmeoe perf` in the other, either side optionally run under a tool.
#
#   sudo bash bench/profile.sh [options]
#     --mtu N            interface MTU (default 1500)
#     -w W -o BYTES -q QD   perf workload, I/O size, queue depth (default randread 4096 1)
#     --bytes N          stop perf after N bytes (default 64M); -t S  time limit (default 20)
#     --target-tool "CMD"   prefix for nvmeoe-target, e.g. "valgrind --tool=callgrind --callgrind-out-file=/tmp/t.cg"
#     --host-tool "CMD"     prefix for nvmeoe perf, e.g. "strace -c -f -o /tmp/h.strace"
#     --target-args "..."   extra nvmeoe-target options (e.g. --poll-us 50)
#     --perf-args "..."     extra nvmeoe perf options (e.g. --poll-us 50)
#     --build DIR        where bin/nvmeoe and bin/nvmeoe-target are (default build)
#     --repeat N         run perf N times against the same target (default 1)
#     --backing SPEC     what the target serves instead of the 2 GiB /dev/shm file (e.g. mem:2G)
# Prints perf's JSON per run, the link counters (frames each way) and the target's log tail.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
MTU=1500 W=randread BS=4096 QD=1 BYTES=64M T=20 TTOOL="" HTOOL="" TARGS="" PARGS="" BUILD=$REPO/build REPEAT=1 BACKING=
while (($#)); do
  case $1 in
    --mtu) MTU=$2; shift 2 ;;
    -w) W=$2; shift 2 ;;
    -o) BS=$2; shift 2 ;;
    -q) QD=$2; shift 2 ;;
    --bytes) BYTES=$2; shift 2 ;;
    -t) T=$2; shift 2 ;;
    --target-tool) TTOOL=$2; shift 2 ;;
    --host-tool) HTOOL=$2; shift 2 ;;
    --target-args) TARGS=$2; shift 2 ;;
    --perf-args) PARGS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --backing) BACKING=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for b in nvmeoe nvmeoe-target; do
  [ -x "$BUILD/bin/$b" ] || { echo "error: $BUILD/bin/$b not found: build it first (ninja -C build $b)" >&2; exit 2; }
done
for v in "$MTU" "$QD" "$BS" "$T" "$REPEAT"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "error: '$v' is not a number" >&2; exit 2; }
done
# shellcheck source=../scripts/netns.sh
source "$REPO/scripts/netns.sh"
netns_init prof
FILE=/dev/shm/nvmeoe-prof-$$.img
netns_on_cleanup "rm -f $FILE"
# A real 2 GiB file (written, not sparse), so reads copy real pages.
if [ -n "$BACKING" ]; then
  FILE=$BACKING
else
  dd if=/dev/zero of="$FILE" bs=1M count=2048 status=none
fi
netns_create "$MTU"
NQN=nqn.2026-01.io.nvmeoe:prof
LOG=$NETNS_TMP/target.log
# shellcheck disable=SC2086
ip netns exec "$NS_T" $TTOOL "$BUILD/bin/nvmeoe-target" --nqn "$NQN" --iface "$VETH_T" --log-level info $TARGS "$FILE" \
  >"$LOG" 2>&1 </dev/null &
TPID=$!
netns_track_pid "$TPID"
for _ in $(seq 1 600); do grep -q serving "$LOG" && break; sleep 0.1; done
grep -q serving "$LOG" || { cat "$LOG"; echo "target did not start" >&2; exit 1; }
stats() { ip netns exec "$1" cat /sys/class/net/"$2"/statistics/tx_packets /sys/class/net/"$2"/statistics/rx_packets | tr '\n' ' '; }
for r in $(seq 1 "$REPEAT"); do
  before=$(stats "$NS_H" "$VETH_H")
  # shellcheck disable=SC2086
  timeout $((T + 120)) ip netns exec "$NS_H" $HTOOL "$BUILD/bin/nvmeoe" perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" \
    -q "$QD" -o "$BS" -w "$W" -t "$T" --bytes "$BYTES" --json $PARGS
  after=$(stats "$NS_H" "$VETH_H")
  read -r tx0 rx0 <<<"$before"
  read -r tx1 rx1 <<<"$after"
  echo "run $r: host veth frames sent $((tx1 - tx0)), received $((rx1 - rx0))"
done
# Let the target write its profile on an orderly stop.
# (under strace or perf the target is the tool's child: signal it, so the tool sees it exit)
TCHILD=$(ps -o pid= --ppid "$TPID" | head -1 | tr -d " " || true)
kill -INT "${TCHILD:-$TPID}" 2>/dev/null || true
for _ in $(seq 1 300); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
tail -5 "$LOG"
