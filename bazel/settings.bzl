"""kvmfarm's own build settings (Starlark flags), set on the command line or in .bazelrc.

    bazel test --//bazel:sanitizer=asan //...   (what --config=asan does)
"""

def _string_setting_impl(ctx):
    return []

string_setting = rule(
    implementation = _string_setting_impl,
    build_setting = config.string(flag = True),
    doc = "A string-valued flag; read it with config_setting(flag_values = ...).",
)
