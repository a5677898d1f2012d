#include "tools/farmctl/commands.h"

#include <google/protobuf/util/time_util.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/probe/capability_text.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/proto_enum.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/tls/tls_flags.h"
#include "tools/farmctl/format.h"
#include "tools/farmctl/report.h"
#include "tools/farmctl/sweep_spec.h"
#include "tools/farmctl/sweep_watch.h"
#include "workloads/catalog.h"

ABSL_FLAG(std::string, controller, "",
          "Controller address (default $FARM_CONTROLLER, else 127.0.0.1:7421), or several "
          "replicas' (a:7421,b:7421): calls go to one that answers.");
ABSL_FLAG(std::string, selector, "", "Devices: key=value[,key=value...] labels, all must match.");
ABSL_FLAG(std::string, devices, "", "Devices by id: id[,id...].");
ABSL_FLAG(std::string, plan, "capability,native",
          "sweep start: any of capability, native, kvm, tcg (workloads in that mode), boot "
          "(one VM under KVM and TCG), boot3 (three at once, with switch latency).");
ABSL_FLAG(std::string, workloads, kvmfarm::workloads::DefaultSweepWorkloads(),
          "sweep start: workloads to run (quick sizes; io needs a disk in guests).");
ABSL_FLAG(int32_t, repetitions, 5,
          "sweep start: repetitions of each step. 5 a side is the fewest with which a "
          "comparison can show a change with one repetition out of line (3 a side never "
          "can: the U test's smallest p is then 0.1).");
ABSL_FLAG(int32_t, max_parallel, 0, "sweep start: devices measured at once (0 = no limit).");
ABSL_FLAG(uint32_t, cool_down, 0,
          "sweep start: before each native repetition, wait until the hottest thermal zone is "
          "back within this many °C of the job's start (0 = no wait).");
ABSL_FLAG(absl::Duration, cool_down_max_wait, absl::ZeroDuration(),
          "sweep start: the longest one cool-down waits (0 = 2m); the result says when it "
          "did not cool down.");
ABSL_FLAG(bool, require_charging, false,
          "sweep start: measure only while the battery charges (a device without one is mains "
          "powered and measures).");
ABSL_FLAG(uint32_t, min_battery, 0,
          "sweep start: measure only with at least this battery level, in percent.");
ABSL_FLAG(std::string, image, "x86_64", "sweep start: guest image for kvm/tcg/boot steps.");
ABSL_FLAG(bool, watch, false, "sweep start: follow the sweep until it ends.");
ABSL_FLAG(std::string, group_by, "device", "matrix: device, model or soc.");
ABSL_FLAG(std::string, format, "table", "matrix: table, markdown, csv or json.");
ABSL_FLAG(std::string, out, "report.html", "report: the HTML file to write.");
ABSL_FLAG(std::string, reason, "", "device set-state, sweep cancel: why (kept in the history).");
ABSL_FLAG(std::string, agent, "", "probe: the agent's address (host:port).");
ABSL_FLAG(int32_t, limit, 0,
          "devices, device history, sweep list: at most this many rows (0 = all; farmctl "
          "follows the controller's pages).");
ABSL_FLAG(std::string, state, "",
          "sweep list: only sweeps in these states: "
          "queued,running,succeeded,failed,cancelled (empty = all).");
ABSL_FLAG(double, threshold, 5.0, "compare: changes under this percentage are unchanged.");
ABSL_FLAG(double, significance, 0.05,
          "compare: a change counts only when the Mann-Whitney U test's two-sided p over "
          "every repetition is below this.");
ABSL_FLAG(std::string, device, "",
          "baseline set: the device the sweep is the baseline of; regressions: only this "
          "device's.");
ABSL_FLAG(std::string, model, "", "baseline set: the model the sweep is the baseline of.");
ABSL_FLAG(std::string, soc, "", "baseline set: the SoC the sweep is the baseline of.");
ABSL_FLAG(bool, open, false, "regressions: only those still open.");
ABSL_FLAG(absl::Duration, every, absl::ZeroDuration(),
          "schedule add: run every this long (1m to 366 days), from now.");
ABSL_FLAG(std::string, cron, "",
          "schedule add: run at these minutes, UTC: 'minute hour day month weekday' "
          "(\"0 3 * * *\" is 03:00 daily).");
ABSL_FLAG(bool, health_check, false,
          "schedule add: a health check (capability only; also runs on quarantined devices "
          "and lifts the quarantine when it passes).");
ABSL_FLAG(absl::Duration, for, absl::ZeroDuration(),
          "device reserve: how long to hold the device (2h; at most 7 days).");
