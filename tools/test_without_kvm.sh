#!/usr/bin/env bash
# Runs the tests as on a machine with no /dev/kvm at all (CI machines, most
# containers), on a machine that has one: the suite must pass either way.
#
#   tools/test_without_kvm.sh [BAZEL TEST ARGS...]    (default: //...)
#
# Needs root. In a private mount namespace /dev is replaced by a small tmpfs
# holding the usual nodes but not kvm, and `bazel test --nocache_test_results`
# runs there with its own Bazel server (output base ~/.cache/kvmfarm-nokvm; the
# disk cache of .bazelrc still saves recompiling). The host's /dev is untouched.
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
cd "$(dirname "$0")/.."
if ((EUID != 0)); then
  echo "test_without_kvm: needs root (it mounts a private /dev)" >&2
  exit 2
fi
(($#)) || set -- //...

if [[ "${KVMFARM_IN_PRIVATE_DEV:-}" != 1 ]]; then
  export KVMFARM_IN_PRIVATE_DEV=1
  exec unshare --mount --propagation private "$0" "$@"
fi

# Inside the namespace from here on.
dev=$(mktemp -d)
mount -t tmpfs -o mode=0755 kvmfarm-dev "$dev"
for node in null zero full random urandom tty ptmx console kmsg fd stdin stdout stderr; do
  [[ -e /dev/$node || -L /dev/$node ]] && cp -a "/dev/$node" "$dev/"
done
mkdir "$dev/shm" "$dev/pts"
mount --bind "$dev" /dev
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
if [[ -e /dev/kvm ]]; then
  echo "test_without_kvm: /dev/kvm still visible, giving up" >&2
  exit 1
fi
echo "test_without_kvm: /dev has no kvm here; running bazel test $*"
output_base="${HOME}/.cache/kvmfarm-nokvm"
# The main Bazel server's execroot link (bazel-<this dir>) leads into its output
# base, full of BUILD files this server would try to load as packages of //...:
# in this namespace only, an empty tmpfs hides what it points to. And this server
# makes no links of its own (they would replace the main server's).
for link in bazel-*; do
  if [[ -L "$link" && -d "$link/external" ]]; then
    mount -t tmpfs -o mode=0755 kvmfarm-hidden "$(readlink -f "$link")"
  fi
done
status=0
bazel --output_base="$output_base" test --symlink_prefix=/ --nocache_test_results "$@" ||
  status=$?
# The server started in this namespace sees the private /dev: don't leave it for
# later runs.
bazel --output_base="$output_base" shutdown
exit "$status"
