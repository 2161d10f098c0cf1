#!/usr/bin/env bash
# Builds the initramfs of the ublk VM test (uncompressed newc cpio):
#   busybox-static and its applets, the statically linked nvmeoe, mkfs.ext4 and fio with their
#   shared libraries (found with ldd), the kernel modules of kernel.sh (still xz-compressed:
#   /init decompresses them for insmod), /init and the guest test script.
#   tests/vm/mkinitramfs.sh KERNEL_DIR NVMEOE_STATIC_BINARY OUTPUT.cpio
set -euo pipefail

KDIR=${1:?usage: mkinitramfs.sh KERNEL_DIR NVMEOE OUTPUT}
NVMEOE=${2:?}
OUT=${3:?}
HERE=$(cd "$(dirname "$0")" && pwd)

die() {
  echo "mkinitramfs.sh: $*" >&2
  exit 1
}

BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && file -L "$BUSYBOX" | grep -q 'statically linked' ||
  die "$BUSYBOX is missing or not static (apt-get install busybox-static)"
file -L "$NVMEOE" | grep -q 'statically linked' || die "$NVMEOE is not statically linked (build with -DNVMEOE_STATIC=ON)"
for b in /usr/bin/fio /usr/sbin/mke2fs; do [ -x "$b" ] || die "$b is missing (scripts/install-deps.sh)"; done

root=$(mktemp -d "${TMPDIR:-/tmp}/nvmeoe-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,lib64,modules,usr/bin,usr/sbin}
cp "$BUSYBOX" "$root/bin/busybox"
for a in $("$BUSYBOX" --list); do
  [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done

# Dynamic binaries with their libraries at the same paths.
copy_with_libs() {
  local bin=$1 dest=$2 lib
  cp -L "$bin" "$root$dest"
  for lib in $(ldd "$bin" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
copy_with_libs /usr/bin/fio /usr/bin/fio
copy_with_libs /usr/sbin/mke2fs /usr/sbin/mke2fs
ln -sf mke2fs "$root/usr/sbin/mkfs.ext4"
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$root/etc/"
cp "$NVMEOE" "$root/usr/bin/nvmeoe"

cp "$KDIR"/modules/*.ko.xz "$root/modules/"
cp "$KDIR/modules.order" "$root/modules/order"
cp "$HERE/init" "$root/init"
cp "$HERE/ublk_guest.sh" "$root/test.sh"
chmod 755 "$root/init" "$root/test.sh"

(cd "$root" && find . | cpio -o -H newc --quiet) >"$OUT" || die "cpio failed"
