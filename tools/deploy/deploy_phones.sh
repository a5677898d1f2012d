#!/usr/bin/env bash
# Deploys farm-agent to the phones attached over USB and registers them with a
# controller running on this host. See docs/phones.md for the phone side.
#
#   tools/deploy/deploy_phones.sh --lab DIR --agent PATH [options]
#
#   --lab DIR             the lab's certificates (tools/pki/pki.sh init DIR LAB):
#                         each phone gets its device certificate (issued here on
#                         first deployment, the device id being its serial with
#                         ':' as '-'), pushed with the CA; the key readable by the
#                         agent's user only. Agents serve and register over mutual
#                         TLS only.
#   --token-file FILE     a token (pki.sh token) farmctl uses to check registration
#                         (default $FARM_TOKEN; needed unless --register-timeout 0)
#   --agent PATH          the arm64 (aarch64), statically linked farm-agent (default
#                         bazel-bin/agent/farm-agent, i.e. after an arm64 build;
#                         anything that is not aarch64 is refused)
#   --workload PATH       the arm64 farm-workload (default bazel-bin/workloads/farm-workload
#                         when it exists; native benchmarks are skipped without it)
#   --images DIR          the guest image directory whose arm64 images are pushed:
#                         arm64 (kvmfarm's kernel, for workloads and boot figures)
#                         and arm64-debian (Debian's, for the KVM boot check)
#                         (default bazel-bin/guest_images/images)
#   --qemu PATH           QEMU to push (phones have none): a QEMU bundle directory from
#                         tools/deploy/make_qemu_bundle.sh (Debian's arm64 QEMU with
#                         its libraries and glibc's loader), or a static
#                         qemu-system-aarch64
#   --serial S            deploy to this device only (repeatable; default: every
#                         device `adb devices` lists as ready)
#   --controller H:P      the controller on this host (default $FARM_CONTROLLER or
#                         127.0.0.1:7421); reached from the phone over `adb reverse`
#   --host-port-base N    first host port for `adb forward` to the agents (default 17420;
#                         the next device gets N+1, ...)
#   --register-timeout S  seconds to wait for each agent to register (default 60; 0 skips)
#   --farmctl PATH        farmctl used to check registration (default bazel-bin/tools/farmctl/farmctl)
#
# Environment: ADB (default `adb` from PATH).
set -euo pipefail

readonly remote_dir=/data/local/tmp/kvmfarm
readonly agent_port_on_phone=7420
readonly controller_port_on_phone=7421

usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "deploy: $*" >&2; exit 2; }

lab=""
token_file=""
agent=""
workload=""
images=""
qemu=""
serials=()
controller=${FARM_CONTROLLER:-127.0.0.1:7421}
host_port_base=17420
register_timeout=60
farmctl=""
adb=${ADB:-adb}

while [[ $# -gt 0 ]]; do
  case $1 in
    --lab) lab=${2:?--lab needs the lab directory}; shift ;;
    --token-file) token_file=${2:?--token-file needs a file}; shift ;;
    --agent) agent=${2:?--agent needs a path}; shift ;;
    --workload) workload=${2:?--workload needs a path}; shift ;;
    --images) images=${2:?--images needs a directory}; shift ;;
    --qemu) qemu=${2:?--qemu needs a path}; shift ;;
    --serial) serials+=("${2:?--serial needs a device serial}"); shift ;;
    --controller) controller=${2:?--controller needs host:port}; shift ;;
    --host-port-base) host_port_base=${2:?}; shift ;;
    --register-timeout) register_timeout=${2:?}; shift ;;
    --farmctl) farmctl=${2:?}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "deploy: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

root=$(cd "$(dirname "$0")/../.." && pwd)
[[ -n $lab ]] || die "--lab DIR is required: agents run with the lab's certificates (make them with tools/pki/pki.sh init DIR LAB; see the README's Security section)."
[[ -f $lab/ca.crt && -f $lab/ca.key && -f $lab/lab ]] ||
  die "--lab '$lab' is not a lab made by tools/pki/pki.sh (no ca.crt, ca.key and lab)."
pki=$root/tools/pki/pki.sh
if [[ $register_timeout != 0 && -z $token_file && -z ${FARM_TOKEN:-} ]]; then
  die "checking registration needs a token: --token-file FILE or FARM_TOKEN (tools/pki/pki.sh token DIR NAME viewer), or --register-timeout 0."
fi
[[ -z $token_file || -f $token_file ]] || die "--token-file '$token_file' not found."
[[ -n $agent ]] || agent=$root/bazel-bin/agent/farm-agent
[[ -n $images ]] || images=$root/bazel-bin/guest_images/images
[[ -n $farmctl ]] || farmctl=$root/bazel-bin/tools/farmctl/farmctl

