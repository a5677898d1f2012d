"""The reference guest's initramfs and image.conf, for each architecture and kernel."""

# The virtio modules a guest with Debian's kernel needs to see its scratch disk (the
# io workload); kvmfarm's own kernels have them built in.
_DISK_MODULES = ["virtio_ring", "virtio", "virtio_mmio", "virtio_blk"]

_WORKLOAD = {"arm64": ":workload_arm64", "x86_64": ":workload_x86_64"}
_ARM64_BUSYBOX = "@guest_debs//:busybox-static-arm64.deb"

def guest_initramfs(name, arch, out, modules_from = None, **kwargs):
    """init.sh, busybox and farm-workload for `arch` as a cpio at `out`.

    `out` ending in .gz is gzip'd. `modules_from` (a linux-image .deb) adds its disk
    modules under /lib/modules. busybox-static is Debian's: the host's for x86_64
    (tools/setup.sh installs it), the arm64 package's for arm64.
    """
    workload = _WORKLOAD[arch]
    srcs = ["//guest_images:init.sh", workload]
    cmd = "work=$$(mktemp -d) && busybox=/bin/busybox && extras= && "
    if arch == "arm64":
        srcs.append(_ARM64_BUSYBOX)
        cmd += ("dpkg-deb --fsys-tarfile $(location %s) | tar -x -C $$work ./bin/busybox && " %
                _ARM64_BUSYBOX + "busybox=$$work/bin/busybox && ")
    if modules_from:
        srcs.append(modules_from)
        cmd += ("$(location //guest_images:extract_modules.sh) $(location %s) $$work/mods %s && " %
                (modules_from, " ".join(_DISK_MODULES)) + "extras=$$work/mods:/lib/modules && ")
    cmd += ("$(location //guest_images:make_initramfs.sh) $@ $(location //guest_images:init.sh) " +
            "$$busybox $(location %s):/bin/farm-workload $$extras; " % workload +
            "status=$$?; rm -rf $$work; exit $$status")
    native.genrule(
        name = name,
        srcs = srcs,
        outs = [out],
        cmd = cmd,
        tools = [
            "//guest_images:extract_modules.sh",
            "//guest_images:make_initramfs.sh",
        ],
        **kwargs
    )

def image_conf(name, arch, out, acpi = True, **kwargs):
    """An image.conf: the architecture, farm-workload aboard, and acpi=no for a kernel without ACPI."""
    lines = ["arch=" + arch, "workloads=yes"] + ([] if acpi else ["acpi=no"])
    native.genrule(
        name = name,
        outs = [out],
        cmd = "printf '%s\\n' > $@" % "\\n".join(lines),
        **kwargs
    )
