#!/usr/bin/env bash
# A lab's certificates, made with the openssl command line (no home-made crypto):
#
#   tools/pki/pki.sh init DIR LAB               the lab CA (DIR/ca.crt, DIR/ca.key)
#   tools/pki/pki.sh controller DIR NAME SAN... a controller's certificate; SANs are
#                                               DNS:host or IP:address
#   tools/pki/pki.sh device DIR DEVICE_ID       a device's agent certificate
#   tools/pki/pki.sh operator DIR NAME [ROLE]   an operator's client certificate;
#                                               with ROLE, granted in DIR/access
#   tools/pki/pki.sh token DIR NAME ROLE        a bearer token in DIR/token-NAME
#                                               (0600), its SHA-256 granted in
#                                               DIR/access
#
# ROLE is viewer, operator or admin; DIR/access is farm-controller's --access_file.
# Every certificate is signed by the lab CA and carries extendedKeyUsage
# serverAuth,clientAuth (agents and controllers are both TLS clients and servers).
# A device's identity is its id in a URI SAN, spiffe://LAB/device/ID: agents sit
# behind `adb forward` at 127.0.0.1:N, where a host name proves nothing. Private keys
# are written 0600 and never printed. Certificates last 825 days (--days N to change).
#
# Tokens are never printed: hand the token file to its operator (FARM_TOKEN or
# farmctl --token_file).
set -euo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "pki: $*" >&2; exit 1; }

# The device id rule of common/device_id.h, so a certificate names only ids the
# controller accepts.
valid_id() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]]; }

days=825
args=()
while (($#)); do
  case "$1" in
    --days) days="${2:?--days needs a number}"; shift 2 ;;
    -h|--help) usage ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]}"
(($# >= 2)) || usage
command=$1 dir=$2
shift 2

# A new key (0600 from the start: umask, not a chmod after writing) and a
# certificate for `subject` with `extensions`, signed by the lab CA.
issue() {
  local name=$1 subject=$2 extensions=$3
  [[ -e "$dir/$name.key" ]] && die "$dir/$name.key exists: remove it to issue a new one"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$dir/$name.key" 2>/dev/null) || die "cannot write $dir/$name.key"
  local ext
  ext=$(mktemp)
  trap 'rm -f "$ext"' RETURN
  printf '%s\n' "$extensions" >"$ext"
  openssl req -new -key "$dir/$name.key" -subj "$subject" 2>/dev/null |
    openssl x509 -req -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
      -days "$days" -sha256 -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null ||
    die "signing $name failed"
  echo "pki: $dir/$name.crt (key $dir/$name.key, 0600)"
}

# The lab's name, for every command but init.
if [[ "$command" != init ]]; then
  lab=$(cat "$dir/lab" 2>/dev/null) || die "$dir is not a lab (run: pki.sh init $dir LAB)"
fi

valid_role() { [[ "$1" =~ ^(viewer|operator|admin)$ ]]; }

# Whether DIR/access already grants `kind` (token or certificate) NAME.
granted() {
  [[ -f "$dir/access" ]] && awk -v kind="$1" -v name="$2" \
    '$1 == kind && $2 == name { found = 1 } END { exit !found }' "$dir/access"
}

leaf_extensions() {
  printf 'basicConstraints=critical,CA:FALSE\n'
  printf 'keyUsage=critical,digitalSignature\n'
  printf 'extendedKeyUsage=serverAuth,clientAuth\n'
  printf 'subjectAltName=%s\n' "$1"
}

case "$command" in
  init)
    (($# == 1)) || usage
    valid_id "$1" || die "lab name '$1': letters, digits, '.', '_' or '-'"
    [[ -e "$dir/ca.key" ]] && die "$dir/ca.key exists: this directory already has a lab CA"
    mkdir -p "$dir"
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
      -out "$dir/ca.key" 2>/dev/null) || die "cannot write $dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -subj "/O=kvmfarm/CN=$1 lab CA" -days 3650 \
      -sha256 -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' \
      -addext 'keyUsage=critical,keyCertSign,cRLSign' -out "$dir/ca.crt" 2>/dev/null ||
      die "cannot make the CA"
    echo "$1" >"$dir/lab"
    echo "pki: lab '$1' CA in $dir/ca.crt (key $dir/ca.key, 0600: keep it off the lab network)"
    ;;
  controller)
    (($# >= 2)) || usage
    name=$1
    shift
    valid_id "$name" || die "controller name '$name': letters, digits, '.', '_' or '-'"
    sans=$(IFS=,; echo "$*")
    [[ "$sans" =~ ^((DNS|IP):[^,]+,?)+$ ]] || die "SANs are DNS:host or IP:address, got '$sans'"
    issue "controller-$name" "/O=kvmfarm/OU=$lab/CN=controller $name" \
      "$(leaf_extensions "URI:spiffe://$lab/controller/$name,$sans")"
    ;;
  device)
    (($# == 1)) || usage
    valid_id "$1" || die "device id '$1' is not a device id (see common/device_id.h)"
    issue "device-$1" "/O=kvmfarm/OU=$lab/CN=device $1" \
      "$(leaf_extensions "URI:spiffe://$lab/device/$1")"
    ;;
  operator)
    (($# == 1 || $# == 2)) || usage
    valid_id "$1" || die "operator name '$1': letters, digits, '.', '_' or '-'"
    (($# == 2)) && { valid_role "$2" || die "role '$2': viewer, operator or admin"; }
    (($# == 2)) && granted certificate "$1" && die "certificate $1 is already granted in $dir/access"
    issue "operator-$1" "/O=kvmfarm/OU=$lab/CN=operator $1" \
      "$(leaf_extensions "URI:spiffe://$lab/operator/$1")"
    if (($# == 2)); then
      echo "certificate $1 $2" >>"$dir/access"
      echo "pki: certificate $1 granted $2 in $dir/access"
    fi
    ;;
  token)
    (($# == 2)) || usage
    valid_id "$1" || die "token name '$1': letters, digits, '.', '_' or '-'"
    valid_role "$2" || die "role '$2': viewer, operator or admin"
    granted token "$1" && die "token $1 is already granted in $dir/access"
    [[ -e "$dir/token-$1" ]] && die "$dir/token-$1 exists: remove it to make a new one"
    (umask 077 && openssl rand -hex 32 >"$dir/token-$1") || die "cannot write $dir/token-$1"
    hash=$(tr -d '\n' <"$dir/token-$1" | openssl dgst -sha256 -r | cut -d' ' -f1)
    echo "token $1 $2 sha256:$hash" >>"$dir/access"
    echo "pki: token $1 ($2) in $dir/token-$1 (0600), granted in $dir/access"
    ;;
  *) usage ;;
esac
