#!/usr/bin/env bash
# Discovery on one Ethernet segment: two targets and a host on a bridge. `nvmeoe discover` finds
# both targets without being told a MAC, leaves out a subsystem whose allow-list excludes the
# host, `connect-all` connects to everything found (once), and the discovery controller's log page
# (LID 70h) lists the same subsystems.
source "$(dirname "$0")/lib.sh"
e2e_init dsc
netns_create_bridged 3 1500
NS_HOST=${BR_NS[0]} IF_HOST=${BR_IF[0]}
NS_A=${BR_NS[1]} IF_A=${BR_IF[1]} MAC_A=${BR_MAC[1]}
NS_B=${BR_NS[2]} IF_B=${BR_IF[2]} MAC_B=${BR_MAC[2]}

HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555
OTHER=nqn.2014-08.org.nvmexpress:uuid:99999999-8888-7777-6666-555555555555
NQN_A1=nqn.2024-01.io.nvmeoe:disc-a1
NQN_A2=nqn.2024-01.io.nvmeoe:disc-a2-other-host-only
NQN_B=nqn.2024-01.io.nvmeoe:disc-b

h() { ip netns exec "$NS_HOST" timeout 60 "$NVMEOE" "$@"; }

step "target A from a config file: $NQN_A1 (any host), $NQN_A2 (another host only)"
cat >"$NETNS_TMP/a.json" <<JSON
{
  "hosts": [{"nqn": "$OTHER"}],
  "ports": [{"portid": 1, "addr": {"trtype": "eth", "traddr": "$IF_A"}, "subsystems": ["$NQN_A1", "$NQN_A2"]}],
  "subsystems": [
    {"nqn": "$NQN_A1", "attr": {"allow_any_host": "1"},
     "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "mem:64M"}}]},
    {"nqn": "$NQN_A2", "attr": {"allow_any_host": "0"}, "allowed_hosts": ["$OTHER"],
     "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "mem:16M"}}]}
  ]
}
JSON
start_target_ns "$NS_A" "$NETNS_TMP/a.log" --config "$NETNS_TMP/a.json"
step "target B from the command line: $NQN_B"
start_target_ns "$NS_B" "$NETNS_TMP/b.log" --nqn "$NQN_B" --iface "$IF_B" mem:32M mem:32M

step "discover (broadcast) lists both targets, not the subsystem the host may not use"
out=$(h discover --host-iface "$IF_HOST" -q "$HOSTNQN") || fail "discover failed: $out"
echo "$out"
echo "$out" | grep -q "Number of Records 2, from 2 targets" || fail "expected 2 records from 2 targets"
echo "$out" | grep -q "subnqn:  $NQN_A1" || fail "$NQN_A1 missing"
echo "$out" | grep -q "subnqn:  $NQN_B" || fail "$NQN_B missing"
echo "$out" | grep -q "traddr:  $MAC_A" || fail "target A's MAC $MAC_A missing"
echo "$out" | grep -q "traddr:  $MAC_B" || fail "target B's MAC $MAC_B missing"
echo "$out" | grep -q "$NQN_A2" && fail "$NQN_A2 listed although its allow-list excludes the host"

step "the other host sees $NQN_A2; a NQN filter and JSON output"
out=$(h discover --host-iface "$IF_HOST" -q "$OTHER" -n "$NQN_A2" -o json) || fail "discover -n failed: $out"
echo "$out" | grep -q "\"subnqn\": \"$NQN_A2\"" || fail "$NQN_A2 not listed for its allowed host: $out"
[ "$(echo "$out" | grep -c '"subnqn"')" = 1 ] || fail "the NQN filter let other subsystems through: $out"

step "unicast discover of target B; a silent MAC is an error"
out=$(h discover --host-iface "$IF_HOST" -q "$HOSTNQN" -a "$MAC_B") || fail "discover -a failed: $out"
echo "$out" | grep -q "nsnum:   2" || fail "target B should report 2 namespaces: $out"
expect_fail 10 "no answer from 02:00:00:00:00:99" ip netns exec "$NS_HOST" "$NVMEOE" discover --host-iface "$IF_HOST" \
  -a 02:00:00:00:00:99 --timeout 300

step "the discovery controller's log page (LID 70h) lists the same"
out=$(h discover --host-iface "$IF_HOST" -q "$HOSTNQN" -a "$MAC_A" --log-page) || fail "--log-page failed: $out"
echo "$out"
echo "$out" | grep -q "Discovery Log Number of Records 1," || fail "expected 1 record from target A's discovery controller"
echo "$out" | grep -q "trtype:  eth" || fail "trtype is not eth"
echo "$out" | grep -q "traddr:  $MAC_A" || fail "traddr is not target A's MAC"
echo "$out" | grep -q "trsvcid: 0x88b5" || fail "trsvcid is not the EtherType"
echo "$out" | grep -q "subnqn:  $NQN_A1" || fail "$NQN_A1 missing from the log page"
echo "$out" | grep -q "$NQN_A2" && fail "$NQN_A2 in the log page of a host it excludes"
out=$(h discover --host-iface "$IF_HOST" -q "$OTHER" -a "$MAC_A" --log-page -o json) || fail "--log-page -o json failed"
[ "$(echo "$out" | grep -c '"subnqn"')" = 2 ] || fail "the other host should see both subsystems of A: $out"

step "connect-all connects to both targets, once"
netns_on_cleanup "ip netns exec '$NS_HOST' '$NVMEOE' disconnect-all"
out=$(h connect-all --host-iface "$IF_HOST" -q "$HOSTNQN" 2>&1) || fail "connect-all failed: $out"
echo "$out"
[ "$(echo "$out" | grep -cE '^nvmeoe[0-9]+$')" = 2 ] || fail "connect-all should print 2 controller names"
list=$(h list -v -o json)
for nqn in "$NQN_A1" "$NQN_B"; do
  [ "$(echo "$list" | jq --arg n "$nqn" '[.Devices[].Subsystems[] | select(.SubsystemNQN == $n) | .Controllers[]] | length')" = 1 ] ||
    fail "nvmeoe list -v should show one controller of $nqn: $list"
done
out=$(h connect-all --host-iface "$IF_HOST" -q "$HOSTNQN" 2>&1) || fail "second connect-all failed: $out"
echo "$out"
echo "$out" | grep -qE '^nvmeoe[0-9]+$' && fail "second connect-all connected again: $out"
[ "$(echo "$out" | grep -c 'already connected')" = 2 ] || fail "second connect-all should skip both: $out"

step "I/O through a controller found by discovery"
node=$(echo "$list" | jq -r --arg n "$NQN_B" '.Devices[].Subsystems[] | select(.SubsystemNQN == $n) | .Controllers[0].Namespaces[0].NameSpace')
[ -n "$node" ] || fail "no namespace node in nvmeoe list"
head -c 4096 /dev/urandom >"$NETNS_TMP/in"
h write "$node" -s 0 -c 7 -z 4096 -d "$NETNS_TMP/in" >/dev/null || fail "write to $node failed"
h read "$node" -s 0 -c 7 -z 4096 -d "$NETNS_TMP/out" >/dev/null || fail "read from $node failed"
cmp -s "$NETNS_TMP/in" "$NETNS_TMP/out" || fail "read-back differs on $node"

step "disconnect by NQN, target MAC and interface (what nvmeoe-connect@.service stops with)"
expect_fail 10 "give -n too" ip netns exec "$NS_HOST" "$NVMEOE" disconnect -a "$MAC_B"
h disconnect -n "$NQN_B" -a "$MAC_A" --host-iface "$IF_HOST" >/dev/null || fail "disconnect with no match failed"
[ "$(h list -v -o json | jq '[.Devices[].Subsystems[].Controllers[]] | length')" = 2 ] || fail "a disconnect naming the wrong MAC removed a controller"
h disconnect -n "$NQN_B" -a "$MAC_B" --host-iface "$IF_HOST" >/dev/null || fail "disconnect -n -a --host-iface failed"
left=$(h list -v -o json | jq -r '[.Devices[].Subsystems[].Controllers[].SubsystemNQN] | join(" ")')
[ "$left" = "$NQN_A1" ] || fail "after disconnecting $NQN_B at $MAC_B, left: '$left'"
h disconnect-all >/dev/null || fail "disconnect-all failed"

pass "2 targets discovered, allow-list respected, connect-all, log page 70h"
