#!/usr/bin/env bash
# ublk across two kernels: this machine's kernel has no ublk, so a QEMU VM (TCG, Debian's 6.12
# kernel fetched by tests/vm/kernel.sh, busybox initramfs from tests/vm/mkinitramfs.sh) runs the
# host side. The nvmeoe-target runs here, in a private network namespace, on the tap device that
# QEMU's virtio-net uses, with two namespaces backed by files on a private tmpfs. Inside the VM,
# tests/vm/ublk_guest.sh connects with the default frontend (auto -> ublk), checks /dev/ublkb0 and
# /dev/ublkb1 (sizes, ext4 round trip, 64 MiB direct I/O, discard, fio with verification),
# disconnects, connects again and SIGKILLs the agent under I/O. This script checks the per-step
# PASS/FAIL lines of the VM console and the end marker. tests/vm/README.md has the details.
source "$(dirname "$0")/lib.sh"

VM_TIMEOUT=${VM_TIMEOUT:-210}       # seconds for the whole VM run
KERNEL_CACHE=${NVMEOE_VM_KERNEL_CACHE:-$REPO/build/vm-kernel}
NQN=nqn.2024-01.io.nvmeoe:e2e-ublk-vm
SIZE1=$((64 << 20))
SIZE2=$((96 << 20))
STEPS="ublk_module connect sizes ext4 dd_direct_64m discard fio_verify disconnect reconnect disconnect_under_io reconnect_term term_agent reconnect2 kill_agent after_kill"

e2e_init ubvm
for t in qemu-system-x86_64 cpio xz fio mke2fs file; do
  command -v "$t" >/dev/null || fail "$t is missing: run scripts/install-deps.sh"
done
start=$SECONDS
[ -e /dev/kvm ] || echo "    (no /dev/kvm: the VM runs under TCG emulation, as expected here)"

step "statically linked nvmeoe"
# build/bin/nvmeoe-static comes with the normal build (CMakeLists.txt); NVMEOE_STATIC_BIN overrides.
NVMEOE_STATIC_BIN=${NVMEOE_STATIC_BIN:-$BIN/nvmeoe-static}
[ -x "$NVMEOE_STATIC_BIN" ] || fail "$NVMEOE_STATIC_BIN is missing: build first (it needs liburing.a and libfuse3.a)"
file "$NVMEOE_STATIC_BIN" | grep -q 'statically linked' || fail "$NVMEOE_STATIC_BIN is not statically linked"

step "kernel (Debian linux-image-6.12-amd64, cache $KERNEL_CACHE)"
KDIR=$(bash "$REPO/tests/vm/kernel.sh" "$KERNEL_CACHE") ||
  fail "cannot get the 6.12 kernel package for the VM (see the message above); this test needs it"

step "initramfs"
INITRD=$NETNS_TMP/initramfs.cpio
bash "$REPO/tests/vm/mkinitramfs.sh" "$KDIR" "$NVMEOE_STATIC_BIN" "$INITRD" || fail "building the initramfs failed"
echo "    $(du -h "$INITRD" | cut -f1) initramfs, kernel $(basename "$KDIR"), $((SECONDS - start)) s so far"

step "namespace with a tap device, target on it"
NS_T="${NETNS_PREFIX}1-vm-$$"
TAP="${NETNS_PREFIX}tap$$"
TAP=${TAP:0:15}
ip netns add "$NS_T" || fail "ip netns add $NS_T"
NETNS_LIST+=("$NS_T")
ip -n "$NS_T" link set lo up
ip netns exec "$NS_T" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
ip -n "$NS_T" tuntap add dev "$TAP" mode tap || fail "cannot create tap device $TAP"
ip -n "$NS_T" link set "$TAP" up || fail "ip link set $TAP up"
MAC_T=$(netns_mac "$NS_T" "$TAP")
SHM=$NETNS_TMP/shm
mkdir -p "$SHM"
mount -t tmpfs -o size=256m nvmeoe-ubvm "$SHM" || fail "cannot mount a tmpfs for the backing files"
netns_on_cleanup "umount -l '$SHM'"
make_sparse "$SHM/ns1.img" "$SIZE1"
make_sparse "$SHM/ns2.img" "$SIZE2"
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$TAP" "$SHM/ns1.img" "$SHM/ns2.img"

step "VM (timeout $VM_TIMEOUT s)"
CONSOLE=$NETNS_TMP/console.log
ip netns exec "$NS_T" timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1024 -M q35 \
  -nographic -no-reboot -kernel "$KDIR/vmlinuz" -initrd "$INITRD" \
  -append "console=ttyS0 panic=-1 loglevel=4 nvmeoe.mac=$MAC_T nvmeoe.nqn=$NQN nvmeoe.size1=$SIZE1 nvmeoe.size2=$SIZE2" \
  -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" -device virtio-net-pci,netdev=n0 \
  </dev/null >"$CONSOLE" 2>&1 &
QEMU_PID=$!
netns_track_pid "$QEMU_PID"
rc=0
wait "$QEMU_PID" || rc=$?
echo "    VM finished with status $rc after $((SECONDS - start)) s in all"
# Kept for a look afterwards (the temp dir goes away with the test).
KEPT_CONSOLE=${VM_CONSOLE_LOG:-$REPO/build/test-logs/e2e_ublk_vm-console.log}
mkdir -p "$(dirname "$KEPT_CONSOLE")" && tr -d '\r' <"$CONSOLE" >"$KEPT_CONSOLE" || true
echo "    console log: $KEPT_CONSOLE"

grep -a 'VMTEST' "$CONSOLE" | sed 's/^/    /' | tr -d '\r'
problems=()
[ "$rc" = 124 ] && problems+=("the VM did not power off within $VM_TIMEOUT s")
for s in $STEPS; do
  grep -aqE "^VMTEST $s PASS" "$CONSOLE" || problems+=("step $s did not pass")
done
grep -aqE '^VMTEST [a-z_0-9]+ FAIL' "$CONSOLE" && problems+=("a step failed")
grep -aq '^VMTEST END' "$CONSOLE" || problems+=("the end marker is missing (the guest script hung or the VM crashed)")
if [ ${#problems[@]} -gt 0 ]; then
  echo "---- VM console (last 60 lines) ----"
  tail -n 60 "$CONSOLE" | tr -d '\r'
  echo "---- target log (last 20 lines) ----"
  tail -n 20 "$NETNS_TMP/target.log"
  fail "$(printf '%s; ' "${problems[@]}")"
fi
stop_target
pass "ublk devices in a 6.12 VM over nvmeoe, $((SECONDS - start)) s"
