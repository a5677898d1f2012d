"""linux_kernel: a Linux kernel built from Debian's source with a minimal configuration.

The configuration is a fragment kept in the repository: `make allnoconfig` with the
fragment as KCONFIG_ALLCONFIG, so every option not named is off. The build fails when
an option the fragment sets did not survive (an unmet dependency), so a fragment
cannot silently lose what the guest needs. The arm64 kernel is cross-compiled with
Debian's aarch64-linux-gnu toolchain (tools/setup.sh). Outputs are reproducible:
the build's time, user and host are fixed, so a kernel's digest (recorded with every
guest figure) changes only when its source or configuration does.

A kernel takes minutes to build, so it is built once whatever the build's
compilation mode: the build runs in one fixed configuration (an incoming
transition), and `out` is a copy of its result in the requesting configuration
(the image directory must hold real files, not links leading out of it).
"""

_ARCHES = {
    # arch: (make ARCH, CROSS_COMPILE, make target, the file it produces)
    "x86_64": ("x86_64", "", "vmlinux", "vmlinux"),
    "arm64": ("arm64", "aarch64-linux-gnu-", "Image", "arch/arm64/boot/Image"),
}

# `bazel test //...` (fastbuild) and `bazel build -c opt //...` share one build:
# both move to a mode neither uses, so the transition changes the configuration
# from both alike (a transition to fastbuild would be a no-op from fastbuild and a
# change from opt, two output directories and two builds). No C++ is compiled in it.
def _one_configuration_impl(settings, attr):
    return {"//command_line_option:compilation_mode": "dbg"}

_one_configuration = transition(
    implementation = _one_configuration_impl,
    inputs = [],
    outputs = ["//command_line_option:compilation_mode"],
)

def _kernel_build_impl(ctx):
    make_arch, cross, target, product = _ARCHES[ctx.attr.arch]
    out = ctx.actions.declare_file(ctx.label.name + ".kernel")
    config = ctx.actions.declare_file(ctx.label.name + ".config")
    ctx.actions.run(
        executable = ctx.executable._build_kernel,
        arguments = [
            ctx.file._source.path,
            ctx.file.config.path,
            make_arch,
            cross,
            target,
            product,
            out.path,
            config.path,
        ],
        inputs = [ctx.file._source, ctx.file.config],
        outputs = [out, config],
        mnemonic = "LinuxKernel",
        progress_message = "Building the %s guest kernel %s (a few minutes)" %
                           (ctx.attr.arch, out.short_path),
        # The build unpacks 1.3 GB of source into a scratch directory of its own.
        execution_requirements = {"no-sandbox": "1"},
        use_default_shell_env = True,
    )
    return [
        DefaultInfo(files = depset([out])),
        OutputGroupInfo(config = depset([config])),
    ]

_kernel_build = rule(
    implementation = _kernel_build_impl,
    cfg = _one_configuration,
    attrs = {
        "arch": attr.string(mandatory = True, values = _ARCHES.keys()),
        "config": attr.label(mandatory = True, allow_single_file = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
        "_build_kernel": attr.label(
            default = "//bazel:build_kernel.sh",
            executable = True,
            cfg = "exec",
            allow_single_file = True,
        ),
        "_source": attr.label(
            default = "@linux_source//:linux-source.tar.xz",
            allow_single_file = True,
        ),
    },
)

def _copy_impl(ctx):
    out = ctx.actions.declare_file(ctx.attr.out)
    ctx.actions.run(
        executable = "cp",
        arguments = [ctx.file.src.path, out.path],
        inputs = [ctx.file.src],
        outputs = [out],
        mnemonic = "CopyKernel",
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

_copy = rule(
    implementation = _copy_impl,
    attrs = {
        "out": attr.string(mandatory = True),
        "src": attr.label(mandatory = True, allow_single_file = True),
    },
)

def linux_kernel(name, arch, config, out, **kwargs):
    """A kernel for QEMU's -kernel at `out`.

    <name>_build is the build itself; its output group `config` is the full
    configuration the fragment `config` expanded to.
    """
    _kernel_build(
        name = name + "_build",
        arch = arch,
        config = config,
        visibility = ["//visibility:private"],
    )
    _copy(
        name = name,
        src = ":" + name + "_build",
        out = out,
        **kwargs
    )
