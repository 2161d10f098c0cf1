#!/usr/bin/env bash
# Installs nvmeoe: the programs, their man pages (generated from --help with help2man), bash
# completion, the Wireshark dissector, the systemd units, the helper scripts and the documents.
#   scripts/install.sh                 build dir ./build, PREFIX=/usr/local, units in /etc/systemd/system
#   PREFIX=/opt/nvmeoe DESTDIR=/tmp/stage scripts/install.sh
# Environment: PREFIX, DESTDIR (staging root), BUILD_DIR, UNIT_DIR, WIRESHARK_PLUGIN_DIR (default:
# Wireshark's global Lua plugin folder as `tshark -G folders` names it, else
# $PREFIX/lib/wireshark/plugins), COMPLETION_DIR (default $PREFIX/share/bash-completion/completions).
# Builds first when the binaries are missing. Configuration lives in /etc/nvmeoe (target: NAME.json,
# connections: connect/NAME.conf); run files (locks with their holder's pid, sockets) in /run/nvmeoe.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BUILD_DIR=${BUILD_DIR:-$REPO/build}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
COMPLETION_DIR=${COMPLETION_DIR:-$PREFIX/share/bash-completion/completions}
MAN_DIR=$PREFIX/share/man/man8
BINS=(nvmeoe nvmeoe-target nvmeoe-fault-relay)

if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (or set DESTDIR to stage into a directory)" >&2
  exit 1
fi
command -v help2man >/dev/null || {
  echo "install.sh: help2man is missing (bash scripts/install-deps.sh installs it)" >&2
  exit 1
}
for b in "${BINS[@]}"; do
  if [ ! -x "$BUILD_DIR/bin/$b" ]; then
    echo "install.sh: building ($BUILD_DIR/bin/$b is missing)"
    cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    ninja -C "$BUILD_DIR" "${BINS[@]}"
    break
  fi
done
if [ -z "${WIRESHARK_PLUGIN_DIR:-}" ]; then
  WIRESHARK_PLUGIN_DIR=$(tshark -G folders 2>/dev/null | awk -F'\t' '/^Global Lua Plugins:/ {print $2}' || true)
  [ -n "$WIRESHARK_PLUGIN_DIR" ] || WIRESHARK_PLUGIN_DIR=$PREFIX/lib/wireshark/plugins
fi

install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/share/nvmeoe/scripts" "$DESTDIR$PREFIX/share/doc/nvmeoe" \
  "$DESTDIR$UNIT_DIR" "$DESTDIR/etc/nvmeoe/connect" "$DESTDIR$MAN_DIR" "$DESTDIR$COMPLETION_DIR" \
  "$DESTDIR$WIRESHARK_PLUGIN_DIR"
for b in "${BINS[@]}"; do
  install -m 0755 "$BUILD_DIR/bin/$b" "$DESTDIR$PREFIX/bin/$b"
done
for s in nvmet-eth-setup.sh nvme-eth-connect.sh seed-common.sh netns.sh demo.sh; do
  install -m 0755 "$REPO/scripts/$s" "$DESTDIR$PREFIX/share/nvmeoe/scripts/$s"
done
install -m 0644 "$REPO/README.md" "$DESTDIR$PREFIX/share/doc/nvmeoe/README.md"
install -m 0644 "$REPO/docs/"*.md "$DESTDIR$PREFIX/share/doc/nvmeoe/"

# Man pages from the programs' own --help, so they describe exactly this build. nvmeoe's page
# also carries every subcommand's help.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nv=$BUILD_DIR/bin/nvmeoe
{
  echo "[COMMANDS]"
  "$nv" help | awk '/implemented sub-commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' | while read -r c; do
    echo ".SS $c"
    echo ".nf"
    "$nv" "$c" --help | sed -e 's/\\/\\\\/g' -e 's/^\./\\\&./'
    echo ".fi"
  done
  cat <<'H2M'
[ENVIRONMENT]
.TP
.B NVMEOE_RUN_DIR
Where agents keep their control sockets, info and lock files (default /run/nvmeoe).
.TP
.B NVMEOE_LINK
Default of --link: packet (AF_PACKET) or af_xdp.
.TP
.B NVMEOE_AGENT_LOG
A file for the background agent's log (default: syslog, or <run dir>/agent.log without a syslog socket).
[FILES]
.TP
.B /etc/nvme/hostnqn
The host NQN, as nvme-cli uses it.
.TP
.B /run/nvmeoe
Run directory: nvmeoeN.sock, nvmeoeN.json, nvmeoeN.lock per controller, FUSE mounts under fuse/.
[SEE ALSO]
.BR nvmeoe-target (8),
.BR nvme (1),
and /usr/local/share/doc/nvmeoe/README.md.
H2M
} >"$work/nvmeoe.h2m"
cat >"$work/nvmeoe-target.h2m" <<'H2M'
[FILES]
.TP
.B /etc/nvmeoe/NAME.json
Configuration of the nvmeoe-target@NAME service (nvmetcli layout, trtype "eth").
.TP
.B /run/nvmeoe/target-IFACE-*.lock
One per interface and EtherType served, holding the target's pid.
[SEE ALSO]
.BR nvmeoe (8),
.BR nvmetcli (8).
H2M
help2man -N -s 8 -n "NVMe over raw Ethernet: host commands (nvme-cli compatible)" -I "$work/nvmeoe.h2m" \
  "$nv" -o "$work/nvmeoe.8"
help2man -N -s 8 -n "serve NVMe subsystems over raw Ethernet" -I "$work/nvmeoe-target.h2m" \
  "$BUILD_DIR/bin/nvmeoe-target" -o "$work/nvmeoe-target.8"
install -m 0644 "$work/nvmeoe.8" "$work/nvmeoe-target.8" "$DESTDIR$MAN_DIR/"

install -m 0644 "$REPO/scripts/completion/nvmeoe.bash" "$DESTDIR$COMPLETION_DIR/nvmeoe"
ln -sf nvmeoe "$DESTDIR$COMPLETION_DIR/nvmeoe-target"  # bash-completion loads by command name
install -m 0644 "$REPO/dissector/nvmeoe.lua" "$DESTDIR$WIRESHARK_PLUGIN_DIR/nvmeoe.lua"

# The units name /usr/local/bin; another PREFIX is written into the installed copies.
for u in nvmeoe-target@.service nvmeoe-connect@.service; do
  sed "s|/usr/local/|$PREFIX/|g" "$REPO/systemd/$u" >"$DESTDIR$UNIT_DIR/$u"
  chmod 0644 "$DESTDIR$UNIT_DIR/$u"
done
if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
if [ -z "$DESTDIR" ] && command -v mandb >/dev/null; then mandb -q "$PREFIX/share/man" 2>/dev/null || true; fi
echo "installed nvmeoe into $DESTDIR$PREFIX (man pages in $DESTDIR$MAN_DIR, completion in $DESTDIR$COMPLETION_DIR,"
echo "  dissector in $DESTDIR$WIRESHARK_PLUGIN_DIR, units in $DESTDIR$UNIT_DIR, configuration in $DESTDIR/etc/nvmeoe)"
