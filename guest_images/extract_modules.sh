#!/usr/bin/env bash
# extract_modules.sh KERNEL_DEB OUT_DIR MODULE...: the named kernel modules
# (MODULE.ko, wherever they sit under /lib/modules) from a Debian kernel package,
# flat in OUT_DIR. Fails when one is missing: a guest without its disk or network
# driver would only fail later, and less clearly.
set -euo pipefail
deb=$1 out=$2
shift 2
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
patterns=()
for module in "$@"; do patterns+=("*/$module.ko"); done
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards "${patterns[@]}"
for module in "$@"; do
  found=$(find "$tmp" -name "$module.ko" -print -quit)
  [[ -n "$found" ]] || { echo "extract_modules: no $module.ko in $deb" >&2; exit 1; }
  mv "$found" "$out/"
done
