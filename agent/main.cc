// farm-agent: the kvmfarm server on one device.
//
//   farm-agent --probe [--json] [--sysroot DIR] [--props FILE]   one-shot report
//   farm-agent [--listen 127.0.0.1:7420] [--sysroot DIR] ...     serve gRPC
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/agent_service.h"
#include "agent/paths.h"
#include "agent/probe/boot_check.h"
#include "agent/probe/capability_text.h"
#include "agent/probe/probe.h"
#include "agent/registrar.h"
#include "agent/work_dir.h"
#include "common/device_id.h"
#include "common/flags.h"
#include "common/grpc_server.h"
#include "common/ip_address.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "common/tls/tls_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7420",
          "Address to serve gRPC on (host:port; port 0 = any free port). Loopback "
          "unless you mean it: the agent runs measurements for whoever connects.");
ABSL_FLAG(std::string, sysroot, "/",
          "Root prefix to read /proc, /sys, /dev and getprop.txt below. Anything but "
          "/ is a fixture tree: nothing of this host is touched, and measurement "
          "jobs are refused.");
ABSL_FLAG(std::string, props, "",
          "File of Android properties in getprop's output format, instead of running "
          "getprop.");
ABSL_FLAG(std::string, device_id, "",
          "Id to report as (default: ro.serialno, else the host name).");
ABSL_FLAG(std::string, qemu, "",
          "QEMU system emulator to use (default: qemu-system-* from PATH), or a QEMU "
          "bundle directory (qemu-system-*, lib/, glibc's ld-linux-*; started through that "
          "loader: for phones without glibc, see tools/deploy/make_qemu_bundle.sh).");
ABSL_FLAG(std::string, controller, "",
          "Controller address (host:port) to register and heartbeat with, or several "
          "replicas' (a:7421,b:7421): the agent moves to the next when one fails; retried "
          "with backoff while none answers.");
ABSL_FLAG(std::string, advertise, "",
          "The address the controller should dial this agent at (default: the address "
          "it listens on). Set it behind port forwarding.");
ABSL_FLAG(std::string, port_file, "",
          "Write the port actually bound to this file (for --listen with port 0).");
ABSL_FLAG(std::string, farm_workload, "",
          "The farm-workload binary for RunBenchmark (default: next to farm-agent, in "
          "its Bazel runfiles, on Android /data/local/tmp/kvmfarm/farm-workload, or in "
          "PATH).");
ABSL_FLAG(std::string, work_dir, "",
          "Directory for files a job writes: the io workload's file, guest scratch "
          "disks, QMP sockets, all in the agent's own farm-agent.<pid> inside it; "
          "created if missing (default: on Android /data/local/tmp/kvmfarm/work, else "
          "$TMPDIR or /tmp). Agents may share it: each removes dead agents' "
          "farm-agent.* directories at start. Must be on a disk for io figures.");
ABSL_FLAG(std::string, image_dir, "",
          "Directory of guest images (<dir>/<name>/{kernel,initramfs.cpio[.gz],image.conf}: "
          "<arch> with kvmfarm's kernel for workloads and boots, <arch>-debian with "
          "Debian's for the KVM boot check); "
          "the agent boots nothing from anywhere else (default: images/ next to "
          "farm-agent, Bazel's bazel-bin/guest_images/images, or on Android "
          "/data/local/tmp/kvmfarm/images).");
ABSL_FLAG(bool, boot_check, false,
          "With --probe: also boot the reference guest with Debian's kernel "
          "(<arch>-debian) under KVM, turning "
          "KVM_BOOT_UNTESTED into KVM_READY or KVM_BOOT_FAILED (takes up to 20 s).");
ABSL_FLAG(bool, background_boot_check, true,
          "When serving: run the KVM boot check once in the background at start.");
ABSL_FLAG(bool, probe, false,
          "Run the KVM capability probe once, print the report and exit (0 when the "
          "probe ran, whatever the verdict).");
ABSL_FLAG(bool, json, false,
          "With --probe: print the KvmCapability as JSON (protobuf JSON mapping).");
ABSL_FLAG(bool, smoke_test, true,
          "Run the /dev/kvm smoke test (create a VM and run a vCPU to a known exit).");

