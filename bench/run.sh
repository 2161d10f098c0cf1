#!/usr/bin/env bash
# Side-by-side benchmark of nvmeoe against NBD and iSCSI on the same veth link and the same 2 GiB
# tmpfs backing file, with the local storage (fio io_uring on the file) and the link (iperf3, one
# TCP stream) as limits. Run as root on a quiet machine; see bench/README.md.
#
#   bash bench/run.sh [--quick] [--micro] [--seconds N] [--mtu "1500 9000"] [--out DIR]
#                     [--no-deps] [--no-build] [--baseline REV]
#
# Writes DIR/RESULTS.md and DIR/results.json (DIR defaults to bench/). Everything runs in two
# network namespaces joined by a veth pair made by scripts/netns.sh; nothing leaves them. The
# processes it starts, the namespaces and the tmpfs are removed on every exit path.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
BUILD=$REPO/build-bench
MEASURE=(/usr/bin/python3 "$BENCH/measure.py")

SECONDS_PER_POINT=5
# Busy-poll budget of the "nvmeoe-poll" points (both ends), in microseconds: the former default,
# shorter than the 50 µs of the defaults.
POLL_US=10
QUICK=0
MICRO=0
DEPS=1
BUILD_IT=1
MTUS="1500 9000"
OUT=$BENCH
BASELINE=""   # a git revision whose nvmeoe is measured beside this one (QD1 and QD32 4 KiB reads)

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; SECONDS_PER_POINT=2 ;;
    --micro) MICRO=1 ;;
    --seconds) SECONDS_PER_POINT=${2:?--seconds needs a value}; shift ;;
    --mtu) MTUS=${2:?--mtu needs a value}; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --no-deps) DEPS=0 ;;
    --no-build) BUILD_IT=0 ;;
    --baseline) BASELINE=${2:?--baseline needs a git revision}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ $SECONDS_PER_POINT =~ ^[0-9]+$ ]] && ((SECONDS_PER_POINT >= 1 && SECONDS_PER_POINT <= 60)) ||
  { echo "run.sh: --seconds must be 1..60" >&2; exit 2; }
