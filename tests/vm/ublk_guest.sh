#!/bin/sh
# Runs inside the VM (busybox sh): the ublk acceptance steps against the nvmeoe-target outside.
# Parameters come from the kernel command line: nvmeoe.mac (target MAC), nvmeoe.nqn,
# nvmeoe.size1 / nvmeoe.size2 (backing sizes in bytes). Each step prints one line
# "VMTEST <step> PASS|FAIL <detail>", which the outer test (tests/e2e/e2e_ublk_vm.sh) checks.

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^nvmeoe\.$1=//p"; }
MAC=$(arg mac)
NQN=$(arg nqn)
SIZE1=$(arg size1)
SIZE2=$(arg size2)
B0=/dev/ublkb0
B1=/dev/ublkb1

pass() { echo "VMTEST $1 PASS $2"; }
fail() { echo "VMTEST $1 FAIL $2"; }
# wait_for COND_CMD TENTHS: polls COND_CMD (a shell command string) up to TENTHS/10 seconds.
wait_for() {
  i=0
  while [ "$i" -lt "$2" ]; do
    eval "$1" && return 0
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}
both_present() { [ -b "$B0" ] && [ -b "$B1" ]; }
both_gone() { [ ! -e "$B0" ] && [ ! -e "$B1" ]; }
# need_devs STEP: false (and the step fails) unless both block devices exist; keeps the steps
# from writing regular files into /dev when the devices are missing.
need_devs() {
  both_present && return 0
  fail "$1" "block devices missing: $(ls /dev/ublk* 2>&1 | tr '\n' ' ')"
  return 1
}

connect() {
  out=$(timeout 120 nvmeoe connect -a "$MAC" -n "$NQN" --host-iface eth0 "$@" 2>&1)
  rc=$?
  echo "$out"
  CTRL=$(echo "$out" | grep -oE 'nvmeoe[0-9]+' | head -n1)
  [ "$rc" = 0 ] && [ -n "$CTRL" ]
}

echo  # the console may still hold a partial line of the boot firmware
echo "VMTEST begin kernel $(uname -r), target $MAC, $NQN"
[ -e /dev/ublk-control ] && pass ublk_module "/dev/ublk-control present" || fail ublk_module "/dev/ublk-control missing"

# 1. connect with the default frontend (auto -> ublk): one block device per namespace.
if connect && wait_for both_present 100; then
  pass connect "$CTRL: $B0 $B1"
else
  fail connect "devices after connect: $(ls /dev/ublk* 2>&1 | tr '\n' ' ')"
fi
timeout 30 nvmeoe list 2>&1

# 2. sizes
need_devs sizes && {
s0=$(blockdev --getsize64 $B0 2>&1)
s1=$(blockdev --getsize64 $B1 2>&1)
[ "$s0" = "$SIZE1" ] && [ "$s1" = "$SIZE2" ] && pass sizes "$s0 $s1" || fail sizes "got $s0 $s1, expected $SIZE1 $SIZE2"
}

# 3. ext4: mkfs, mount, file round trip across a remount
need_devs ext4 && {
head -c 4194304 /dev/urandom >/tmp/f.in
want=$(md5sum </tmp/f.in | cut -d' ' -f1)
if timeout 120 mkfs.ext4 -q -F $B0 && mount -t ext4 $B0 /mnt && cp /tmp/f.in /mnt/f && sync && umount /mnt &&
  echo 3 >/proc/sys/vm/drop_caches && mount -t ext4 $B0 /mnt; then
  got=$(md5sum </mnt/f | cut -d' ' -f1)
  umount /mnt
  [ "$got" = "$want" ] && pass ext4 "md5 $got" || fail ext4 "md5 $got != $want"
else
  fail ext4 "mkfs/mount/copy failed"
  umount /mnt 2>/dev/null
fi
}

# 4. 64 MiB with direct I/O both ways
need_devs dd_direct_64m && {
head -c 67108864 /dev/urandom >/tmp/d.in
want=$(md5sum </tmp/d.in | cut -d' ' -f1)
t0=$(date +%s)
if timeout 240 dd if=/tmp/d.in of=$B1 bs=1M oflag=direct 2>/tmp/dd.err &&
  timeout 240 dd if=$B1 of=/tmp/d.out bs=1M count=64 iflag=direct 2>>/tmp/dd.err; then
  got=$(md5sum </tmp/d.out | cut -d' ' -f1)
  [ "$got" = "$want" ] && pass dd_direct_64m "md5 $got in $(($(date +%s) - t0)) s" || fail dd_direct_64m "md5 $got != $want"
else
  fail dd_direct_64m "$(tr '\n' ' ' </tmp/dd.err)"
fi
rm -f /tmp/d.in /tmp/d.out
}

# 5. discard reads back zeroes (the first MiB, written by step 4)
need_devs discard && {
if timeout 60 blkdiscard -o 0 -l 1048576 $B1 2>/tmp/bd.err; then
  dd if=$B1 of=/tmp/z bs=1M count=1 iflag=direct 2>/dev/null
  head -c 1048576 /dev/zero >/tmp/z0
  cmp -s /tmp/z /tmp/z0 && pass discard "1 MiB reads back zeroes" || fail discard "discarded range is not zeroes"
else
  fail discard "blkdiscard: $(cat /tmp/bd.err)"
fi
}

