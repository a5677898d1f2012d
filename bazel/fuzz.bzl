"""`farm_fuzz_test`: a libFuzzer target for a parser of outside input.

libFuzzer needs clang, and the host build is gcc. So the target is built for
//bazel/platforms:linux_x86_64_clang (Debian's clang-14, //bazel/toolchains) through
a transition, as platform_binary does for arm64, with AddressSanitizer, UBSan and
libFuzzer's coverage; everything else in the build stays on gcc.

    farm_fuzz_test(
        name = "getprop_fuzz_test",
        srcs = ["getprop_fuzzer.cc"],       # defines LLVMFuzzerTestOneInput
        deps = ["//agent/probe:properties"],
        corpus = glob(["corpus/getprop/*"]),
    )

makes
  * `getprop_fuzz_test`: `bazel test` runs every seed, then fuzzes for
    `seconds` (5 by default); a crash, a hang (10 s on one input), a leak or UB
    fails it, the input that did is in the test's undeclared outputs.
    `bazel run //...:getprop_fuzz_test -- -max_total_time=600` fuzzes for ten
    minutes (any libFuzzer flag after `--`); new inputs go to a temporary
    directory the run names at its end.
  * `getprop_fuzzer`: the same source with gcc and a replay main() instead of
    libFuzzer (//bazel/fuzz:replay_main): it runs the inputs it is given, to debug
    a crash under gdb.
"""

load("//bazel:cc.bzl", "FARM_COPTS")

_SANITIZERS = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
]

def _without_sanitizers(flags):
    return [f for f in flags if "sanitize" not in f]

def _clang_fuzz_transition_impl(settings, attr):
    return {
        "//command_line_option:platforms": "//bazel/platforms:linux_x86_64_clang",
        # Names the output directory (bazel-out/k8_clang-*) and the suite's entry.
        "//command_line_option:cpu": "k8_clang",
        "//command_line_option:copt": _without_sanitizers(settings["//command_line_option:copt"]) +
                                      ["-fsanitize=fuzzer-no-link"] + _SANITIZERS,
        "//command_line_option:linkopt": _without_sanitizers(settings["//command_line_option:linkopt"]) +
                                         ["-fsanitize=fuzzer", "-fsanitize-link-c++-runtime"] + _SANITIZERS,
        "//bazel:sanitizer": "",
    }

_OPTIONS = [
    "//command_line_option:copt",
    "//command_line_option:linkopt",
    "//bazel:sanitizer",
]

_clang_fuzz_transition = transition(
    implementation = _clang_fuzz_transition_impl,
    inputs = _OPTIONS,
    outputs = ["//command_line_option:platforms", "//command_line_option:cpu"] + _OPTIONS,
)

_SCRIPT = """#!/bin/bash
# {name}: libFuzzer over its seeds, then fuzzing (bazel/fuzz.bzl).
set -euo pipefail
fuzzer="{fuzzer}"
seeds="{seeds}"
work="${{TEST_TMPDIR:-$(mktemp -d)}}/fuzz-{name}"
artifacts="${{TEST_UNDECLARED_OUTPUTS_DIR:-$work}}"
mkdir -p "$work/corpus" "$artifacts"
status=0
"$fuzzer" -max_total_time={seconds} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \\
  -artifact_prefix="$artifacts/" "$@" "$work/corpus" $seeds || status=$?
if [ -z "${{TEST_TMPDIR:-}}" ]; then
  echo "{name}: new inputs in $work/corpus, crashes (if any) in $artifacts" >&2
fi
exit $status
"""

def _fuzz_test_impl(ctx):
    fuzzer = ctx.attr.fuzzer[0][DefaultInfo].files_to_run.executable
    seed_dirs = {}
    for seed in ctx.files.corpus:
        seed_dirs[seed.short_path.rpartition("/")[0]] = True
    script = ctx.actions.declare_file(ctx.attr.name + ".sh")
    ctx.actions.write(
        output = script,
        content = _SCRIPT.format(
            name = ctx.attr.name,
            fuzzer = fuzzer.short_path,
            seeds = " ".join(sorted(seed_dirs.keys())),
            seconds = ctx.attr.seconds,
        ),
        is_executable = True,
    )
    runfiles = ctx.runfiles(files = [fuzzer] + ctx.files.corpus)
    runfiles = runfiles.merge(ctx.attr.fuzzer[0][DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = script, runfiles = runfiles)]

_fuzz_test = rule(
    implementation = _fuzz_test_impl,
    attrs = {
        "fuzzer": attr.label(mandatory = True, executable = True, cfg = _clang_fuzz_transition),
        "corpus": attr.label_list(allow_files = True),
        "seconds": attr.int(default = 5),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
    test = True,
)

def farm_fuzz_test(name, srcs, deps = [], corpus = [], seconds = 5, **kwargs):
    """A fuzz target `name` (a test) and its replay binary; see the file's doc."""
    if not name.endswith("_fuzz_test"):
        fail("farm_fuzz_test: name it <parser>_fuzz_test")
    binary = name[:-len("_fuzz_test")] + "_fuzzer"
    native.cc_binary(
        name = binary,
        srcs = srcs,
        copts = FARM_COPTS,
        deps = deps + select({
            "//bazel/platforms:is_clang": [],
            "//conditions:default": ["//bazel/fuzz:replay_main"],
        }),
        testonly = True,
    )
    _fuzz_test(
        name = name,
        fuzzer = ":" + binary,
        corpus = corpus,
        seconds = seconds,
        size = "small",
        **kwargs
    )