ABSL_FLAG(std::string, token_file, "",
          "A file holding the operator's token (readable by its owner only); $FARM_TOKEN "
          "works too. Never give a token on the command line: `ps` shows it.");

namespace kvmfarm::farmctl {
namespace {

constexpr absl::Duration kProbeDeadline = absl::Seconds(60);

// ---- Exit statuses -----------------------------------------------------------

int UsageError(absl::string_view problem) {
  std::cerr << "farmctl: " << problem << "\n" << FarmctlUsage() << "\n";
  return 2;
}

int RequestFailed(const absl::Status& status) {
  std::cerr << "farmctl: " << status << "\n";
  return 1;
}

// 1 for a failed call (its error on stderr); otherwise `print(response)` and 0.
template <typename Response, typename Print>
int Reply(const absl::StatusOr<Response>& response, Print print) {
  if (!response.ok()) return RequestFailed(response.status());
  print(*response);
  return 0;
}

// ---- What the flags ask for --------------------------------------------------

std::string ControllerAddress() {
  if (!absl::GetFlag(FLAGS_controller).empty()) return absl::GetFlag(FLAGS_controller);
  const char* env = std::getenv("FARM_CONTROLLER");
  return env != nullptr && env[0] != '\0' ? env : "127.0.0.1:7421";
}

// The operator's token: $FARM_TOKEN, else --token_file; "" for none.
absl::StatusOr<std::string> TokenFromFlags() {
  const char* env = std::getenv("FARM_TOKEN");
  if (env != nullptr && env[0] != '\0') return std::string(absl::StripAsciiWhitespace(env));
  const std::string path = FromUserDir(absl::GetFlag(FLAGS_token_file));
  if (path.empty()) return std::string();
  return ReadSecretFile(path, "--token_file");
}

// How to reach a server of `server_kind`: TLS with the lab's CA (and the operator's
// certificate, if given) and the token, or plaintext with --insecure.
absl::StatusOr<ClientSecurity> ClientSecurityFromFlags(SpiffeId::Kind server_kind) {
  ASSIGN_OR_RETURN(const Security security, SecurityFromFlags(/*need_identity=*/false));
  ASSIGN_OR_RETURN(const std::string token, TokenFromFlags());
  ClientSecurity client;
  if (!security.tls()) return client;  // --insecure: no identity to send
  client.channel = ChannelCredentialsFor(security, server_kind);
  if (!token.empty()) client.token = grpc::AccessTokenCredentials(token);
  return client;
}

absl::StatusOr<farm::v1::Selector> SelectorFromFlags() {
  return ParseSelector(absl::GetFlag(FLAGS_selector), absl::GetFlag(FLAGS_devices));
}

SweepOptions SweepOptionsFromFlags() {
  SweepOptions options;
  options.selector = absl::GetFlag(FLAGS_selector);
  options.devices = absl::GetFlag(FLAGS_devices);
  options.plan = absl::GetFlag(FLAGS_plan);
  options.workloads = absl::GetFlag(FLAGS_workloads);
  options.repetitions = absl::GetFlag(FLAGS_repetitions);
  options.max_parallel = absl::GetFlag(FLAGS_max_parallel);
  options.image = absl::GetFlag(FLAGS_image);
  options.conditions.set_cool_down_within_celsius(absl::GetFlag(FLAGS_cool_down));
  if (const absl::Duration wait = absl::GetFlag(FLAGS_cool_down_max_wait);
      wait > absl::ZeroDuration()) {
    *options.conditions.mutable_cool_down_max_wait() = ToProtoDuration(wait);
  }
  options.conditions.set_require_charging(absl::GetFlag(FLAGS_require_charging));
  options.conditions.set_min_battery_percent(absl::GetFlag(FLAGS_min_battery));
  return options;
}

// `matrix` and `report`: --group-by and the devices.
absl::StatusOr<farm::v1::GetMatrixRequest> MatrixRequestFromFlags() {
  farm::v1::GetMatrixRequest request;
  const std::string group = absl::GetFlag(FLAGS_group_by);
  if (group == "device") {
    request.set_group_by(farm::v1::GROUP_BY_DEVICE);
  } else if (group == "model") {
    request.set_group_by(farm::v1::GROUP_BY_MODEL);
  } else if (group == "soc") {
    request.set_group_by(farm::v1::GROUP_BY_SOC);
  } else {
    return absl::InvalidArgumentError("--group-by takes device, model or soc");
  }
  ASSIGN_OR_RETURN(*request.mutable_filter(), SelectorFromFlags());
  return request;
}

// --limit: how many rows to list, 0 for all.
absl::StatusOr<size_t> LimitFromFlag() {
  const int32_t limit = absl::GetFlag(FLAGS_limit);
  if (limit < 0) return absl::InvalidArgumentError("--limit must be 0 (all) or more");
  return static_cast<size_t>(limit);
}

// The i-th operand, or "" when there are fewer.
std::string Operand(const Invocation& in, size_t i) {
  return i < in.operands.size() ? in.operands[i] : std::string();
}

// ---- Devices -----------------------------------------------------------------

int Devices(const Invocation& in) {
  absl::StatusOr<farm::v1::Selector> selector = SelectorFromFlags();
  if (!selector.ok()) return UsageError(selector.status().message());
  absl::StatusOr<size_t> limit = LimitFromFlag();
  if (!limit.ok()) return UsageError(limit.status().message());
  farm::v1::ListDevicesRequest request;
  *request.mutable_selector() = *selector;
  return Reply(
      in.controller->CallPaged(&ControllerStub::ListDevices, request,
                               &farm::v1::ListDevicesResponse::devices, *limit),
      [](const std::vector<farm::v1::Device>& devices) { std::cout << DevicesTable(devices); });
}

int DeviceShow(const Invocation& in) {
  const std::string id = Operand(in, 0);
  if (id.empty()) return UsageError("device show needs a device id");
  farm::v1::ListDevicesRequest request;
  request.mutable_selector()->add_device_ids(id);
  absl::StatusOr<farm::v1::ListDevicesResponse> response =
      in.controller->Call(&ControllerStub::ListDevices, request);
  if (!response.ok()) return RequestFailed(response.status());
  if (response->devices().empty()) {
    return RequestFailed(absl::NotFoundError(absl::StrCat("no device '", id, "'")));
  }
  std::cout << DevicesTable({response->devices(0)}) << "\n"
            << probe::FormatCapabilityText(response->devices(0).capability());
  return 0;
}

int DeviceHistory(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("device history needs a device id");
  absl::StatusOr<size_t> limit = LimitFromFlag();
  if (!limit.ok()) return UsageError(limit.status().message());
  farm::v1::GetDeviceHistoryRequest request;
  request.set_device_id(Operand(in, 0));
  return Reply(in.controller->CallPaged(&ControllerStub::GetDeviceHistory, request,
                                        &farm::v1::GetDeviceHistoryResponse::events, *limit),
               [](const std::vector<farm::v1::DeviceEvent>& events) {
                 for (const auto& e : events) {
                   std::cout << google::protobuf::util::TimeUtil::ToString(e.time()) << "  "
                             << e.description() << "\n";
                 }
               });
}

int DeviceSetState(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("device set-state needs a device id");
  farm::v1::SetDeviceStateRequest request;
  request.set_device_id(Operand(in, 0));
  request.set_reason(absl::GetFlag(FLAGS_reason));
  const std::string state = Operand(in, 1);
  if (state == "maintenance") {
    request.set_health(farm::v1::HEALTH_STATE_MAINTENANCE);
  } else if (state == "retired") {
    request.set_health(farm::v1::HEALTH_STATE_RETIRED);
  } else if (state == "good") {
    request.set_health(farm::v1::HEALTH_STATE_GOOD);
  } else {
    return UsageError("set-state takes maintenance, retired or good");
  }
  return Reply(in.controller->Call(&ControllerStub::SetDeviceState, request),
               [](const farm::v1::SetDeviceStateResponse& response) {
                 std::cout << DevicesTable({response.device()});
               });
}

int Probe(const Invocation&) {
  if (absl::GetFlag(FLAGS_agent).empty()) return UsageError("probe needs --agent ADDR");
  // Agents answer only the lab's controllers: this takes a controller's certificate
  // (or an agent started with --insecure).
  absl::StatusOr<ClientSecurity> security = ClientSecurityFromFlags(SpiffeId::Kind::kDevice);
  if (!security.ok()) return UsageError(security.status().message());
  security->token = nullptr;  // the operator's token is the controller's business, not a phone's
  const AgentClient agent =
      AgentClient::Connect(absl::GetFlag(FLAGS_agent), *security, kProbeDeadline);
  return Reply(agent.Call(&AgentStub::GetCapability, farm::v1::GetCapabilityRequest()),
               [](const farm::v1::GetCapabilityResponse& response) {
                 std::cout << probe::FormatCapabilityText(response.capability());
               });
}

int DeviceReserve(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("device reserve needs a device id");
  const absl::Duration hold = absl::GetFlag(FLAGS_for);
  if (hold <= absl::ZeroDuration()) return UsageError("device reserve needs --for DURATION (2h)");
  if (absl::GetFlag(FLAGS_reason).empty()) {
    return UsageError("device reserve needs --reason TEXT: it is shown to everyone");
  }
  farm::v1::ReserveDeviceRequest request;
  request.set_device_id(Operand(in, 0));
  *request.mutable_duration() = ToProtoDuration(hold);
  request.set_reason(absl::GetFlag(FLAGS_reason));
  return Reply(in.controller->Call(&ControllerStub::ReserveDevice, request),
               [](const farm::v1::ReserveDeviceResponse& response) {
                 const farm::v1::Reservation& r = response.device().reservation();
                 std::cout << response.device().device_id() << " reserved by " << r.holder()
                           << " until " << google::protobuf::util::TimeUtil::ToString(r.until())
                           << ": no sweep task reaches it until then or `farmctl device release`\n";
               });
}

int DeviceRelease(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("device release needs a device id");
  farm::v1::ReleaseDeviceRequest request;
  request.set_device_id(Operand(in, 0));
  return Reply(in.controller->Call(&ControllerStub::ReleaseDevice, request),
               [](const farm::v1::ReleaseDeviceResponse& response) {
                 std::cout << response.device().device_id() << " released\n";
               });
}

// ---- Schedules ---------------------------------------------------------------

int ScheduleAdd(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("schedule add needs a schedule id");
  const absl::Duration every = absl::GetFlag(FLAGS_every);
  const std::string cron = absl::GetFlag(FLAGS_cron);
  if ((every > absl::ZeroDuration()) == !cron.empty()) {
    return UsageError("schedule add needs exactly one of --every DURATION or --cron 'M H D M W'");
  }
  SweepOptions options = SweepOptionsFromFlags();
  const bool health_check = absl::GetFlag(FLAGS_health_check);
  if (health_check) options.plan = "capability";  // a health check measures nothing
  absl::StatusOr<farm::v1::SweepSpec> spec = BuildSweepSpec(options);
  if (!spec.ok()) return UsageError(spec.status().message());
  farm::v1::AddScheduleRequest request;
  farm::v1::Schedule* schedule = request.mutable_schedule();
  schedule->set_schedule_id(Operand(in, 0));
  *schedule->mutable_spec() = *spec;
  schedule->mutable_spec()->set_health_check(health_check);
  if (!cron.empty()) {
    schedule->set_cron(cron);
  } else {
    *schedule->mutable_every() = ToProtoDuration(every);
  }
  return Reply(in.controller->Call(&ControllerStub::AddSchedule, request),
               [](const farm::v1::AddScheduleResponse& response) {
                 farm::v1::ListSchedulesResponse one;
                 *one.add_schedules() = response.schedule();
                 std::cout << SchedulesTable(one);
               });
}

int ScheduleList(const Invocation& in) {
  return Reply(
      in.controller->Call(&ControllerStub::ListSchedules, farm::v1::ListSchedulesRequest()),
      [](const farm::v1::ListSchedulesResponse& response) {
        std::cout << SchedulesTable(response);
      });
}

int ScheduleDelete(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("schedule delete needs a schedule id");
  farm::v1::DeleteScheduleRequest request;
  request.set_schedule_id(Operand(in, 0));
  return Reply(in.controller->Call(&ControllerStub::DeleteSchedule, request),
               [&in](const farm::v1::DeleteScheduleResponse&) {
                 std::cout << "schedule " << Operand(in, 0)
                           << " deleted (a sweep it started runs on)\n";
               });
}

// ---- Sweeps ------------------------------------------------------------------

// Follows a sweep to its end: 0 if it succeeded, 1 if it didn't or the stream failed.
int WatchUntilEnd(const Invocation& in, const std::string& sweep_id) {
  absl::StatusOr<farm::v1::SweepState> end = WatchSweep(*in.controller, sweep_id);
  if (!end.ok()) return RequestFailed(end.status());
  return *end == farm::v1::SWEEP_STATE_SUCCEEDED ? 0 : 1;
}

int SweepStart(const Invocation& in) {
  absl::StatusOr<farm::v1::SweepSpec> spec = BuildSweepSpec(SweepOptionsFromFlags());
  if (!spec.ok()) return UsageError(spec.status().message());
  farm::v1::StartSweepRequest request;
  *request.mutable_spec() = *spec;
  absl::StatusOr<farm::v1::StartSweepResponse> response =
      in.controller->Call(&ControllerStub::StartSweep, request);
  if (!response.ok()) return RequestFailed(response.status());
  std::cout << SweepLine(response->sweep()) << std::endl;
  return absl::GetFlag(FLAGS_watch) ? WatchUntilEnd(in, response->sweep().sweep_id()) : 0;
}

int SweepWatch(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("sweep watch needs a sweep id");
  return WatchUntilEnd(in, Operand(in, 0));
}

int SweepList(const Invocation& in) {
  absl::StatusOr<size_t> limit = LimitFromFlag();
  if (!limit.ok()) return UsageError(limit.status().message());
  farm::v1::ListSweepsRequest request;
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_state), ',', absl::SkipEmpty())) {
    farm::v1::SweepState state;
    if (!farm::v1::SweepState_Parse(absl::AsciiStrToUpper(absl::StrCat("SWEEP_STATE_", name)),
                                    &state) ||
        state == farm::v1::SWEEP_STATE_UNSPECIFIED) {
      return UsageError(absl::StrCat("--state: '", name,
                                     "' is not queued, running, succeeded, failed or cancelled"));
    }
    request.add_states(state);
  }
  return Reply(in.controller->CallPaged(&ControllerStub::ListSweeps, request,
                                        &farm::v1::ListSweepsResponse::sweeps, *limit),
               [](const std::vector<farm::v1::Sweep>& sweeps) {
                 for (const auto& s : sweeps) std::cout << SweepLine(s) << "\n";
               });
}

