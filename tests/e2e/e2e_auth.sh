#!/usr/bin/env bash
# DH-HMAC-CHAP across veth: keys in an nvmetcli-layout configuration file (nvmetcli's "dhchap"
# group and the flat dhchap_* names) and on the command line; a host with the key connects and
# does I/O (both directions, SHA-256/384/512, null DH, FFDHE 2048 and 8192), one without a key,
# with a wrong key or with a wrong controller key is refused and says why; a host without a
# configured key connects as before; secrets given as files stay out of process listings; the
# host authenticates again after the target restarts; the seed scripts pass keys from the
# environment and from key files; secrets made by Debian's nvme-cli (`nvme gen-dhchap-key`) work
# on both ends when nvme-cli can be had (installed, or `apt-get download`ed and unpacked here
# without installing it, since its installation writes /etc/nvme/hostnqn).
source "$(dirname "$0")/lib.sh"
e2e_init auth

NQN=nqn.2024-01.io.nvmeoe:e2e-auth
H1=nqn.2014-08.org.nvmexpress:uuid:a1a1a1a1-0000-4000-8000-000000000001  # bidirectional, file keys
H2=nqn.2014-08.org.nvmexpress:uuid:a2a2a2a2-0000-4000-8000-000000000002  # flat dhchap_* names
H3=nqn.2014-08.org.nvmexpress:uuid:a3a3a3a3-0000-4000-8000-000000000003  # an nvme-cli secret
OPEN=nqn.2014-08.org.nvmexpress:uuid:a4a4a4a4-0000-4000-8000-000000000004  # no key configured

netns_create 1500
BACKING="$NETNS_TMP/disk.img"
make_sparse "$BACKING" 64M
K="$NETNS_TMP/keys"
mkdir -m 700 "$K"

step "secrets: nvmeoe gen-dhchap-key, and nvme-cli's when it can be had"
"$NVMEOE" gen-dhchap-key -m 2 -n "$H1" >"$K/h1"
"$NVMEOE" gen-dhchap-key -l 64 >"$K/h1.ctrl"
"$NVMEOE" gen-dhchap-key -m 1 -n "$H2" >"$K/h2"
"$NVMEOE" gen-dhchap-key >"$K/wrong"
for f in h1 h1.ctrl h2 wrong; do
  "$NVMEOE" check-dhchap-key -k "$(cat "$K/$f")" >/dev/null || fail "gen-dhchap-key made an invalid secret ($f)"
done
grep -qE '^DHHC-1:02:[A-Za-z0-9+/]{70}==:$' "$K/h1" || fail "SHA-384 secret not in nvme-cli's format: $(cat "$K/h1")"
NVME=()
if command -v nvme >/dev/null 2>&1; then
  NVME=(nvme)
