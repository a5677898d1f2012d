#!/usr/bin/env bash
# make_initramfs.sh OUT INIT BUSYBOX [FARM_WORKLOAD [MODULES_DIR]]: a gzip'd newc
# cpio holding /init, /bin/busybox (with its applet links) and, when given,
# /bin/farm-workload and the kernel modules in MODULES_DIR as /lib/modules/*.ko.
# Deterministic: fixed timestamps and owners, sorted entries.
set -euo pipefail
out=$1 init=$2 busybox=$3 workload=${4:-} modules=${5:-}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt}
install -m 0755 "$init" "$root/init"
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in sh mount umount cat echo sleep poweroff reboot insmod mdev mkdir ls dmesg mke2fs; do
  ln -s busybox "$root/bin/$applet"
done
if [[ -n "$workload" ]]; then install -m 0755 "$workload" "$root/bin/farm-workload"; fi
if [[ -n "$modules" ]]; then
  mkdir -p "$root/lib/modules"
  install -m 0644 "$modules"/*.ko "$root/lib/modules/"
fi
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
   cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n > "$out"