void PrintSweepAndTasks(const farm::v1::Sweep& sweep) {
  std::cout << SweepLine(sweep) << "\n";
  if (!sweep.started_by().empty()) std::cout << "started by " << sweep.started_by() << "\n";
  if (!sweep.cancelled_by().empty()) std::cout << "cancelled by " << sweep.cancelled_by() << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::Task& t : sweep.tasks()) {
    rows.push_back({t.task_id(), t.device_id(), LowerEnumValueName(t.kind()),
                    LowerEnumValueName(t.state()), t.status()});
  }
  std::cout << Table({"TASK", "DEVICE", "STEP", "STATE", "STATUS"}, rows);
}

int SweepShow(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("sweep show needs a sweep id");
  farm::v1::GetSweepRequest request;
  request.set_sweep_id(Operand(in, 0));
  return Reply(
      in.controller->Call(&ControllerStub::GetSweep, request),
      [](const farm::v1::GetSweepResponse& response) { PrintSweepAndTasks(response.sweep()); });
}

int SweepCancel(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("sweep cancel needs a sweep id");
  farm::v1::CancelSweepRequest request;
  request.set_sweep_id(Operand(in, 0));
  request.set_reason(absl::GetFlag(FLAGS_reason));
  return Reply(in.controller->Call(&ControllerStub::CancelSweep, request),
               [](const farm::v1::CancelSweepResponse& response) {
                 std::cout << SweepLine(response.sweep()) << "\n";
               });
}

