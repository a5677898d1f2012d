#!/usr/bin/env bash
# Installs every Debian package kvmfarm needs to build, test and run, idempotently.
# Quick when everything is present: it asks dpkg first and only calls apt-get for
# what is missing.
set -euo pipefail

# The libraries the agent and workloads link come in both architectures, amd64 for
# the host build and arm64 for the static phone binaries (--config=aarch64 and the
# emulated tests in //...). Multiarch twins must have the same version, so both are
# installed in one apt-get transaction (an older amd64 package would block its
# arm64 twin; apt upgrades it alongside).
MULTIARCH_LIBS=(libgrpc++-dev libprotobuf-dev libabsl-dev libssl-dev zlib1g-dev)
NATIVE_ARCH=$(dpkg --print-architecture)
MULTIARCH_PACKAGES=("${MULTIARCH_LIBS[@]/%/:$NATIVE_ARCH}" "${MULTIARCH_LIBS[@]/%/:arm64}")
BUILD_PACKAGES=(
  bazel-bootstrap g++ pkg-config
  protobuf-compiler-grpc protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
  g++-aarch64-linux-gnu
  clang-format  # .ci/run checks the C++ formatting (tools/check_format.sh)
  grpc-proto  # grpc.reflection.v1's .proto, compiled by //third_party:grpc_reflection_v1
  libpq-dev  # the controller's PostgreSQL store (issue 17)
  # The controller's HTTP endpoint and its metrics (issue 19).
  libcpp-httplib-dev prometheus-cpp-dev
  # The fuzz targets (issue 22) are built with clang and libFuzzer, which gcc can't
  # build: //bazel/toolchains:x86_64_clang (clang, lld, llvm's binutils) and the
  # sanitizer and libFuzzer runtimes.
  clang-14 lld-14 llvm-14 libclang-rt-14-dev
  # The reference guest's minimal kernels (issue 23), built by //bazel:kernel.bzl
  # from Debian's kernel source (the arm64 one with g++-aarch64-linux-gnu's gcc):
  # make, the kconfig parser's flex and bison, bc for the build's constants,
  # libelf for x86's objtool, libssl-dev (above) for its signing tools.
  linux-source-6.1 make flex bison bc libelf-dev xz-utils
)
RUN_PACKAGES=(
  qemu-system-x86 qemu-system-arm qemu-utils busybox-static cpio lz4
  qemu-user-static  # runs the arm64 binaries in tests, called explicitly
  adb  # tools/deploy talks to phones over USB
  # The tests start their own PostgreSQL servers from its binaries (initdb, postgres)
  # under `unshare --user` (util-linux), never the system cluster it sets up.
  postgresql util-linux
  # promtool checks /metrics, and the tests scrape it with a Prometheus server of
  # their own (the package's system service on :9090 is never used).
  prometheus
  # The dashboard's tests load its pages in headless Chromium over its DevTools pipe
  # (//controller/dashboard/testing:chromium).
  chromium
)
# The independent tools the benchmarks compare kvmfarm's figures with.
BENCH_PACKAGES=(
  openssl sysbench binutils
)
ALL_PACKAGES=("${BUILD_PACKAGES[@]}" "${MULTIARCH_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
              "${BENCH_PACKAGES[@]}")

# Architecture-independent packages only answer to their plain name; once arm64 is
# added, a plain name matches both twins of a multiarch package (two statuses), so
# the host's architecture is asked for next.
installed() {
  local name
  for name in "$1" "$1:$NATIVE_ARCH"; do
    [[ "$name" == *:*:* ]] && continue
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null || true)" == "installed" ]] &&
      return 0
  done
  return 1
}
missing=()
for pkg in "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}" "${BENCH_PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
# One missing twin brings both architectures of every multiarch library into the
# transaction, so apt moves them to one version together.
for pkg in "${MULTIARCH_PACKAGES[@]}"; do
  if ! installed "$pkg"; then
    missing+=("${MULTIARCH_PACKAGES[@]}")
    break
  fi
done

# arm64 packages need arm64 in dpkg's architectures (and a package list fetched
# after adding it).
add_arm64=0
if [[ "$NATIVE_ARCH" != arm64 ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  add_arm64=1
fi

SUDO=()
if ((${#missing[@]} == 0 && add_arm64 == 0)); then
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
if ((add_arm64)); then
  echo "setup: adding arm64 to dpkg's architectures (for the static phone binaries)"
  "${SUDO[@]}" dpkg --add-architecture arm64
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
# Debian's arm64 QEMU and the arm64 libraries it needs, as .deb files: the QEMU
# bundle a phone without glibc runs (tools/deploy/make_qemu_bundle.sh), which
# //tests/arm64 also boots guests with under an emulated arm64 KVM.
if [[ -d "$CACHE/qemu-arm64" ]]; then
  echo "setup: arm64 QEMU packages present in $CACHE/qemu-arm64"
else
  echo "setup: fetching the arm64 QEMU packages into $CACHE/qemu-arm64"
  "${SUDO[@]}" "$(dirname "$0")/deploy/make_qemu_bundle.sh" --fetch "$CACHE/qemu-arm64"
fi
echo "setup: done"
