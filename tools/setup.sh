#!/usr/bin/env bash
# Installs every Debian package kvmfarm needs to build, test and run, idempotently.
# Quick when everything is present: it asks dpkg first and only calls apt-get for
# what is missing.
set -euo pipefail

BUILD_PACKAGES=(
  bazel-bootstrap g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev libssl-dev zlib1g-dev
)
RUN_PACKAGES=(
  qemu-system-x86 qemu-system-arm qemu-utils busybox-static cpio lz4
  adb  # tools/deploy talks to phones over USB
)
# The independent tools the benchmarks compare kvmfarm's figures with.
BENCH_PACKAGES=(
  openssl sysbench binutils
)
ALL_PACKAGES=("${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}" "${BENCH_PACKAGES[@]}")

missing=()
for pkg in "${ALL_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done

SUDO=()
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#ALL_PACKAGES[@]} packages present"
elif [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run this script as root (or install sudo) to install them" >&2
    exit 1
  fi
fi
if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Guest kernels (and the arm64 busybox) as .deb files in a cache directory that
# Bazel reads as a local repository (bazel/guest_debs.bzl). The versioned kernel
# package is resolved through Debian's cloud metapackage, since versioned names move
# with security updates; arm64 packages are fetched with a private package list, no
# dpkg architecture added. Nothing is downloaded when the cache is complete.
CACHE="${KVMFARM_CACHE:-/var/cache/kvmfarm}/guest"
"${SUDO[@]}" mkdir -p "$CACHE"
if [[ -e "$CACHE/linux-image-amd64.deb" && -e "$CACHE/linux-image-arm64.deb" &&
      -e "$CACHE/busybox-static-arm64.deb" ]]; then
  echo "setup: guest packages present in $CACHE"
else
  echo "setup: fetching guest kernels into $CACHE"
  # A private package list for both architectures: fresh whatever the system's is.
  lists="$CACHE/lists"
  "${SUDO[@]}" mkdir -p "$lists/partial"
  apt_opts=(-o APT::Architectures::=amd64 -o APT::Architectures::=arm64
            -o "Dir::State::Lists=$lists")
  "${SUDO[@]}" apt-get -q "${apt_opts[@]}" update >/dev/null
  # Resolves a metapackage to the package it depends on ("linux-image-6.1.0-56-cloud-amd64").
  resolve() { apt-cache "${@:2}" depends "$1" | awk '/Depends:/ {print $2; exit}'; }
  fetch() {  # fetch PACKAGE LINK_NAME [apt options...]
    local package=$1 link=$2
    shift 2
    (cd "$CACHE" && "${SUDO[@]}" apt-get -q "$@" download "$package" 2>&1 |
       grep -v "Download is performed unsandboxed" || true)
    local deb
    deb=$(cd "$CACHE" && ls -t "${package%%:*}"_*.deb | head -n 1)
    [[ -n "$deb" ]] || { echo "setup: could not download $package" >&2; exit 1; }
    "${SUDO[@]}" ln -sfn "$deb" "$CACHE/$link"
    echo "setup:   $link -> $deb"
  }
  fetch "$(resolve linux-image-cloud-amd64:amd64 "${apt_opts[@]}")" linux-image-amd64.deb \
    "${apt_opts[@]}"
  fetch "$(resolve linux-image-cloud-arm64:arm64 "${apt_opts[@]}")" linux-image-arm64.deb \
    "${apt_opts[@]}"
  fetch busybox-static:arm64 busybox-static-arm64.deb "${apt_opts[@]}"
fi
echo "setup: done"