// ---- Results -----------------------------------------------------------------

int Matrix(const Invocation& in) {
  absl::StatusOr<farm::v1::GetMatrixRequest> request = MatrixRequestFromFlags();
  if (!request.ok()) return UsageError(request.status().message());
  // Checked before the request: a bad --format costs no round trip.
  absl::StatusOr<std::string> format_check = FormatMatrix({}, absl::GetFlag(FLAGS_format));
  if (!format_check.ok()) return UsageError(format_check.status().message());
  return Reply(in.controller->Call(&ControllerStub::GetMatrix, *request),
               [](const farm::v1::GetMatrixResponse& response) {
                 std::cout << *FormatMatrix(response, absl::GetFlag(FLAGS_format));
               });
}

// Written beside the target and renamed, so a failed run leaves no half report.
int WriteReport(const farm::v1::GetMatrixResponse& matrix,
                const std::vector<farm::v1::Sweep>& sweeps, const std::string& out) {
  const std::string partial = out + ".partial";
  std::ofstream file(partial, std::ios::binary | std::ios::trunc);
  file << HtmlReport(matrix, sweeps);
  file.close();
  if (!file || std::rename(partial.c_str(), out.c_str()) != 0) {
    std::remove(partial.c_str());
    std::cerr << "farmctl: cannot write report '" << out << "': " << std::strerror(errno) << "\n";
    return 1;
  }
  std::cout << "farmctl: wrote " << out << " (" << matrix.rows_size() << " rows)\n";
  return 0;
}

