#!/bin/sh
# init of the serving-phone test guest: the phone's layout (agent, workload, arm64
# image, QEMU bundle under /data/local/tmp/kvmfarm) on an emulated arm64 machine
# with EL2, and the agent serving gRPC on the guest's network, which QEMU forwards
# to a port on the host (the way adb forward does for a phone).
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
for module in virtio_ring virtio virtio_mmio failover net_failover virtio_net; do
  /bin/busybox insmod /lib/modules/$module.ko
done
/bin/busybox ip link set lo up
/bin/busybox ip link set eth0 up
/bin/busybox ip addr add 10.0.2.15/24 dev eth0
cd /data/local/tmp/kvmfarm
# 0.0.0.0 inside this guest: its only outside is QEMU's forward from the host's
# loopback.
./farm-agent --listen 0.0.0.0:7420 --device-id emulated-phone \
  --qemu /data/local/tmp/kvmfarm/qemu --work-dir /data/local/tmp/kvmfarm/work
/bin/busybox poweroff -f
