#!/usr/bin/env bash
# scripts/install.sh into a staging directory (DESTDIR under the test's temp dir, nothing on the
# system itself): programs, man pages generated from --help (`man nvmeoe`, `man nvmeoe-target`
# work from there and describe the admin commands), bash completion (`nvmeoe <TAB>` lists the
# commands, options and devices complete), the Wireshark dissector in the plugin folder (tshark
# loads it), and the systemd units (the target's has the AF_XDP capabilities and rates better
# than 4.5 in `systemd-analyze security`).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || fail "must run as root"
netns_init inst
for t in help2man man tshark; do command -v "$t" >/dev/null || fail "$t is missing (bash scripts/install-deps.sh)"; done
export NVMEOE_BIN_DIR=$BIN

STAGE="$NETNS_TMP/stage"
PREFIX=/usr/local
step "install.sh with DESTDIR=$STAGE"
DESTDIR="$STAGE" PREFIX="$PREFIX" BUILD_DIR="$(dirname "$BIN")" WIRESHARK_PLUGIN_DIR=/usr/lib/wireshark/plugins \
  bash "$REPO/scripts/install.sh" >"$NETNS_TMP/install.log" 2>&1 || fail "install.sh failed: $(cat "$NETNS_TMP/install.log")"
for f in bin/nvmeoe bin/nvmeoe-target bin/nvmeoe-fault-relay share/man/man8/nvmeoe.8 share/man/man8/nvmeoe-target.8 \
  share/bash-completion/completions/nvmeoe share/doc/nvmeoe/README.md; do
  [ -e "$STAGE$PREFIX/$f" ] || fail "install.sh did not install $PREFIX/$f"
done
[ -x "$STAGE$PREFIX/bin/nvmeoe" ] || fail "nvmeoe is not executable"

step "man nvmeoe and man nvmeoe-target"
export MANPATH="$STAGE$PREFIX/share/man"
man -P cat nvmeoe >"$NETNS_TMP/man1" 2>&1 || fail "man nvmeoe failed: $(cat "$NETNS_TMP/man1")"
grep -q '^NAME' "$NETNS_TMP/man1" || fail "man nvmeoe has no NAME section"
grep -qE 'nvmeoe - NVMe over raw Ethernet' "$NETNS_TMP/man1" || fail "man nvmeoe lacks its name line"
for c in connect discover list id-ctrl smart-log get-feature show-regs; do
  grep -qE "^ +nvmeoe $c |^   $c\$" "$NETNS_TMP/man1" || grep -q "Usage: nvmeoe $c " "$NETNS_TMP/man1" ||
    fail "man nvmeoe does not describe '$c'"
done
grep -q 'NVMEOE_RUN_DIR' "$NETNS_TMP/man1" || fail "man nvmeoe lacks the ENVIRONMENT section"
man -P cat nvmeoe-target >"$NETNS_TMP/man2" 2>&1 || fail "man nvmeoe-target failed"
grep -q -- '--config' "$NETNS_TMP/man2" && grep -q -- '--iface' "$NETNS_TMP/man2" ||
  fail "man nvmeoe-target lacks its options: $(head -30 "$NETNS_TMP/man2")"

step "bash completion: nvmeoe <TAB>"
# Outputs are captured before grep: under pipefail, `comp ... | grep -q` fails when grep stops
# reading early.
comp() {  # comp WORD... : the completions of the last word, one per line
  PATH="$STAGE$PREFIX/bin:$PATH" bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    if [ "${COMP_WORDS[0]}" = nvmeoe-target ]; then _nvmeoe_target; else _nvmeoe; fi
    printf "%s\n" "${COMPREPLY[@]}"' _ "$STAGE$PREFIX/share/bash-completion/completions/nvmeoe" "$@"
}
out=$(comp nvmeoe "")
for c in connect disconnect list id-ctrl id-ns smart-log get-feature set-feature show-regs help; do
  grep -qx "$c" <<<"$out" || fail "nvmeoe <TAB> does not offer $c: $out"
done
[ "$(comp nvmeoe conn | sort | tr '\n' ' ')" = "connect connect-all " ] || fail "nvmeoe conn<TAB>: $(comp nvmeoe conn)"
grep -qx -- --host-iface <<<"$(comp nvmeoe connect --host)" || fail "nvmeoe connect --host<TAB> does not offer --host-iface"
grep -qx eth <<<"$(comp nvmeoe connect -t "")" || fail "nvmeoe connect -t <TAB> does not offer eth"
grep -qx -- --human-readable <<<"$(comp nvmeoe smart-log --)" || fail "nvmeoe smart-log --<TAB> lacks --human-readable"
grep -qx lo <<<"$(comp nvmeoe connect -f "")" || fail "nvmeoe connect -f <TAB> does not offer interfaces"
mkdir -p "$NVMEOE_RUN_DIR" && : >"$NVMEOE_RUN_DIR/nvmeoe3.sock"
grep -qx nvmeoe3 <<<"$(comp nvmeoe id-ctrl "")" || fail "nvmeoe id-ctrl <TAB> does not offer the controllers: $(comp nvmeoe id-ctrl "") (run dir $NVMEOE_RUN_DIR: $(ls "$NVMEOE_RUN_DIR"))"
rm -f "$NVMEOE_RUN_DIR/nvmeoe3.sock"
grep -qx -- --iface <<<"$(comp nvmeoe-target --if)" || fail "nvmeoe-target --if<TAB> does not offer --iface"

step "the Wireshark dissector is in the plugin folder and loads"
lua="$STAGE/usr/lib/wireshark/plugins/nvmeoe.lua"
[ -f "$lua" ] || fail "dissector not installed in the plugin folder"
tshark -G protocols -X "lua_script:$lua" >"$NETNS_TMP/protocols" 2>"$NETNS_TMP/tshark.err" || true
grep -qi nvmeoe "$NETNS_TMP/protocols" ||
  fail "tshark does not load the installed dissector: $(cat "$NETNS_TMP/tshark.err")"

step "systemd units: the target's capabilities and security rating"
unit="$STAGE/etc/systemd/system/nvmeoe-target@.service"
[ -f "$unit" ] && [ -f "$STAGE/etc/systemd/system/nvmeoe-connect@.service" ] || fail "units not installed"
grep -q "^ExecStart=$PREFIX/bin/nvmeoe-target --config" "$unit" || fail "the target unit does not run $PREFIX/bin/nvmeoe-target"
for cap in CAP_NET_RAW CAP_NET_ADMIN CAP_BPF CAP_IPC_LOCK; do
  grep -qE "^CapabilityBoundingSet=.*\b$cap\b" "$unit" || fail "the target unit lacks $cap (AF_PACKET / --link af_xdp)"
done
grep -qE '^RestrictAddressFamilies=.*AF_XDP' "$unit" || fail "the target unit does not allow AF_XDP sockets"
grep -qE '^RuntimeDirectory=nvmeoe' "$unit" && grep -q '^Environment=NVMEOE_RUN_DIR=/run/nvmeoe' "$unit" ||
  fail "the target unit's run files are not under /run/nvmeoe"
if grep -q -- '--offline' <<<"$(systemd-analyze security --help 2>/dev/null)"; then
  score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | awk '/Overall exposure level/ {print $(NF-2)}')
  echo "    systemd-analyze security: $score"
  awk -v s="$score" 'BEGIN {exit !(s != "" && s + 0 < 4.5)}' || fail "the target unit rates $score, not better than 4.5"
else
  echo "    (systemd-analyze has no --offline here: rating not checked)"
fi

pass