int Report(const Invocation& in) {
  absl::StatusOr<farm::v1::GetMatrixRequest> request = MatrixRequestFromFlags();
  if (!request.ok()) return UsageError(request.status().message());
  if (absl::GetFlag(FLAGS_out).empty()) return UsageError("report needs --out FILE");
  absl::StatusOr<farm::v1::GetMatrixResponse> response =
      in.controller->Call(&ControllerStub::GetMatrix, *request);
  if (!response.ok()) return RequestFailed(response.status());
  // The newest sweeps, with who started and cancelled them.
  constexpr size_t kReportSweeps = 50;
  absl::StatusOr<std::vector<farm::v1::Sweep>> sweeps =
      in.controller->CallPaged(&ControllerStub::ListSweeps, farm::v1::ListSweepsRequest(),
                               &farm::v1::ListSweepsResponse::sweeps, kReportSweeps);
  if (!sweeps.ok()) return RequestFailed(sweeps.status());
  return WriteReport(*response, *sweeps, FromUserDir(absl::GetFlag(FLAGS_out)));
}

int Compare(const Invocation& in) {
  if (Operand(in, 1).empty()) return UsageError("compare needs two sweep ids");
  farm::v1::CompareSweepsRequest request;
  request.set_sweep_a(Operand(in, 0));
  request.set_sweep_b(Operand(in, 1));
  request.set_threshold_percent(absl::GetFlag(FLAGS_threshold));
  request.set_significance(absl::GetFlag(FLAGS_significance));
  return Reply(
      in.controller->Call(&ControllerStub::CompareSweeps, request),
      [](const farm::v1::CompareSweepsResponse& response) { std::cout << CompareTable(response); });
}

