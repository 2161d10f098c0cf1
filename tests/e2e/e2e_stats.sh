#!/usr/bin/env bash
# Statistics end to end: a host with one I/O queue issues a known number of reads and writes with
# `nvmeoe read`/`nvmeoe write`; `nvmeoe stats -o json` must count exactly those commands and bytes
# on queue 1 (plus the queue's Fabrics Connect: one "other" command with 1024 bytes of connect
# data) with sane latency percentiles, `nvmeoe target-stats -o json` must agree from the
# target's side, both tables must show the queue rows, and `--watch 1 --count 2` must print two
# samples (the second with rates) and end.
source "$(dirname "$0")/lib.sh"
e2e_init stat

NQN=nqn.2024-01.io.nvmeoe:e2e-stats
WRITES=12
WRITE_BYTES=4096
READS=7
READ_BYTES=65536

netns_create 1500
img="$NETNS_TMP/ns1.img"
make_sparse "$img" $((256 << 20))
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" "$img"

step "target control socket"
sock=$(ls "$NVMEOE_RUN_DIR"/target-*.sock 2>/dev/null | head -n1 || true)
[ -S "$sock" ] || fail "no target control socket in $NVMEOE_RUN_DIR: $(ls -la "$NVMEOE_RUN_DIR")"
echo "    $sock"

step "connect with 1 I/O queue, $WRITES writes of $WRITE_BYTES B and $READS reads of $READ_BYTES B"
connect_host -n "$NQN" -i 1
node="${CTRL}n1"
rand_file "$NETNS_TMP/w.bin" "$WRITE_BYTES"
for ((i = 0; i < WRITES; i++)); do
  nv write "$node" -s $((i * 8)) -c $((WRITE_BYTES / 512 - 1)) -z "$WRITE_BYTES" -d "$NETNS_TMP/w.bin" >/dev/null ||
    fail "write $i failed"
done
for ((i = 0; i < READS; i++)); do
  nv read "$node" -s $((i * 128)) -c $((READ_BYTES / 512 - 1)) -z "$READ_BYTES" -d "$NETNS_TMP/r.bin" >/dev/null ||
    fail "read $i failed"
done

step "nvmeoe stats -o json counts exactly what was issued"
json=$(nv stats -o json) || fail "nvmeoe stats -o json failed"
echo "$json" | jq -c '.controllers[].queues[] | {qid, commands, reads, writes, bytes_read, bytes_written, latency_p50_us, latency_p99_us, latency_p999_us}'
echo "$json" | jq -e --arg c "$CTRL" --argjson w "$WRITES" --argjson r "$READS" \
  --argjson wb $((WRITES * WRITE_BYTES)) --argjson rb $((READS * READ_BYTES)) '
    .controllers | length == 1 and .[0].name == $c and .[0].state == "live" and .[0].reconnects == 0
    and (.[0].queues | length == 2)
    and (.[0].queues[] | select(.qid == 1)
         | .commands == ($w + $r + 1) and .writes == $w and .reads == $r and .other == 1
           and .bytes_written == ($wb + 1024) and .bytes_read == $rb and .in_flight == 0
           and .timeouts == 0 and .errors == 0 and .digest_errors == 0
           and .latency_count == .commands
           and .latency_p50_us > 0 and .latency_p50_us <= .latency_p99_us
           and .latency_p99_us <= .latency_p999_us and .latency_p999_us <= .latency_max_us
           and .latency_mean_us > 0 and .latency_max_us < 10000000)
    and (.[0].queues[] | select(.qid == 0) | .commands > 0 and .reads == 0 and .writes == 0 and .other == .commands)' \
  >/dev/null || fail "nvmeoe stats -o json does not match the I/O issued: $json"
nv stats "$CTRL" -o json | jq -e --arg c "$CTRL" '.controllers | length == 1 and .[0].name == $c' >/dev/null ||
  fail "nvmeoe stats $CTRL does not select the controller"
expect_fail 10 "does not exist" ip netns exec "$NS_H" "$NVMEOE" stats nvmeoe99

