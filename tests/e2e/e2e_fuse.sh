#!/usr/bin/env bash
# The FUSE frontend end to end: a target with a 2 GiB sparse file and a 64 MiB file as namespaces
# 1 and 2; a host agent with --frontend fuse (in the host's network namespace, root mount
# namespace). Checks: the files and `nvmeoe list`; direct reads and writes, unaligned ones
# (read-modify-write), checked against the target's backing file; fsync reaches the target as NVMe
# Flush; punch-hole reads back zeroes (also in the backing file); writes past the end fail, reads
# past the end are short; ext4 on `losetup --direct-io=on` over the file: a 200 MiB file and 200
# small files survive umount/remount, and the same bytes are found by mounting the target's
# backing file read-only; fio io_uring randrw with crc32c verification; --frontend ublk fails
# clearly on this kernel; a second mount over the first is refused; I/O after disconnect fails
# (never hangs); a read-only namespace refuses writes with EROFS; when the target goes away I/O
# fails and the agent removes its files; nothing is left behind.
source "$(dirname "$0")/lib.sh"
e2e_init fuse
source "$(dirname "$0")/lib_fuse.sh"
command -v fio >/dev/null || fail "fio is missing (bash scripts/install-deps.sh)"

NQN=nqn.2024-01.io.nvmeoe:e2e-fuse
NS1_BYTES=$((2 << 30))
NS2_BYTES=$((64 << 20))

netns_create 9000
F1="$NETNS_TMP/ns1.img" F2="$NETNS_TMP/ns2.img"
make_sparse "$F1" "$NS1_BYTES"
make_sparse "$F2" "$NS2_BYTES"
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" "$F1" "$F2"
netns_on_cleanup fuse_cleanup

step "--frontend ublk on a kernel without ublk: clear error, nothing left"
if [ ! -e /dev/ublk-control ]; then
  expect_fail 20 'ublk-control is missing' nsenter --net="/run/netns/$NS_H" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" --frontend ublk
  [ -z "$(ls "$NVMEOE_RUN_DIR" | grep -E '^nvmeoe[0-9]+\.sock$' || true)" ] || fail "an agent was left after the ublk error"
fi
expect_fail 10 'frontend' nsenter --net="/run/netns/$NS_H" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" --frontend nbd
expect_fail 10 'mountpoint' nsenter --net="/run/netns/$NS_H" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" --frontend none \
  --mountpoint /tmp

step "connect with --frontend fuse (default mountpoint)"
fuse_connect -n "$NQN" -i 2
echo "    $CTRL: agent $AGENT_PID, files $FUSE_FILE1 $FUSE_FILE2"
[ "$FUSE_MNT" = "$NVMEOE_RUN_DIR/fuse/$CTRL" ] || fail "mountpoint is $FUSE_MNT, expected $NVMEOE_RUN_DIR/fuse/$CTRL"
[ "$(stat -c %s "$FUSE_FILE1")" = "$NS1_BYTES" ] || fail "size of $FUSE_FILE1 is $(stat -c %s "$FUSE_FILE1")"
[ "$(stat -c %s "$FUSE_FILE2")" = "$NS2_BYTES" ] || fail "size of $FUSE_FILE2 is $(stat -c %s "$FUSE_FILE2")"
[ "$(stat -c '%a %u %F' "$FUSE_FILE1")" = "600 0 regular file" ] ||
  fail "$FUSE_FILE1 is $(stat -c '%a %u %F' "$FUSE_FILE1"), expected a regular file 0600 of root"
[ "$(ls "$FUSE_MNT" | tr '\n' ' ')" = "${CTRL}n1 ${CTRL}n2 " ] || fail "mount lists: $(ls "$FUSE_MNT")"
table=$(nvh list)
echo "$table"
echo "$table" | grep -qE "^$FUSE_FILE1 +- " || fail "nvmeoe list does not show $FUSE_FILE1 in the Node column"
verbose=$(nvh list -v)
echo "$verbose" | grep -qE "frontend: +fuse: $FUSE_FILE1, $FUSE_FILE2" || fail "nvmeoe list -v does not show the frontend"

step "a second controller cannot mount over the first one's files; its failure leaves nothing"
expect_fail 40 'already a mount point' nsenter --net="/run/netns/$NS_H" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" \
  --host-iface "$VETH_H" --frontend fuse --mountpoint "$FUSE_MNT" --duplicate-connect
[ "$(nvh list -o json | jq '.Devices | length')" = 2 ] || fail "the failed connect left a controller behind"
[ "$(grep -c " $FUSE_MNT " /proc/mounts)" = 1 ] || fail "the failed connect changed the mounts on $FUSE_MNT"