// The scope --device, --model or --soc names (exactly one of them).
absl::StatusOr<std::pair<farm::v1::BaselineScope, std::string>> BaselineScopeFromFlags() {
  std::vector<std::pair<farm::v1::BaselineScope, std::string>> given;
  for (const auto& [scope, key] :
       {std::pair{farm::v1::BASELINE_SCOPE_DEVICE, absl::GetFlag(FLAGS_device)},
        std::pair{farm::v1::BASELINE_SCOPE_MODEL, absl::GetFlag(FLAGS_model)},
        std::pair{farm::v1::BASELINE_SCOPE_SOC, absl::GetFlag(FLAGS_soc)}}) {
    if (!key.empty()) given.emplace_back(scope, key);
  }
  if (given.size() != 1) {
    return absl::InvalidArgumentError(
        "baseline set needs exactly one of --device ID, --model NAME or --soc NAME");
  }
  return given[0];
}

int BaselineSet(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("baseline set needs a sweep id");
  absl::StatusOr<std::pair<farm::v1::BaselineScope, std::string>> scope = BaselineScopeFromFlags();
  if (!scope.ok()) return UsageError(scope.status().message());
  farm::v1::SetBaselineRequest request;
  request.set_sweep_id(Operand(in, 0));
  request.set_scope(scope->first);
  request.set_key(scope->second);
  return Reply(in.controller->Call(&ControllerStub::SetBaseline, request),
               [](const farm::v1::SetBaselineResponse& response) {
                 const farm::v1::Baseline& b = response.baseline();
                 std::cout << "sweep " << b.sweep_id() << " is the baseline of "
                           << LowerEnumValueName(b.scope()) << " " << b.key()
                           << ": every sweep that ends is compared with it\n";
               });
}

int BaselineList(const Invocation& in) {
  return Reply(
      in.controller->Call(&ControllerStub::ListBaselines, farm::v1::ListBaselinesRequest()),
      [](const farm::v1::ListBaselinesResponse& response) {
        std::cout << BaselinesTable(response);
      });
}

int Regressions(const Invocation& in) {
  farm::v1::ListRegressionsRequest request;
  request.set_open_only(absl::GetFlag(FLAGS_open));
  request.set_device_id(absl::GetFlag(FLAGS_device));
  return Reply(in.controller->Call(&ControllerStub::ListRegressions, request),
               [](const farm::v1::ListRegressionsResponse& response) {
                 std::cout << RegressionsTable(response);
               });
}

int TaskLogs(const Invocation& in) {
  if (Operand(in, 0).empty()) return UsageError("task logs needs a task id");
  farm::v1::GetTaskLogsRequest request;
  request.set_task_id(Operand(in, 0));
  return Reply(in.controller->Call(&ControllerStub::GetTaskLogs, request),
               [](const farm::v1::GetTaskLogsResponse& response) {
                 for (const auto& a : response.attempts()) {
                   std::cout << "== " << a.attempt_id() << "  " << a.outcome() << "\n"
                             << a.console_log();
                   if (!a.raw_result_json().empty())
                     std::cout << "\n" << a.raw_result_json() << "\n";
                 }
               });
}

// The controller replicas and which leads.
int Controllers(const Invocation& in) {
  return Reply(
      in.controller->Call(&ControllerStub::ListControllers, farm::v1::ListControllersRequest()),
      [](const farm::v1::ListControllersResponse& response) {
        using google::protobuf::util::TimeUtil;
        std::vector<std::vector<std::string>> rows;
        for (const farm::v1::ControllerReplica& r : response.replicas()) {
          rows.push_back({r.name(), r.address(), r.leader() ? "leader" : "follower",
                          TimeUtil::ToString(r.last_seen())});
        }
        std::cout << Table({"REPLICA", "ADDRESS", "ROLE", "LAST SEEN"}, rows);
        if (response.leader().empty()) {
          std::cout << "no replica has led yet\n";
        } else {
          std::cout << response.leader() << " leads as epoch " << response.epoch() << " since "
                    << TimeUtil::ToString(response.leading_since()) << "; its lease runs to "
                    << TimeUtil::ToString(response.lease_expires()) << "\n";
        }
      });
}

}  // namespace

