#!/usr/bin/env bash
# A stand-in for adb: records every call in $STUB_ADB_LOG (one line each) and
# answers the way adb does for the commands tools/deploy uses.
#   STUB_ADB_DEVICES  file with `adb devices` lines ("SERIAL<TAB>state")
#   STUB_ADB_ROOTED   file with the serials on which `su` works
#   STUB_ADB_BROKEN   file with the serials on which every push fails
#   STUB_ADB_AGENT    if set, starting the agent on a phone starts this local
#                     farm-agent instead, registering with $STUB_ADB_CONTROLLER
#                     as the --device-id it was given, with that device's
#                     certificate from the lab $STUB_ADB_LAB (what deploy pushed)
#                     and the fixture $STUB_ADB_SYSROOT; its pid is appended to
#                     $STUB_ADB_PIDS.
#   STUB_ADB_EMULATOR if set, runs STUB_ADB_AGENT (the arm64 build) under it
set -u
echo "$*" >>"$STUB_ADB_LOG"
if [[ $1 == devices ]]; then
  echo "List of devices attached"
  cat "$STUB_ADB_DEVICES"
  echo
  exit 0
fi
[[ $1 == -s ]] || { echo "stub adb: expected -s SERIAL, got '$*'" >&2; exit 1; }
serial=$2
shift 2
case $1 in
  push)
    if grep -qx "$serial" "${STUB_ADB_BROKEN:-/dev/null}" 2>/dev/null; then
      echo "adb: error: failed to copy '$2': remote couldn't create file: Read-only file system" >&2
      exit 1
    fi
    [[ -e $2 ]] || { echo "adb: error: cannot stat '$2': No such file or directory" >&2; exit 1; }
    echo "$2: 1 file pushed." ;;
  forward|reverse) ;;
  shell)
    shift
    case "$*" in
      "getprop ro.product.model") echo "Stub Phone" ;;
      "su -c id")
        if grep -qx "$serial" "$STUB_ADB_ROOTED" 2>/dev/null; then
          echo "uid=0(root) gid=0(root) groups=0(root)"
        else
          echo "/system/bin/sh: su: inaccessible or not found" >&2
          exit 127
        fi ;;
      *"nohup ./farm-agent"*)
        if [[ -n ${STUB_ADB_AGENT:-} ]]; then
          agent_cmd=("$STUB_ADB_AGENT")
          [[ -n ${STUB_ADB_EMULATOR:-} ]] && agent_cmd=("$STUB_ADB_EMULATOR" "$STUB_ADB_AGENT")
          [[ "$*" =~ --device-id\ ([A-Za-z0-9._-]+) ]] || { echo "stub adb: no --device-id" >&2; exit 1; }
          id=${BASH_REMATCH[1]}
          "${agent_cmd[@]}" --listen 127.0.0.1:0 --controller "$STUB_ADB_CONTROLLER" \
            --device-id "$id" --sysroot "$STUB_ADB_SYSROOT" --tls_ca "$STUB_ADB_LAB/ca.crt" \
            --tls_cert "$STUB_ADB_LAB/device-$id.crt" --tls_key "$STUB_ADB_LAB/device-$id.key" \
            >>"$STUB_ADB_LOG.agent" 2>&1 </dev/null &
          echo $! >>"$STUB_ADB_PIDS"
        fi ;;
    esac ;;
  *) echo "stub adb: unknown command '$1'" >&2; exit 1 ;;
esac
