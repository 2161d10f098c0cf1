#!/usr/bin/env bash
# nvme-cli habits: `connect -t eth -a MAC -s 0x88b5 -n NQN -f IF -o json` (other transports are
# refused by name), -i defaulting to one I/O queue per CPU, `list -o json` with GenericPath and
# `list -v -o json` in nvme-cli's Devices[].Subsystems[].Controllers[].Namespaces[] layout,
# `discover -o json` with the discovery log page's fields, a discover that says the target refused
# the host, and an unknown subcommand that is named and answered with the list of commands.
source "$(dirname "$0")/lib.sh"
e2e_init hab

NQN=nqn.2024-01.io.nvmeoe:e2e-habits
ALLOWED=nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555
OTHER=nqn.2014-08.org.nvmexpress:uuid:99999999-2222-4333-8444-555555555555
netns_create 1500
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" --allow-host "$ALLOWED" mem:32M mem:16M
H=(ip netns exec "$NS_H" "$NVMEOE")
D="$NETNS_TMP/out"

step "connect with nvme-cli's flags: -t eth -s 0x88b5 -f IF -o json"
out=$(nv connect -t eth -a "$MAC_T" -s 0x88b5 -n "$NQN" -f "$VETH_H" -q "$ALLOWED" --frontend none -o json) ||
  fail "connect -t eth -s 0x88b5 -f failed: $out"
echo "$out"
CTRL=$(jq -r '.device' <<<"$out") || fail "connect -o json did not print JSON: $out"
[[ "$CTRL" =~ ^nvmeoe[0-9]+$ ]] || fail "connect -o json: device is '$CTRL'"
netns_on_cleanup "ip netns exec '$NS_H' '$NVMEOE' disconnect '$CTRL'"

step "-i defaults to one I/O queue per CPU"
want=$(nproc)
[ "$want" -gt 64 ] && want=64
nv list -v -o json >"$D.lv" || fail "list -v -o json failed"
jq -e --arg c "$CTRL" --argjson q "$want" \
  '.Devices[].Subsystems[].Controllers[] | select(.Controller == $c) | .IOQueues == $q' "$D.lv" >/dev/null ||
  fail "$CTRL should have $want I/O queues (nproc): $(cat "$D.lv")"

step "list -v -o json in nvme-cli's layout"
jq -e --arg c "$CTRL" --arg n "$NQN" --arg h "$ALLOWED" --arg m "$MAC_T" --arg i "$VETH_H" '
  (.Devices | length == 1) and .Devices[0].HostNQN == $h
  and (.Devices[0].Subsystems[0] | .SubsystemNQN == $n and (.Subsystem | startswith("nvmeoe-subsys")))
  and (.Devices[0].Subsystems[0].Controllers[0] | .Controller == $c and .Transport == "eth"
       and .Address == "traddr=\($m),trsvcid=0x88b5,host_iface=\($i)" and (.Cntlid | test("^[0-9]+$"))
       and has("SerialNumber") and has("ModelNumber") and has("Firmware")
       and (.Namespaces | length == 2)
       and .Namespaces[0].NameSpace == "\($c)n1" and .Namespaces[0].NSID == 1
       and .Namespaces[0].PhysicalSize == 33554432 and .Namespaces[0].SectorSize == 512
       and .Namespaces[1].MaximumLBA == 32768)' "$D.lv" >/dev/null ||
  fail "list -v -o json is not in nvme-cli's layout: $(cat "$D.lv")"
nv list -o json >"$D.l" || fail "list -o json failed"
jq -e --arg c "$CTRL" '.Devices[0] | .NameSpace == 1 and .GenericPath == "\($c)n1" and .DevicePath == "\($c)n1"
  and has("Firmware") and has("ModelNumber") and has("SerialNumber") and .UsedBytes == 33554432' "$D.l" >/dev/null ||
  fail "list -o json lacks nvme-cli's fields: $(cat "$D.l")"

step "other transports and bad values are refused by name"
expect_fail 10 "transport 'tcp' is not nvmeoe's.*-t eth" "${H[@]}" connect -t tcp -a "$MAC_T" -n "$NQN" -f "$VETH_H"
expect_fail 10 "transport 'rdma' is not nvmeoe's" "${H[@]}" discover -t rdma -f "$VETH_H"
expect_fail 10 "unknown transport 'ether'" "${H[@]}" connect -t ether -a "$MAC_T" -n "$NQN" -f "$VETH_H"
expect_fail 10 "EtherType" "${H[@]}" connect -a "$MAC_T" -s 0x10 -n "$NQN" -f "$VETH_H"
expect_fail 10 "output-format|normal|json" "${H[@]}" connect -a "$MAC_T" -n "$NQN" -f "$VETH_H" -o xml

step "discover -o json has the discovery log page's fields"
nv discover -t eth -f "$VETH_H" -s 0x88b5 -q "$ALLOWED" -o json >"$D.d" || fail "discover -o json failed"
jq -e --arg n "$NQN" --arg m "$MAC_T" '
  (.genctr | type == "number") and (.records | length == 1)
  and (.records[0] | keys_unsorted[0:9] == ["trtype","adrfam","subtype","treq","portid","trsvcid","subnqn","traddr","eflags"])
  and (.records[0] | .trtype == "eth" and .subtype == "nvme subsystem" and .trsvcid == "0x88b5"
       and .subnqn == $n and .traddr == $m and .eflags == "none" and .namespaces == 2 and .capacity == 50331648)' \
  "$D.d" >/dev/null || fail "discover -o json: $(cat "$D.d")"
nv discover -f "$VETH_H" -a "$MAC_T" -q "$ALLOWED" --log-page -o json >"$D.lp" || fail "discover --log-page failed"
jq -e --arg n "$NQN" '[.records[] | select(.subnqn == $n)] | length == 1 and (.[0] | .eflags == "none" and .adrfam != null)' \
  "$D.lp" >/dev/null || fail "discover --log-page -o json: $(cat "$D.lp")"

step "discover says when the target refused the host"
out=$(nv discover -f "$VETH_H" -q "$OTHER" 2>&1) || fail "discover as another host failed: $out"
echo "$out" | grep -q "target $MAC_T refused host $OTHER: it offers it no subsystem" ||
  fail "discover did not say the target refused the host: $out"
out=$(nv discover -f "$VETH_H" -a "$MAC_T" -n "$NQN" -q "$OTHER" 2>&1) || fail "discover -a -n failed: $out"
echo "$out" | grep -q "refused host $OTHER: it offers it no access to $NQN" || fail "discover -n: $out"
expect_fail 20 'Connect Invalid Host' "${H[@]}" connect -t eth -a "$MAC_T" -n "$NQN" -f "$VETH_H" -q "$OTHER"

step "an unknown command is named and the commands are listed"
expect_fail 5 "unknown command 'conect'" "$NVMEOE" conect -a "$MAC_T"
out=$("$NVMEOE" conect 2>&1 || true)
for c in connect disconnect list id-ctrl smart-log help; do
  grep -qE "^  $c +" <<<"$out" || fail "the command list after an unknown command lacks $c: $out"
done

nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
stop_target
pass