# 6. fio random read/write with crc32c verification
need_devs fio_verify && {
timeout 300 fio --name=ublk --filename=$B1 --direct=1 --ioengine=io_uring --rw=randrw --bs=4k --iodepth=16 \
  --size=16M --verify=crc32c --do_verify=1 >/tmp/fio.out 2>&1
rc=$?
cat /tmp/fio.out
iops=$(grep -oE '(read|write): IOPS=[^,]+' /tmp/fio.out | tr '\n' ' ')
if [ "$rc" = 0 ] && grep -q 'err= 0' /tmp/fio.out && ! grep -qE 'err= *[1-9]|verify: bad' /tmp/fio.out; then
  pass fio_verify "0 errors, $iops"
else
  fail fio_verify "status $rc: $(grep -E 'err=|verify' /tmp/fio.out | head -n3 | tr '\n' ' ')"
fi
}

# 7. disconnect removes the devices
if timeout 60 nvmeoe disconnect "$CTRL" && wait_for both_gone 100; then
  pass disconnect "$B0 $B1 removed"
else
  fail disconnect "still present: $(ls /dev/ublk* 2>&1 | tr '\n' ' ')"
fi

# 8. connect again (two NVMe I/O queues; the driver allows one ublk queue per CPU) and
# disconnect while a reader is busy: the reader gets EIO, the devices go, and the disconnect is bounded.
if connect -i 2 && wait_for both_present 100; then
  pass reconnect "$CTRL with 2 I/O queues: $B0 $B1"
else
  fail reconnect "devices after the second connect: $(ls /dev/ublk* 2>&1 | tr '\n' ' ')"
fi
need_devs disconnect_under_io && {
timeout 60 sh -c "while dd if=$B0 of=/dev/null bs=64k iflag=direct 2>/tmp/dis.err; do :; done; exit 1" &
ddpid=$!
sleep 1
t0=$(date +%s)
timeout 60 nvmeoe disconnect "$CTRL" >/dev/null 2>&1
drc=$?
wait "$ddpid"
rc=$?
secs=$(($(date +%s) - t0))
err=$(tr '\n' ' ' </tmp/dis.err)
if [ "$drc" = 0 ] && [ "$rc" = 1 ] && both_gone; then
  pass disconnect_under_io "disconnect in ${secs} s, reader: $err"
else
  fail disconnect_under_io "disconnect status $drc, reader status $rc (124 = hung): $err; $(ls /dev/ublk* 2>&1 | tr '\n' ' ')"
fi
}

# 9a. SIGTERM of the agent removes the devices cleanly, as a disconnect does.
if connect && wait_for both_present 100; then
  pass reconnect_term "$CTRL: $B0 $B1"
else
  fail reconnect_term "devices after connecting again: $(ls /dev/ublk* 2>&1 | tr '\n' ' ')"
fi
need_devs term_agent && {
agent=$(pidof nvmeoe | tr ' ' '\n' | head -n1)
if [ -n "$agent" ] && kill -TERM "$agent" && wait_for both_gone 100; then
  for i in $(seq 1 50); do kill -0 "$agent" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$agent" 2>/dev/null; then
    fail term_agent "devices removed but agent $agent still runs 5 s after SIGTERM"
  else
    pass term_agent "SIGTERM: $B0 $B1 removed, agent exited"
  fi
else
  fail term_agent "agent '$agent': devices still present: $(ls /dev/ublk* 2>&1 | tr '\n' ' ')"
fi
}

# 9. connect once more, SIGKILL the agent under I/O: the I/O fails with EIO and nothing hangs.
if connect && wait_for both_present 100; then
  pass reconnect2 "$CTRL: $B0 $B1"
else
  fail reconnect2 "devices after the third connect: $(ls /dev/ublk* 2>&1 | tr '\n' ' ')"
fi
need_devs kill_agent && {
agent=$(pidof nvmeoe | tr ' ' '\n' | head -n1)
# Reads the whole device over and over until a read fails.
timeout 60 sh -c "while dd if=$B1 of=/dev/null bs=64k iflag=direct 2>/tmp/kill.err; do :; done; exit 1" &
ddpid=$!
sleep 1
if [ -n "$agent" ] && kill -0 "$ddpid" 2>/dev/null; then
  kill -KILL "$agent"
  wait "$ddpid"
  rc=$?
  err=$(tr '\n' ' ' </tmp/kill.err)
  if [ "$rc" = 1 ] && echo "$err" | grep -qi 'error'; then
    pass kill_agent "dd status $rc: $err"
  else
    fail kill_agent "dd status $rc (124 = hung until timeout): $err"
  fi
else
  fail kill_agent "agent pid '$agent' or dd not running: $(tr '\n' ' ' </tmp/kill.err)"
fi
# A new read fails promptly too.
if timeout 30 dd if=$B1 of=/dev/null bs=4k count=1 iflag=direct 2>/tmp/after.err; then
  fail after_kill "read succeeded after the agent was killed"
else
  rc=$?
  # EIO while the dead device is still there, or no device once the driver removed it.
  [ "$rc" != 124 ] && pass after_kill "read fails: $(tr '\n' ' ' </tmp/after.err)" || fail after_kill "read hung"
fi
}