namespace kvmfarm {
namespace {

// The most threads the gRPC server runs synchronous calls on (issue 15). Only the
// streams (RunBenchmark, BootVm), health and reflection are synchronous: one
// stream holds the job slot and the rest are refused at once, so 32 leaves ample
// room for bursts of refused or abandoned streams on a phone; past it a stream is
// refused RESOURCE_EXHAUSTED, which schedulers retry. GetCapability, GetStatus
// and Cancel are callback methods and hold no thread while they wait.
constexpr int kAgentServerThreads = 32;

probe::ProbeOptions ProbeOptionsFromFlags() {
  probe::ProbeOptions options;
  options.sysroot = FromUserDir(absl::GetFlag(FLAGS_sysroot));
  options.props_file = FromUserDir(absl::GetFlag(FLAGS_props));
  options.device_id = absl::GetFlag(FLAGS_device_id);
  options.qemu = absl::GetFlag(FLAGS_qemu);
  options.kvm.run_smoke_test = absl::GetFlag(FLAGS_smoke_test);
  return options;
}

AgentPaths PathsFromFlags() {
  PathFlags flags;
  flags.work_dir = FromUserDir(absl::GetFlag(FLAGS_work_dir));
  flags.image_dir = FromUserDir(absl::GetFlag(FLAGS_image_dir));
  flags.farm_workload = FromUserDir(absl::GetFlag(FLAGS_farm_workload));
  char self[4096] = {};
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  return ResolveAgentPaths(flags, RunningOnAndroid(),
                           n > 0 ? std::string(self, static_cast<size_t>(n)) : "");
}

// The agent's own directories (agent/work_dir.h): one in the work directory for
// every file a job writes, and, when its path is too long for Unix sockets (a
// test's working directory), one in /tmp for QMP sockets.
struct OwnDirs {
  std::unique_ptr<AgentWorkDir> work;
  std::unique_ptr<AgentWorkDir> sockets;  // null: the sockets go in `work`

  std::string socket_dir() const { return (sockets ? sockets : work)->path(); }
};

absl::StatusOr<OwnDirs> ClaimOwnDirs(const std::string& work_dir) {
  OwnDirs dirs;
  ASSIGN_OR_RETURN(dirs.work, AgentWorkDir::Claim(work_dir));
  if (dirs.work->path().size() > vm::kMaxSocketDirLength) {
    absl::StatusOr<std::unique_ptr<AgentWorkDir>> sockets = AgentWorkDir::Claim("/tmp");
    if (sockets.ok()) dirs.sockets = *std::move(sockets);
  }
  for (const AgentWorkDir* dir : {dirs.work.get(), dirs.sockets.get()}) {
    if (dir == nullptr) continue;
    for (const std::string& dead : dir->removed()) {
      FARM_LOG(INFO) << "removed a dead agent's directory " << dead;
    }
  }
  return dirs;
}

vm::BootJobOptions VmOptions(const AgentPaths& paths, const OwnDirs& dirs) {
  vm::BootJobOptions options;
  options.image_dir = paths.image_dir;
  options.work_dir = dirs.work->path();
  options.socket_dir = dirs.socket_dir();
  options.qemu_binary = FromUserDir(absl::GetFlag(FLAGS_qemu));
  return options;
}

int RunProbeOnce() {
  absl::StatusOr<farm::v1::KvmCapability> capability = probe::RunProbe(ProbeOptionsFromFlags());
  if (!capability.ok()) {
    std::cerr << "farm-agent: " << capability.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_boot_check)) {
    const AgentPaths paths = PathsFromFlags();
    absl::StatusOr<OwnDirs> dirs = ClaimOwnDirs(paths.work_dir);
    if (!dirs.ok()) {
      std::cerr << "farm-agent: " << dirs.status().message() << "\n";
      return 2;
    }
    probe::RunKvmBootCheck(VmOptions(paths, *dirs), nullptr, &*capability);
  }
  if (absl::GetFlag(FLAGS_json)) {
    google::protobuf::util::JsonPrintOptions json_options;
    json_options.add_whitespace = true;
    std::string json;
    auto status = google::protobuf::util::MessageToJsonString(*capability, &json, json_options);
    if (!status.ok()) {
      std::cerr << "farm-agent: cannot print JSON: " << status.ToString() << "\n";
      return 1;
    }
    std::cout << json;
  } else {
    std::cout << probe::FormatCapabilityText(*capability);
  }
  return 0;
}

absl::Status CheckEndpointFlags() {
  for (const auto& [flag, value] :
       {std::pair<const char*, std::string>{"--listen", absl::GetFlag(FLAGS_listen)},
        {"--advertise", absl::GetFlag(FLAGS_advertise)}}) {
    if (!value.empty()) RETURN_IF_ERROR(CheckIpEndpoint(flag, value));
  }
  if (!absl::GetFlag(FLAGS_controller).empty()) {
    for (absl::string_view replica : absl::StrSplit(absl::GetFlag(FLAGS_controller), ',')) {
      RETURN_IF_ERROR(CheckIpEndpoint("--controller", std::string(replica)));
    }
  }
  // The controller would refuse it at registration; better said at start.
  if (!absl::GetFlag(FLAGS_device_id).empty()) {
    RETURN_IF_ERROR(CheckDeviceId(absl::GetFlag(FLAGS_device_id), "--device-id"));
  }
  return absl::OkStatus();
}

// The device id to serve as: with TLS, the one the certificate names (a different
// --device-id is refused: the controller would refuse it at registration).
absl::StatusOr<std::string> DeviceIdFor(const Security& security, const std::string& flag) {
  if (!security.tls()) return flag;
  const SpiffeId& me = *security.identity;
  if (me.kind != SpiffeId::Kind::kDevice) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_cert names ", me.ToString(),
                                                   ": an agent needs a device certificate "
                                                   "(tools/pki/pki.sh device LAB_DIR DEVICE_ID)"));
  }
  if (!flag.empty() && flag != me.name) {
    return absl::InvalidArgumentError(absl::StrCat("--device-id ", flag, " but --tls_cert is ",
                                                   me.ToString(), ": they must agree"));
  }
  return me.name;
}

