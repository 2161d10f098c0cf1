#!/usr/bin/env bash
# nvme-cli's admin commands through a connected agent, against a real target: each command's
# text has nvme-cli 2.16's layout, its -o json parses and has nvme-cli's fields, and the values
# are the target's (serial, model, firmware, NQN, cntlid, namespace sizes and NSIDs, the SMART
# counters after known I/O, the error log after a refused command, the features the connection
# negotiated, the properties of an enabled controller). Unsupported requests give clear errors.
source "$(dirname "$0")/lib.sh"
e2e_init adm

NQN=nqn.2024-01.io.nvmeoe:e2e-admin
netns_create 1500
F1="$NETNS_TMP/ns1.img"
make_sparse "$F1" 64M
start_target "$NETNS_TMP/target.log" --nqn "$NQN" --iface "$VETH_T" "$F1" mem:32M
connect_host -n "$NQN" -i 2 -k 7
D="$NETNS_TMP/out"
NVMEOE_H=(ip netns exec "$NS_H" "$NVMEOE")

# run NAME ARGS...: nvmeoe ARGS in the host namespace; output in $D.NAME, must succeed.
run() {
  local name=$1
  shift
  nv "$@" >"$D.$name" 2>"$D.$name.err" || fail "nvmeoe $* failed: $(cat "$D.$name.err")"
}
# line NAME REGEX: the output has a whole line matching REGEX.
line() { grep -qE "^$2\$" "$D.$1" || fail "nvmeoe $1: no line /$2/ in: $(head -c 2000 "$D.$1")"; }
# jqe NAME EXPR: the JSON output of NAME satisfies the jq expression.
jqe() { jq -e "$2" "$D.$1" >/dev/null || fail "nvmeoe $1 -o json: not ($2): $(head -c 2000 "$D.$1")"; }

run list list -o json
SN=$(jq -r '.Devices[0].SerialNumber' "$D.list")
FW=$(jq -r '.Devices[0].Firmware' "$D.list")
[ -n "$SN" ] && [ "$SN" != null ] || fail "no serial number in nvmeoe list"
run listv list -v -o json
CNTLID=$(jq -r '.Devices[0].Subsystems[0].Controllers[0].Cntlid' "$D.listv")

step "id-ctrl"
run idc id-ctrl "$CTRL"
line idc 'NVME Identify Controller:'
line idc "sn        : $SN *"
line idc 'mn        : nvmeoe *'
line idc "fr        : $FW *"
line idc "cntlid    : $(printf '%#x' "$CNTLID")"
line idc 'ver       : 0x20000'
line idc 'cntrltype : 1'
line idc 'nn        : 2'
line idc "subnqn    : $NQN"
line idc 'ps +0 : mp:0.00W operational .*'
run idcj id-ctrl "$CTRL" -o json
jqe idcj "(.sn | sub(\" +$\"; \"\")) == \"$SN\""
jqe idcj ".subnqn == \"$NQN\" and .cntlid == $CNTLID and .nn == 2 and .ver == 131072 and .cntrltype == 1"
jqe idcj '[.vid, .ssvid, .mdts, .oacs, .lpa, .elpe, .kas, .sqes, .cqes, .maxcmd, .oncs, .vwc, .sgls, .ioccsz, .iorcsz, .tnvmcap] | all(type == "number")'
jqe idcj '.psds | length == 1'
MDTS=$(jq .mdts "$D.idcj")
run idcb id-ctrl "$CTRL" -b
[ "$(stat -c %s "$D.idcb")" = 4096 ] || fail "id-ctrl -b did not write 4096 bytes"

