#!/bin/sh
# init of the phone-like test guest: the layout tools/deploy puts on a phone
# (/data/local/tmp/kvmfarm: farm-agent, images/arm64, qemu/ = Debian's arm64 QEMU
# bundled with its libraries and glibc's loader), on an emulated arm64 machine whose
# kernel has KVM. The agent's full probe with the boot check: a Linux guest boots
# under that KVM through the bundle, as it would on a rooted phone.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
cd /data/local/tmp/kvmfarm
echo FARM_PROBE_BEGIN
./farm-agent --probe --json --boot-check --qemu /data/local/tmp/kvmfarm/qemu
echo FARM_PROBE_END
/bin/busybox poweroff -f