step "nvmeoe stats table"
table=$(nv stats) || fail "nvmeoe stats failed"
echo "$table"
echo "$table" | grep -q "^$CTRL: $NQN" || fail "table has no controller line for $CTRL"
echo "$table" | grep -qE '^qid +commands +reads +writes' || fail "table has no queue header"
echo "$table" | grep -qE "^1 +$((WRITES + READS + 1)) +$READS +$WRITES " || fail "table row of queue 1 is wrong"

step "nvmeoe target-stats -o json agrees"
tjson=$(nv target-stats -o json) || fail "nvmeoe target-stats -o json failed"
echo "$tjson" | jq -c '.processes[].targets[].queues[] | {qid, cntlid, hostnqn, commands, reads, writes, bytes_in, bytes_out, service_p50_us, service_p99_us}'
echo "$tjson" | jq -e --arg mac "$MAC_H" --argjson w "$WRITES" --argjson r "$READS" \
  --argjson wb $((WRITES * WRITE_BYTES)) --argjson rb $((READS * READ_BYTES)) --arg pid "$TARGET_PID" '
    (.processes | length == 1) and (.processes[0].pid | tostring) == $pid
    and (.processes[0].targets[0].totals.associations == 2)
    and (.processes[0].targets[0].queues[] | select(.qid == 1 and .host_mac == $mac)
         | .commands == ($w + $r + 1) and .writes == $w and .reads == $r and .other == 1
           and .bytes_in == ($wb + 1024) and .bytes_out == $rb
           and .in_flight == 0 and .digest_errors == 0
           and (.hostnqn | startswith("nqn.")) and .cntlid != 65535
           and .service_count == .commands and .service_p50_us > 0 and .service_p50_us <= .service_p99_us
           and .service_p99_us <= .service_p999_us)' >/dev/null ||
  fail "nvmeoe target-stats -o json does not match the I/O issued: $tjson"
nv target-stats --socket "$sock" -o json | jq -e '.processes | length == 1' >/dev/null ||
  fail "nvmeoe target-stats --socket does not answer"
expect_fail 10 "no nvmeoe-target" ip netns exec "$NS_H" "$NVMEOE" target-stats --socket "$NETNS_TMP/none.sock"
ttable=$(nv target-stats) || fail "nvmeoe target-stats failed"
echo "$ttable"
echo "$ttable" | grep -qE "^$MAC_H +[0-9]+ +1 +$((WRITES + READS + 1)) +$READS +$WRITES " ||
  fail "target-stats table row of queue 1 is wrong"

step "--watch 1 --count 2 prints two samples and ends"
start=$SECONDS
out=$(in_h timeout 20 "$NVMEOE" stats --watch 1 --count 2 -o json) || fail "nvmeoe stats --watch failed"
[ "$(printf '%s\n' "$out" | wc -l)" = 2 ] || fail "expected 2 JSON lines, got: $out"
printf '%s\n' "$out" | sed -n 2p |
  jq -e '.interval_s > 0.5 and (.controllers[0].queues[0].rates | has("commands_per_s") and has("latency_p99_us"))' \
    >/dev/null || fail "the second sample has no rates: $out"
out=$(in_h timeout 20 "$NVMEOE" stats --watch 1 --count 2) || fail "nvmeoe stats --watch (table) failed"
[ "$(printf '%s\n' "$out" | grep -c "^$CTRL:")" = 2 ] || fail "expected 2 tables: $out"
printf '%s\n' "$out" | grep -qE '^qid +cmd/s' || fail "the second table shows no rates: $out"
out=$(in_h timeout 20 "$NVMEOE" target-stats --watch 1 --count 2 -o json) || fail "target-stats --watch failed"
[ "$(printf '%s\n' "$out" | wc -l)" = 2 ] || fail "expected 2 target JSON lines, got: $out"
((SECONDS - start < 15)) || fail "--watch 1 --count 2 took $((SECONDS - start)) s"

step "disconnect; the target socket goes away with the target"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
stop_target
[ ! -e "$sock" ] || fail "the target left its control socket $sock behind"
pass
