#!/usr/bin/env bash
# Installs the Debian 12 packages bench/run.sh needs besides the build ones of
# scripts/install-deps.sh: the peers it measures nvmeoe against (nbdkit for NBD, tgt and libiscsi's
# tools for iSCSI), fio (NBD client and local io_uring limit), iperf3 (TCP link reference) and
# Google Benchmark (microbenchmarks). Idempotent: does nothing when all are installed.
set -euo pipefail

PACKAGES=(
  nbdkit            # NBD server (file plugin)
  fio               # NBD client (--ioengine=nbd) and the local io_uring limit
  tgt               # iSCSI target (tgtd, tgtadm)
  libiscsi-bin      # iSCSI userspace client tools (iscsi-perf, iscsi-inq, iscsi-ls)
  iperf3            # TCP single-stream reference over the same veth
  libbenchmark-dev  # Google Benchmark for bench/micro
  python3           # bench/measure.py (standard library only)
  iproute2 procps jq ccache
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bench/install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "bench/install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi

echo "bench/install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# iperf3 asks whether to start a system-wide daemon: no (the benchmark starts its own, in a namespace).
echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