// ---- The table ---------------------------------------------------------------

namespace {

// The fleet: its devices, and one agent asked directly.
std::vector<Command> DeviceCommands() {
  return {
      {"devices",
       "[--selector k=v,...] [--devices a,b] [--limit N]",
       "The devices the controller knows: model, SoC, hypervisor, verdict, state, agent "
       "version (with a line when they differ), last seen.",
       {"controller", "selector", "devices", "limit"},
       "farmctl devices --selector hypervisor=gunyah",
       &Devices},
      {"device show",
       "ID",
       "One device's row and its full capability report.",
       {"controller"},
       "farmctl device show pixel-8",
       &DeviceShow},
      {"device history",
       "ID [--limit N]",
       "A device's history, newest first: state changes, capability reports, results stored.",
       {"controller", "limit"},
       "farmctl device history pixel-8 --limit 20",
       &DeviceHistory},
      {"device set-state",
       "ID maintenance|retired|good --reason TEXT",
       "Takes a device out of service, or puts it back.",
       {"controller", "reason"},
       "farmctl device set-state pixel-8 maintenance --reason 'battery swollen'",
       &DeviceSetState},
      {"device reserve",
       "ID --for DURATION --reason TEXT",
       "Holds a device for manual work: no sweep task reaches it until the time is up or it "
       "is released. Everyone sees who holds it.",
       {"controller", "for", "reason"},
       "farmctl device reserve pixel-8 --for 2h --reason 'bisecting the 6.1.75 boot hang'",
       &DeviceReserve},
      {"device release",
       "ID",
       "Ends a reservation (anyone's: the history says who released it).",
       {"controller"},
       "farmctl device release pixel-8",
       &DeviceRelease},
      {"schedule add",
       "ID --every DURATION | --cron 'M H D M W' [--selector k=v] [--plan ...] [--health-check]",
       "A sweep the leader starts again and again (UTC), never two runs at once; devices under "
       "maintenance or reserved are left out. --health-check: a capability check that also "
       "reaches quarantined devices and lifts the quarantine when it passes.",
       {"controller", "every", "cron", "health_check", "selector", "devices", "plan", "workloads",
        "repetitions", "max_parallel", "image", "cool_down", "cool_down_max_wait",
        "require_charging", "min_battery"},
       "farmctl schedule add nightly-pixel --cron '0 3 * * *' --selector model=pixel8 "
       "--plan capability,native,kvm",
       &ScheduleAdd},
      {"schedule list",
       "",
       "The schedules: when each runs next, how often it ran, what its last run did.",
       {"controller"},
       "farmctl schedule list",
       &ScheduleList},
      {"schedule delete",
       "ID",
       "Stops a schedule; a sweep it started runs on.",
       {"controller"},
       "farmctl schedule delete nightly-pixel",
       &ScheduleDelete},
      {"controllers",
       "",
       "The controller replicas sharing the database, which leads, as which epoch, since when.",
       {"controller"},
       "farmctl controllers --controller 10.0.0.5:7421,10.0.0.6:7421",
       &Controllers},
      {"probe",
       "--agent ADDR",
       "Asks one agent for its capability report (no controller).",
       {"agent"},
       "farmctl probe --agent 127.0.0.1:7420",
       &Probe},
  };
}

// Measuring: sweeps and their lifecycle.
std::vector<Command> SweepCommands() {
  return {
      {"sweep start",
       "[--selector k=v | --devices a,b] [--plan capability,native,kvm,tcg,boot,boot3] "
       "[--repetitions N] [--max-parallel M] [--watch]",
       "Starts a sweep: each step of the plan on every device selected.",
       {"controller", "selector", "devices", "plan", "workloads", "repetitions", "max_parallel",
        "image", "watch", "cool_down", "cool_down_max_wait", "require_charging", "min_battery"},
       "farmctl sweep start --selector soc=sm8650 --plan capability,native,kvm,tcg --watch",
       &SweepStart},
      {"sweep watch",
       "ID",
       "Follows a sweep until it ends; exit status 0 only if it succeeded.",
       {"controller"},
       "farmctl sweep watch s-20240101-0001",
       &SweepWatch},
      {"sweep list",
       "[--state running,queued] [--limit N]",
       "Sweeps, newest first, one line each.",
       {"controller", "state", "limit"},
       "farmctl sweep list --state running,queued",
       &SweepList},
      {"sweep show",
       "ID",
       "One sweep and its tasks.",
       {"controller"},
       "farmctl sweep show s-20240101-0001",
       &SweepShow},
      {"sweep cancel",
       "ID [--reason TEXT]",
       "Cancels a sweep: running tasks are stopped, results so far kept.",
       {"controller", "reason"},
       "farmctl sweep cancel s-20240101-0001 --reason 'wrong image'",
       &SweepCancel},
  };
}

// What the measurements say.
std::vector<Command> ResultCommands() {
  return {
      {"matrix",
       "[--group-by device|model|soc] [--format table|markdown|csv|json]",
       "The compatibility matrix: native, KVM and TCG figures per device and metric.",
       {"controller", "group_by", "format", "selector", "devices"},
       "farmctl matrix --group-by soc --format markdown",
       &Matrix},
      {"report",
       "[--out report.html] [--group-by ...]",
       "The matrix with charts, as one self-contained HTML file.",
       {"controller", "out", "group_by", "selector", "devices"},
       "farmctl report --out fleet.html --group-by model",
       &Report},
      {"compare",
       "SWEEP_A SWEEP_B [--threshold PERCENT] [--significance P]",
       "What changed from one sweep to another, per device and metric.",
       {"controller", "threshold", "significance"},
       "farmctl compare s-20240101-0001 s-20240108-0001 --threshold 3",
       &Compare},
      {"baseline set",
       "SWEEP --device ID | --model NAME | --soc NAME",
       "Pins a finished sweep as the baseline every later sweep is compared with.",
       {"controller", "device", "model", "soc"},
       "farmctl baseline set s-20240101-0001 --model 'Pixel 8'",
       &BaselineSet},
      {"baseline list",
       "",
       "The baselines: of which device, model or SoC, which sweep, who set it.",
       {"controller"},
       "farmctl baseline list",
       &BaselineList},
      {"regressions",
       "[--open] [--device ID]",
       "Regressions against baselines and verdicts that got worse: open or fixed, newest first.",
       {"controller", "open", "device"},
       "farmctl regressions --open",
       &Regressions},
      {"task logs",
       "TASK",
       "Every attempt of a task: outcome, console log and raw result.",
       {"controller"},
       "farmctl task logs s-20240101-0001/t3",
       &TaskLogs},
  };
}

}  // namespace

