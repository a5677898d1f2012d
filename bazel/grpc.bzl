"""cc_grpc_library: C++ code for .proto files from the system's protoc and grpc_cpp_plugin.

Bazel 4.2's native proto rules would need protobuf's sources (a download); kvmfarm
uses the compilers Debian installs (protobuf-compiler, protobuf-compiler-grpc), which
match the libraries we link. Generated files keep the .proto's path below
`import_root`, so `proto/farm/v1/agent.proto` with `import_root = "proto"` is
included as "farm/v1/agent.grpc.pb.h". Mock stubs (`*_mock.grpc.pb.h`) are generated
for client-side tests.

Example:
    cc_grpc_library(
        name = "farm_v1",
        srcs = ["farm/v1/common.proto", "farm/v1/agent.proto"],
    )
"""

def cc_grpc_library(name, srcs, deps = [], visibility = None):
    """Generates message, service and mock code for `srcs` and wraps it in a cc_library.

    Args:
      name: the cc_library's name.
      srcs: .proto files of this package, in import paths relative to the package
        (which may be in an external repository, such as @grpc_proto).
      deps: cc_library targets the generated code needs besides protobuf and gRPC.
      visibility: of the cc_library.
    """
    package = native.package_name()

    # Where the package's files are in the execution root: an external repository's
    # (@grpc_proto, Debian's grpc-proto) are under external/<name>/.
    repository = native.repository_name()[1:]
    root = "/".join([p for p in [("external/" + repository) if repository else "", package] if p])
    bases = [src[:-len(".proto")] for src in srcs]
    pb_hdrs = [b + ".pb.h" for b in bases] + [b + ".grpc.pb.h" for b in bases]
    mock_hdrs = [b + "_mock.grpc.pb.h" for b in bases]
    pb_srcs = [b + ".pb.cc" for b in bases] + [b + ".grpc.pb.cc" for b in bases]

    # The output root for this package: $(GENDIR)/<root>.
    out_root = "$(GENDIR)/" + root if root else "$(GENDIR)"
    native.genrule(
        name = name + "_codegen",
        srcs = srcs,
        outs = pb_hdrs + mock_hdrs + pb_srcs,
        cmd = " ".join([
            "protoc",
            "--proto_path=" + (root if root else "."),
            "--cpp_out=" + out_root,
            "--grpc_out=generate_mock_code=true:" + out_root,
            "--plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin)",
            " ".join(["$(location %s)" % s for s in srcs]),
        ]),
        message = "protoc + grpc_cpp_plugin for //%s:%s" % (package, name),
    )

    native.cc_library(
        name = name,
        srcs = pb_srcs,
        hdrs = pb_hdrs + mock_hdrs,
        # -isystem: generated headers are not ours to warn about.
        includes = ["."],
        # "@//": kvmfarm's own aliases, also when the macro runs in another repository.
        deps = deps + [
            "@//third_party:grpcpp",
            "@//third_party:protobuf",
        ],
        visibility = visibility,
    )
