"""kvmfarm's C++ rules: the native ones with the project's warnings as errors.

Use these for every target of our own code. Generated code (protobuf/gRPC) and the
system libraries are not built with them: their warnings are not ours to fix.

Example:
    load("//bazel:cc.bzl", "farm_cc_library", "farm_cc_test")

    farm_cc_library(
        name = "cpuinfo",
        srcs = ["cpuinfo.cc"],
        hdrs = ["cpuinfo.h"],
    )
"""

load("@system_libs//:static.bzl", "STATIC_LINKOPTS")

FARM_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-sign-compare",
]

def farm_cc_library(name, copts = [], **kwargs):
    native.cc_library(name = name, copts = FARM_COPTS + copts, **kwargs)

def farm_cc_binary(name, copts = [], **kwargs):
    native.cc_binary(name = name, copts = FARM_COPTS + copts, **kwargs)

def farm_cc_test(name, copts = [], deps = [], **kwargs):
    """A GoogleTest test; links gmock_main unless the test brings its own main."""
    if "//third_party:gmock_main" not in deps and "//third_party:benchmark_main" not in deps:
        deps = deps + ["//third_party:gmock_main"]
    native.cc_test(name = name, copts = FARM_COPTS + copts, deps = deps, **kwargs)

def farm_cc_static_binary(name, static_libs, copts = [], linkopts = [], **kwargs):
    """A fully static binary (no program interpreter): for Android and guest initramfs.

    Bazel 4.2's auto-configured toolchain has no `fully_static_link` feature (an
    unknown feature is silently ignored), so static means `-static` in linkopts plus
    one ordered link line from `pkg-config --static` for each system library used
    (see //bazel:system_libs.bzl). `static_libs` names them, in dependency order:
    users before what they use, e.g. ["grpcpp_reflection", "libcrypto", "zlib"].
    Under --config=asan it links dynamically (the sanitizer runtimes can't be static);
    build it through `platform_binary` where it must stay static.
    """
    line = ["-static"]
    for lib in static_libs:
        for flag in STATIC_LINKOPTS[lib]:
            line.append(flag)
    native.cc_binary(
        name = name,
        copts = FARM_COPTS + copts,
        linkstatic = 1,
        # The sanitizers' runtimes are shared libraries: dynamic under --config=asan.
        linkopts = select({
            "//bazel:asan": [],
            "//conditions:default": line,
        }) + linkopts,
        **kwargs
    )