elif command -v apt-get >/dev/null 2>&1 &&
  (cd "$NETNS_TMP" && timeout 60 apt-get download nvme-cli libnvme1 >/dev/null 2>&1); then
  for d in "$NETNS_TMP"/*.deb; do dpkg-deb -x "$d" "$NETNS_TMP/nvme-cli"; done
  NVME=(env "LD_LIBRARY_PATH=$NETNS_TMP/nvme-cli/usr/lib/x86_64-linux-gnu" "$NETNS_TMP/nvme-cli/usr/sbin/nvme")
fi
if [ ${#NVME[@]} -gt 0 ] && "${NVME[@]}" gen-dhchap-key -m 1 -n "$H3" >"$K/h3" 2>/dev/null; then
  echo "    nvme-cli: $("${NVME[@]}" version 2>/dev/null | head -n1)"
  # The same secret gives the same text in both programs, and each accepts the other's.
  hexs=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f
  for m in 0 2; do
    a=$("${NVME[@]}" gen-dhchap-key -s "$hexs" -l 48 -m "$m" -n "$H3")
    b=$("$NVMEOE" gen-dhchap-key -s "$hexs" -l 48 -m "$m" -n "$H3")
    [ "$a" = "$b" ] || fail "gen-dhchap-key -m $m: nvme-cli prints $a, nvmeoe $b"
  done
  "$NVMEOE" check-dhchap-key -k "$(cat "$K/h3")" >/dev/null || fail "nvmeoe refuses nvme-cli's secret"
  "${NVME[@]}" check-dhchap-key -k "$(cat "$K/h1")" >/dev/null || fail "nvme-cli refuses nvmeoe's secret"
  HAVE_NVME_CLI=1
else
  echo "    nvme-cli could not be had here: its secret is made by nvmeoe gen-dhchap-key instead"
  "$NVMEOE" gen-dhchap-key -m 1 -n "$H3" >"$K/h3"
  HAVE_NVME_CLI=0
fi

CONF="$NETNS_TMP/auth.json"
cat >"$CONF" <<EOF
{
  "hosts": [
    {"nqn": "$H1", "dhchap": {"key": "$(cat "$K/h1")", "ctrl_key": "$(cat "$K/h1.ctrl")",
                             "hash": "hmac(sha384)", "dhgroup": "ffdhe2048"}},
    {"nqn": "$H2", "dhchap_key": "$(cat "$K/h2")", "dhchap_hash": "hmac(sha512)"},
    {"nqn": "$H3", "dhchap": {"key": "$(cat "$K/h3")", "ctrl_key": "", "hash": "hmac(sha256)", "dhgroup": "null"}},
    {"nqn": "$OPEN"}
  ],
  "ports": [{"portid": 1, "addr": {"trtype": "eth", "traddr": "$VETH_T"}, "subsystems": ["$NQN"]}],
  "subsystems": [{"nqn": "$NQN", "attr": {"allow_any_host": "0"}, "allowed_hosts": ["$H1", "$H2", "$H3", "$OPEN"],
                  "namespaces": [{"nsid": 1, "enable": 1, "device": {"path": "$BACKING"}}]}]
}
EOF
chmod 644 "$CONF"

step "target from a configuration file with keys"
start_target "$NETNS_TMP/target.log" --config "$CONF"
grep -q "host $H1 must authenticate: DH-HMAC-CHAP hmac(sha384), DH group ffdhe2048, controller key" \
  "$NETNS_TMP/target.log" || fail "the target does not say which hosts must authenticate"
grep -q "readable by others" "$NETNS_TMP/target.log" || fail "no warning about a world-readable file of secrets"
"$TARGET" --config "$CONF" --dump-config | jq -e --arg h "$H2" '.hosts[] | select(.nqn == $h) | .dhchap.hash == "hmac(sha512)"' \
  >/dev/null || fail "--dump-config does not write the dhchap group"

step "bidirectional, secrets from files: connects and does I/O"
connect_host -n "$NQN" -q "$H1" --dhchap-secret "$K/h1" --dhchap-ctrl-secret "$K/h1.ctrl"
write_verify "${CTRL}n1" 100 65536 "$BACKING"
# Secrets given as files never appear in a command line.
for pid in $(ip netns pids "$NS_H"); do
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$(cut -c11-40 "$K/h1")"; then
    fail "the host secret is in the command line of pid $pid"
  fi
done
grep -q "host authenticated\|authenticated both ways" "$NETNS_TMP/target.log" || fail "the target logs no authentication"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"

step "refusals name the reason"
H=(ip netns exec "$NS_H")
C=("${H[@]}" "$NVMEOE" connect -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" --frontend none)
expect_fail 20 "requires DH-HMAC-CHAP authentication of host NQN '$H1'.*--dhchap-secret" "${C[@]}" -q "$H1"
expect_fail 20 "refused the host's response \(authentication failed\)" "${C[@]}" -q "$H1" --dhchap-secret "$K/wrong"
expect_fail 20 "does not match --dhchap-ctrl-secret" "${C[@]}" -q "$H1" --dhchap-secret "$K/h1" \
  --dhchap-ctrl-secret "$K/wrong"
expect_fail 20 "authentication failed" "${C[@]}" -q "$H2" --dhchap-secret "$K/h2" --dhchap-ctrl-secret "$K/h1.ctrl"
w=$(cat "$K/wrong")
[ "${w:10:1}" = A ] && r=B || r=A
expect_fail 10 "CRC mismatch" "${C[@]}" -q "$H2" --dhchap-secret "${w:0:10}$r${w:11}"
expect_fail 10 "neither a DHHC-1 secret nor a readable file" "${C[@]}" -q "$H2" --dhchap-secret "$K/missing"
grep -q "DH-HMAC-CHAP: authentication failed" "$NETNS_TMP/target.log" || fail "the target does not log the failure"
left=$(ip netns pids "$NS_H" | tr '\n' ' ')
[ -z "$left" ] || fail "refused connects left processes in the host namespace: $left"

step "flat dhchap_* keys, SHA-512, the secret on the command line; perf authenticates too"
connect_host -n "$NQN" -q "$H2" --dhchap-secret "$(cat "$K/h2")"
write_verify "${CTRL}n1" 300 4096 "$BACKING"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
out=$(nv perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" --hostnqn "$H2" --dhchap-secret "$K/h2" -q 4 -o 4096 -w randread -t 1 2>&1) ||
  fail "perf with a secret failed: $out"
echo "$out" | grep -q IOPS || fail "perf printed no IOPS: $out"
expect_fail 20 "requires DH-HMAC-CHAP" "${H[@]}" "$NVMEOE" perf -a "$MAC_T" -n "$NQN" --host-iface "$VETH_H" --hostnqn "$H2" -q 1 -o 4096 -w read -t 1

step "the nvme-cli secret (nvme-cli: $HAVE_NVME_CLI), and a host without a configured key"
connect_host -n "$NQN" -q "$H3" --dhchap-secret "$K/h3"
write_verify "${CTRL}n1" 400 4096 "$BACKING"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
connect_host -n "$NQN" -q "$OPEN"
write_verify "${CTRL}n1" 500 4096 "$BACKING"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"

step "target restart: the host authenticates again on reconnect"
connect_host -n "$NQN" -q "$H1" --dhchap-secret "$K/h1" --dhchap-ctrl-secret "$K/h1.ctrl" -c 1 -l 60
kill -KILL "$TARGET_PID"
wait "$TARGET_PID" 2>/dev/null || true
start_target "$NETNS_TMP/target2.log" --config "$CONF"
# Commands wait for the reconnect, which authenticates every queue again.
write_verify "${CTRL}n1" 600 4096 "$BACKING"
grep -q "authenticated both ways" "$NETNS_TMP/target2.log" || fail "no authentication after the restart"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
stop_target

step "command-line keys: --dhchap-key FILE, --dhchap-ctrl-key HOSTNQN=SECRET, SHA-512 and FFDHE 8192"
start_target "$NETNS_TMP/target3.log" --nqn "$NQN" --iface "$VETH_T" --allow-host "$H1" --allow-host "$OPEN" \
  --dhchap-key "$H1=$K/h1" --dhchap-ctrl-key "$H1=$(cat "$K/h1.ctrl")" --dhchap-hash 'hmac(sha512)' \
  --dhchap-dhgroup ffdhe8192 "$BACKING"
start=$SECONDS
connect_host -n "$NQN" -q "$H1" --dhchap-secret "$K/h1" --dhchap-ctrl-secret "$K/h1.ctrl" -i 2
echo "    connect with FFDHE 8192 on 3 queues: $((SECONDS - start)) s"
grep -q "hmac(sha512), ffdhe8192" "$NETNS_TMP/target3.log" || fail "not authenticated with SHA-512 and FFDHE 8192"
write_verify "${CTRL}n1" 700 131072 "$BACKING"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
expect_fail 20 "requires DH-HMAC-CHAP" "${C[@]}" -q "$H1"
connect_host -n "$NQN" -q "$OPEN"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
stop_target
T=(ip netns exec "$NS_T")
expect_fail 10 "is not given with --allow-host" "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$VETH_T" --allow-host "$H1" \
  --dhchap-key "$H2=$K/h2" "$BACKING"
expect_fail 10 "not exactly one --allow-host" "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$VETH_T" --allow-host "$H1" \
  --allow-host "$H2" --dhchap-key "$K/h2" "$BACKING"
expect_fail 10 "unknown DH group" "${T[@]}" "$TARGET" --nqn "$NQN" --iface "$VETH_T" --allow-host "$H1" \
  --dhchap-key "$K/h1" --dhchap-dhgroup ffdhe1024 "$BACKING"

step "seed scripts: the target's key from the environment, the host's from a key file"
export NVMEOE_LOG_DIR="$NETNS_TMP/log" NVMEOE_PIDFILE="$NETNS_TMP/seed.pid"
out=$(ip netns exec "$NS_T" env NVMEOE_DHCHAP_HOST="$H2" NVMEOE_DHCHAP_KEY="$(cat "$K/h2")" \
  NVMEOE_DHCHAP_CTRL_KEY="$(cat "$K/h1.ctrl")" NVMEOE_DHCHAP_DHGROUP=ffdhe2048 \
  bash "$REPO/scripts/nvmet-eth-setup.sh" "$NQN" "$VETH_T" "$BACKING") || fail "nvmet-eth-setup.sh failed: $out"
echo "$out"
SEED_PID=$(cat "$NVMEOE_PIDFILE")
netns_track_pid "$SEED_PID"
echo "$out" | grep -q "DH-HMAC-CHAP:  required of $H2" || fail "nvmet-eth-setup.sh does not say the host must authenticate"
tr '\0' ' ' <"/proc/$SEED_PID/cmdline" | grep -qF "$(cut -c11-40 "$K/h2")" && fail "the key is in the target's command line"
out=$(ip netns exec "$NS_H" env NVMEOE_CONNECT_ARGS="-q $H2 --frontend none" NVMEOE_DHCHAP_SECRET_FILE="$K/h2" \
  NVMEOE_DHCHAP_CTRL_SECRET="$(cat "$K/h1.ctrl")" bash "$REPO/scripts/nvme-eth-connect.sh" "$VETH_H" "$MAC_T" "$NQN") ||
  fail "nvme-eth-connect.sh with a key file failed: $out"
echo "$out"
CTRL=$(echo "$out" | grep -oE '\bnvmeoe[0-9]+\b' | head -n1)
[ -n "$CTRL" ] || fail "nvme-eth-connect.sh printed no controller"
netns_on_cleanup "ip netns exec '$NS_H' '$NVMEOE' disconnect '$CTRL'"
echo "$out" | grep -q "controller secret given" || fail "nvme-eth-connect.sh does not say a controller secret was given"
write_verify "${CTRL}n1" 800 4096 "$BACKING"
nv disconnect "$CTRL" >/dev/null || fail "disconnect failed"
expect_fail 30 "requires DH-HMAC-CHAP" ip netns exec "$NS_H" env NVMEOE_CONNECT_ARGS="-q $H2 --frontend none" \
  bash "$REPO/scripts/nvme-eth-connect.sh" "$VETH_H" "$MAC_T" "$NQN"
stop_target "$SEED_PID"
# The scripts' temporary key files are gone.
leaked=$(grep -rlF "$(cut -c11-40 "$K/h1.ctrl")" /tmp --include=ctrl-key --include=ctrl-secret 2>/dev/null | grep -v "^$K" || true)
[ -z "$leaked" ] || fail "the seed scripts left secrets behind: $leaked"
pass
