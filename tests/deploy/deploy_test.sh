#!/usr/bin/env bash
# tools/deploy/deploy_phones.sh against a stub adb on PATH that records its calls,
# and, for registration, a real controller with a local agent standing in for the
# phone's: the arm64 build under qemu-aarch64-static. Args: deploy script, stub adb,
# farm-agent (host build), farm-controller, farmctl, a fixture device directory,
# farm-agent (arm64 build), pki.sh.
set -uo pipefail
deploy=$PWD/$1; stub=$(realpath "$2"); agent=$(realpath "$3")
controller_bin=$(realpath "$4"); farmctl=$(realpath "$5"); fixture=$(realpath "$6")
arm64=$(realpath "$7"); pki=$(realpath "$8")

tmp=${TEST_TMPDIR:-$(mktemp -d)}
mkdir -p "$tmp/bin" "$tmp/images/arm64" "$tmp/images/arm64-debian"
ln -sf "$stub" "$tmp/bin/adb"
export PATH="$tmp/bin:$PATH"
unset FARM_CONTROLLER
export STUB_ADB_LOG=$tmp/adb.log STUB_ADB_DEVICES=$tmp/devices STUB_ADB_ROOTED=$tmp/rooted
export STUB_ADB_PIDS=$tmp/pids
printf 'PHONE1\tdevice\nPHONE2\tunauthorized\nPHONE3\tdevice\n' >"$STUB_ADB_DEVICES"
echo PHONE1 >"$STUB_ADB_ROOTED"
echo kernel >"$tmp/images/arm64/kernel"
echo debian-kernel >"$tmp/images/arm64-debian/kernel"
# The lab: its CA, the controller's certificate, a viewer token for the checks.
lab=$tmp/lab
rm -rf "$lab"
"$pki" init "$lab" testlab >/dev/null && "$pki" controller "$lab" c1 IP:127.0.0.1 >/dev/null &&
  "$pki" token "$lab" deploy viewer >/dev/null || { echo "FAIL: pki.sh"; exit 1; }
export STUB_ADB_LAB=$lab
echo initramfs >"$tmp/images/arm64/initramfs.cpio"
echo debian-initramfs >"$tmp/images/arm64-debian/initramfs.cpio.gz"

# A QEMU bundle's shape (tools/deploy/make_qemu_bundle.sh): a minimal aarch64 ELF
# header (magic, 64-bit, little endian, e_machine 0xb7) stands for each binary.
bundle=$tmp/qemu-bundle
mkdir -p "$bundle/lib"
printf '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00' \
  >"$bundle/qemu-system-aarch64"
