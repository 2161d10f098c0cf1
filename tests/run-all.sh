#!/usr/bin/env bash
# The single test command: builds the normal build (build/), an ASan+UBSan build (build-asan/) and
# a ThreadSanitizer build (build-tsan/), runs the unit tests of all three, then every end-to-end test (tests/e2e/e2e_*.sh, then
# tests/fault/relay_smoke.sh and tests/fault/fault_e2e.sh, each bounded; then e2e_rw, e2e_garbage,
# e2e_shutdown and fault_e2e again over the AF_XDP link, NVMEOE_LINK=af_xdp), checks the worked
# examples of docs/PROTOCOL.md and the format of every C++ file (tests/style/check_format.sh), and
# ends with "N passed, M failed". Must run as root (network namespaces, raw sockets).
#
# Environment: E2E_TIMEOUT (seconds per e2e test, default 300; DEMO_E2E_TIMEOUT for e2e_demo, which
# builds a fresh copy of the tree itself, default 900; FAULT_E2E_TIMEOUT for
# tests/fault/fault_e2e.sh, default 420), CTEST_TIMEOUT (per unit test,
# default 120), TESTS_ONLY="e2e_rw e2e_seed" runs only those e2e tests (and skips nothing else).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1

if [ "$(id -u)" != 0 ]; then
  echo "run-all.sh: must run as root: the end-to-end tests create network namespaces and raw sockets" >&2
  echo "run-all.sh: run: sudo bash tests/run-all.sh" >&2
  exit 1
fi

E2E_TIMEOUT=${E2E_TIMEOUT:-300}
CTEST_TIMEOUT=${CTEST_TIMEOUT:-120}
JOBS=$(nproc 2>/dev/null || echo 2)
LOGS="$REPO/build/test-logs"
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log

passed=0
failed=0
failures=()
started=$SECONDS

say() { printf '%s\n' "$*"; }
header() { printf '\n===== %s =====\n' "$*"; }
result() {  # result NAME STATUS [DETAIL]
  local name=$1 rc=$2 detail=${3:-}
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    say "PASS $name${detail:+ ($detail)}"
  else
    failed=$((failed + 1))
    failures+=("$name")
    say "FAIL $name${detail:+ ($detail)}"
  fi
}
show_log_tail() {  # on failure: the end of a log
  say "----- last lines of $1 -----"
  tail -n "${2:-150}" "$1"
  say "----- end of $1 -----"
}

# build DIR NAME CMAKE_ARGS...: configures and builds; returns the status.
# ccache, when installed, keeps the objects: a second build of the same sources with the same flags
# (the fresh copy e2e_demo builds, a rerun) takes seconds. CCACHE_BASEDIR makes the cache keys
# independent of where the tree lies.
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$REPO
fi
build() {
  local dir=$1 name=$2 log="$LOGS/build-$2.log" rc=0
  shift 2
  local t0=$SECONDS
  { cmake -S "$REPO" -B "$REPO/$dir" -G Ninja "${LAUNCHER[@]}" "$@" && ninja -C "$REPO/$dir" -j "$JOBS"; } >"$log" 2>&1 || rc=$?
  # Compiler warnings are errors here (in a build without -Werror, found in the log).
  if [ "$rc" = 0 ] && grep -qE '^[^ :]+:[0-9]+:[0-9]+: warning: ' "$log"; then
    echo "compiler warnings (tests/run-all.sh treats them as errors):" >>"$log"
    grep -E '^[^ :]+:[0-9]+:[0-9]+: warning: ' "$log" | head -n 20 >>"$log"
    rc=1
  fi
  result "build ($name)" "$rc" "$((SECONDS - t0)) s"
  [ "$rc" = 0 ] || show_log_tail "$log" 60
  return "$rc"
}

