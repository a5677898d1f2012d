"""`linux_cc_toolchain`: a C++ toolchain whose tools are the system's, registered for
the platforms that carry `target_compatible_with`.

Bazel needs three targets per toolchain: the cc_toolchain (here with no files of
its own: the compilers are Debian's, outside the sandbox), the config, and the
`toolchain` that toolchain resolution matches. The config (`config`, a
cc_toolchain_config) is what differs between ours.
"""

def linux_cc_toolchain(name, config, identifier, target_compatible_with):
    native.cc_toolchain(
        name = name,
        all_files = ":empty",
        ar_files = ":empty",
        as_files = ":empty",
        compiler_files = ":empty",
        dwp_files = ":empty",
        linker_files = ":empty",
        objcopy_files = ":empty",
        strip_files = ":empty",
        supports_param_files = 1,
        toolchain_config = config,
        toolchain_identifier = identifier,
    )
    native.toolchain(
        name = name + "_toolchain",
        exec_compatible_with = [
            "@platforms//cpu:x86_64",
            "@platforms//os:linux",
        ],
        target_compatible_with = target_compatible_with,
        toolchain = ":" + name,
        toolchain_type = "@bazel_tools//tools/cpp:toolchain_type",
    )