step "id-ns, list-ns, list-ctrl"
run idn id-ns "${CTRL}n1"
line idn 'NVME Identify Namespace 1:'
line idn "nsze    : $(printf '%#x' $((64 * 1024 * 1024 / 512)))"
line idn 'lbaf  0 : ms:0   lbads:9  rp:0 \(in use\)'
run idnj id-ns "$CTRL" -n 2 -o json
jqe idnj ".nsze == $((32 * 1024 * 1024 / 512)) and .ncap == .nsze and (.nguid | length == 32)"
jqe idnj '.lbafs[0] == {"lbaf":0,"ms":0,"ds":9,"rp":0,"in_use":1}'
expect_fail 10 'give a namespace' "${NVMEOE_H[@]}" id-ns "$CTRL"
expect_fail 10 'Invalid Namespace' "${NVMEOE_H[@]}" id-ns "$CTRL" -n 9
run lns list-ns "$CTRL"
[ "$(cat "$D.lns")" = "$(printf 'NVME Namespace List:\n[   0]:0x1\n[   1]:0x2')" ] || fail "list-ns: $(cat "$D.lns")"
run lnsj list-ns "$CTRL" -o json
jqe lnsj '.nsid_list == [{"nsid":1},{"nsid":2}]'
run lct list-ctrl "$CTRL"
line lct 'num of ctrls present: 1'
line lct "\[   0\]:$(printf '%#x' "$CNTLID")"
run lctj list-ctrl "$CTRL" -o json
jqe lctj ".num_ctrl == 1 and .ctrl_list == [{\"ctrl_id\":$CNTLID}]"

step "list-subsys"
run lss list-subsys
line lss "nvmeoe-subsys0 - NQN=$NQN"
line lss " +\\+- $CTRL eth traddr=$MAC_T,trsvcid=0x88b5,host_iface=$VETH_H live"
run lssj list-subsys -o json
jqe lssj ".[0].Subsystems[0].NQN == \"$NQN\" and .[0].Subsystems[0].Paths[0].Name == \"$CTRL\" and .[0].Subsystems[0].Paths[0].State == \"live\" and (.[0].HostNQN | startswith(\"nqn.\"))"

step "smart-log after known I/O"
rand_file "$D.data" 8192
nv write "${CTRL}n1" -s 0 -c 15 -z 8192 -d "$D.data" 2>/dev/null || fail "write failed"
nv write "${CTRL}n1" -s 16 -c 15 -z 8192 -d "$D.data" 2>/dev/null || fail "write failed"
nv read "${CTRL}n2" -s 0 -c 7 -z 4096 -d "$D.rd" 2>/dev/null || fail "read failed"
run sm smart-log "$CTRL"
line sm 'Smart Log for NVME device:'"$CTRL"' namespace-id:ffffffff'
line sm 'host_write_commands'$'\t\t\t'': 2'
line sm 'host_read_commands'$'\t\t\t'': 1'
line sm 'Data Units Written'$'\t\t\t'': 1 \(512.00 kB\)'
line sm 'available_spare'$'\t\t\t\t'': 100%'
run smj smart-log "$CTRL" -o json
jqe smj '.host_write_commands == 2 and .host_read_commands == 1 and .data_units_written == 1 and .data_units_read == 1'
jqe smj '[.critical_warning, .temperature, .avail_spare, .spare_thresh, .percent_used, .power_on_hours, .media_errors, .num_err_log_entries] | all(type == "number")'
run sm2 smart-log "$CTRL" -n 2 -o json
jqe sm2 '.host_read_commands == 1 and .host_write_commands == 0'

step "error-log after a refused command"
expect_fail 10 'LBA Out of Range' "${NVMEOE_H[@]}" read "${CTRL}n2" -s 70000 -c 0 -z 512 -d "$D.x"
run el error-log "$CTRL" -e 1
line el "Error Log Entries for device:$CTRL entries:1"
line el 'status_field'$'\t'': 0x4080 \(LBA Out of Range.*\)'
run elj error-log "$CTRL" -o json
jqe elj '(.errors | length) == 64 and .errors[0].status_field == 16512 and .errors[0].nsid == 2 and .errors[0].error_count >= 1'