step "direct writes and reads, aligned and unaligned, against the backing file"
D="$NETNS_TMP/d"
mkdir -p "$D"
rand_file "$D/a" $((1 << 20))
timeout 30 dd if="$D/a" of="$FUSE_FILE1" bs=1M seek=100 oflag=direct conv=notrunc status=none || fail "1 MiB write failed"
timeout 30 dd if="$FUSE_FILE1" of="$D/a.back" bs=1M skip=100 count=1 iflag=direct status=none || fail "1 MiB read failed"
cmp -s "$D/a" "$D/a.back" || fail "1 MiB read-back differs"
cmp -s "$D/a" <(dd if="$F1" bs=1M skip=100 count=1 status=none) || fail "backing file does not hold the 1 MiB write"
# 3000 bytes at byte offset 1000 + 512 * 7: partial blocks at both ends.
rand_file "$D/u" 3000
off=$((512 * 7 + 1000))
timeout 30 dd if="$D/u" of="$FUSE_FILE1" bs=3000 count=1 seek="$off" oflag=seek_bytes conv=notrunc status=none ||
  fail "unaligned write failed"
cmp -s "$D/u" <(dd if="$FUSE_FILE1" bs=3000 count=1 skip="$off" iflag=skip_bytes status=none) ||
  fail "unaligned read-back differs"
cmp -s "$D/u" <(dd if="$F1" bs=3000 count=1 skip="$off" iflag=skip_bytes status=none) ||
  fail "backing file does not hold the unaligned write"
cmp -s <(head -c "$off" /dev/zero) <(head -c "$off" "$F1") || fail "the unaligned write disturbed the bytes before it"
# 100 bytes inside one block, next to data: the rest of the block must survive.
rand_file "$D/v" 100
timeout 30 dd if="$D/v" of="$FUSE_FILE1" bs=100 count=1 seek=$((off + 10)) oflag=seek_bytes conv=notrunc status=none ||
  fail "small unaligned write failed"
cmp -s <(head -c 10 "$D/u"; cat "$D/v"; tail -c +111 "$D/u") <(dd if="$F1" bs=3000 count=1 skip="$off" iflag=skip_bytes status=none) ||
  fail "read-modify-write inside a block lost neighbouring bytes"

step "concurrent unaligned writes to neighbouring bytes of the same blocks lose nothing"
# Four writers each own every fourth 100-byte piece of a 64 KiB region and write their pieces in
# random order at once: every block is read-modified-written by several of them. (Synchronous writes
# to one FUSE file are serialised by the kernel unless the file has FOPEN_PARALLEL_DIRECT_WRITES,
# which libfuse 3.14 cannot set; the WriteGate's exclusion is covered by the unit tests.)
timeout 60 python3 - "$FUSE_FILE1" "$D" <<'PY' || fail "concurrent unaligned writes failed"
import os, random, sys, threading
path, d = sys.argv[1], sys.argv[2]
base, pieces, writers = 50 << 20, 655, 4
expect = bytearray(pieces * 100)
def writer(w):
    fd = os.open(path, os.O_RDWR)
    mine = [k for k in range(pieces) if k % writers == w]
    random.Random(w).shuffle(mine)
    for k in mine:
        data = bytes([(k * 7 + w + 1) % 251]) * 100
        expect[k * 100:(k + 1) * 100] = data
        assert os.pwrite(fd, data, base + k * 100) == 100
    os.close(fd)
threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
for t in threads: t.start()
for t in threads: t.join()
fd = os.open(path, os.O_RDONLY)
got = os.pread(fd, len(expect), base)
bad = [k for k in range(pieces) if got[k * 100:(k + 1) * 100] != expect[k * 100:(k + 1) * 100]]
if bad:
    sys.exit("pieces lost or torn: %d of %d (first at byte %d)" % (len(bad), pieces, bad[0] * 100))
open(d + "/pieces", "wb").write(expect)
PY
cmp -s "$D/pieces" <(dd if="$F1" bs=1M skip=50 status=none | head -c 65500) ||
  fail "the backing file does not hold the concurrent unaligned writes"

step "end of the namespace: short read, write past the end fails"
n=$(timeout 30 dd if="$FUSE_FILE2" bs=4096 skip=$((NS2_BYTES / 4096 - 1)) count=4 iflag=direct status=none | wc -c)
[ "$n" = 4096 ] || fail "read across the end returned $n bytes, expected 4096"
out=$(timeout 30 dd if=/dev/zero of="$FUSE_FILE2" bs=4096 seek=$((NS2_BYTES / 4096)) count=1 oflag=direct conv=notrunc 2>&1) &&
  fail "write past the end succeeded"
echo "    -> $out" | head -n1
echo "$out" | grep -qiE 'space|too large' || fail "write past the end: unexpected error: $out"

