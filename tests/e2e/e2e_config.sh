#!/usr/bin/env bash
# nvmeoe-target --config: a JSON file in nvmetcli's layout with two subsystems and different
# allow-lists; --dump-config round trip; broken files rejected with file, key and reason; SIGHUP
# adds a namespace (the connected host keeps working, a new connect sees it) and removes a host.
source "$(dirname "$0")/lib.sh"
e2e_init cfg
command -v jq >/dev/null || fail "jq is missing (scripts/install-deps.sh installs it)"
netns_create 1500
# A second link between the same two namespaces: the target's port 2.
VETH_T2=${VETH_T}b VETH_H2=${VETH_H}b
VETH_T2=${VETH_T2:0:15} VETH_H2=${VETH_H2:0:15}
ip -n "$NS_T" link add "$VETH_T2" type veth peer name "$VETH_H2" netns "$NS_H"
ip -n "$NS_T" link set "$VETH_T2" up
ip -n "$NS_H" link set "$VETH_H2" up
MAC_T2=$(netns_mac "$NS_T" "$VETH_T2")

H1=nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001
H2=nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000002
S1=nqn.2024-01.io.nvmeoe:cfg-one
S2=nqn.2024-01.io.nvmeoe:cfg-two
CFG=$NETNS_TMP/target.json
make_sparse "$NETNS_TMP/s1n1.img" 64M
make_sparse "$NETNS_TMP/s1n2.img" 32M
make_sparse "$NETNS_TMP/s2n1.img" 64M