step "fw-log and get-log"
run fw fw-log "$CTRL"
line fw "Firmware Log for device:$CTRL"
line fw 'afi  : 0x1'
line fw "frs1 : 0x[0-9a-f]{16} \\($FW\\.*\\)"
run fwj fw-log "$CTRL" -o json
jqe fwj ".\"$CTRL\".\"Active Firmware Slot (afi)\" == 1 and (.\"$CTRL\".\"Firmware Rev Slot 1\" | test(\"\\\\($FW\"))"
run gl get-log "$CTRL" -i 2 -l 512
line gl "Device:$CTRL log-id:2 namespace-id:0xffffffff"
line gl '0040: 01 00 00 00 .*'  # host read commands (1), little-endian
line gl '0050: 02 00 00 00 .*'  # host write commands (2)
[ "$(grep -c '^[0-9a-f]\{4\}:' "$D.gl")" = 32 ] || fail "get-log -l 512 did not dump 32 rows"
run glb get-log "$CTRL" -i 1 -l 8192 -b
[ "$(stat -c %s "$D.glb")" = 8192 ] || fail "get-log -l 8192 -b (two 4 KiB pieces) did not write 8192 bytes"
cmp -s <(head -c 4096 "$D.glb") <(nv get-log "$CTRL" -i 1 -l 4096 -b) || fail "the first piece of get-log -l 8192 differs from the page read whole"
expect_fail 10 'non-dw alignment' "${NVMEOE_H[@]}" get-log "$CTRL" -i 2 -l 6
expect_fail 10 'Invalid Log Page' "${NVMEOE_H[@]}" get-log "$CTRL" -i 0xc0 -l 512

step "get-feature and set-feature"
run gf get-feature "$CTRL" -f 7 -H
line gf 'get-feature:0x07 \(Number of Queues\), Current value:0x00010001'
line gf $'\tNumber of IO Submission Queues Allocated \\(NSQA\\): 2'
run gfa get-feature "$CTRL"
line gfa 'get-feature:0x0f \(Keep Alive Timer\), Current value:0x00001b58'
run gfj get-feature "$CTRL" -o json
jqe gfj '."feature: 0x0f"[0].name == "Keep Alive Timer" and ."Feature: 0x0f"[0]."Keep Alive Timeout (KATO) in milliseconds" == 7000'
jqe gfj '."Feature: 0x07"[0]."Number of IO Completion Queues Allocated (NCQA)" == 2'
run sf set-feature "$CTRL" -f 0x0f -V 9000
line sf 'set-feature:0x0f \(Keep Alive Timer\), value:0x00002328, cdw12:00000000, save:0'
run gf2 get-feature "$CTRL" -f 0x0f
line gf2 'get-feature:0x0f \(Keep Alive Timer\), Current value:0x00002328'
run gf3 get-feature "$CTRL" -f 0x0f -s 3
line gf3 '  Feature is changeable'
expect_fail 10 'Invalid Field' "${NVMEOE_H[@]}" get-feature "$CTRL" -f 6
expect_fail 10 'Command Sequence Error' "${NVMEOE_H[@]}" set-feature "$CTRL" -f 7 -V 0
expect_fail 10 'Feature Identifier Not Saveable|not saveable' "${NVMEOE_H[@]}" set-feature "$CTRL" -f 0x0f -V 9000 -s
expect_fail 10 'invalid .select' "${NVMEOE_H[@]}" get-feature "$CTRL" -f 7 -s 5

step "show-regs"
run rg show-regs "$CTRL"
line rg 'cap     : 0x[0-9a-f]+'
line rg 'version : 0x20000'
line rg 'csts    : 0x1'
run rgj show-regs "$CTRL" -o json
jqe rgj '.vs == 131072 and (.cc % 2) == 1 and (.csts % 2) == 1 and .cap > 4294967295'

step "gen-hostnqn, help, unknown commands, wrong devices"
run gh gen-hostnqn
line gh 'nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
run hp help
for c in id-ctrl id-ns list-ns list-ctrl list-subsys smart-log error-log fw-log get-log get-feature set-feature show-regs gen-hostnqn; do
  line hp "  $c +.*"
done
run hpc help smart-log
grep -q -- '--namespace-id' "$D.hpc" || fail "help smart-log does not describe --namespace-id"
expect_fail 5 "unknown command 'id-ctlr'" "$NVMEOE" id-ctlr "$CTRL"
expect_fail 10 'does not exist' "${NVMEOE_H[@]}" id-ctrl nvmeoe77
expect_fail 10 'neither an nvmeoe controller' "${NVMEOE_H[@]}" id-ctrl /dev/null
[ "$MDTS" -ge 1 ] || fail "mdts $MDTS"

pass