step "fsync reaches the target as NVMe Flush; punch-hole reads back zeroes"
io_commands() { nvh list -v -o json | jq --arg c "$CTRL" '[.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .Queues[] | select(.QueueId > 0) | .Commands] | add'; }
before=$(io_commands)
timeout 30 python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); os.fsync(fd)' "$FUSE_FILE1" ||
  fail "fsync failed"
after=$(io_commands)
# fsync, then close() of the writable file: two NVMe Flushes.
[ $((after - before)) -ge 2 ] || fail "fsync and close issued $((after - before)) command(s) to the target, expected 2"
echo "    fsync + close of a writable file: $((after - before)) command(s) to the target"
before=$(io_commands)
timeout 30 python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_RDONLY))' "$FUSE_FILE1" || fail "open/close failed"
after=$(io_commands)
[ "$after" = "$before" ] || fail "closing a read-only open issued $((after - before)) command(s) to the target"
timeout 30 fallocate --punch-hole --keep-size --offset $((100 << 20)) --length $((512 << 10)) "$FUSE_FILE1" ||
  fail "fallocate --punch-hole failed"
cmp -s <(head -c $((512 << 10)) /dev/zero) <(dd if="$FUSE_FILE1" bs=512K skip=200 count=1 iflag=direct status=none) ||
  fail "punched range does not read back as zeroes"
cmp -s <(head -c $((512 << 10)) /dev/zero) <(dd if="$F1" bs=512K skip=200 count=1 status=none) ||
  fail "punched range is not zero in the backing file"
cmp -s <(tail -c $((512 << 10)) "$D/a") <(dd if="$F1" bs=512K skip=201 count=1 status=none) ||
  fail "punch-hole went beyond its range"
zoff=$(((100 << 20) + (512 << 10)))
timeout 30 fallocate --zero-range --keep-size --offset "$zoff" --length 4096 "$FUSE_FILE1" ||
  fail "fallocate --zero-range failed"
cmp -s <(head -c 4096 /dev/zero) <(dd if="$F1" bs=4096 skip=$((zoff / 4096)) count=1 status=none) ||
  fail "zero-range is not zero in the backing file"
expect_fail 10 'invalid|argument' fallocate --punch-hole --keep-size --offset 100 --length 1000 "$FUSE_FILE1"

