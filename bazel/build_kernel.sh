#!/usr/bin/env bash
# build_kernel.sh SOURCE_TAR FRAGMENT ARCH CROSS_COMPILE TARGET PRODUCT OUT CONFIG_OUT
# Builds a kernel from the source tarball with `make allnoconfig` plus FRAGMENT
# (KCONFIG_ALLCONFIG), checks that every option FRAGMENT sets is set so in the
# result, and copies the built PRODUCT to OUT and the full .config to CONFIG_OUT.
# Used by //bazel:kernel.bzl; the scratch tree (about 1.3 GB) is removed on exit.
set -euo pipefail
source_tar=$1 fragment=$2 arch=$3 cross=$4 target=$5 product=$6 out=$7 config_out=$8
for tool in make flex bison bc gcc "${cross}gcc"; do
  command -v "$tool" >/dev/null ||
    { echo "build_kernel: $tool is missing: run tools/setup.sh" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/kvmfarm-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xf "$source_tar" -C "$work" --strip-components=1
# Reproducible: the version string carries no date, user or host of this build.
export KBUILD_BUILD_TIMESTAMP="1970-01-01" KBUILD_BUILD_USER=kvmfarm \
  KBUILD_BUILD_HOST=kvmfarm KBUILD_BUILD_VERSION=1
make_args=(-C "$work" -s ARCH="$arch" CROSS_COMPILE="$cross")
make "${make_args[@]}" allnoconfig KCONFIG_ALLCONFIG="$PWD/$fragment" >/dev/null
# Kconfig drops an option whose dependencies are unmet without a word.
lost=0
while IFS= read -r line; do
  [[ "$line" =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]] || continue
  option=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
  if [[ "$value" == n ]]; then
    grep -q "^$option=" "$work/.config" || continue
  elif grep -qxF "$option=$value" "$work/.config"; then
    continue
  fi
  echo "build_kernel: $fragment sets $option=$value but the configuration has" \
    "'$(grep -E "^(# )?$option[= ]" "$work/.config" || echo "nothing")'" >&2
  lost=1
done < "$fragment"
((lost == 0)) || exit 1
make "${make_args[@]}" -j"$(nproc)" "$target"
cp "$work/$product" "$out"
cp "$work/.config" "$config_out"
