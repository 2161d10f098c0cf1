#!/usr/bin/env bash
# End to end over a veth pair, at MTU 1500 and at MTU 9000: a target with two file-backed
# namespaces, a host with 2 I/O queues; list (table and JSON); write/read/verify of 512 B, 4 KiB,
# 128 KiB and 1 MiB at several LBAs, checked against the read-back and the backing files; Write
# Zeroes and deallocate read back as zeroes; an out-of-range read fails promptly with LBA Out of
# Range; flush; disconnect removes the controller.
source "$(dirname "$0")/lib.sh"
e2e_init rw

NQN=nqn.2024-01.io.nvmeoe:e2e-rw
NS1_BYTES=$((2 << 30))   # 2 GiB: 4194304 blocks
NS2_BYTES=$((1 << 30))   # 1 GiB: 2097152 blocks

run_at_mtu() {
  local mtu=$1
  step "MTU $mtu: namespaces, veth, target"
  netns_create "$mtu"
  local f1="$NETNS_TMP/ns1-$mtu.img" f2="$NETNS_TMP/ns2-$mtu.img"
  make_sparse "$f1" "$NS1_BYTES"
  make_sparse "$f2" "$NS2_BYTES"
  start_target "$NETNS_TMP/target-$mtu.log" --nqn "$NQN" --iface "$VETH_T" "$f1" "$f2"

  step "MTU $mtu: connect with 2 I/O queues"
  connect_host -n "$NQN" -i 2
  local n1="${CTRL}n1" n2="${CTRL}n2"

  step "MTU $mtu: nvmeoe list"
  local table json
  table=$(nv list) || fail "nvmeoe list failed"
  echo "$table"
  echo "$table" | grep -qE "^$n1 " || fail "nvmeoe list has no $n1 row"
  echo "$table" | grep -qE "^$n2 " || fail "nvmeoe list has no $n2 row"
  head -n1 <<<"$table" | grep -qE '^Node +Generic +SN +Model +Namespace +Usage +Format +FW Rev' ||
    fail "nvmeoe list header is not nvme-cli's"
  echo "$table" | grep -E "^$n1 " | grep -qE '2\.15 +GB' || fail "$n1 does not show 2.15 GB"
  echo "$table" | grep -E "^$n2 " | grep -qE '1\.07 +GB' || fail "$n2 does not show 1.07 GB"
  echo "$table" | grep -E "^$n1 " | grep -q 'nvmeoe' || fail "model is not nvmeoe"
  echo "$table" | grep -E "^$n1 " | grep -qE '512 +B' || fail "format is not 512 B"

  json=$(nv list -o json) || fail "nvmeoe list -o json failed"
  echo "$json" | jq -e --arg n1 "$n1" --arg n2 "$n2" --argjson s1 "$NS1_BYTES" --argjson s2 "$NS2_BYTES" '
      (.Devices | length) == 2
      and (.Devices[] | select(.DevicePath == $n1) | .PhysicalSize == $s1 and .NameSpace == 1 and .SectorSize == 512
           and .ModelNumber == "nvmeoe" and .MaximumLBA == ($s1 / 512))
      and (.Devices[] | select(.DevicePath == $n2) | .PhysicalSize == $s2 and .NameSpace == 2)' >/dev/null ||
    fail "nvmeoe list -o json is not as expected: $json"
  nv list -v | grep -q "$NQN" || fail "nvmeoe list -v does not show the subsystem NQN"
  json=$(nv list -o json -v) || fail "nvmeoe list -o json -v failed"
  echo "$json" | jq -e --arg c "$CTRL" --arg nqn "$NQN" '
      .Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .IOQueues == 2 and .SubsystemNQN == $nqn' >/dev/null ||
    fail "nvmeoe list -v -o json does not show 2 I/O queues for $CTRL: $json"

  step "MTU $mtu: write/read/verify 512 B, 4 KiB, 128 KiB, 1 MiB (read-back and backing files)"
  local size lba
  for size in 512 4096 131072 1048576; do
    for lba in 0 7 123457 $((NS1_BYTES / 512 - size / 512)); do
      write_verify "$n1" "$lba" "$size" "$f1"
    done
    for lba in 1 99999 $((NS2_BYTES / 512 - size / 512)); do
      write_verify "$n2" "$lba" "$size" "$f2"
    done
    echo "    $size bytes: ok"
  done

  step "MTU $mtu: write-zeroes and dsm --ad read back zeroes"
  write_verify "$n1" 5000 65536 "$f1"
  nv write-zeroes "$n1" -s 5000 -c 127 >/dev/null || fail "write-zeroes failed"
  read_is_zero "$n1" 5000 65536
  nv flush "$n1" >/dev/null || fail "flush failed"
  backing_is_zero "$f1" 5000 65536
  write_verify "$n2" 7000 131072 "$f2"
  nv dsm "$n2" -s 7000 -b 256 --ad >/dev/null || fail "dsm --ad failed"
  read_is_zero "$n2" 7000 131072
  nv flush "$n2" >/dev/null || fail "flush failed"
  backing_is_zero "$f2" 7000 131072
  # Data beside the zeroed ranges is untouched.
  write_verify "$n1" 5128 4096 "$f1"

  step "MTU $mtu: out-of-range read fails with LBA Out of Range"
  local last=$((NS1_BYTES / 512))
  expect_fail 10 'LBA Out of Range' ip netns exec "$NS_H" "$NVMEOE" read "$n1" -s "$last" -c 0 -z 512 -d "$NETNS_TMP/oor"
  expect_fail 10 'LBA Out of Range' ip netns exec "$NS_H" "$NVMEOE" read "$n1" -s $((last - 1)) -c 1 -z 1024 -d "$NETNS_TMP/oor"
  rm -f "$NETNS_TMP/oor"

  step "MTU $mtu: flush, disconnect"
  nv flush "$n1" >/dev/null || fail "flush of $n1 failed"
  nv flush "$n2" >/dev/null || fail "flush of $n2 failed"
  nv disconnect "$CTRL" >/dev/null || fail "disconnect $CTRL failed"
  local i
  for ((i = 0; i < 50; i++)); do
    nv list | grep -qE "^${CTRL}n" || break
    sleep 0.1
  done
  nv list | grep -qE "^${CTRL}n" && fail "$CTRL still listed after disconnect"
  [ "$(nv list -o json | jq '.Devices | length')" = 0 ] || fail "nvmeoe list -o json not empty after disconnect"

  stop_target
  netns_destroy
  rm -f "$f1" "$f2"
  echo "    MTU $mtu: ok"
}

run_at_mtu 1500
run_at_mtu 9000
pass "MTU 1500 and 9000"