# Phones run arm64 Android with no glibc: the binaries must be static aarch64 ELFs.
# Prints the ELF machine (e_machine at offset 18, little endian; b7 is aarch64).
elf_machine() {
  [[ $(od -An -tx1 -N4 "$1" | tr -d ' \n') == 7f454c46 ]] || { echo "not-elf"; return; }
  local m
  m=$(od -An -tx1 -j18 -N2 "$1" | tr -d ' \n')
  echo "${m:2:2}${m:0:2}"
}
require_arm64() {
  local what=$1 path=$2
  [[ -f $path ]] || die "$what '$path' not found. Phones need the static arm64 build of $what (bazel build for aarch64; see docs/phones.md)."
  local machine
  machine=$(elf_machine "$path")
  [[ $machine != not-elf ]] || die "$what '$path' is not an ELF binary."
  [[ $machine == 00b7 ]] || die "$what '$path' is not built for arm64 (ELF machine 0x$machine); phones need the aarch64 build."
}
require_arm64 farm-agent "$agent"
# The default workload is taken only when the last build was the arm64 one.
default_workload=$root/bazel-bin/workloads/farm-workload
if [[ -z $workload && -f $default_workload ]]; then
  if [[ $(elf_machine "$default_workload") == 00b7 ]]; then
    workload=$default_workload
  else
    echo "deploy: $default_workload is not an arm64 build: native benchmarks will be skipped (pass --workload)" >&2
  fi
fi
[[ -z $workload ]] || require_arm64 farm-workload "$workload"
if [[ -d $qemu ]]; then
  # A bundle: the agent starts it through the bundle's own glibc loader.
  require_arm64 "QEMU bundle's qemu-system-aarch64" "$qemu/qemu-system-aarch64"
  require_arm64 "QEMU bundle's loader" "$qemu/ld-linux-aarch64.so.1"
  [[ -d $qemu/lib ]] || die "QEMU bundle '$qemu' has no lib/ (make it with tools/deploy/make_qemu_bundle.sh)."
elif [[ -n $qemu ]]; then
  require_arm64 qemu-system-aarch64 "$qemu"
fi
[[ -d $images ]] || die "guest image directory '$images' not found (bazel build //guest_images:images)."
for image in arm64 arm64-debian; do
  [[ -f $images/$image/kernel ]] ||
    die "'$images' has no $image image ($images/$image/kernel): give the directory of images (bazel build //guest_images:images)."
done
[[ $controller =~ ^(127\.0\.0\.1|localhost):([0-9]+)$ ]] ||
  die "--controller '$controller' must be on this host (127.0.0.1:PORT): the phone reaches it through adb reverse."
controller_port=${BASH_REMATCH[2]}
[[ $host_port_base =~ ^[0-9]+$ ]] || die "--host-port-base must be a port number."
[[ $register_timeout =~ ^[0-9]+$ ]] || die "--register-timeout must be whole seconds."
command -v "$adb" >/dev/null || die "adb not found (apt install adb, or set ADB)."

# Devices ready for use; unauthorized or offline ones are named, not silently skipped.
ready=()
while read -r serial state _; do
  [[ -z $serial || $serial == List ]] && continue
  if [[ $state == device ]]; then
    ready+=("$serial")
  else
    echo "deploy: skipping $serial: adb says '$state' (unlock it and accept the USB debugging prompt)" >&2
  fi
done < <("$adb" devices)

