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
  qemu-system-x86 qemu-system-arm qemu-utils busybox-static cpio
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

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#ALL_PACKAGES[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run this script as root (or install sudo) to install them" >&2
    exit 1
  fi
else
  SUDO=()
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
