"""`platform_binary`: one binary built for a given platform, whatever the build's own.

A host `bazel test //...` needs arm64 binaries too: to run them under
qemu-aarch64-static and to pack them into the arm64 guest image. This rule builds
`binary` for `platform` (a Starlark transition on --platforms, plus --cpu so the
outputs land in their own directory), always without --config=asan's sanitizers
(what it builds is static, for a phone or a guest), and exposes it as its own
executable, without the binary's runfiles (a foreign-architecture binary is run or
packed, alone).

Example:
    platform_binary(
        name = "farm-agent-arm64",
        binary = "//agent:farm-agent",
        platform = "//bazel/platforms:linux_aarch64",
    )
"""

# --cpu for each platform: it names the output directory and picks the entry of
# //bazel/toolchains:suite that Bazel 4.2 still analyses.
_CPU = {
    "//bazel/platforms:linux_aarch64": "aarch64",
    "//bazel/platforms:linux_x86_64": "k8",
}

def _not_sanitizing(flags):
    return [f for f in flags if "sanitize" not in f]

def _platform_transition_impl(settings, attr):
    platform = str(attr.platform)

    # str() of a label in the main repository reads "//..." or "@//..." by Bazel version.
    key = platform[1:] if platform.startswith("@//") else platform
    if key not in _CPU:
        fail("platform_binary: no --cpu known for %s; add it to _CPU" % platform)

    # Without --config=asan's sanitizers: these binaries are static, for a phone or a
    # guest with no libraries to load (and no sanitizer runtime for aarch64).
    return {
        "//command_line_option:platforms": platform,
        "//command_line_option:cpu": _CPU[key],
        "//command_line_option:copt": _not_sanitizing(settings["//command_line_option:copt"]),
        "//command_line_option:linkopt": _not_sanitizing(settings["//command_line_option:linkopt"]),
        "//bazel:sanitizer": "",
    }

_OPTIONS = [
    "//command_line_option:copt",
    "//command_line_option:linkopt",
    "//bazel:sanitizer",
]

_platform_transition = transition(
    implementation = _platform_transition_impl,
    inputs = _OPTIONS,
    outputs = [
        "//command_line_option:platforms",
        "//command_line_option:cpu",
    ] + _OPTIONS,
)

def _platform_binary_impl(ctx):
    binary = ctx.attr.binary[0]
    src = binary[DefaultInfo].files_to_run.executable
    out = ctx.actions.declare_file(ctx.attr.name)
    ctx.actions.symlink(output = out, target_file = src, is_executable = True)
    # The binary's own runfiles are left out: they sit at the same paths as the host
    # build's (agent/farm-agent, guest_images/...), and a test depending on both
    # would get whichever Bazel merged last.
    return [DefaultInfo(files = depset([out]), executable = out, runfiles = ctx.runfiles([out]))]

platform_binary = rule(
    implementation = _platform_binary_impl,
    attrs = {
        "binary": attr.label(
            mandatory = True,
            executable = True,
            cfg = _platform_transition,
            doc = "The cc_binary to build for `platform`.",
        ),
        "platform": attr.label(mandatory = True, doc = "A platform in //bazel/platforms."),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
    executable = True,
    doc = "The executable of `binary` built for `platform`.",
)
