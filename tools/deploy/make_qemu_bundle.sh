#!/usr/bin/env bash
# Makes a QEMU bundle for a device without glibc (an Android phone): Debian's
# glibc-linked qemu-system-* with every shared library it needs and glibc's own
# loader, which farm-agent starts as
#   DIR/ld-linux-aarch64.so.1 --inhibit-cache --library-path DIR/lib DIR/qemu-system-aarch64 ...
# when given --qemu DIR (agent/vm/qemu_launch.h). Push it with
# tools/deploy/deploy_phones.sh --qemu DIR.
#
#   tools/deploy/make_qemu_bundle.sh [--arch arm64|host] [--debs DIR] --out DIR
#   tools/deploy/make_qemu_bundle.sh --fetch DIR
#
#   --arch arm64    (default) for phones: Debian's arm64 packages, unpacked, never
#                   installed; from --debs DIR, else those tools/setup.sh keeps in
#                   $KVMFARM_CACHE/guest/qemu-arm64 (default /var/cache/kvmfarm)
#   --arch host     this machine's own QEMU and libraries: the same layout and
#                   loader start, testable here (//agent/vm:boot_test)
#   --emulator      qemu-system-aarch64 (default: the phone's own guests) or x86_64
#   --out DIR       the bundle directory (replaced)
#   --fetch DIR     download qemu-system-arm:arm64 and every arm64 package it
#                   depends on into DIR (private package lists), then exit
set -euo pipefail

arch=arm64 emulator=aarch64 out="" debs="" fetch=""
while (($#)); do
  case "$1" in
    --arch) arch=${2:?--arch needs arm64 or host}; shift ;;
    --debs) debs=${2:?--debs needs a directory}; shift ;;
    --fetch) fetch=${2:?--fetch needs a directory}; shift ;;
    --emulator) emulator=${2:?--emulator needs aarch64 or x86_64}; shift ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "make_qemu_bundle: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# Downloads the arm64 QEMU packages into $1: the emulators' package and everything
# arm64 it depends on (only unpacked later, so maintainer scripts never matter).
fetch_arm64_debs() {
  local dir=$1
  local lists="$dir.lists"
  mkdir -p "$lists/partial"
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial"
  local apt_opts=(-o APT::Architectures::=amd64 -o APT::Architectures::=arm64
                  -o "Dir::State::Lists=$lists")
  apt-get -q "${apt_opts[@]}" update >/dev/null
  local packages
  mapfile -t packages < <(
    for p in qemu-system-arm qemu-system-x86; do
      apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances "$p:arm64"
    done | grep -v '^ ' | grep -E '^[^<].*:arm64$' | sort -u)
  (cd "$dir.partial" && apt-get -q "${apt_opts[@]}" download "${packages[@]}" 2>&1 |
     grep -v "Download is performed unsandboxed" | grep -v '^Get:' >&2 || true)
  # Replaced whole, so a failed download never leaves a half set behind.
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
  echo "make_qemu_bundle: ${#packages[@]} arm64 packages in $dir ($(du -sh "$dir" | cut -f1))" >&2
}

if [[ -n "$fetch" ]]; then
  fetch_arm64_debs "$fetch"
  exit 0
fi
[[ -n "$out" ]] || { echo "make_qemu_bundle: --out DIR is required" >&2; exit 2; }
[[ "$emulator" == aarch64 || "$emulator" == x86_64 ]] ||
  { echo "make_qemu_bundle: --emulator must be aarch64 or x86_64" >&2; exit 2; }
binary=qemu-system-$emulator
package=qemu-system-arm
[[ "$emulator" == x86_64 ]] && package=qemu-system-x86

# NEEDED sonames of an ELF file.
needed() { readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'; }
# The program interpreter of an ELF file.
interpreter() { readelf -l "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p'; }

rm -rf "$out"
mkdir -p "$out/lib"

case "$arch" in
  host)
    qemu=$(command -v "$binary") || { echo "make_qemu_bundle: no $binary here" >&2; exit 1; }
    root=/
    search=(/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib)
    ;;
  arm64)
    if [[ -z "$debs" ]]; then
      debs="${KVMFARM_CACHE:-/var/cache/kvmfarm}/guest/qemu-arm64"
      [[ -d "$debs" ]] || fetch_arm64_debs "$debs"
    fi
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    # Unpacked as plain files: owners (root:shadow, ...) can't be set in a sandbox
    # and don't matter on the phone.
    for deb in "$debs"/*_arm64.deb; do
      dpkg-deb --fsys-tarfile "$deb" | tar -x --no-same-owner -C "$root"
    done
    qemu="$root/usr/bin/$binary"
    [[ -x "$qemu" ]] || { echo "make_qemu_bundle: no $binary in the packages of $debs" >&2; exit 1; }
    search=("$root/lib/aarch64-linux-gnu" "$root/usr/lib/aarch64-linux-gnu")
    ;;
  *) echo "make_qemu_bundle: --arch must be arm64 or host" >&2; exit 2 ;;
esac

loader=$(interpreter "$qemu")
[[ -n "$loader" ]] || { echo "make_qemu_bundle: $qemu has no program interpreter" >&2; exit 1; }
install -m 0755 "$qemu" "$out/$binary"
install -m 0755 "$(readlink -f "$root/$loader")" "$out/$(basename "$loader")"

# Every library QEMU needs, transitively, from the search directories: a soname
# found nowhere is an error, so a bundle is complete or not made.
declare -A copied=()
queue=("$qemu")
while ((${#queue[@]})); do
  file=${queue[0]}
  queue=("${queue[@]:1}")
  for soname in $(needed "$file"); do
    [[ -n "${copied[$soname]:-}" ]] && continue
    [[ "$soname" == ld-linux* ]] && continue
    found=""
    for dir in "${search[@]}"; do
      if [[ -e "$dir/$soname" ]]; then found="$dir/$soname"; break; fi
    done
    [[ -n "$found" ]] || { echo "make_qemu_bundle: $soname (needed by $file) not found" >&2; exit 1; }
    install -m 0644 "$(readlink -f "$found")" "$out/lib/$soname"
    copied[$soname]=1
    queue+=("$found")
  done
done
echo "make_qemu_bundle: $out: $binary, $(basename "$loader") and ${#copied[@]} libraries" \
  "($(du -sh "$out" | cut -f1))" >&2
