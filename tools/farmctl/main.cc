// farmctl: the operator's command line for kvmfarm. See `farmctl --help`.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/probe/report.h"
#include "common/flags.h"
#include "common/grpc_status.h"
#include "farm/v1/agent.grpc.pb.h"
#include "farm/v1/controller.grpc.pb.h"
#include "tools/farmctl/format.h"
#include "tools/farmctl/progress.h"
#include "tools/farmctl/report.h"

ABSL_FLAG(std::string, controller, "",
          "Controller address (default $FARM_CONTROLLER, else 127.0.0.1:7421).");
ABSL_FLAG(std::string, selector, "", "Devices: key=value[,key=value...] labels, all must match.");
ABSL_FLAG(std::string, devices, "", "Devices by id: id[,id...].");
ABSL_FLAG(std::string, plan, "capability,native",
          "sweep start: any of capability, native, kvm, tcg (workloads in that mode), boot "
          "(one VM under KVM and TCG), boot3 (three at once, with switch latency).");
ABSL_FLAG(std::string, workloads, "crypto,integer,float,mem_read,mem_write,mem_random",
          "sweep start: workloads to run (quick sizes; io needs a disk in guests).");
ABSL_FLAG(int32_t, repetitions, 3, "sweep start: repetitions of each step.");
ABSL_FLAG(int32_t, max_parallel, 0, "sweep start: devices measured at once (0 = no limit).");
ABSL_FLAG(std::string, image, "x86_64", "sweep start: guest image for kvm/tcg/boot steps.");
ABSL_FLAG(bool, watch, false, "sweep start: follow the sweep until it ends.");
ABSL_FLAG(std::string, group_by, "device", "matrix: device, model or soc.");
ABSL_FLAG(std::string, format, "table", "matrix: table, markdown, csv or json.");
ABSL_FLAG(std::string, out, "report.html", "report: the HTML file to write.");
ABSL_FLAG(std::string, reason, "", "device set-state, sweep cancel: why (kept in the history).");
ABSL_FLAG(std::string, agent, "", "probe: the agent's address (host:port).");
ABSL_FLAG(double, threshold, 5.0, "compare: changes under this percentage are unchanged.");