cp "$bundle/qemu-system-aarch64" "$bundle/ld-linux-aarch64.so.1"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_log() { grep -qxF -- "$1" "$STUB_ADB_LOG" || fail "adb was not called as: $1"; }
run() { : >"$STUB_ADB_LOG"; "$deploy" --lab "$lab" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc() { cat "$tmp/rc"; }

cleanup() {
  [[ -f $STUB_ADB_PIDS ]] && xargs -r kill <"$STUB_ADB_PIDS" 2>/dev/null
  [[ -n ${controller_pid:-} ]] && kill "$controller_pid" 2>/dev/null && wait "$controller_pid"
}
trap cleanup EXIT

# --help explains the options.
run --help
[[ $(rc) == 0 ]] && grep -q -- '--register-timeout' "$tmp/out" || fail "--help"

# Without a lab there are no certificates: said before anything else.
: >"$STUB_ADB_LOG"
"$deploy" --agent "$arm64" --images "$tmp/images" --register-timeout 0 >"$tmp/out" 2>"$tmp/err"
[[ $? == 2 ]] && grep -q -- '--lab DIR is required' "$tmp/err" || fail "no lab: $(cat "$tmp/err")"
[[ ! -s $STUB_ADB_LOG ]] || fail "adb was called without a lab"
# Checking registration without a token cannot work: said at once.
run --agent "$arm64" --images "$tmp/images"
[[ $(rc) == 2 ]] && grep -q 'needs a token' "$tmp/err" || fail "no token: $(cat "$tmp/err")"

# Without an arm64 agent there is nothing to deploy, and it says why.
run --agent "$tmp/missing" --images "$tmp/images" --register-timeout 0
[[ $(rc) == 2 ]] && grep -q 'arm64' "$tmp/err" || fail "missing agent: rc=$(rc) $(cat "$tmp/err")"

# The host's x86-64 build is refused before anything reaches a phone.
run --agent "$agent" --images "$tmp/images" --register-timeout 0
[[ $(rc) == 2 ]] && grep -q 'not built for arm64' "$tmp/err" || fail "x86 agent: $(cat "$tmp/err")"
[[ ! -s $STUB_ADB_LOG ]] || fail "adb was called for a refused agent"

# One image's directory (the layout before the Debian images) is not the directory
# of images: refused, naming what is missing.
run --agent "$arm64" --images "$tmp/images/arm64" --register-timeout 0
[[ $(rc) == 2 ]] && grep -q "has no arm64 image" "$tmp/err" || fail "one image: $(cat "$tmp/err")"

# The controller must be reachable through adb reverse, so on this host.
run --agent "$arm64" --images "$tmp/images" --controller 10.0.0.5:7421 --register-timeout 0
[[ $(rc) == 2 ]] && grep -q 'must be on this host' "$tmp/err" || fail "remote controller accepted"

# A device that is not ready cannot be named.
run --agent "$arm64" --images "$tmp/images" --serial PHONE2 --register-timeout 0
[[ $(rc) == 2 ]] && grep -q "PHONE2' is not ready" "$tmp/err" || fail "unauthorized serial: $(cat "$tmp/err")"

# Every ready device: pushed, started (as root where su works), forwarded.
run --agent "$arm64" --images "$tmp/images" --controller 127.0.0.1:9999 --register-timeout 0
[[ $(rc) == 0 ]] || fail "deploy to all: rc=$(rc) $(cat "$tmp/err")"
grep -q "skipping PHONE2: adb says 'unauthorized'" "$tmp/err" || fail "unauthorized device not named"
! grep -q -- '-s PHONE2' "$STUB_ADB_LOG" || fail "PHONE2 was touched"
for s in PHONE1 PHONE3; do
  expect_log "-s $s shell mkdir -p /data/local/tmp/kvmfarm/images/arm64 /data/local/tmp/kvmfarm/images/arm64-debian /data/local/tmp/kvmfarm/work"
  expect_log "-s $s push $arm64 /data/local/tmp/kvmfarm/farm-agent"
  expect_log "-s $s push $tmp/images/arm64/kernel /data/local/tmp/kvmfarm/images/arm64/"
  expect_log "-s $s push $tmp/images/arm64/initramfs.cpio /data/local/tmp/kvmfarm/images/arm64/"
  expect_log "-s $s push $tmp/images/arm64-debian/kernel /data/local/tmp/kvmfarm/images/arm64-debian/"
  expect_log "-s $s push $tmp/images/arm64-debian/initramfs.cpio.gz /data/local/tmp/kvmfarm/images/arm64-debian/"
  expect_log "-s $s shell chmod 755 /data/local/tmp/kvmfarm/farm-agent"
  expect_log "-s $s reverse tcp:7421 tcp:9999"
done
# Each phone its own certificate, issued here, pushed with the CA; the key 0600
# and, where the agent runs as root, root's.
for s in PHONE1 PHONE3; do
  [[ -f $lab/device-$s.crt ]] || fail "no certificate issued for $s"
  openssl x509 -in "$lab/device-$s.crt" -noout -ext subjectAltName | grep -q "spiffe://testlab/device/$s" ||
    fail "$s's certificate does not name it"
  expect_log "-s $s push $lab/ca.crt /data/local/tmp/kvmfarm/tls/ca.crt"
  expect_log "-s $s push $lab/device-$s.crt /data/local/tmp/kvmfarm/tls/agent.crt"
  expect_log "-s $s push $lab/device-$s.key /data/local/tmp/kvmfarm/tls/agent.key"
  expect_log "-s $s shell chmod 600 /data/local/tmp/kvmfarm/tls/agent.key"
done
expect_log "-s PHONE1 shell su -c 'chown -R 0:0 /data/local/tmp/kvmfarm/tls'"
# A redeployment can write tls/ again: the root-owned one is removed first, as root.
rm_line=$(grep -n -- "-s PHONE1 shell su -c 'rm -rf /data/local/tmp/kvmfarm/tls'" "$STUB_ADB_LOG" | cut -d: -f1)
ca_line=$(grep -n -- "-s PHONE1 push $lab/ca.crt" "$STUB_ADB_LOG" | cut -d: -f1)
[[ -n $rm_line && $rm_line -lt $ca_line ]] || fail "PHONE1's old tls/ not removed before the push"
! grep -q -- "-s PHONE3 shell su -c 'chown" "$STUB_ADB_LOG" || fail "chown as root without su"
grep -q -- "-s PHONE1 shell su -c .*nohup ./farm-agent .*--device-id PHONE1 --tls_ca /data/local/tmp/kvmfarm/tls/ca.crt --tls_cert /data/local/tmp/kvmfarm/tls/agent.crt --tls_key /data/local/tmp/kvmfarm/tls/agent.key" \
  "$STUB_ADB_LOG" || fail "PHONE1 agent not started with its certificate"
key_line=$(grep -n -- '-s PHONE1 push .*agent.key' "$STUB_ADB_LOG" | cut -d: -f1)
start_line=$(grep -n -- '-s PHONE1 shell su -c .cd' "$STUB_ADB_LOG" | cut -d: -f1)
[[ $key_line -lt $start_line ]] || fail "agent started before its key was pushed"
expect_log "-s PHONE1 forward tcp:17420 tcp:7420"
expect_log "-s PHONE3 forward tcp:17421 tcp:7420"
grep -q "^-s PHONE1 shell su -c 'cd /data/local/tmp/kvmfarm && .*nohup ./farm-agent --listen 127.0.0.1:7420 --controller 127.0.0.1:7421 --advertise 127.0.0.1:17420 --device-id PHONE1 " \
  "$STUB_ADB_LOG" || fail "PHONE1 agent not started as root"
grep -q "^-s PHONE3 shell cd /data/local/tmp/kvmfarm && .*nohup ./farm-agent .*--advertise 127.0.0.1:17421 --device-id PHONE3 " \
  "$STUB_ADB_LOG" || fail "PHONE3 agent not started as the shell user"
grep -q 'PHONE3: su is not available' "$tmp/err" || fail "missing root not reported"
# Files are on the phone before the agent starts there.
push_line=$(grep -n -- '-s PHONE1 push' "$STUB_ADB_LOG" | tail -1 | cut -d: -f1)
start_line=$(grep -n -- '-s PHONE1 shell su -c .cd' "$STUB_ADB_LOG" | cut -d: -f1)
[[ $push_line -lt $start_line ]] || fail "agent started before the push finished"

# A QEMU bundle is pushed whole, and the agent starts QEMU through it.
run --agent "$arm64" --images "$tmp/images" --serial PHONE1 --qemu "$bundle" \
  --controller 127.0.0.1:9999 --register-timeout 0
[[ $(rc) == 0 ]] || fail "deploy with a QEMU bundle: rc=$(rc) $(cat "$tmp/err")"
expect_log "-s PHONE1 push $bundle /data/local/tmp/kvmfarm/qemu"
expect_log "-s PHONE1 shell chmod 755 /data/local/tmp/kvmfarm/farm-agent /data/local/tmp/kvmfarm/qemu/qemu-system-aarch64 /data/local/tmp/kvmfarm/qemu/ld-linux-aarch64.so.1"
grep -q -- "-s PHONE1 shell su -c .*nohup ./farm-agent .*--qemu /data/local/tmp/kvmfarm/qemu " \
  "$STUB_ADB_LOG" || fail "agent not started with the bundle"
# An incomplete bundle is refused before anything reaches a phone.
rm -r "$bundle/lib"
run --agent "$arm64" --images "$tmp/images" --qemu "$bundle" --register-timeout 0
[[ $(rc) == 2 ]] && grep -q "has no lib/" "$tmp/err" || fail "incomplete bundle: $(cat "$tmp/err")"
[[ ! -s $STUB_ADB_LOG ]] || fail "adb was called for an incomplete bundle"

# A phone whose pushes fail is named; the next phone is still deployed; exit 1.
echo PHONE1 >"$tmp/broken"
STUB_ADB_BROKEN=$tmp/broken run --agent "$arm64" --images "$tmp/images" --controller 127.0.0.1:9999 --register-timeout 0
[[ $(rc) == 1 ]] || fail "a failing phone did not fail the run: rc=$(rc)"
grep -q "PHONE1: 'adb push $arm64 /data/local/tmp/kvmfarm/farm-agent' failed" "$tmp/err" ||
  fail "failed push not named: $(cat "$tmp/err")"
! grep -q -- '-s PHONE1 shell su -c .cd' "$STUB_ADB_LOG" || fail "agent started on a phone whose push failed"
expect_log "-s PHONE3 reverse tcp:7421 tcp:9999"

# Registration: a real controller over mutual TLS; the stub starts a local agent
# as the phone's, with the certificate deploy issued.
"$controller_bin" --listen 127.0.0.1:0 --port-file "$tmp/controller.port" \
  --db "$tmp/farm.db" --tls_ca "$lab/ca.crt" --tls_cert "$lab/controller-c1.crt" \
  --tls_key "$lab/controller-c1.key" --access_file "$lab/access" >"$tmp/controller.log" 2>&1 &
controller_pid=$!
for ((i = 0; i < 300; i++)); do [[ -s $tmp/controller.port ]] && break; sleep 0.1; done
port=$(cat "$tmp/controller.port")
export STUB_ADB_AGENT=$arm64 STUB_ADB_EMULATOR=qemu-aarch64-static
export STUB_ADB_CONTROLLER=127.0.0.1:$port STUB_ADB_SYSROOT=$fixture
run --agent "$arm64" --images "$tmp/images" --serial PHONE1 --controller "127.0.0.1:$port" \
  --farmctl "$farmctl" --register-timeout 60 --token-file "$lab/token-deploy"
[[ $(rc) == 0 ]] && grep -q "PHONE1: registered with 127.0.0.1:$port as device PHONE1" "$tmp/out" ||
  fail "registration: rc=$(rc) $(cat "$tmp/out" "$tmp/err")"
"$farmctl" --controller "127.0.0.1:$port" --tls_ca "$lab/ca.crt" --token_file "$lab/token-deploy" \
  device show PHONE1 >"$tmp/show" || fail "farmctl device show PHONE1 after deploy"
grep -q "mutual TLS as spiffe://testlab/device/PHONE1" "$tmp/adb.log.agent" ||
  fail "the phone's agent did not serve mutual TLS as PHONE1"

# An agent that never registers is reported, with where to look, and fails the run.
unset STUB_ADB_AGENT
FARM_TOKEN=$(cat "$lab/token-deploy") run --agent "$arm64" --images "$tmp/images" --serial PHONE3 \
  --controller "127.0.0.1:$port" --farmctl "$farmctl" --register-timeout 2
[[ $(rc) == 1 ]] && grep -q "PHONE3: did not register .* within 2s; see 'adb -s PHONE3 shell cat /data/local/tmp/kvmfarm/agent.log'" "$tmp/err" ||
  fail "missing registration: rc=$(rc) $(cat "$tmp/err")"

[[ $failures == 0 ]] && echo PASS
exit $((failures > 0))
