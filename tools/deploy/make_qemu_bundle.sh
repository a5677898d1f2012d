#!/usr/bin/env bash
# Makes a QEMU bundle for a device without glibc (an Android phone): Debian's
# glibc-linked qemu-system-* with every shared library it needs and glibc's own
# loader, which farm-agent starts as
#   DIR/ld-linux-aarch64.so.1 --library-path DIR/lib DIR/qemu-system-aarch64 ...
# when given --qemu DIR (agent/vm/qemu_launch.h). Push it with
# tools/deploy/deploy_phones.sh --qemu DIR.
#
#   tools/deploy/make_qemu_bundle.sh [--arch arm64|host] [--emulator aarch64|x86_64] --out DIR
#
#   --arch arm64    (default) for phones: Debian's arm64 packages, downloaded with
#                   private package lists into $KVMFARM_CACHE/qemu-arm64 (default
#                   /var/cache/kvmfarm); nothing is installed on this machine
#   --arch host     this machine's own QEMU and libraries (ldd): the same mechanism,
#                   testable here (//agent/vm:qemu_bundle_test)
#   --emulator      which system emulator (default aarch64: the phone's own guests)
#   --out DIR       the bundle directory (replaced)
set -euo pipefail

arch=arm64 emulator=aarch64 out=""
while (($#)); do
  case "$1" in
    --arch) arch=${2:?--arch needs arm64 or host}; shift ;;
    --emulator) emulator=${2:?--emulator needs aarch64 or x86_64}; shift ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "make_qemu_bundle: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
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
    cache="${KVMFARM_CACHE:-/var/cache/kvmfarm}/qemu-arm64"
    rm -rf "$cache/debs"
    mkdir -p "$cache/lists/partial" "$cache/debs"
    apt_opts=(-o APT::Architectures::=amd64 -o APT::Architectures::=arm64
              -o "Dir::State::Lists=$cache/lists")
    echo "make_qemu_bundle: fetching $package:arm64 and its libraries into $cache" >&2
    apt-get -q "${apt_opts[@]}" update >/dev/null
    # The package and everything arm64 it depends on: unpacked, never installed.
    mapfile -t packages < <(
      apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances "$package:arm64" |
        grep -v '^ ' | grep -E '^[^<].*:arm64$' | sort -u)
    (cd "$cache/debs" && apt-get -q "${apt_opts[@]}" download "${packages[@]}" 2>&1 |
       grep -v "Download is performed unsandboxed" >&2 || true)
    root="$cache/root"
    rm -rf "$root"
    mkdir -p "$root"
    for deb in "$cache"/debs/*_arm64.deb; do dpkg-deb -x "$deb" "$root"; done
    qemu="$root/usr/bin/$binary"
    [[ -x "$qemu" ]] || { echo "make_qemu_bundle: $package:arm64 has no $binary" >&2; exit 1; }
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