# write_config S1_NAMESPACES_JSON S2_ALLOWED_JSON
write_config() {
  cat >"$CFG" <<JSON
{
  "hosts": [{"nqn": "$H1"}, {"nqn": "$H2"}],
  "ports": [{"portid": 1, "addr": {"trtype": "eth", "traddr": "$VETH_T", "trsvcid": "0x88b5", "adrfam": "mac"},
             "referrals": [], "subsystems": ["$S1", "$S2"]},
            {"portid": 2, "addr": {"trtype": "eth", "traddr": "$VETH_T2"}, "subsystems": ["$S2"]}],
  "subsystems": [
    {"nqn": "$S1", "attr": {"allow_any_host": "0", "serial": "cfg1"}, "allowed_hosts": ["$H1"],
     "namespaces": $1},
    {"nqn": "$S2", "attr": {"allow_any_host": "0"}, "allowed_hosts": $2,
     "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "$NETNS_TMP/s2n1.img"}}]}
  ]
}
JSON
}
NS1='[{"nsid": 1, "enable": 1, "device": {"path": "'$NETNS_TMP/s1n1.img'"}}]'
NS12='[{"nsid": 1, "enable": 1, "device": {"path": "'$NETNS_TMP/s1n1.img'"}}, {"nsid": 2, "enable": 1, "device": {"path": "'$NETNS_TMP/s1n2.img'"}}]'
write_config "$NS1" '["'$H1'", "'$H2'"]'

step "--dump-config round trip"
in_t "$TARGET" --config "$CFG" --dump-config >"$NETNS_TMP/d1.json" || fail "--dump-config failed"
in_t "$TARGET" --config "$NETNS_TMP/d1.json" --dump-config >"$NETNS_TMP/d2.json" || fail "--dump-config of the dump failed"
cmp -s "$NETNS_TMP/d1.json" "$NETNS_TMP/d2.json" || fail "dump, load, dump differs: $(diff "$NETNS_TMP/d1.json" "$NETNS_TMP/d2.json")"
jq -e '.subsystems | length == 2' "$NETNS_TMP/d1.json" >/dev/null || fail "the dump lost a subsystem"
in_t "$TARGET" --nqn "$S1" --iface "$VETH_T" mem:1G --dump-config >"$NETNS_TMP/c1.json" || fail "--dump-config of options failed"
in_t "$TARGET" --config "$NETNS_TMP/c1.json" --dump-config | cmp -s - "$NETNS_TMP/c1.json" ||
  fail "the command-line configuration does not round-trip"

step "broken files are rejected with file, key and reason"
bad() {  # bad NAME PATTERN JQ_FILTER: the config changed by JQ_FILTER must fail with PATTERN
  jq "$3" "$CFG" >"$NETNS_TMP/bad-$1.json" 2>/dev/null || printf '%s' "$3" >"$NETNS_TMP/bad-$1.json"
  expect_fail 10 "bad-$1.json: $2" ip netns exec "$NS_T" "$TARGET" --config "$NETNS_TMP/bad-$1.json"
}
printf '{\n  "hosts": [\n    {"nqn": "x"},,\n  ]\n}\n' >"$NETNS_TMP/bad-json.json"
expect_fail 10 "bad-json.json:3:18: invalid JSON" ip netns exec "$NS_T" "$TARGET" --config "$NETNS_TMP/bad-json.json"
bad device 'subsystems\[1\]\.namespaces\[0\]\.device\.path: cannot use .*No such file' \
  '.subsystems[1].namespaces[0].device.path = "/nonexistent/disk.img"'
bad nsid 'subsystems\[0\]\.namespaces\[1\]\.nsid: duplicate NSID 1' \
  '.subsystems[0].namespaces += [{"nsid": 1, "device": {"path": "mem:1M"}}]'
bad dupnqn 'subsystems\[1\]\.nqn: duplicate subsystem NQN' ".subsystems[1].nqn = \"$S1\""
bad unknown 'subsystems\[0\]\.attr\.colour: unknown key' '.subsystems[0].attr.colour = "blue"'
bad type 'ports\[0\]\.portid: expected an integer, found a string' '.ports[0].portid = "1"'
bad nqn 'hosts\[0\]\.nqn: invalid NQN' '.hosts[0].nqn = "host one"'
bad port 'ports\[0\]\.subsystems\[2\]: unknown subsystem' '.ports[0].subsystems += ["nqn.2024-01.io.nvmeoe:nope"]'
bad trtype 'ports\[0\]\.addr\.trtype: unsupported transport .tcp.' '.ports[0].addr.trtype = "tcp"'
expect_fail 10 "cannot read configuration file" ip netns exec "$NS_T" "$TARGET" --config "$NETNS_TMP/missing.json"
expect_fail 10 "excludes --nqn" ip netns exec "$NS_T" "$TARGET" --config "$CFG" --nqn "$S1"

step "resource limits: flags and the \"limits\" key, checked, in --dump-config"
expect_fail 10 "reserved_associations \\(5000\\) must be below max_associations \\(4096\\)" \
  ip netns exec "$NS_T" "$TARGET" --config "$CFG" --reserved-associations 5000
expect_fail 10 "max-associations" ip netns exec "$NS_T" "$TARGET" --config "$CFG" --max-associations 3
in_t "$TARGET" --config "$CFG" --max-unbound 100 --dump-config | jq -e '.limits.max_unbound == 100' >/dev/null ||
  fail "--dump-config does not show the limit given as a flag"

step "hostile files (tests/configs/hostile): exit 1 with a short message naming the file, no crash"
for f in "$REPO"/tests/configs/hostile/*.json; do
  rc=0
  out=$(in_t timeout 10 "$TARGET" --config "$f" 2>&1) || rc=$?
  [ "$rc" = 1 ] || fail "$(basename "$f"): exit status $rc (expected 1): $(printf '%s' "$out" | cut -c1-300)"
  printf '%s' "$out" | grep -qF "$f:" || fail "$(basename "$f"): the message does not name the file: ${out:0:300}"
  [ "${#out}" -lt 1000 ] || fail "$(basename "$f"): a ${#out}-byte message (the value echoed whole?)"
  echo "    $(basename "$f"): ${out:0:160}"
done

step "a target from the file serves both subsystems to their hosts"
start_target "$NETNS_TMP/target.log" --config "$CFG"
connect_host -n "$S1" -q "$H1"
C1=$CTRL
write_verify "${C1}n1" 0 65536 "$NETNS_TMP/s1n1.img"
connect_host -n "$S2" -q "$H2"
C2=$CTRL
write_verify "${C2}n1" 8 8192 "$NETNS_TMP/s2n1.img"
expect_fail 30 "refused host NQN" ip netns exec "$NS_H" "$NVMEOE" connect -a "$MAC_T" --host-iface "$VETH_H" -n "$S1" -q "$H2"

nscount() {  # nscount CTRL
  nv list -v -o json | jq -r --arg c "$1" '.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .Namespaces | length'
}
wait_log() {  # wait_log PATTERN
  local i
  for ((i = 0; i < 50; i++)); do
    grep -qE "$1" "$NETNS_TMP/target.log" && return 0
    sleep 0.1
  done
  cat "$NETNS_TMP/target.log" >&2
  fail "the target did not log /$1/ within 5 s"
}

step "port 2 offers only $S2: discovery and Connect through it"
out=$(nv discover --host-iface "$VETH_H2" -q "$H1" -a "$MAC_T2") || fail "discover on port 2 failed: $out"
echo "$out" | grep -q "Number of Records 1," || fail "port 2 should offer one subsystem: $out"
echo "$out" | grep -q "subnqn:  $S2" || fail "port 2 should offer $S2: $out"
out=$(nv discover --host-iface "$VETH_H2" -q "$H1" -a "$MAC_T2" --log-page) || fail "--log-page on port 2 failed: $out"
echo "$out" | grep -q "Number of Records 3," || fail "the log page should list S1 and S2 on port 1 and S2 on port 2: $out"
echo "$out" | grep -A3 "portid:  2" | grep -q "subnqn:  $S2" || fail "the log page lacks $S2 on port 2: $out"
expect_fail 30 "has no subsystem" ip netns exec "$NS_H" "$NVMEOE" connect -a "$MAC_T2" --host-iface "$VETH_H2" -n "$S1" -q "$H1"
out=$(nv connect -a "$MAC_T2" --host-iface "$VETH_H2" -n "$S2" -q "$H1" -i 1) || fail "connect to $S2 through port 2 failed: $out"
C4=$(printf '%s\n' "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1)
netns_on_cleanup "ip netns exec '$NS_H' '$NVMEOE' disconnect '$C4'"
write_verify "${C4}n1" 64 8192 "$NETNS_TMP/s2n1.img"
write_verify "${C2}n1" 72 4096 "$NETNS_TMP/s2n1.img"  # port 1's controller of the same subsystem
tjson=$(nv target-stats -o json) || fail "nvmeoe target-stats failed"
echo "$tjson" | jq -e --arg m "$MAC_T2" --arg s "$S2" '
    (.processes | length == 1) and (.processes[0].targets | length == 2)
    and ([.processes[0].targets[] | select(.mac == $m) | .queues[] | select(.subnqn == $s)] | length == 2)' \
  >/dev/null || fail "target-stats should show both ports, port 2 with $C4's two queues: $tjson"
nv disconnect "$C4" >/dev/null || fail "disconnect $C4 failed"

step "SIGHUP with a broken file changes nothing"
cp "$CFG" "$NETNS_TMP/good.json"
echo '{"hosts": [' >"$CFG"
kill -HUP "$TARGET_PID"
wait_log "configuration not changed: .*target.json:2:1: invalid JSON"
cp "$NETNS_TMP/good.json" "$CFG"
write_verify "${C1}n1" 16 4096 "$NETNS_TMP/s1n1.img"

step "SIGHUP adds namespace 2 to $S1: the connected host keeps working, a new connect sees 2"
write_config "$NS12" '["'$H1'", "'$H2'"]'
kill -HUP "$TARGET_PID"
wait_log "reload: $S1: added namespace 2"
write_verify "${C1}n1" 32 8192 "$NETNS_TMP/s1n1.img"
connect_host -n "$S1" -q "$H1" -D
C3=$CTRL
[ "$(nscount "$C3")" = 2 ] || fail "a new controller of $S1 should see 2 namespaces, sees $(nscount "$C3")"
write_verify "${C3}n2" 0 16384 "$NETNS_TMP/s1n2.img"

step "SIGHUP removes $H2 from $S2: its controller is torn down, it cannot connect again"
write_config "$NS12" '["'$H1'"]'
kill -HUP "$TARGET_PID"
wait_log "controller [0-9]+ torn down: host no longer allowed"
wait_log "reload: $S2: allowed hosts changed"
expect_fail 30 "refused host NQN" ip netns exec "$NS_H" "$NVMEOE" connect -a "$MAC_T" --host-iface "$VETH_H" -n "$S2" -q "$H2" -D
write_verify "${C1}n1" 48 4096 "$NETNS_TMP/s1n1.img"

step "SIGHUP lets port 2 offer $S1 too"
jq --arg s "$S1" '.ports[1].subsystems += [$s]' "$CFG" >"$CFG.new" && mv "$CFG.new" "$CFG"
kill -HUP "$TARGET_PID"
wait_log "reload: port 2 \\($VETH_T2\\): subsystems changed"
out=$(nv discover --host-iface "$VETH_H2" -q "$H1" -a "$MAC_T2") || fail "discover on port 2 failed: $out"
echo "$out" | grep -q "subnqn:  $S1" || fail "port 2 should now offer $S1: $out"

step "SIGHUP that withdraws $S1 from port 2 ends the controller connected through it"
out=$(nv connect -a "$MAC_T2" --host-iface "$VETH_H2" -n "$S1" -q "$H1" -l 0 --frontend none) ||
  fail "connect to $S1 through port 2 failed: $out"
C5=$(printf '%s\n' "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1)
netns_on_cleanup "ip netns exec '$NS_H' '$NVMEOE' disconnect '$C5' 2>/dev/null || true"
jq --arg s "$S1" '.ports[1].subsystems -= [$s]' "$CFG" >"$CFG.new" && mv "$CFG.new" "$CFG"
kill -HUP "$TARGET_PID"
wait_log "torn down: its subsystem is no longer offered on this port"
for ((i = 0; i < 100; i++)); do  # with -l 0 the agent gives up at once and removes its socket
  [ -e "$NVMEOE_RUN_DIR/$C5.sock" ] || break
  sleep 0.1
done
[ "$i" -lt 100 ] || fail "$C5 is still there 10 s after $S1 left port 2: $(nv list)"
write_verify "${C1}n1" 80 4096 "$NETNS_TMP/s1n1.img"  # port 1's controller of $S1 is untouched

stop_target
pass "two subsystems on two ports from a file, round trip, 10 broken files, SIGHUP add namespace / remove host"
