#!/bin/sh
# init of the phone-like test guest: the layout tools/deploy puts on a phone
# (/data/local/tmp/kvmfarm: farm-agent, farm-workload, images/arm64 and
# images/arm64-debian, qemu/ = Debian's arm64 QEMU bundled with its libraries and
# glibc's loader) on an emulated arm64 machine whose kernel has KVM. The kernel command line says what to do:
#   farm.test=probe   the agent's full probe with the boot check, as JSON between
#                     FARM_PROBE_BEGIN and FARM_PROBE_END, then power off
#   farm.test=serve   the agent serving gRPC on the guest's network, which QEMU
#                     forwards to a port on the host (as adb forward does for a phone)
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
home=/data/local/tmp/kvmfarm
cd $home
case "$(cat /proc/cmdline)" in
  *farm.test=probe*)
    echo FARM_PROBE_BEGIN
    ./farm-agent --probe --json --boot-check --qemu $home/qemu
    echo FARM_PROBE_END
    ;;
  *farm.test=serve*)
    for module in virtio_ring virtio virtio_mmio failover net_failover virtio_net; do
      /bin/busybox insmod /lib/modules/$module.ko
    done
    /bin/busybox ip link set lo up
    /bin/busybox ip link set eth0 up
    /bin/busybox ip addr add 10.0.2.15/24 dev eth0
    # 0.0.0.0 inside this guest: its only outside is QEMU's forward from the host's
    # loopback.
    # The initramfs is reproducible (every mtime 0), which gRPC's certificate
    # watcher takes for a failed stat: give the certificate files a real one.
    /bin/busybox touch $home/tls/*
    ./farm-agent --listen 0.0.0.0:7420 --device-id emulated-phone --qemu $home/qemu \
      --work-dir $home/work --tls_ca $home/tls/ca.crt --tls_cert $home/tls/agent.crt \
      --tls_key $home/tls/agent.key
    ;;
esac
/bin/busybox poweroff -f