# unit DIR NAME: runs ctest; each unit test counts as one result.
unit() {
  local dir=$1 name=$2 log="$LOGS/unit-$2.log" rc=0
  local t0=$SECONDS
  (cd "$REPO/$dir" && ctest --output-on-failure --timeout "$CTEST_TIMEOUT" -j "$JOBS") >"$log" 2>&1 || rc=$?
  local total ok bad
  total=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#' "$log" || true)
  ok=$(grep -E '^ *[0-9]+/[0-9]+ Test +#' "$log" | grep -c ' Passed ' || true)
  bad=$((total - ok))
  if [ "$total" = 0 ]; then
    result "unit tests ($name): no tests found" 1
    show_log_tail "$log" 60
    return
  fi
  passed=$((passed + ok))
  failed=$((failed + bad))
  grep -E '^ *[0-9]+/[0-9]+ Test +#' "$log" | grep -v ' Passed ' | sed 's/^ */FAIL unit ('"$name"'): /'
  if [ "$bad" = 0 ] && [ "$rc" != 0 ]; then  # ctest failed without a failing test
    failed=$((failed + 1))
    bad="ctest exited $rc;"
  fi
  if [ "$bad" = 0 ]; then
    say "PASS unit tests ($name): $ok of $total in $((SECONDS - t0)) s"
  else
    failures+=("unit tests ($name): $bad failed of $total")
    say "FAIL unit tests ($name): $ok of $total passed in $((SECONDS - t0)) s"
    show_log_tail "$log" 200
  fi
}

# e2e SCRIPT [LABEL [ENV...]]: runs one end-to-end test, bounded, then checks it left nothing behind.
e2e() {
  local script=$1 label=${2:-$(basename "$1" .sh)}
  shift 2 2>/dev/null || shift $#
  local log="$LOGS/${label// /_}.log" rc=0 t0=$SECONDS
  local tmp pids_file="$LOGS/${label// /_}.pids"
  tmp=$(mktemp -d /tmp/nvmeoe-test.XXXXXX)
  : >"$pids_file"
  env "$@" TMPDIR="$tmp" NETNS_REPORT_PIDS="$pids_file" \
    timeout -k 30 "$E2E_TIMEOUT" bash "$script" >"$log" 2>&1 </dev/null || rc=$?
  local detail="$((SECONDS - t0)) s"
  [ "$rc" = 124 ] && detail="timed out after $E2E_TIMEOUT s"
  # Leftovers: namespaces named after the test's PIDs, processes with its temp dir in their
  # environment, files in its temp dir.
  local leftovers="" pid ns p
  while read -r pid; do
    [ -n "$pid" ] || continue
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E -- "-[thm]-$pid\$"); do
      leftovers+=" namespace $ns;"
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
      ip netns del "$ns" 2>/dev/null
    done
  done <"$pids_file"
  for p in /proc/[0-9]*; do
    if grep -qs -- "TMPDIR=$tmp" "$p/environ" 2>/dev/null; then
      leftovers+=" process ${p#/proc/} ($(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-80));"
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
  if [ -n "$(ls -A "$tmp" 2>/dev/null)" ]; then leftovers+=" files in $tmp: $(ls -A "$tmp" | tr '\n' ' ');"; fi
  rm -rf "$tmp" "$pids_file"
  if [ -n "$leftovers" ]; then
    echo "left behind:$leftovers" >>"$log"
    [ "$rc" = 0 ] && rc=1
    detail+="; left behind:$leftovers"
  fi
  result "$label" "$rc" "$detail"
  [ "$rc" = 0 ] || show_log_tail "$log" 150
}

header "Build"
# Release (-O3), as the demo and an installed build are: GCC warns of things at -O3 that it does
# not see at -O2. Warnings are errors here (build() checks the log), and the flags are exactly the
# demo's, so that e2e_demo's own build of a fresh copy finds its objects in ccache.
build build normal -DCMAKE_BUILD_TYPE=Release
build_rc=$?

header "Unit tests"
if [ "$build_rc" = 0 ]; then
  unit build normal
else
  result "unit tests (normal): not run, the build failed" 1
fi

header "Documentation and style checks"
# The worked examples of docs/PROTOCOL.md, their CRCs recomputed by an independent CRC32C (the unit
# tests compare the same bytes with the encoders).
doc_rc=0
python3 "$REPO/tests/docs/check_protocol_examples.py" >"$LOGS/doc-examples.log" 2>&1 || doc_rc=$?
result "PROTOCOL.md worked examples (independent CRC32C)" "$doc_rc" "$(tail -n 1 "$LOGS/doc-examples.log")"
[ "$doc_rc" = 0 ] || show_log_tail "$LOGS/doc-examples.log" 30
# The code style: every C++ file as .clang-format formats it.
fmt_rc=0
bash "$REPO/tests/style/check_format.sh" >"$LOGS/format.log" 2>&1 || fmt_rc=$?
result "clang-format (.clang-format)" "$fmt_rc" "$(tail -n 1 "$LOGS/format.log")"
[ "$fmt_rc" = 0 ] || show_log_tail "$LOGS/format.log" 30