// With --controller: the registrar (not started yet) that registers this agent, at
// the address the controller should dial, and keeps heartbeating; nullptr without.
std::unique_ptr<Registrar> MakeRegistrar(AgentServiceImpl* service, const Security& security,
                                         const std::string& listening_at) {
  if (absl::GetFlag(FLAGS_controller).empty()) return nullptr;
  RegistrarOptions options;
  options.controller_addresses = absl::StrSplit(absl::GetFlag(FLAGS_controller), ',');
  options.credentials = ChannelCredentialsFor(security, SpiffeId::Kind::kController);
  const std::string advertise =
      !absl::GetFlag(FLAGS_advertise).empty() ? absl::GetFlag(FLAGS_advertise) : listening_at;
  return std::make_unique<Registrar>(
      options,
      [service, advertise] {
        farm::v1::RegisterAgentRequest request;
        *request.mutable_capability() = service->Capability();
        *request.mutable_identity() = request.capability().device();
        *request.mutable_agent() = service->Info();
        request.set_agent_address(advertise);
        if (absl::optional<farm::v1::JobInfo> job = service->CurrentJob()) {
          *request.mutable_busy_job() = *job;
        }
        return request;
      },
      [service] { return service->CurrentJob(); });
}

void LogServing(const AgentConfig& config, const Security& security, const std::string& address) {
  FARM_LOG(INFO) << "guest images: " << config.vm.image_dir << ", work directory "
                 << config.vm.work_dir;
  FARM_LOG(INFO) << "farm-workload: "
                 << (config.native.workload_binary.empty() ? "not found (RunBenchmark refused)"
                                                           : config.native.workload_binary);
  FARM_LOG(INFO)
      << "farm-agent serving on " << address
      << (security.tls() ? absl::StrCat(" (mutual TLS as ", security.identity->ToString(),
                                        ", for the lab's controllers only)")
                         : std::string(" (plaintext loopback, --insecure)"))
      << (config.probe.sysroot != "/" ? absl::StrCat(" (fixture ", config.probe.sysroot, ")") : "");
}