for m in $MTUS; do
  [[ $m =~ ^[0-9]+$ ]] && ((m >= 1280 && m <= 9000)) || { echo "run.sh: MTU '$m' is not 1280..9000" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root (namespaces, raw sockets, tmpfs)" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "run.sh: $*" >&2; exit 1; }
T0=$SECONDS

# --- packages and build --------------------------------------------------------------------------
if ((DEPS)); then bash "$BENCH/install-deps.sh" >&2; fi
for t in nbdkit fio tgtd tgtadm iscsi-perf iperf3 jq /usr/bin/python3; do
  command -v "$t" >/dev/null || die "$t is missing: run bench/install-deps.sh"
done
if ((BUILD_IT)); then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  log "building (RelWithDebInfo) in $BUILD"
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
    -DNVMEOE_TESTS=OFF -DNVMEOE_BENCH=$((MICRO ? 1 : 0)) >/dev/null
  targets=(nvmeoe nvmeoe-target nvmeoe-rawsend)
  ((MICRO)) && targets+=(nvmeoe_micro)
  ninja -C "$BUILD" -j2 "${targets[@]}" >&2
fi
NVMEOE=$BUILD/bin/nvmeoe
TARGET=$BUILD/bin/nvmeoe-target
RAWSEND=$BUILD/bin/nvmeoe-rawsend
[ -x "$NVMEOE" ] && [ -x "$TARGET" ] && [ -x "$RAWSEND" ] || die "$BUILD/bin has no nvmeoe/nvmeoe-target/nvmeoe-rawsend: build first"
# The baseline: the same programs built from another revision, in their own tree and build.
BASE_NVMEOE="" BASE_TARGET="" BASE_REV=""
if [ -n "$BASELINE" ]; then
  BASE_REV=$(git -C "$REPO" rev-parse --short "$BASELINE^{commit}" 2>/dev/null) || die "--baseline $BASELINE: no such revision"
  BASE_SRC=$REPO/build-baseline/src-$BASE_REV
  if [ ! -f "$BASE_SRC/CMakeLists.txt" ]; then
    rm -rf "$BASE_SRC"
    mkdir -p "$BASE_SRC"
    git -C "$REPO" archive "$BASE_REV" | tar -x -C "$BASE_SRC"
  fi
  log "building the baseline $BASE_REV in $REPO/build-baseline"
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Built as the revision's own scripts would (its CMake decides about -Werror).
  cmake -S "$BASE_SRC" -B "$REPO/build-baseline/build-$BASE_REV" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${launcher[@]}" -DNVMEOE_TESTS=OFF >/dev/null
  ninja -C "$REPO/build-baseline/build-$BASE_REV" -j2 nvmeoe nvmeoe-target >&2
  BASE_NVMEOE=$REPO/build-baseline/build-$BASE_REV/bin/nvmeoe
  BASE_TARGET=$REPO/build-baseline/build-$BASE_REV/bin/nvmeoe-target
fi

# --- namespaces, teardown ------------------------------------------------------------------------
# shellcheck source=../scripts/netns.sh
source "$REPO/scripts/netns.sh"
netns_init bnch

TMPFS=""
TGT_PORT=$((20000 + $$ % 10000))   # tgtd's management socket (-C accepts up to 32767): /var/run/tgtd/socket.$TGT_PORT
TGT_PID=""
CUR_PIDS=()   # the point being measured: its tool (under timeout) and the CPU sampler
bench_teardown() {
  local rc=$?
  set +e
  ((${#CUR_PIDS[@]})) && netns_stop_pids "${CUR_PIDS[@]}"
  if [ -n "$TGT_PID" ] && kill -0 "$TGT_PID" 2>/dev/null; then
    # tgtd ignores SIGTERM; it stops when asked through its own socket, once its target (and the
    # sessions a client left) are deleted.
    local tgtadm=(timeout 5 ip netns exec "$NS_T" tgtadm -C "$TGT_PORT")
    "${tgtadm[@]}" --op update --mode sys --name State -v offline >/dev/null 2>&1
    "${tgtadm[@]}" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1
    "${tgtadm[@]}" --op delete --mode system >/dev/null 2>&1
    netns_wait_gone "$TGT_PID" 30
  fi
  netns_teardown
  rm -f "/var/run/tgtd/socket.$TGT_PORT" "/var/run/tgtd/socket.$TGT_PORT.lock"
  if [ -n "$TMPFS" ] && [ -d "$TMPFS" ]; then
    umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS" 2>/dev/null
    rmdir "$TMPFS" 2>/dev/null
  fi
  return $rc
}
trap 'bench_teardown' EXIT
trap 'bench_teardown; trap - EXIT; exit 130' INT
trap 'bench_teardown; trap - EXIT; exit 143' TERM

WORK=$NETNS_TMP/work
mkdir -p "$WORK"
ROWS=$WORK/rows.jsonl
: >"$ROWS"

IP_T=10.99.0.1   # addresses exist only inside the two namespaces of this run
IP_H=10.99.0.2
NQN=nqn.2024-01.io.nvmeoe:bench
IQN=iqn.2024-01.io.nvmeoe:bench

log "2 GiB backing file on a private tmpfs"
TMPFS=$(mktemp -d /tmp/nvmeoe-bench-tmpfs.XXXXXX)
mount -t tmpfs -o size=2100M,mode=0700 nvmeoe-bench "$TMPFS"
FILE=$TMPFS/backing.img
# Written out (not sparse), so reads touch real pages, not the shared zero page.
dd if=/dev/zero of="$FILE" bs=1M count=2048 status=none

first_mtu=${MTUS%% *}
netns_create "$first_mtu"
ip -n "$NS_T" addr add "$IP_T/30" dev "$VETH_T"
ip -n "$NS_H" addr add "$IP_H/30" dev "$VETH_H"
# Background processes are started with `ip netns exec` directly (not through a shell function),
# so that $! is the process itself and stopping it by PID stops the server.
in_t() { ip netns exec "$NS_T" "$@"; }

# wait_for LOG PATTERN PID WHAT: up to 10 s for PATTERN in LOG while PID lives.
wait_for() {
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "$4 exited during start-up"; }
    grep -qiE "$2" "$1" && return 0
    sleep 0.1
  done
  cat "$1" >&2
  die "$4 did not start within 10 s"
}
# wait_port NS PORT PID WHAT LOG: up to 10 s for a TCP listener on PORT in NS.
wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$3" 2>/dev/null || { cat "$5" >&2; die "$4 exited during start-up"; }
    ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
    sleep 0.1
  done
  cat "$5" >&2
  die "$4 is not listening on port $2 after 10 s"
}

SERVERS=()
NVMEOE_TARGET_PID=""
# start_nvmeoe_target MTU [OPTIONS...]
start_nvmeoe_target() {
  local log=$WORK/nvmeoe-target-$1${2:+-${2#--}}.log
  shift
  ip netns exec "$NS_T" "$TARGET" --nqn "$NQN" --iface "$VETH_T" --log-level info "$@" "$FILE" >"$log" 2>&1 </dev/null &
  NVMEOE_TARGET_PID=$!
  netns_track_pid "$NVMEOE_TARGET_PID"
  wait_for "$log" serving "$NVMEOE_TARGET_PID" nvmeoe-target
}
stop_nvmeoe_target() {
  [ -n "$NVMEOE_TARGET_PID" ] || return 0
  netns_stop_pids "$NVMEOE_TARGET_PID"
  wait "$NVMEOE_TARGET_PID" 2>/dev/null || true
  NVMEOE_TARGET_PID=""
}

log "starting nbdkit and tgtd in $NS_T"
SERVERS+=("nbdkit -f -i $IP_T -p 10809 file file=FILE")
ip netns exec "$NS_T" nbdkit -f -i "$IP_T" -p 10809 file file="$FILE" >"$WORK/nbdkit.log" 2>&1 </dev/null &
NBD_PID=$!
netns_track_pid "$NBD_PID"
wait_port "$NS_T" 10809 "$NBD_PID" nbdkit "$WORK/nbdkit.log"

[ -e "/var/run/tgtd/socket.$TGT_PORT" ] && die "/var/run/tgtd/socket.$TGT_PORT exists: another tgtd uses port $TGT_PORT"
ip netns exec "$NS_T" tgtd -f -C "$TGT_PORT" --iscsi "portal=$IP_T:3260" >"$WORK/tgtd.log" 2>&1 </dev/null &
TGT_PID=$!
netns_track_pid "$TGT_PID"
wait_port "$NS_T" 3260 "$TGT_PID" tgtd "$WORK/tgtd.log"
tgtcmd() { in_t timeout 10 tgtadm -C "$TGT_PORT" --lld iscsi "$@"; }
tgtcmd --op new --mode target --tid 1 -T "$IQN"
tgtcmd --op new --mode logicalunit --tid 1 --lun 1 -b "$FILE"
tgtcmd --op bind --mode target --tid 1 -I "$IP_H"
SERVERS+=("tgtd -f -C PORT --iscsi portal=$IP_T:3260"
  "tgtadm -C PORT --lld iscsi --op new --mode target --tid 1 -T $IQN"
  "tgtadm -C PORT --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b FILE  (backing store rdwr, the default)"
  "tgtadm -C PORT --lld iscsi --op bind --mode target --tid 1 -I $IP_H"
  "build-bench/bin/nvmeoe-target --nqn $NQN --iface VETH_T --log-level info FILE  (restarted for each MTU)"
  "build-bench/bin/nvmeoe-target --nqn $NQN --iface VETH_T --log-level info --poll-us $POLL_US FILE  (for the nvmeoe-poll points)"
  "build-bench/bin/nvmeoe-target --nqn $NQN --iface VETH_T --log-level info --link af_xdp FILE  (for the nvmeoe-xdp points)")

# --- one measured point ----------------------------------------------------------------------------
T=$SECONDS_PER_POINT
# The CPU window: after start-up, before the end.
WIN_DELAY=$(awk -v t="$T" 'BEGIN { d = t * 0.2; if (d < 0.5) d = 0.5; if (d > 1.0) d = 1.0; print d }')
WIN_LEN=$(awk -v t="$T" -v d="$WIN_DELAY" 'BEGIN { print t - d - 0.4 }')
POINT=0
BUDGET_S=${NVMEOE_BENCH_BUDGET_S:-720}   # points not started by then are skipped (the points < 13 min)
T_POINTS=$SECONDS                          # the budget counts from the first point, not the builds

# point KIND PEER WORKLOAD MTU QD -- CMD...: runs CMD (bounded), samples the CPU window meanwhile,
# appends a row to $ROWS.
point() {
  local kind=$1 peer=$2 wl=$3 mtu=$4 qd=$5
  shift 6
  POINT=$((POINT + 1))
  local out=$WORK/p$POINT.out win=$WORK/p$POINT.win rc=0
  if ((SECONDS - T_POINTS > BUDGET_S)); then
    # The whole run stays bounded even when points hang until their timeout.
    log "MTU $mtu $peer $wl: skipped, the run's ${BUDGET_S} s budget is spent"
    echo "skipped: the run's ${BUDGET_S} s budget was spent before this point" >"$out"
    rc=125
  else
    log "MTU $mtu $peer $wl"
    timeout $((T + 20)) "$@" >"$out" 2>"$out.err" </dev/null &
    local pid=$!
    "${MEASURE[@]}" window --root $$ --delay "$WIN_DELAY" --length "$WIN_LEN" --out "$win" &
    local wpid=$!
    CUR_PIDS=("$pid" "$wpid")
    wait "$pid" || rc=$?
    wait "$wpid" || true
    CUR_PIDS=()
    [ "$rc" = 0 ] || { log "  exit status $rc: $(tail -c 400 "$out.err" "$out" | tr '\n' ' ')"; }
  fi
  local shown="$*"
  shown=${shown//$REPO\//}
  shown=${shown//$FILE/FILE}
  shown=${shown//$NS_T/NS_T}
  shown=${shown//$NS_H/NS_H}
  shown=${shown//$VETH_H/VETH_H}
  shown=${shown//$VETH_T/VETH_T}
  shown=${shown//$MAC_T/MAC_T}
  shown=${shown//$MAC_H/MAC_H}
  "${MEASURE[@]}" row --kind "$kind" --peer "$peer" --workload "$wl" --mtu "$mtu" --seconds "$T" --qd "$qd" \
    --rc "$rc" --output "$out" --window "$win" --cmd "$shown" >>"$ROWS"
  jq -r '"  " + (if .ok then "IOPS \(.iops // "-" | tostring | .[0:9])  MiB/s \(.mib_s | tostring | .[0:8])  p50 \(.lat_p50_us // "-" | tostring | .[0:7]) us  CPU-s/GiB \(.cpu_s_per_gib // "-" | tostring | .[0:6])\(if .foreign_load then "  [foreign load]" else "" end)" else "FAILED: \(.error)" end)' \
    < <(tail -n1 "$ROWS") >&2
}

# Workload table: name, nvmeoe -w, fio --rw, I/O bytes, queue depth.
WORKLOADS=(
  "rr4k_qd1 randread randread 4096 1"
  "rr4k_qd32 randread randread 4096 32"
  "rw4k_qd32 randwrite randwrite 4096 32"
  "r128k_qd8 read read 131072 8"
  "w128k_qd8 write write 131072 8"
)

# --lat_percentiles: percentiles of the whole latency (submission to completion), as nvmeoe perf
# reports them; fio's default clat percentiles leave out the submission, which for the nbd engine
# holds most of the time.
fio_common=(--name=bench --time_based "--runtime=$T" --output-format=json --numjobs=1 --thread --lat_percentiles=1)

# --- local limit (once: the link plays no part) ----------------------------------------------------
LOCAL_DIRECT=1
in_t fio --name=probe --filename="$FILE" --ioengine=io_uring --direct=1 --rw=read --bs=4k --size=1m \
  --output=/dev/null >/dev/null 2>&1 || LOCAL_DIRECT=0
for w in "${WORKLOADS[@]}"; do
  read -r name nvw fiow bs qd <<<"$w"
  point fio local "$name" 0 "$qd" -- ip netns exec "$NS_T" fio "${fio_common[@]}" --filename="$FILE" \
    --ioengine=io_uring --direct=$LOCAL_DIRECT --size=2g --rw="$fiow" --bs="$bs" --iodepth="$qd"
done

# --- per MTU: nvmeoe, NBD, iSCSI, iperf3 -----------------------------------------------------------
for mtu in $MTUS; do
  ip -n "$NS_T" link set "$VETH_T" mtu "$mtu"
  ip -n "$NS_H" link set "$VETH_H" mtu "$mtu"
  # nvmeoe-target sizes its frames from the interface MTU when it starts.
  stop_nvmeoe_target
  start_nvmeoe_target "$mtu"
  for w in "${WORKLOADS[@]}"; do
    read -r name nvw fiow bs qd <<<"$w"
    point nvmeoe nvmeoe "$name" "$mtu" "$qd" -- ip netns exec "$NS_H" "$NVMEOE" perf -a "$MAC_T" -n "$NQN" \
      --host-iface "$VETH_H" -q "$qd" -o "$bs" -w "$nvw" -t "$T" --json
    point fio nbd "$name" "$mtu" "$qd" -- ip netns exec "$NS_H" fio "${fio_common[@]}" --ioengine=nbd \
      --uri="nbd://$IP_T/" --rw="$fiow" --bs="$bs" --iodepth="$qd"
  done
  # Two I/O queues with 16 commands each: the same 32 in flight as rr4k_qd32.
  point nvmeoe nvmeoe rr4k_qd32_i2 "$mtu" 32 -- ip netns exec "$NS_H" "$NVMEOE" perf -a "$MAC_T" -n "$NQN" \
    --host-iface "$VETH_H" -i 2 -q 16 -o 4096 -w randread -t "$T" --json
  # What the data digest costs: the same without it (the header CRC stays, it cannot be turned off).
  for w in "rr4k_qd32 randread 4096 32" "r128k_qd8 read 131072 8"; do
    read -r name nvw bs qd <<<"$w"
    point nvmeoe nvmeoe-nodd "$name" "$mtu" "$qd" -- ip netns exec "$NS_H" "$NVMEOE" perf -a "$MAC_T" -n "$NQN" \
      --host-iface "$VETH_H" -q "$qd" -o "$bs" -w "$nvw" -t "$T" --no-data-digest --json
  done
  if [ -n "$BASELINE" ]; then
    # The baseline revision's target and host, with their defaults, on the same link and file.
    stop_nvmeoe_target
    TARGET_SAVED=$TARGET
    TARGET=$BASE_TARGET
    start_nvmeoe_target "$mtu"
    TARGET=$TARGET_SAVED
    for w in "rr4k_qd1 randread 4096 1" "rr4k_qd32 randread 4096 32" "r128k_qd8 read 131072 8"; do
      read -r name nvw bs qd <<<"$w"
      point nvmeoe baseline "$name" "$mtu" "$qd" -- ip netns exec "$NS_H" "$BASE_NVMEOE" perf -a "$MAC_T" \
        -n "$NQN" --host-iface "$VETH_H" -q "$qd" -o "$bs" -w "$nvw" -t "$T" --json
    done
  fi
  # The same with a bounded busy poll on both ends before either sleeps.
  stop_nvmeoe_target
  start_nvmeoe_target "$mtu" --poll-us "$POLL_US"
  for w in "${WORKLOADS[@]}"; do
    read -r name nvw fiow bs qd <<<"$w"
    point nvmeoe nvmeoe-poll "$name" "$mtu" "$qd" -- ip netns exec "$NS_H" "$NVMEOE" perf -a "$MAC_T" -n "$NQN" \
      --host-iface "$VETH_H" -q "$qd" -o "$bs" -w "$nvw" -t "$T" --poll-us "$POLL_US" --json
  done
  point nvmeoe nvmeoe-poll rr4k_qd32_i2 "$mtu" 32 -- ip netns exec "$NS_H" "$NVMEOE" perf -a "$MAC_T" \
    -n "$NQN" --host-iface "$VETH_H" -i 2 -q 16 -o 4096 -w randread -t "$T" --poll-us "$POLL_US" --json
  # The same defaults over the AF_XDP link on both ends.
  stop_nvmeoe_target
  start_nvmeoe_target "$mtu" --link af_xdp
  for w in "${WORKLOADS[@]}"; do
    read -r name nvw fiow bs qd <<<"$w"
    point nvmeoe nvmeoe-xdp "$name" "$mtu" "$qd" -- ip netns exec "$NS_H" "$NVMEOE" perf -a "$MAC_T" -n "$NQN" \
      --host-iface "$VETH_H" -q "$qd" -o "$bs" -w "$nvw" -t "$T" --link af_xdp --json
  done
  stop_nvmeoe_target   # no spinning target during the iSCSI, iperf3 and raw frame points
  # The link's bare frame rate: full-size frames from the target namespace (as read data flows)
  # into a receive ring in the host namespace, nothing else running. The receiver is the measured
  # command; the sender floods until the timeout stops it.
  ip netns exec "$NS_T" timeout $((T + 3)) "$RAWSEND" --iface "$VETH_T" --dst "$MAC_H" --mode flood --size "$mtu" \
    --count 100000000 >"$WORK/flood-$mtu.log" 2>&1 </dev/null &
  fpid=$!
  netns_track_pid "$fpid"
  point rawlink rawlink frames "$mtu" 1 -- ip netns exec "$NS_H" "$RAWSEND" --iface "$VETH_H" --receive "$T"
  netns_stop_pids "$fpid"
  wait "$fpid" 2>/dev/null || true
  # iscsi-perf reads only (READ16), random (-r) or sequential, with -m requests in flight and -b
  # blocks of 512 bytes each.
  point iscsi iscsi rr4k_qd1 "$mtu" 1 -- ip netns exec "$NS_H" iscsi-perf -t "$T" -m 1 -b 8 -r \
    "iscsi://$IP_T/$IQN/1"
  point iscsi iscsi rr4k_qd32 "$mtu" 32 -- ip netns exec "$NS_H" iscsi-perf -t "$T" -m 32 -b 8 -r \
    "iscsi://$IP_T/$IQN/1"
  point iscsi iscsi r128k_qd8 "$mtu" 8 -- ip netns exec "$NS_H" iscsi-perf -t "$T" -m 8 -b 256 \
    "iscsi://$IP_T/$IQN/1"
  # The link: one TCP stream, client in the host namespace, as the data of a read flows.
  ip netns exec "$NS_T" timeout $((T + 30)) iperf3 -s -1 -B "$IP_T" >"$WORK/iperf3-s-$mtu.log" 2>&1 </dev/null &
  ipid=$!
  netns_track_pid "$ipid"
  wait_port "$NS_T" 5201 "$ipid" "iperf3 server" "$WORK/iperf3-s-$mtu.log"
  point iperf iperf3 tcp "$mtu" 1 -- ip netns exec "$NS_H" iperf3 -c "$IP_T" -R -t "$T" -J
  netns_stop_pids "$ipid"   # already gone after serving one client; not when the point was skipped
  wait "$ipid" 2>/dev/null || true
done
stop_nvmeoe_target

# --- microbenchmarks ----------------------------------------------------------------------------------
MICRO_JSON=""
if ((MICRO)); then
  log "microbenchmarks"
  MICRO_JSON=$WORK/micro.json
  min_time=0.5
  ((QUICK)) && min_time=0.05
  timeout 300 "$BUILD/bin/nvmeoe_micro" --benchmark_min_time="$min_time" --benchmark_out="$MICRO_JSON" \
    --benchmark_out_format=json >&2 || log "nvmeoe_micro failed"
fi

# --- report ----------------------------------------------------------------------------------------------
ver() { "$@" 2>&1 | head -n1 | tr -d '\r' || true; }
dirty=""
git -C "$REPO" diff --quiet HEAD 2>/dev/null || dirty=" (with uncommitted changes)"
notes=(
  "iSCSI: iscsi-perf (libiscsi-bin) issues only READ16 and reports only average IOPS: 4 KiB randwrite and 128 KiB write are not measured, latency percentiles are not available, and the mean latency shown (~) is derived from Little's law (queue depth / IOPS). Its random offsets are any 512-byte block, not 4 KiB-aligned. Debian's fio has no libiscsi engine."
  "NBD and nvmeoe are measured with different clients (fio's nbd engine, nvmeoe perf); both keep the stated number of I/Os in flight on one connection/queue, and both latencies are per I/O from submission to completion."
  "Local limit: fio io_uring in the target namespace on the same file, direct=$LOCAL_DIRECT (O_DIRECT $([ "$LOCAL_DIRECT" = 1 ] && echo accepted || echo refused) by the tmpfs), measured once for both MTUs."
  "Link reference: iperf3, one TCP stream from the target namespace to the host namespace (-R), as the data of a read flows; its CPU-s/GiB is the cost of moving bytes over TCP alone."
  "Raw frame limit: nvmeoe-rawsend --mode flood (sendmmsg of one prebuilt full-size frame, batches of 64) in the target namespace into nvmeoe-rawsend --receive (the same PACKET_MMAP receive ring as nvmeoe) in the host namespace; frames/s counted by the receiver. nvmeoe's frames/s count both directions of the host's link (nvmeoe perf --json)."
)
hostname_facts=$(jq -n --arg kernel "$(uname -r)" \
  --arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
  --argjson cpus "$(nproc)" \
  --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)" \
  '{kernel: $kernel, cpu: $cpu, cpus: $cpus, mem: $mem}')
jq -n --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
  --arg git "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty" \
  --argjson host "$hostname_facts" --argjson seconds "$T" --argjson quick "$QUICK" \
  --arg fio "$(ver fio --version)" --arg nbdkit "$(ver nbdkit --version)" \
  --arg tgtd "$(ver tgtd -V)" --arg iperf3 "$(ver iperf3 --version)" \
  --arg libiscsi "$(dpkg-query -W -f='${Version}' libiscsi-bin 2>/dev/null || echo unknown)" \
  --arg wall "$((SECONDS - T0))" --arg baseline "$BASE_REV" \
  --argjson notes "$(printf '%s\n' "${notes[@]}" | jq -R . | jq -s .)" \
  --argjson servers "$(printf '%s\n' "${SERVERS[@]}" | jq -R . | jq -s .)" \
  '{date: $date, git: $git, host: $host, seconds: $seconds, quick: ($quick == 1), wall_seconds: ($wall | tonumber),
    baseline: $baseline,
    versions: {fio: $fio, nbdkit: $nbdkit, tgtd: $tgtd, iperf3: $iperf3, "libiscsi-bin": $libiscsi},
    notes: $notes, servers: $servers}' >"$WORK/meta.json"
"${MEASURE[@]}" report --rows "$ROWS" --meta "$WORK/meta.json" ${MICRO_JSON:+--micro "$MICRO_JSON"} \
  --json "$OUT/results.json" --md "$OUT/RESULTS.md"
log "done in $((SECONDS - T0)) s: $OUT/RESULTS.md, $OUT/results.json"
failed=$(jq -s '[.[] | select(.ok | not)] | length' "$ROWS")
if [ "$failed" != 0 ]; then
  log "$failed point(s) failed (see RESULTS.md)"
  exit 1
fi
