#!/usr/bin/env bash
# extract_kernel.sh DEB OUT: the kernel of a Debian linux-image package, ready for
# QEMU's -kernel.
#  * x86_64: the uncompressed ELF vmlinux, taken out of the LZ4-compressed bzImage
#    (Debian's cloud kernel), so QEMU's microvm loads it directly via its PVH entry.
#  * arm64: the uncompressed Image (as Debian ships it; gunzipped if compressed).
set -euo pipefail
deb=$1
out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
image=$(ls "$work"/boot/vmlinuz-*)
if [[ "$(tail -c +57 "$image" | head -c 4)" == "ARMd" ]]; then
  cp "$image" "$out"  # arm64 Image: "ARMd" magic at offset 56
  exit 0
fi
case "$(head -c 2 "$image" | od -An -tx1 | tr -d ' ')" in
  1f8b)  # gzip: arm64 Image.gz
    gzip -dc "$image" > "$out" ;;
  *)     # x86 bzImage: find the LZ4 legacy frame and inflate it
    offset=$(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$image" | head -n 1 | cut -d: -f1)
    [[ -n "$offset" ]] || { echo "extract_kernel: no LZ4 payload in $image" >&2; exit 1; }
    # lz4 stops with an error at the bzImage's trailing data after the payload.
    tail -c "+$((offset + 1))" "$image" | lz4 -dc > "$out" 2>/dev/null || true
    readelf -h "$out" >/dev/null 2>&1 || { echo "extract_kernel: no ELF vmlinux" >&2; exit 1; } ;;
esac
