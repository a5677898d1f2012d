#!/usr/bin/env bash
# tools/pki/pki.sh makes a lab CA and certificates that openssl itself accepts:
# signed by the CA, both TLS usages, the identity in a spiffe URI SAN, keys 0600 and
# never printed; bad names and overwrites are refused.
set -uo pipefail
pki=$1
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/pki.XXXXXX")
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_ok() { "$@" >>"$dir/out" 2>&1 || fail "$* exited $?"; }

expect_ok "$pki" init "$dir/lab" testlab
expect_ok "$pki" controller "$dir/lab" ctl1 DNS:ctl.lab IP:127.0.0.1
expect_ok "$pki" device "$dir/lab" pixel8-a
expect_ok "$pki" operator "$dir/lab" alice

for name in controller-ctl1 device-pixel8-a operator-alice; do
  crt="$dir/lab/$name.crt"
  openssl verify -CAfile "$dir/lab/ca.crt" "$crt" >/dev/null 2>&1 || fail "$name not signed by the lab CA"
  openssl x509 -in "$crt" -noout -ext extendedKeyUsage 2>/dev/null |
    grep -q "TLS Web Server Authentication, TLS Web Client Authentication" ||
    fail "$name lacks serverAuth,clientAuth"
  [[ "$(stat -c %a "$dir/lab/$name.key")" == 600 ]] || fail "$name.key is not 0600"
done
[[ "$(stat -c %a "$dir/lab/ca.key")" == 600 ]] || fail "ca.key is not 0600"
openssl x509 -in "$dir/lab/device-pixel8-a.crt" -noout -ext subjectAltName |
  grep -q "URI:spiffe://testlab/device/pixel8-a" || fail "device SAN"
san=$(openssl x509 -in "$dir/lab/controller-ctl1.crt" -noout -ext subjectAltName)
for want in "URI:spiffe://testlab/controller/ctl1" "DNS:ctl.lab" "IP Address:127.0.0.1"; do
  grep -qF "$want" <<<"$san" || fail "controller SAN lacks $want"
done
grep -q "PRIVATE KEY" "$dir/out" && fail "a private key was printed"

# Refusals: a device id outside the rule, a second key over the first, bad SANs,
# a directory that is not a lab.
refused() {
  local says=$1
  shift
  local out
  if out=$("$@" 2>&1); then fail "accepted: $*"; fi
  grep -qF "$says" <<<"$out" || fail "$* said '$out', not '$says'"
}
refused "is not a device id" "$pki" device "$dir/lab" "../etc"
refused "exists" "$pki" device "$dir/lab" pixel8-a
refused "SANs are DNS:host or IP:address" "$pki" controller "$dir/lab" ctl2 "URI:evil"
refused "is not a lab" "$pki" device "$dir/nolab" pixel8-b

# A certificate of another lab's CA is not accepted by this one.
expect_ok "$pki" init "$dir/other" otherlab
expect_ok "$pki" device "$dir/other" pixel8-a
openssl verify -CAfile "$dir/lab/ca.crt" "$dir/other/device-pixel8-a.crt" >/dev/null 2>&1 &&
  fail "another lab's certificate verified"

# Tokens: 0600, never printed, kept in the access file as their SHA-256 only.
out=$("$pki" token "$dir/lab" ci operator) || fail "token: $out"
token=$(cat "$dir/lab/token-ci")
[[ "$(stat -c %a "$dir/lab/token-ci")" == 600 ]] || fail "token file is not 0600"
[[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "token is not 32 random bytes in hex"
grep -qF "$token" <<<"$out" && fail "the token was printed"
grep -qF "$token" "$dir/lab/access" && fail "the token is in the access file in clear"
hash=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
grep -qx "token ci operator sha256:$hash" "$dir/lab/access" || fail "no grant for token ci"
refused "already granted" "$pki" token "$dir/lab" ci viewer
refused "role 'root'" "$pki" token "$dir/lab" ci2 root
expect_ok "$pki" operator "$dir/lab" bob admin
grep -qx "certificate bob admin" "$dir/lab/access" || fail "no grant for certificate bob"
# A name with '.' is a name, not a pattern: a.b is not axb.
expect_ok "$pki" token "$dir/lab" axb viewer
expect_ok "$pki" token "$dir/lab" a.b viewer

((failures == 0)) && echo "PASS" || exit 1
