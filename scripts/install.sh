#!/usr/bin/env bash
# Installs nvmeoe: the programs, the helper scripts, the systemd units and the documentation.
#   scripts/install.sh                 build dir ./build, PREFIX=/usr/local, units in /etc/systemd/system
#   PREFIX=/opt/nvmeoe DESTDIR=/tmp/stage scripts/install.sh
# Environment: PREFIX, DESTDIR (staging root), BUILD_DIR, UNIT_DIR. Builds first when the binaries
# are missing. Configuration lives in /etc/nvmeoe (target: NAME.json, connections: connect/NAME.conf).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BUILD_DIR=${BUILD_DIR:-$REPO/build}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
BINS=(nvmeoe nvmeoe-target nvmeoe-fault-relay)

if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (or set DESTDIR to stage into a directory)" >&2
  exit 1
fi
for b in "${BINS[@]}"; do
  if [ ! -x "$BUILD_DIR/bin/$b" ]; then
    echo "install.sh: building ($BUILD_DIR/bin/$b is missing)"
    cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    ninja -C "$BUILD_DIR" "${BINS[@]}"
    break
  fi
done

install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/share/nvmeoe/scripts" "$DESTDIR$PREFIX/share/doc/nvmeoe" \
  "$DESTDIR$UNIT_DIR" "$DESTDIR/etc/nvmeoe/connect"
for b in "${BINS[@]}"; do
  install -m 0755 "$BUILD_DIR/bin/$b" "$DESTDIR$PREFIX/bin/$b"
done
for s in nvmet-eth-setup.sh nvme-eth-connect.sh netns.sh demo.sh; do
  install -m 0755 "$REPO/scripts/$s" "$DESTDIR$PREFIX/share/nvmeoe/scripts/$s"
done
install -m 0644 "$REPO/README.md" "$DESTDIR$PREFIX/share/doc/nvmeoe/README.md"
install -m 0644 "$REPO/docs/"*.md "$DESTDIR$PREFIX/share/doc/nvmeoe/"
# The units name /usr/local/bin; another PREFIX is written into the installed copies.
for u in nvmeoe-target@.service nvmeoe-connect@.service; do
  sed "s|/usr/local/|$PREFIX/|g" "$REPO/systemd/$u" >"$DESTDIR$UNIT_DIR/$u"
  chmod 0644 "$DESTDIR$UNIT_DIR/$u"
done
if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
echo "installed nvmeoe into $DESTDIR$PREFIX (units in $DESTDIR$UNIT_DIR, configuration in $DESTDIR/etc/nvmeoe)"
