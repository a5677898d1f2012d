#!/usr/bin/env bash
# make_initramfs.sh OUT INIT BUSYBOX [SRC:DEST ...]: a newc cpio (gzip'd when OUT
# ends in .gz) holding
# /init, /bin/busybox (with its applet links) and each SRC at DEST: a file is put at
# DEST (mode 0755 under /bin or when executable, else 0644); a directory's contents are copied into the
# directory DEST with their modes. E.g. farm-workload:/bin/farm-workload mods:/lib/modules
# Deterministic: fixed timestamps and owners, sorted entries.
set -euo pipefail
out=$1 init=$2 busybox=$3
shift 3
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt}
install -m 0755 "$init" "$root/init"
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in sh mount umount cat echo sleep poweroff reboot insmod mdev mkdir ls dmesg mke2fs; do
  ln -s busybox "$root/bin/$applet"
done
for extra in "$@"; do
  src=${extra%%:*} dest=${extra#*:}
  if [[ -d "$src" ]]; then
    mkdir -p "$root$dest"
    cp -a "$src/." "$root$dest/"
  else
    mode=0644
    [[ "$dest" == /bin/* || -x "$src" ]] && mode=0755
    install -D -m "$mode" "$src" "$root$dest"
  fi
done
find "$root" -exec touch -h -d @0 {} +
compress=(cat)
[[ "$out" == *.gz ]] && compress=(gzip -9n)
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
   cpio --quiet -o -H newc -R 0:0 --reproducible) | "${compress[@]}" > "$out"