const std::vector<Command>& FarmctlCommands() {
  static const auto* commands = [] {
    auto* all = new std::vector<Command>;
    for (std::vector<Command> (*group)() : {&DeviceCommands, &SweepCommands, &ResultCommands}) {
      for (Command& command : group()) {
        // Every command talks to a server, and every server wants to know who calls.
        command.flags.insert(command.flags.end(),
                             {"tls_ca", "tls_cert", "tls_key", "token_file", "insecure"});
        all->push_back(std::move(command));
      }
    }
    return all;
  }();
  return *commands;
}

std::string FarmctlUsage() {
  return absl::StrCat(
      "farmctl: the kvmfarm operator's command line.\n\n", CommandList(FarmctlCommands()),
      "\n`farmctl COMMAND --help` shows a command's flags and an example.\n"
      "The controller is --controller, $FARM_CONTROLLER, or 127.0.0.1:7421. It is reached over "
      "TLS with the lab's CA (--tls-ca) as an operator: a token ($FARM_TOKEN or --token-file) "
      "or an operator certificate (--tls-cert, --tls-key); --insecure for a plaintext "
      "loopback controller. Exit status: 0 done, "
      "1 the request failed (one line on stderr), 2 bad command line.");
}

int RunFarmctl(const std::vector<std::string>& args) {
  if (args.empty()) return UsageError("no command");
  absl::StatusOr<CommandMatch> match = FindCommand(FarmctlCommands(), args);
  if (!match.ok()) return UsageError(match.status().message());
  absl::StatusOr<ClientSecurity> security = ClientSecurityFromFlags(SpiffeId::Kind::kController);
  if (!security.ok()) return UsageError(security.status().message());
  ControllerClient controller = ControllerClient::Connect(ControllerAddress(), *security);
  return match->command->run({match->operands, &controller});
}

int PrintFarmctlHelp(const std::vector<std::string>& args) {
  absl::StatusOr<CommandMatch> match = FindCommand(FarmctlCommands(), args);
  if (match.ok()) {
    std::cout << CommandHelp(*match->command);
  } else {
    std::cout << FarmctlUsage() << "\n\nFlags:\n" << AllFlagsHelp(FarmctlCommands());
  }
  return 0;
}

}  // namespace kvmfarm::farmctl