// Serves until SIGTERM/SIGINT. An error is a start-up failure (bad flags, no work
// directory, a port that can't be bound).
absl::Status Serve() {
  BlockShutdownSignals();
  RETURN_IF_ERROR(CheckEndpointFlags());
  ASSIGN_OR_RETURN(const Security security, ServerSecurityFromFlags(absl::GetFlag(FLAGS_listen)));
  const AgentPaths paths = PathsFromFlags();
  ASSIGN_OR_RETURN(const OwnDirs dirs, ClaimOwnDirs(paths.work_dir));
  AgentConfig config;
  config.probe = ProbeOptionsFromFlags();
  ASSIGN_OR_RETURN(config.probe.device_id, DeviceIdFor(security, config.probe.device_id));
  config.native.workload_binary = paths.farm_workload;
  config.native.work_dir = dirs.work->path();
  config.vm = VmOptions(paths, dirs);
  AgentServiceImpl service(config);
  RETURN_IF_ERROR(service.Initialize());
  GrpcServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.port_file = FromUserDir(absl::GetFlag(FLAGS_port_file));
  options.services = {&service};
  options.max_threads = kAgentServerThreads;
  // Only the lab's controllers get past the handshake: no RPC of an agent is for
  // anyone else.
  options.credentials =
      ServerCredentialsFor(security, ClientCertificates::kRequire, SpiffeId::Kind::kController);
  ASSIGN_OR_RETURN(std::unique_ptr<GrpcServer> server, GrpcServer::Start(options));
  std::unique_ptr<Registrar> registrar = MakeRegistrar(&service, security, server->address());
  // The boot check takes the job slot before the agent registers, so the controller
  // hears it is busy with its own check and waits, and hears at once when it ends.
  if (absl::GetFlag(FLAGS_background_boot_check)) {
    service.StartBackgroundBootCheck([r = registrar.get()] {
      if (r != nullptr) r->HeartbeatNow();
    });
  }
  if (registrar) registrar->Start();
  LogServing(config, security, server->address());
  const int signal = WaitForShutdownSignal();
  FARM_LOG(INFO) << "signal " << signal << ": shutting down";
  // gRPC 1.51 holds a graceful shutdown until its deadline while any client keeps
  // a connection open, busy or not; grace is only worth waiting for while a job
  // runs (its stream ends with the job cancelled when the grace runs out).
  if (registrar) registrar->Stop();
  const bool busy = service.busy();
  service.StopJobs();
  server->Shutdown(busy ? absl::Seconds(5) : absl::ZeroDuration());
  return absl::OkStatus();
}

int ServeOrExplain() {
  const absl::Status served = Serve();
  if (served.ok()) return 0;
  std::cerr << "farm-agent: " << served.message() << "\n";
  return 2;
}

}  // namespace
}  // namespace kvmfarm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the kvmfarm agent: probes whether this device can run VMs with KVM and serves "
      "farm.v1.AgentService over gRPC.\n\n"
      "  farm-agent --probe            report this device's KVM capability and exit\n"
      "  farm-agent --probe --json     the same as JSON (farm.v1.KvmCapability)\n"
      "  farm-agent --probe --sysroot tests/fixtures/devices/pixel8-stock\n"
      "                                probe a captured device tree instead\n"
      "  farm-agent --probe --boot-check\n"
      "                                also boot a real guest under KVM for the verdict\n"
      "  farm-agent --listen 127.0.0.1:7420 --tls_ca lab/ca.crt \\\n"
      "      --tls_cert lab/device-ID.crt --tls_key lab/device-ID.key --controller HOST:7421\n"
      "                                serve gRPC over mutual TLS to the lab's controllers\n"
      "                                only, and register with the controller as device ID\n"
      "  farm-agent --listen 127.0.0.1:7420 --insecure\n"
      "                                plaintext, for loopback tests only\n\n"
      "Flag names take dashes or underscores: --device-id and --device_id are the same.");
  kvmfarm::ParseFlagsOnly(argc, argv, "farm-agent");
  return absl::GetFlag(FLAGS_probe) ? kvmfarm::RunProbeOnce() : kvmfarm::ServeOrExplain();
}
