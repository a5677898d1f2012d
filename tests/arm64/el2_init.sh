#!/bin/sh
# init of the EL2 test guest: the static arm64 farm-agent probes the arm64 machine
# QEMU emulates (a real Debian kernel, real /dev/kvm when it started at EL2), prints
# the capability as JSON between markers, and the guest powers off.
#   farm.test=shell   the probe runs as Android's shell user (uid 2000) with no
#                     /etc/passwd, as under `adb shell` without su
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo FARM_PROBE_BEGIN
case "$(cat /proc/cmdline)" in
  *farm.test=shell*)
    # busybox has no setuid tool that takes a bare uid: su needs a passwd entry.
    # The entry lives only until su has switched to uid 2000 (the child says so
    # with a file), so the agent itself finds no /etc/passwd, as on Android.
    /bin/busybox mkdir -p /etc
    echo "shell:x:2000:2000::/:/bin/sh" > /etc/passwd
    /bin/busybox chmod 1777 /tmp
    /bin/busybox su -s /bin/sh shell -c \
      'echo > /tmp/switched; while [ -e /etc/passwd ]; do /bin/busybox usleep 10000; done
       exec /bin/farm-agent --probe --json' &
    while [ ! -e /tmp/switched ]; do /bin/busybox usleep 10000; done
    /bin/busybox rm /etc/passwd
    wait
    ;;
  *)
    /bin/farm-agent --probe --json
    ;;
esac
echo FARM_PROBE_END
/bin/busybox poweroff -f
