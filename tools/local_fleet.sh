#!/usr/bin/env bash
# The local fleet: a controller with its SQLite database, a farm-agent for this
# machine, one sweep of it (capability with the KVM boot check, native workloads,
# the same workloads in a TCG guest, and under KVM where /dev/kvm exists, guest
# boots), the compatibility matrix printed, and everything shut down. Everything
# talks mutual TLS, as in a lab: a throwaway lab CA in DIR/lab (tools/pki/pki.sh)
# gives the controller and each agent a certificate and farmctl an admin token.
#
#   tools/local_fleet.sh [--fixtures] [--keep-running] [--repetitions N] [--dir DIR]
#
#   --fixtures      also start one agent per fixture device (capability only,
#                   labelled [fixture] in the matrix) to show a mixed fleet
#   --keep-running  leave controller and agents up afterwards (farmctl works on them)
#   --dir DIR       working directory (default ~/.kvmfarm/local): farm.db, logs,
#                   lab/ (the CA, certificates, access file, token) and
#                   report.html (the matrix with charts, one self-contained file)
set -euo pipefail
cd "$(dirname "$0")/.."

fixtures=0 keep=0 repetitions=3 dir="${HOME}/.kvmfarm/local"
while (($#)); do
  case "$1" in
    --fixtures) fixtures=1 ;;
    --keep-running) keep=1 ;;
    --repetitions) repetitions=$2; shift ;;
    --dir) dir=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "local_fleet: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$dir"

echo "local_fleet: building (the first build takes a few minutes)"
bazel build --noshow_progress //controller:farm-controller //agent:farm-agent //tools/farmctl \
  //guest_images:images //workloads:farm-workload 2>&1 | grep -E "ERROR|error:" && exit 1
bin=$(bazel info bazel-bin 2>/dev/null)

pids=()
cleanup() {
  if ((keep == 0)); then
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
  fi
}
trap cleanup EXIT

# Waits (bounded) for a server's port file.
wait_port() {
  for _ in $(seq 1 300); do
    [[ -s "$1" ]] && { cat "$1"; return 0; }
    sleep 0.1
  done
  echo "local_fleet: $2 did not start; see $dir/$2.log" >&2
  exit 1
}

# The lab's certificates, made once and kept with the database. Device ids follow
# common/device_id.h, so the host name is made one.
lab="$dir/lab"
pki() { tools/pki/pki.sh "$@" >/dev/null; }
[[ -f "$lab/ca.crt" ]] || pki init "$lab" local
[[ -f "$lab/controller-c1.crt" ]] || pki controller "$lab" c1 IP:127.0.0.1 DNS:localhost
[[ -f "$lab/token-local" ]] || pki token "$lab" local admin
# Sets tls=(the flags for certificate NAME), issuing a device's on first use.
tls_for() {
  [[ -f "$lab/$1.crt" ]] || pki device "$lab" "${1#device-}"
  tls=(--tls_ca "$lab/ca.crt" --tls_cert "$lab/$1.crt" --tls_key "$lab/$1.key")
}
farmctl() { "$bin/tools/farmctl/farmctl" --tls_ca "$lab/ca.crt" --token_file "$lab/token-local" "$@"; }

rm -f "$dir"/*.port
tls_for controller-c1
"$bin/controller/farm-controller" --listen 127.0.0.1:0 --port-file "$dir/controller.port" \
  --db "$dir/farm.db" --heartbeat-interval 2s "${tls[@]}" --access_file "$lab/access" \
  --http_listen 127.0.0.1:0 --dashboard_session_key_file "$lab/dashboard-session.key" \
  >"$dir/controller.log" 2>&1 &
pids+=($!)
controller="127.0.0.1:$(wait_port "$dir/controller.port" controller)"
export FARM_CONTROLLER="$controller"
echo "local_fleet: controller on $controller, database $dir/farm.db"
# Its HTTP side (the dashboard, health, readiness, Prometheus metrics), as it logged it.
http_url=""
for _ in $(seq 1 100); do
  http_url=$(grep -o 'HTTP on https://[0-9.:]*' "$dir/controller.log" | head -1 | cut -d' ' -f3)
  [[ -n "$http_url" ]] && break
  sleep 0.1
done
[[ -n "$http_url" ]] &&
  echo "local_fleet: dashboard at $http_url/ (sign in with the token in $lab/token-local)"

host_id="$(hostname | tr -c 'A-Za-z0-9._\n-' '-' | sed 's/^[^A-Za-z0-9]*//' | cut -c1-100)-local"
tls_for "device-$host_id"
"$bin/agent/farm-agent" --listen 127.0.0.1:0 --port-file "$dir/agent.port" \
  --controller "$controller" --background-boot-check=false "${tls[@]}" \
  --work-dir "$dir" --image-dir "$bin/guest_images/images" >"$dir/agent.log" 2>&1 &
pids+=($!)
wait_port "$dir/agent.port" agent >/dev/null

if ((fixtures)); then
  for tree in tests/fixtures/devices/*/; do
    name=$(basename "$tree")
    tls_for "device-$name-fixture"
    "$bin/agent/farm-agent" --listen 127.0.0.1:0 --port-file "$dir/$name.port" \
      --controller "$controller" --sysroot "$tree" --device-id "$name-fixture" "${tls[@]}" \
      >"$dir/$name.log" 2>&1 &
    pids+=($!)
  done
fi

for _ in $(seq 1 100); do
  farmctl devices 2>/dev/null | grep -q "$host_id" && break
  sleep 0.2
done

plan=capability,native,tcg,boot
[[ -e /dev/kvm ]] && plan=capability,native,kvm,tcg,boot
echo "local_fleet: sweeping $host_id: $plan, $repetitions repetitions"
farmctl sweep start --devices "$host_id" --plan "$plan" --repetitions "$repetitions" \
  --workloads crypto,integer,float,mem_read,mem_write,mem_random --watch || true
if ((fixtures)); then
  ids=$(farmctl devices --selector fixture=true | awk 'NR > 1 {print $1}' | paste -sd, -)
  [[ -n "$ids" ]] && farmctl sweep start --devices "$ids" --plan capability --watch >/dev/null || true
fi

echo
echo "The compatibility matrix ($dir/farm.db):"
farmctl matrix
echo
farmctl devices
farmctl report --out "$dir/report.html"
if ((keep)); then
  echo "local_fleet: still running (FARM_CONTROLLER=$controller); stop with: kill ${pids[*]}"
  echo "local_fleet: farmctl --tls_ca $lab/ca.crt --token_file $lab/token-local ... talks to it"
  if [[ -n "$http_url" ]]; then
    echo "local_fleet: the dashboard: open $http_url/ and sign in with the token in" \
      "$lab/token-local (the certificate is the lab's own CA, $lab/ca.crt: trust it or accept it)"
    echo "local_fleet: metrics: curl --cacert $lab/ca.crt -H \"Authorization: Bearer \$(cat $lab/token-local)\" $http_url/metrics"
  fi
fi