step "ext4 on losetup --direct-io=on over the FUSE file: 200 MiB + 200 small files, remount, compare"
fuse_losetup "$FUSE_FILE1"
echo "    loop device $LOOP"
timeout 120 mkfs.ext4 -q -F "$LOOP" || fail "mkfs.ext4 on $LOOP failed"
M="$NETNS_TMP/ext4"
mkdir -p "$M"
timeout 30 mount "$LOOP" "$M" || fail "mount $LOOP failed"
FUSE_EXT4_MOUNTS+=("$M")
rand_file "$D/big" $((200 << 20))
mkdir -p "$D/small"
for i in $(seq 200); do head -c $((RANDOM * 3 + i)) /dev/urandom >"$D/small/f$i"; done
start=$SECONDS
timeout 120 cp "$D/big" "$M/big" || fail "copying 200 MiB onto ext4 failed"
timeout 60 cp -r "$D/small" "$M/small" || fail "copying 200 small files failed"
timeout 60 sync || fail "sync failed"
echo "    copied and synced in $((SECONDS - start)) s"
(cd "$D" && md5sum big small/* >"$D/md5")
timeout 30 umount "$M" || fail "umount failed"
timeout 30 mount "$LOOP" "$M" || fail "remount failed"
(cd "$M" && timeout 60 md5sum --quiet -c "$D/md5") || fail "files differ after remount"
timeout 30 umount "$M" || fail "second umount failed"
timeout 20 losetup -d "$LOOP" || fail "losetup -d $LOOP failed"

step "the same bytes in the target's backing file (read-only loop)"
hn timeout 30 "$NVMEOE" flush "${CTRL}n1" >/dev/null || fail "flush failed"
RO=$(timeout 20 losetup -r --find --show "$F1") || fail "losetup -r $F1 failed"
FUSE_LOOPS+=("$RO")
timeout 30 mount -o ro,noload "$RO" "$M" || fail "mounting the backing file read-only failed"
(cd "$M" && timeout 60 md5sum --quiet -c "$D/md5") || fail "backing file's ext4 differs"
timeout 30 umount "$M" || fail "umount of the backing file's ext4 failed"
timeout 20 losetup -d "$RO" || fail "losetup -d $RO failed"
rm -rf "$D/big" "$D/small"

step "fio io_uring randrw 4k iodepth 16 with crc32c verification on ${CTRL}n2"
timeout 150 fio --name=fuse --filename="$FUSE_FILE2" --direct=1 --ioengine=io_uring --rw=randrw --bs=4k \
  --iodepth=16 --size=32M --verify=crc32c --do_verify=1 --verify_state_save=0 --output-format=json --output="$D/fio.json" \
  >"$D/fio.out" 2>&1 || fail "fio failed: $(cat "$D/fio.out" "$D/fio.json" 2>/dev/null | tail -n 20)"
errors=$(jq '[.jobs[].error] | add' "$D/fio.json")
[ "$errors" = 0 ] || fail "fio reported errors: $errors"
echo "    fio: read $(jq '.jobs[0].read.iops | floor' "$D/fio.json") IOPS, write $(jq '.jobs[0].write.iops | floor' "$D/fio.json") IOPS, 0 errors"

step "I/O after disconnect fails (open file and path), never hangs"
rm -f "$D/go" "$D/ready" "$D/result"
timeout 60 python3 - "$FUSE_FILE1" "$D" <<'PY' &
import errno, os, sys, time
path, d = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR)
open(d + "/ready", "w").close()
for _ in range(300):
    if os.path.exists(d + "/go"):
        break
    time.sleep(0.1)
try:
    os.pread(fd, 4096, 0)
    result = "ok"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e.errno))
open(d + "/result", "w").write(result)
PY
holder=$!
for _ in $(seq 100); do [ -e "$D/ready" ] && break; sleep 0.1; done
[ -e "$D/ready" ] || fail "the reader did not open $FUSE_FILE1"
hn timeout 30 "$NVMEOE" disconnect "$CTRL" >/dev/null || fail "disconnect failed"
netns_wait_gone "$AGENT_PID" 100 || fail "agent $AGENT_PID still running 10 s after disconnect"
touch "$D/go"
wait "$holder" || fail "the reader of an open file failed or hung after disconnect"
result=$(cat "$D/result")
echo "    read on a file held open across disconnect: $result"
case "$result" in EIO | ENOTCONN | ENODEV | ENOENT) ;; *) fail "read after disconnect gave $result, expected an error" ;; esac
rc=0
timeout 10 dd if="$FUSE_FILE1" of=/dev/null bs=4096 count=1 status=none 2>/dev/null || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "read through the path after disconnect: status $rc (expected an error)"
grep -q " $FUSE_MNT " /proc/mounts && fail "FUSE mount $FUSE_MNT left after disconnect"
[ ! -e "$FUSE_MNT" ] || fail "mountpoint $FUSE_MNT not removed after disconnect"
nothing_left
stop_target

step "a read-only namespace: files 0400, writes refused with EROFS, reads served"
start_target "$NETNS_TMP/target-ro.log" --nqn "$NQN" --iface "$VETH_T" --readonly "$F1"
fuse_connect -n "$NQN" --mountpoint "$NETNS_TMP/ro"
[ "$(stat -c %a "$FUSE_FILE1")" = 400 ] || fail "read-only namespace file is mode $(stat -c %a "$FUSE_FILE1")"
expect_fail 10 'read-only' dd if=/dev/zero of="$FUSE_FILE1" bs=4096 count=1 conv=notrunc
# ext4 wrote all over namespace 1 above: its first 4 MiB are anything but zeroes.
cmp -s <(head -c $((4 << 20)) "$F1") <(timeout 30 dd if="$FUSE_FILE1" bs=1M count=4 iflag=direct status=none) ||
  fail "reading the read-only namespace returned other data than its backing file holds"
hn timeout 30 "$NVMEOE" disconnect "$CTRL" >/dev/null || fail "disconnect failed"
netns_wait_gone "$AGENT_PID" 100 || fail "agent $AGENT_PID still running 10 s after disconnect"
[ ! -e "$NETNS_TMP/ro" ] || fail "mountpoint $NETNS_TMP/ro not removed after disconnect"
nothing_left
stop_target

step "the target goes away (ctrl-loss-tmo 2 s): I/O fails, the agent removes the files"
start_target "$NETNS_TMP/target-gone.log" --nqn "$NQN" --iface "$VETH_T" "$F1"
fuse_connect -n "$NQN" --mountpoint "$NETNS_TMP/gone" -k 1 -l 2 -c 1
timeout 30 dd if="$FUSE_FILE1" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "read before the target went failed"
stop_target
start=$SECONDS
rc=0
timeout 60 dd if="$FUSE_FILE1" of=/dev/null bs=4096 count=1 skip=7 iflag=direct status=none 2>/dev/null || rc=$?
echo "    read after the target went: status $rc after $((SECONDS - start)) s"
[ "$rc" != 0 ] || fail "read succeeded with the target gone"
[ "$rc" != 124 ] || fail "read hung with the target gone"
netns_wait_gone "$AGENT_PID" 200 || fail "agent $AGENT_PID still running 20 s after losing the target"
[ ! -e "$NETNS_TMP/gone" ] || fail "mountpoint $NETNS_TMP/gone not removed after the association was lost"
nothing_left
pass