header "End-to-end tests (network namespaces, build/bin)"
if [ "$build_rc" = 0 ]; then
  for t in "$REPO"/tests/e2e/e2e_*.sh; do
    name=$(basename "$t" .sh)
    if [ -n "${TESTS_ONLY:-}" ] && [[ " $TESTS_ONLY " != *" $name "* ]]; then continue; fi
    if [ "$name" = e2e_demo ]; then
      E2E_TIMEOUT=${DEMO_E2E_TIMEOUT:-900} e2e "$t" "$name"  # builds its own copy first
    else
      e2e "$t" "$name"
    fi
  done
  # Over nvmeoe-fault-relay (three namespaces): the relay alone, then nvmeoe under faults.
  for t in relay_smoke fault_e2e; do
    name=fault_$t
    [ "$t" = fault_e2e ] && name=fault_e2e
    if [ -n "${TESTS_ONLY:-}" ] && [[ " $TESTS_ONLY " != *" $name "* ]]; then continue; fi
    if [ "$name" = fault_e2e ]; then
      E2E_TIMEOUT=${FAULT_E2E_TIMEOUT:-420} e2e "$REPO/tests/fault/$t.sh" "$name"
    else
      e2e "$REPO/tests/fault/$t.sh" "$name"
    fi
  done
  # The data-path suites once more over the AF_XDP link: NVMEOE_LINK sets the default link of the
  # target and of every host command, so the scripts run unchanged (the fault relay and the garbage
  # sender stay on AF_PACKET). Left out: e2e_dissector (tcpdump on the interface does not see the
  # frames the XDP program redirects) and the tests of features above the link (e2e_af_xdp runs
  # both links itself).
  for t in e2e_rw e2e_garbage e2e_shutdown fault_e2e; do
    if [ -n "${TESTS_ONLY:-}" ] && [[ " $TESTS_ONLY " != *" $t "* ]] && [[ " $TESTS_ONLY " != *" $t[af_xdp] "* ]]; then
      continue
    fi
    if [ "$t" = fault_e2e ]; then
      E2E_TIMEOUT=${FAULT_E2E_TIMEOUT:-420} e2e "$REPO/tests/fault/$t.sh" "$t [af_xdp]" NVMEOE_LINK=af_xdp
    else
      e2e "$REPO/tests/e2e/$t.sh" "$t [af_xdp]" NVMEOE_LINK=af_xdp
    fi
  done
else
  result "end-to-end tests: not run, the build failed" 1
fi

header "Sanitizer build (ASan + UBSan)"
# Debug (-O0): the sanitizers find the same bugs, and it compiles about twice as fast as -O2.
build build-asan asan -DNVMEOE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DNVMEOE_WERROR=ON
asan_rc=$?
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "$asan_rc" = 0 ]; then
  unit build-asan asan
  # The data path and the robustness tests once more with sanitized target, agent and CLI:
  # memory errors that do not crash a normal build show up here.
  for t in e2e_rw e2e_garbage; do
    if [ -n "${TESTS_ONLY:-}" ] && [[ " $TESTS_ONLY " != *" $t "* ]]; then continue; fi
    e2e "$REPO/tests/e2e/$t.sh" "$t (asan)" NVMEOE_BIN_DIR="$REPO/build-asan/bin" GARBAGE_FRAMES=2000
  done
  # The floods against a sanitized target: its memory handling under pressure, not its speed.
  if [ -z "${TESTS_ONLY:-}" ] || [[ " $TESTS_ONLY " == *" e2e_flood "* ]]; then
    e2e "$REPO/tests/e2e/e2e_flood.sh" "e2e_flood (asan)" NVMEOE_BIN_DIR="$REPO/build-asan/bin" FLOOD_TRIES=1 FLOOD_CONNECT_MS=10000 FLOOD_PPS=2000 \
      FLOOD_MIN_RATIO=0
  fi
else
  result "unit tests (asan): not run, the sanitizer build failed" 1
fi

header "ThreadSanitizer build"
# The unit tests run host and target loops, control servers and links on threads of their own
# against the test's thread: a data race there fails its test (TSan exits 66 on a report).
build build-tsan tsan -DNVMEOE_TSAN=ON -DCMAKE_BUILD_TYPE=Debug -DNVMEOE_WERROR=ON
tsan_rc=$?
if [ "$tsan_rc" = 0 ]; then
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1} unit build-tsan tsan
else
  result "unit tests (tsan): not run, the ThreadSanitizer build failed" 1
fi

header "Summary ($((SECONDS - started)) s; logs in build/test-logs/)"
for f in "${failures[@]}"; do say "failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
