#!/usr/bin/env bash
# Installs the Debian 12 packages nvmeoe needs to build, test and run its demo. Idempotent: when
# every package is already installed it does nothing (no apt-get update), so reruns are fast.
set -euo pipefail

PACKAGES=(
  build-essential g++ cmake ninja-build pkg-config   # toolchain
  ccache clang-format                                 # rebuilds of the same objects, the format check
  liburing-dev libfuse3-dev fuse3                     # storage backend, FUSE frontend
  libssl-dev                                          # DH-HMAC-CHAP: OpenSSL 3 (hashes, HMAC, DH)
  libgtest-dev libgmock-dev googletest                # unit tests
  libcli11-dev nlohmann-json3-dev libbenchmark-dev    # command lines, JSON, microbenchmarks
  iproute2 tcpdump tshark iputils-ping                # namespaces/veth, captures, dissector tests, ping
  util-linux e2fsprogs procps psmisc xxd jq           # test tooling (setpriv, losetup, mkfs, pgrep, jq)
  help2man man-db bash-completion                     # install.sh: man pages from --help, man, completion
  fio python3                                         # FUSE frontend tests (io_uring verify, fsync)
  qemu-system-x86 busybox-static cpio xz-utils file   # ublk VM test (tests/vm, e2e_ublk_vm.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -E bash "$0" "$@"
  fi
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
echo "install-deps: done"
