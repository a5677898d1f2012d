#!/bin/sh
# kvmfarm guest init. Its first act in user space is the boot marker with the
# guest's own uptime and clock; once it has prepared what the kernel command line
# asks for, the ready marker with the clock again and farm-workload's clocks line
# (workloads/console_protocol.h); then it does it:
#   farm.run=boot        (default) nothing more
#   farm.run=workloads   farm-workload with farm.workloads=, farm.repetitions=,
#                        farm.size=, farm.iterations=; the JSON result is printed as
#                        one line between FARM_RESULT_BEGIN and FARM_RESULT_END.
#                        With farm.disk=1 the scratch disk (/dev/vda, virtio) is
#                        formatted and mounted for the io workload; without a disk,
#                        io runs on the RAM root and farm-workload refuses it.
#   farm.run=echo        answers every console line with "FARM_ECHO <line>"
# and powers off (QEMU runs with -no-reboot, so a reboot ends it).
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox mount -t proc proc /proc
# Sets clock_ns to the guest's monotonic clock in nanoseconds (/proc/uptime has
# only centiseconds), in this shell: a command substitution would fork first.
read_clock() {
  clock_ns=0
  while read -r word1 word2 ns rest; do
    if [ "$word1 $word2" = "now at" ]; then clock_ns=$ns; break; fi
  done </proc/timer_list
}
read_clock
booted_ns=$clock_ns
read -r uptime idle </proc/uptime
total=0 available=0
while read -r key value unit; do
  case "$key" in
    MemTotal:) total=$value ;;
    MemAvailable:) available=$value ;;
  esac
done </proc/meminfo
echo "FARM_BOOTED uptime=$uptime mem_used_kb=$((total - available)) clock_ns=$booted_ns"

run=boot workloads= repetitions=1 size= iterations= disk=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    farm.run=*) run=${arg#farm.run=} ;;
    farm.workloads=*) workloads=${arg#farm.workloads=} ;;
    farm.repetitions=*) repetitions=${arg#farm.repetitions=} ;;
    farm.size=*) size=${arg#farm.size=} ;;
    farm.iterations=*) iterations=${arg#farm.iterations=} ;;
    farm.disk=*) disk=${arg#farm.disk=} ;;
  esac
done

# Prepare what the run needs, then say so.
dir=/tmp
if [ "$run" = workloads ]; then
  /bin/busybox mount -t sysfs sysfs /sys
  if [ "$disk" = 1 ]; then
    # Debian's kernel has these as modules; kvmfarm's own has them built in.
    for module in virtio_ring virtio virtio_mmio virtio_blk; do
      [ -f /lib/modules/$module.ko ] && insmod /lib/modules/$module.ko
    done
    tries=0
    while [ ! -b /dev/vda ] && [ $tries -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
    if [ -b /dev/vda ] && mke2fs -q /dev/vda && mount -t ext4 /dev/vda /mnt; then
      dir=/mnt
      echo "FARM_DISK /dev/vda mounted on /mnt"
    else
      echo "FARM_DISK none"
    fi
  fi
fi
read_clock
echo "FARM_READY clock_ns=$clock_ns"
# The CPU's counter against the kernel's clock: where the guest's first instruction
# was on the kernel's clock (after the ready marker, so it costs no stage).
[ -x /bin/farm-workload ] && /bin/farm-workload --clocks

case "$run" in
  workloads)
    set -- --json "--repetitions=$repetitions" "--dir=$dir"
    [ -n "$workloads" ] && set -- "$@" "--workloads=$workloads"
    [ -n "$size" ] && set -- "$@" "--size=$size"
    [ -n "$iterations" ] && set -- "$@" "--iterations=$iterations"
    result=$(/bin/farm-workload "$@")
    echo "FARM_RESULT_BEGIN"
    echo "$result"
    echo "FARM_RESULT_END"
    ;;
  echo)
    while read -r line; do echo "FARM_ECHO $line"; done
    ;;
esac
/bin/busybox reboot -f
