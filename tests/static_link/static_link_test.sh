#!/usr/bin/env bash
# The static probe has no program interpreter (no PT_INTERP, no dynamic section),
# and runs: the fully static link line for gRPC/protobuf/abseil/libcrypto/zlib works.
set -euo pipefail
probe="$1"

if readelf -l "$probe" | grep -q 'INTERP'; then
  echo "FAIL: $probe has a program interpreter:" >&2
  readelf -l "$probe" | grep -A1 INTERP >&2
  exit 1
fi
if readelf -d "$probe" 2>/dev/null | grep -q 'NEEDED'; then
  echo "FAIL: $probe needs shared libraries:" >&2
  readelf -d "$probe" | grep NEEDED >&2
  exit 1
fi
out=$("$probe")
expected='{"name":"static.link","outcome":"OUTCOME_PASS"} sha256_len=32 crc32='
case "$out" in
  "$expected"*" channel=ok") echo "PASS: static probe ran: $out" ;;
  *) echo "FAIL: unexpected output: $out" >&2; exit 1 ;;
esac