namespace kvmfarm::farmctl {
namespace {

constexpr char kUsage[] =
    "farmctl: the kvmfarm operator's command line.\n\n"
    "  farmctl devices [--selector k=v,...]\n"
    "  farmctl device show ID | device history ID\n"
    "  farmctl device set-state ID maintenance|retired|good --reason TEXT\n"
    "  farmctl probe --agent ADDR\n"
    "  farmctl sweep start [--selector k=v | --devices a,b] [--plan "
    "capability,native,kvm,tcg,boot,boot3]\n"
    "                      [--repetitions N] [--max-parallel M] [--watch]\n"
    "  farmctl sweep watch ID | sweep list | sweep show ID | sweep cancel ID [--reason TEXT]\n"
    "  farmctl matrix [--group-by device|model|soc] [--format table|markdown|csv|json]\n"
    "  farmctl report [--out report.html] [--group-by ...]  (one self-contained HTML file)\n"
    "  farmctl compare SWEEP_A SWEEP_B [--threshold PERCENT]\n"
    "  farmctl task logs TASK\n\n"
    "The controller is --controller, $FARM_CONTROLLER, or 127.0.0.1:7421. Exit status: 0 done, "
    "1 the request failed (one line on stderr), 2 bad command line.";

int Usage(const std::string& problem) {
  std::cerr << "farmctl: " << problem << "\n" << kUsage << "\n";
  return 2;
}

int Fail(const grpc::Status& status) {
  std::cerr << "farmctl: " << FromGrpcStatus(status) << "\n";
  return 1;
}

std::string ControllerAddress() {
  if (!absl::GetFlag(FLAGS_controller).empty()) return absl::GetFlag(FLAGS_controller);
  const char* env = std::getenv("FARM_CONTROLLER");
  return env != nullptr && env[0] != '\0' ? env : "127.0.0.1:7421";
}

void WithDeadline(grpc::ClientContext* context, int seconds = 30) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

absl::StatusOr<farm::v1::Selector> SelectorFromFlags() {
  farm::v1::Selector selector;
  for (absl::string_view pair :
       absl::StrSplit(absl::GetFlag(FLAGS_selector), ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--selector '", pair, "' is not key=value"));
    }
    farm::v1::LabelMatch* match = selector.add_match();
    match->set_key(kv[0]);
    match->add_values(kv[1]);
  }
  for (absl::string_view id :
       absl::StrSplit(absl::GetFlag(FLAGS_devices), ',', absl::SkipEmpty())) {
    selector.add_device_ids(std::string(id));
  }
  return selector;
}

absl::StatusOr<farm::v1::SweepSpec> SpecFromFlags() {
  absl::StatusOr<farm::v1::Selector> selector = SelectorFromFlags();
  if (!selector.ok()) return selector.status();
  farm::v1::SweepSpec spec;
  *spec.mutable_selector() = *selector;
  spec.set_repetitions(absl::GetFlag(FLAGS_repetitions));
  spec.set_max_parallel(absl::GetFlag(FLAGS_max_parallel));
  farm::v1::SweepPlan* plan = spec.mutable_plan();
  plan->mutable_guest()->set_image(absl::GetFlag(FLAGS_image));
  for (absl::string_view step : absl::StrSplit(absl::GetFlag(FLAGS_plan), ',', absl::SkipEmpty())) {
    if (step == "capability") {
      plan->set_capability(true);
    } else if (step == "native") {
      plan->add_workload_modes(farm::v1::MODE_NATIVE);
    } else if (step == "kvm") {
      plan->add_workload_modes(farm::v1::MODE_KVM);
    } else if (step == "tcg") {
      plan->add_workload_modes(farm::v1::MODE_TCG);
    } else if (step == "boot" || step == "boot3") {
      for (farm::v1::Mode accel : {farm::v1::MODE_KVM, farm::v1::MODE_TCG}) {
        farm::v1::BootPlan* boot = plan->add_boots();
        boot->set_accel(accel);
        boot->set_vm_count(step == "boot3" ? 3 : 1);
        boot->set_measure_switch_latency(step == "boot3");
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--plan step '", step, "' is not one of capability, native, kvm, tcg, boot, boot3"));
    }
  }
  if (plan->workload_modes_size() > 0) {
    // Quick sizes: a sweep that an operator watches, not a soak.
    for (absl::string_view name :
         absl::StrSplit(absl::GetFlag(FLAGS_workloads), ',', absl::SkipEmpty())) {
      farm::v1::WorkloadSpec* w = plan->add_workloads();
      w->set_name(std::string(name));
      if (name == "crypto") w->set_size_bytes(16 << 20);
      if (name == "integer") w->set_iterations(8);
      if (name == "float") w->set_iterations(2500000);
      if (name == "mem_read" || name == "mem_write" || name == "mem_random" || name == "io") {
        w->set_size_bytes(64 << 20);
      }
      if (name == "mem_read" || name == "mem_write") w->set_iterations(3);
      if (name == "mem_random") w->set_iterations(2000000);
    }
  }
  return spec;
}

// On a terminal: bars redrawn in place. Otherwise (a pipe, a log file, CI): one
// plain line per sweep summary and per task change, which greps well.
int Watch(farm::v1::ControllerService::Stub* stub, const std::string& sweep_id) {
  grpc::ClientContext context;
  farm::v1::WatchSweepRequest request;
  request.set_sweep_id(sweep_id);
  auto reader = stub->WatchSweep(&context, request);
  farm::v1::WatchSweepResponse event;
  std::map<std::string, farm::v1::TaskState> last_state;
  farm::v1::Sweep last;
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  SweepProgress progress;
  size_t drawn_lines = 0;
  while (reader->Read(&event)) {
    if (event.has_sweep()) last = event.sweep();
    if (terminal) {
      const absl::Time now = absl::Now();
      progress.Update(event, now);
      const std::vector<std::string> lines = progress.Render(30, now);
      if (drawn_lines > 0) std::cout << "\x1b[" << drawn_lines << "A";  // back to the top
      // A line that wrapped would take two rows and break the redraw: cut to the width.
      struct winsize size {};
      const size_t columns =
          ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : 80;
      for (const std::string& line : lines) {
        std::cout << "\x1b[2K" << line.substr(0, columns - 1) << "\n";
      }
      std::cout << std::flush;
      drawn_lines = lines.size();
    } else if (event.has_sweep()) {
      std::cout << SweepLine(last) << std::endl;
    } else if (event.has_task()) {
      const farm::v1::Task& t = event.task();
      if (last_state[t.task_id()] != t.state() || t.has_progress()) {
        std::cout << "  " << t.task_id() << "  " << t.device_id() << "  "
                  << (t.has_progress() ? t.progress().message() : t.status()) << std::endl;
        last_state[t.task_id()] = t.state();
      }
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return Fail(status);
  if (terminal) std::cout << SweepLine(last) << std::endl;
  return last.state() == farm::v1::SWEEP_STATE_SUCCEEDED ? 0 : 1;
}

int Run(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("no command");
  auto stub = farm::v1::ControllerService::NewStub(
      grpc::CreateChannel(ControllerAddress(), grpc::InsecureChannelCredentials()));
  const std::string& cmd = args[0];
  auto arg = [&args](size_t i) { return i < args.size() ? args[i] : std::string(); };

  if (cmd == "devices") {
    absl::StatusOr<farm::v1::Selector> selector = SelectorFromFlags();
    if (!selector.ok()) return Usage(std::string(selector.status().message()));
    grpc::ClientContext context;
    WithDeadline(&context);
    farm::v1::ListDevicesRequest request;
    *request.mutable_selector() = *selector;
    farm::v1::ListDevicesResponse response;
    grpc::Status status = stub->ListDevices(&context, request, &response);
    if (!status.ok()) return Fail(status);
    std::cout << DevicesTable({response.devices().begin(), response.devices().end()});
    return 0;
  }
  if (cmd == "device") {
    const std::string sub = arg(1), id = arg(2);
    if (id.empty()) return Usage("device needs a subcommand and a device id");
    if (sub == "show") {
      grpc::ClientContext context;
      WithDeadline(&context);
      farm::v1::ListDevicesRequest request;
      request.mutable_selector()->add_device_ids(id);
      farm::v1::ListDevicesResponse response;
      grpc::Status status = stub->ListDevices(&context, request, &response);
      if (!status.ok()) return Fail(status);
      if (response.devices().empty())
        return Fail(grpc::Status(grpc::StatusCode::NOT_FOUND, "no device '" + id + "'"));
      std::cout << DevicesTable({response.devices(0)}) << "\n"
                << probe::FormatCapabilityReport(response.devices(0).capability());
      return 0;
    }
    if (sub == "history") {
      grpc::ClientContext context;
      WithDeadline(&context);
      farm::v1::GetDeviceHistoryRequest request;
      request.set_device_id(id);
      farm::v1::GetDeviceHistoryResponse response;
      grpc::Status status = stub->GetDeviceHistory(&context, request, &response);
      if (!status.ok()) return Fail(status);
      for (const auto& e : response.events()) {
        std::cout << google::protobuf::util::TimeUtil::ToString(e.time()) << "  " << e.description()
                  << "\n";
      }
      return 0;
    }
    if (sub == "set-state") {
      const std::string state = arg(3);
      farm::v1::SetDeviceStateRequest request;
      request.set_device_id(id);
      request.set_reason(absl::GetFlag(FLAGS_reason));
      if (state == "maintenance")
        request.set_health(farm::v1::HEALTH_STATE_MAINTENANCE);
      else if (state == "retired")
        request.set_health(farm::v1::HEALTH_STATE_RETIRED);
      else if (state == "good")
        request.set_health(farm::v1::HEALTH_STATE_GOOD);
      else
        return Usage("set-state takes maintenance, retired or good");
      grpc::ClientContext context;
      WithDeadline(&context);
      farm::v1::SetDeviceStateResponse response;
      grpc::Status status = stub->SetDeviceState(&context, request, &response);
      if (!status.ok()) return Fail(status);
      std::cout << DevicesTable({response.device()});
      return 0;
    }
    return Usage("device takes show, history or set-state");
  }
  if (cmd == "probe") {
    if (absl::GetFlag(FLAGS_agent).empty()) return Usage("probe needs --agent ADDR");
    auto agent = farm::v1::AgentService::NewStub(
        grpc::CreateChannel(absl::GetFlag(FLAGS_agent), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    WithDeadline(&context, 60);
    farm::v1::GetCapabilityResponse response;
    grpc::Status status =
        agent->GetCapability(&context, farm::v1::GetCapabilityRequest(), &response);
    if (!status.ok()) return Fail(status);
    std::cout << probe::FormatCapabilityReport(response.capability());
    return 0;
  }
  if (cmd == "sweep") {
    const std::string sub = arg(1);
    if (sub == "start") {
      absl::StatusOr<farm::v1::SweepSpec> spec = SpecFromFlags();
      if (!spec.ok()) return Usage(std::string(spec.status().message()));
      grpc::ClientContext context;
      WithDeadline(&context);
      farm::v1::StartSweepRequest request;
      *request.mutable_spec() = *spec;
      farm::v1::StartSweepResponse response;
      grpc::Status status = stub->StartSweep(&context, request, &response);
      if (!status.ok()) return Fail(status);
      std::cout << SweepLine(response.sweep()) << std::endl;
      return absl::GetFlag(FLAGS_watch) ? Watch(stub.get(), response.sweep().sweep_id()) : 0;
    }
    if (sub == "watch") {
      if (arg(2).empty()) return Usage("sweep watch needs a sweep id");
      return Watch(stub.get(), arg(2));
    }
    if (sub == "list") {
      grpc::ClientContext context;
      WithDeadline(&context);
      farm::v1::ListSweepsResponse response;
      grpc::Status status = stub->ListSweeps(&context, farm::v1::ListSweepsRequest(), &response);
      if (!status.ok()) return Fail(status);
      for (const auto& s : response.sweeps()) std::cout << SweepLine(s) << "\n";
      return 0;
    }
    if (sub == "show") {
      if (arg(2).empty()) return Usage("sweep show needs a sweep id");
      grpc::ClientContext context;
      WithDeadline(&context);
      farm::v1::GetSweepRequest request;
      request.set_sweep_id(arg(2));
      farm::v1::GetSweepResponse response;
      grpc::Status status = stub->GetSweep(&context, request, &response);
      if (!status.ok()) return Fail(status);
      std::cout << SweepLine(response.sweep()) << "\n";
      std::vector<std::vector<std::string>> rows;
      for (const auto& t : response.sweep().tasks()) {
        rows.push_back({t.task_id(), t.device_id(), EnumTail(farm::v1::StepKind_Name(t.kind()), 10),
                        EnumTail(farm::v1::TaskState_Name(t.state()), 11), t.status()});
      }
      std::cout << Table({"TASK", "DEVICE", "STEP", "STATE", "STATUS"}, rows);
      return 0;
    }
    if (sub == "cancel") {
      if (arg(2).empty()) return Usage("sweep cancel needs a sweep id");
      grpc::ClientContext context;
      WithDeadline(&context);
      farm::v1::CancelSweepRequest request;
      request.set_sweep_id(arg(2));
      request.set_reason(absl::GetFlag(FLAGS_reason));
      farm::v1::CancelSweepResponse response;
      grpc::Status status = stub->CancelSweep(&context, request, &response);
      if (!status.ok()) return Fail(status);
      std::cout << SweepLine(response.sweep()) << "\n";
      return 0;
    }
    return Usage("sweep takes start, watch, list, show or cancel");
  }
  if (cmd == "matrix" || cmd == "report") {
    farm::v1::GetMatrixRequest request;
    const std::string group = absl::GetFlag(FLAGS_group_by);
    if (group == "device")
      request.set_group_by(farm::v1::GROUP_BY_DEVICE);
    else if (group == "model")
      request.set_group_by(farm::v1::GROUP_BY_MODEL);
    else if (group == "soc")
      request.set_group_by(farm::v1::GROUP_BY_SOC);
    else
      return Usage("--group-by takes device, model or soc");
    absl::StatusOr<farm::v1::Selector> selector = SelectorFromFlags();
    if (!selector.ok()) return Usage(std::string(selector.status().message()));
    *request.mutable_filter() = *selector;
    if (cmd == "matrix") {
      // Checked before the request: a bad --format costs no round trip.
      absl::StatusOr<std::string> format_check = FormatMatrix({}, absl::GetFlag(FLAGS_format));
      if (!format_check.ok()) return Usage(std::string(format_check.status().message()));
    }
    if (cmd == "report" && absl::GetFlag(FLAGS_out).empty())
      return Usage("report needs --out FILE");
    grpc::ClientContext context;
    WithDeadline(&context);
    farm::v1::GetMatrixResponse response;
    grpc::Status status = stub->GetMatrix(&context, request, &response);
    if (!status.ok()) return Fail(status);
    if (cmd == "matrix") {
      std::cout << *FormatMatrix(response, absl::GetFlag(FLAGS_format));
      return 0;
    }
    // Written beside the target and renamed, so a failed run leaves no half report.
    const std::string out = FromUserDir(absl::GetFlag(FLAGS_out));
    const std::string partial = out + ".partial";
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    file << HtmlReport(response);
    file.close();
    if (!file || std::rename(partial.c_str(), out.c_str()) != 0) {
      std::remove(partial.c_str());
      std::cerr << "farmctl: cannot write report '" << out << "': " << std::strerror(errno) << "\n";
      return 1;
    }
    std::cout << "farmctl: wrote " << out << " (" << response.rows_size() << " rows)\n";
    return 0;
  }
  if (cmd == "compare") {
    if (arg(2).empty()) return Usage("compare needs two sweep ids");
    grpc::ClientContext context;
    WithDeadline(&context);
    farm::v1::CompareSweepsRequest request;
    request.set_sweep_a(arg(1));
    request.set_sweep_b(arg(2));
    request.set_threshold_percent(absl::GetFlag(FLAGS_threshold));
    farm::v1::CompareSweepsResponse response;
    grpc::Status status = stub->CompareSweeps(&context, request, &response);
    if (!status.ok()) return Fail(status);
    std::cout << CompareTable(response);
    return 0;
  }
  if (cmd == "task") {
    if (arg(1) != "logs" || arg(2).empty()) return Usage("task logs needs a task id");
    grpc::ClientContext context;
    WithDeadline(&context);
    farm::v1::GetTaskLogsRequest request;
    request.set_task_id(arg(2));
    farm::v1::GetTaskLogsResponse response;
    grpc::Status status = stub->GetTaskLogs(&context, request, &response);
    if (!status.ok()) return Fail(status);
    for (const auto& a : response.attempts()) {
      std::cout << "== " << a.attempt_id() << "  " << a.outcome() << "\n" << a.console_log();
      if (!a.raw_result_json().empty()) std::cout << "\n" << a.raw_result_json() << "\n";
    }
    return 0;
  }
  return Usage(absl::StrCat("unknown command '", cmd, "'"));
}

}  // namespace
}  // namespace kvmfarm::farmctl

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kvmfarm::farmctl::kUsage);
  std::vector<char*> positional = kvmfarm::ParseCommandLineFlags(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  return kvmfarm::farmctl::Run(args);
}
