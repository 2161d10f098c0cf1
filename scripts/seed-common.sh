# shellcheck shell=bash
# What nvmet-eth-setup.sh and nvme-eth-connect.sh share; sourced by both (installed beside them).
# The caller sets `prog` (its name for messages) before sourcing.

die() { echo "$prog: error: $*" >&2; exit 1; }

seed_repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# The program NAME: $NVMEOE_BIN_DIR, this tree's build/bin, or PATH.
find_bin() {
  local name=$1
  if [ -n "${NVMEOE_BIN_DIR:-}" ] && [ -x "$NVMEOE_BIN_DIR/$name" ]; then echo "$NVMEOE_BIN_DIR/$name"; return; fi
  if [ -x "$seed_repo/build/bin/$name" ]; then echo "$seed_repo/build/bin/$name"; return; fi
  command -v "$name" 2>/dev/null || die "$name not found: build it first (cmake -S . -B build -G Ninja && ninja -C build) or put it in PATH"
}

# The interface IF is present in this network namespace and up.
require_iface_up() {
  local iface=$1
  if ! ip link show dev "$iface" >/dev/null 2>&1; then
    die "network interface '$iface' not found (interfaces here: $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | tr '\n' ' '))"
  fi
  if ! ip link show dev "$iface" | head -n1 | grep -q '[<,]UP[,>]'; then
    die "network interface '$iface' is down (bring it up: ip link set $iface up)"
  fi
}

# Secrets given as text go to files in a private directory (mode 0700), removed on exit, so that
# they never appear on a command line. secret_dir_if_needed TEXT... makes the directory when any
# TEXT is set; it runs in the script's shell, so that the trap is the script's.
seed_tmpdir=""
secret_dir_if_needed() {
  local t
  for t in "$@"; do
    if [ -n "$t" ]; then
      seed_tmpdir=$(umask 077 && mktemp -d)
      trap 'rm -rf "$seed_tmpdir"' EXIT
      return
    fi
  done
}
# secret_file FILE TEXT NAME: FILE when set (it must be readable), else TEXT written to a file of
# the private directory, else nothing. Prints the path.
secret_file() {
  local file=$1 text=$2 name=$3
  if [ -n "$file" ]; then
    [ -r "$file" ] || die "$name: cannot read $file"
    echo "$file"
  elif [ -n "$text" ]; then
    (umask 077 && printf '%s\n' "$text" >"$seed_tmpdir/$name")
    echo "$seed_tmpdir/$name"
  fi
}
