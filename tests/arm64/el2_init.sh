#!/bin/sh
# init of the EL2 test guest: the static arm64 farm-agent probes the arm64 machine
# QEMU emulates (a real Debian kernel, real /dev/kvm when it started at EL2), prints
# the capability as JSON between markers, and the guest powers off.
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo FARM_PROBE_BEGIN
/bin/farm-agent --probe --json
echo FARM_PROBE_END
/bin/busybox poweroff -f
