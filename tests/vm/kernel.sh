#!/usr/bin/env bash
# Fetches Debian's 6.12 kernel (which has ublk_drv) into a cache directory without installing it:
# `apt-get download` of the package linux-image-6.12-amd64 depends on, `dpkg-deb -x`, and keeps
# vmlinuz plus the modules the VM test loads. Later runs reuse the cache.
#   tests/vm/kernel.sh CACHE_DIR   -> prints the directory holding vmlinuz and modules/*.ko.xz
# Exits non-zero with a message when the package cannot be found or downloaded.
set -euo pipefail

CACHE=${1:?usage: kernel.sh CACHE_DIR}
META=linux-image-6.12-amd64
# Modules the guest loads, in dependency order (checked with the modules' depends= fields).
MODULES=(
  drivers/block/ublk_drv
  net/core/failover drivers/net/net_failover drivers/net/virtio_net
  lib/crc16 crypto/crc32c_generic fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4
)

die() {
  echo "kernel.sh: $*" >&2
  exit 1
}

pkg=$(apt-cache depends "$META" 2>/dev/null | awk '/Depends: linux-image-6\.12/ {print $2; exit}') || true
if [ -z "$pkg" ]; then
  # No apt metadata (lists removed): a kernel fetched earlier still serves.
  cached=$(ls -d "$CACHE"/linux-image-6.12.*/ 2>/dev/null | tail -n1)
  if [ -n "$cached" ] && [ -f "$cached/vmlinuz" ] && [ -f "$cached/modules.order" ]; then
    echo "${cached%/}"
    exit 0
  fi
fi
[ -n "$pkg" ] || die "cannot resolve $META to a kernel package (apt-cache depends $META; is bookworm-security in the apt sources, and apt-get update done?)"
dir="$CACHE/$pkg"
if [ -f "$dir/vmlinuz" ] && [ -f "$dir/modules.order" ]; then
  echo "$dir"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nvmeoe-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt-get download drops privileges to _apt when it can
(cd "$work" && timeout 300 apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
deb=$(ls "$work"/*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
dpkg-deb -x "$deb" "$work/x" || die "dpkg-deb -x $deb failed"
kver=${pkg#linux-image-}
mkdir -p "$dir.tmp/modules"
cp "$work/x/boot/vmlinuz-$kver" "$dir.tmp/vmlinuz" || die "no vmlinuz-$kver in $pkg"
: >"$dir.tmp/modules.order"
for m in "${MODULES[@]}"; do
  src="$work/x/lib/modules/$kver/kernel/$m.ko.xz"
  [ -f "$src" ] || die "$pkg has no $m.ko.xz"
  cp "$src" "$dir.tmp/modules/"
  basename "$m" >>"$dir.tmp/modules.order"
done
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
