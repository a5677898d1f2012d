#!/usr/bin/env bash
# Fails, naming the files, when any of kvmfarm's C++ differs from what clang-format
# makes of it (.clang-format: Google style, 100 columns). Fix with:
#   git ls-files '*.cc' '*.h' | grep -v '^third_party/' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check_format: clang-format is missing (tools/setup.sh installs it)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^third_party/')
# One clang-format for all files; it names each file that would change.
mapfile -t unformatted < <(clang-format --dry-run "${files[@]}" 2>&1 |
  sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning: code should be clang-formatted.*/\1/p' | sort -u)
if ((${#unformatted[@]} > 0)); then
  echo "check_format: ${#unformatted[@]} file(s) not clang-formatted:" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  echo "fix: clang-format -i ${unformatted[*]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} C++ files clang-formatted"