if [[ ${#serials[@]} -eq 0 ]]; then
  serials=("${ready[@]}")
  [[ ${#serials[@]} -gt 0 ]] || die "no device ready in 'adb devices'."
else
  for s in "${serials[@]}"; do
    [[ " ${ready[*]} " == *" $s "* ]] || die "device '$s' is not ready in 'adb devices'."
  done
fi

# adb on the current phone; a failure is named and ends that phone's deployment.
phone() {
  "$adb" -s "$serial" "$@" || { echo "deploy: $serial: 'adb $*' failed" >&2; return 1; }
}

# The device's certificate, issued on its first deployment; pushed with the CA to
# $remote_dir/tls, the key 0600 (and root's when the agent runs as root).
push_certificate() {
  local id=$1 as_root=$2
  if [[ ! -f $lab/device-$id.crt ]]; then
    "$pki" device "$lab" "$id" >/dev/null || { echo "deploy: $serial: cannot issue the certificate of device $id" >&2; return 1; }
  fi
  # A previous deployment left tls/ root's (0700): the shell user, who pushes, could
  # not write into it. It is made again.
  if [[ $as_root == 1 ]]; then
    phone shell "su -c 'rm -rf $remote_dir/tls'" || return 1
  fi
  phone shell "mkdir -p $remote_dir/tls && chmod 700 $remote_dir/tls" || return 1
  phone push "$lab/ca.crt" "$remote_dir/tls/ca.crt" >/dev/null || return 1
  phone push "$lab/device-$id.crt" "$remote_dir/tls/agent.crt" >/dev/null || return 1
  phone push "$lab/device-$id.key" "$remote_dir/tls/agent.key" >/dev/null || return 1
  phone shell chmod 600 "$remote_dir/tls/agent.key" || return 1
  if [[ $as_root == 1 ]]; then
    phone shell "su -c 'chown -R 0:0 $remote_dir/tls'" || return 1
  fi
}

# Deploys to $serial as device $2 with the agent forwarded to host port $1;
# non-zero on failure.
deploy_one() {
  local host_port=$1 id=$2
  local model
  model=$("$adb" -s "$serial" shell getprop ro.product.model 2>/dev/null | tr -d '\r' || true)
  echo "deploy: $serial (${model:-unknown model}): pushing to $remote_dir"
  phone shell mkdir -p "$remote_dir/images/arm64" "$remote_dir/images/arm64-debian" \
    "$remote_dir/work" || return 1
  phone push "$agent" "$remote_dir/farm-agent" >/dev/null || return 1
  local to_chmod=("$remote_dir/farm-agent")
  local agent_flags=(--listen "127.0.0.1:$agent_port_on_phone"
                     --controller "127.0.0.1:$controller_port_on_phone"
                     --advertise "127.0.0.1:$host_port" --device-id "$id"
                     --tls_ca "$remote_dir/tls/ca.crt" --tls_cert "$remote_dir/tls/agent.crt"
                     --tls_key "$remote_dir/tls/agent.key"
                     --image-dir "$remote_dir/images" --work-dir "$remote_dir/work")
  if [[ -n $workload ]]; then
    phone push "$workload" "$remote_dir/farm-workload" >/dev/null || return 1
    to_chmod+=("$remote_dir/farm-workload")
    agent_flags+=(--farm-workload "$remote_dir/farm-workload")
  fi
  if [[ -d $qemu ]]; then
    phone shell rm -rf "$remote_dir/qemu" || return 1
    phone push "$qemu" "$remote_dir/qemu" >/dev/null || return 1
    to_chmod+=("$remote_dir/qemu/qemu-system-aarch64" "$remote_dir/qemu/ld-linux-aarch64.so.1")
    agent_flags+=(--qemu "$remote_dir/qemu")
  elif [[ -n $qemu ]]; then
    phone push "$qemu" "$remote_dir/qemu-system-aarch64" >/dev/null || return 1
    to_chmod+=("$remote_dir/qemu-system-aarch64")
    agent_flags+=(--qemu "$remote_dir/qemu-system-aarch64")
  fi
  local image f
  for image in arm64 arm64-debian; do
    for f in "$images/$image"/*; do
      phone push "$f" "$remote_dir/images/$image/" >/dev/null || return 1
    done
  done
  phone shell chmod 755 "${to_chmod[@]}" || return 1

  # /dev/kvm is root-only on Android; without su the agent still reports, and its
  # verdict says the device node was not accessible.
  local as_root=0
  if "$adb" -s "$serial" shell su -c id 2>/dev/null | grep -q 'uid=0'; then
    as_root=1
    echo "deploy: $serial: starting the agent as root (su)"
  else
    echo "deploy: $serial: su is not available; starting the agent as the shell user (KVM will be reported as not accessible)" >&2
  fi
  push_certificate "$id" "$as_root" || return 1
  # A previous deployment's agent is stopped by its pid file, then replaced.
  local start="cd $remote_dir && { [ -f agent.pid ] && kill \$(cat agent.pid) 2>/dev/null; nohup ./farm-agent ${agent_flags[*]} >agent.log 2>&1 </dev/null & echo \$! >agent.pid; }"
  if [[ $as_root == 1 ]]; then
    phone shell "su -c '$start'" || return 1
  else
    phone shell "$start" || return 1
  fi

  # The controller dials the agent at 127.0.0.1:host_port (forwarded to the phone);
  # the agent dials the controller at 127.0.0.1:7421 on the phone (reversed to here).
  phone forward "tcp:$host_port" "tcp:$agent_port_on_phone" >/dev/null || return 1
  phone reverse "tcp:$controller_port_on_phone" "tcp:$controller_port" >/dev/null || return 1

  [[ $register_timeout -gt 0 ]] || return 0
  local waited
  for ((waited = 0; waited < register_timeout; waited++)); do
    if "$farmctl" --controller "$controller" --tls_ca "$lab/ca.crt" \
        ${token_file:+--token_file "$token_file"} device show "$id" >/dev/null 2>&1; then
      echo "deploy: $serial: registered with $controller as device $id (agent at 127.0.0.1:$host_port)"
      return 0
    fi
    sleep 1
  done
  echo "deploy: $serial: did not register with $controller within ${register_timeout}s; see 'adb -s $serial shell cat $remote_dir/agent.log'" >&2
  return 1
}

# One phone failing does not stop the others; the exit status says whether any did.
failed=0
index=0
for serial in "${serials[@]}"; do
  # The serial goes into a command line run by the phone's shell: accept only
  # the characters real serials use.
  if [[ ! $serial =~ ^[A-Za-z0-9._:-]+$ ]]; then
    echo "deploy: $serial: refusing unusual serial" >&2
    failed=1
    continue
  fi
  # A device id (common/device_id.h) from the serial: network serials have ':'.
  id=${serial//:/-}
  if [[ ! $id =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]]; then
    echo "deploy: $serial: '$id' is not a device id" >&2
    failed=1
    continue
  fi
  deploy_one $((host_port_base + index)) "$id" || failed=1
  index=$((index + 1))
done
exit $failed
