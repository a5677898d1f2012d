#include "controller/controller_api.h"

#include <google/protobuf/util/time_util.h>

#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "controller/comparison/sweep_comparison.h"
#include "controller/matrix/matrix.h"
#include "controller/paging/page_token.h"
#include "controller/regressions/regression_tracker.h"
#include "controller/schedules/schedule_runner.h"
#include "controller/task_logs/task_logs.h"

namespace kvmfarm {
namespace {

using paging::PageKey;
using paging::PageRequest;

// Page sizes: a default that fits farmctl's screens and a ceiling; and whatever
// the items hold, at most 2 MiB a page, half gRPC's 4 MiB message limit (a device
// with its capability report is about 3 KB, 10,000 of them 27 MiB).
constexpr paging::PageSizes kDevicePages{/*default_size=*/500, /*max_size=*/2000};
constexpr paging::PageSizes kHistoryPages{/*default_size=*/100, /*max_size=*/10000};
constexpr paging::PageSizes kSweepPages{/*default_size=*/100, /*max_size=*/1000};

constexpr size_t kMaxPageBytes = 2 << 20;

// Each list's order: devices by id; history events by sequence number; sweeps by
// creation time, then id.
PageKey DeviceKey(const farm::v1::Device& device) { return PageKey{0, device.device_id()}; }
PageKey EventKey(const store::StoredDeviceEvent& stored) { return PageKey{stored.sequence, ""}; }
PageKey SweepKey(const farm::v1::Sweep& sweep) {
  return PageKey{google::protobuf::util::TimeUtil::TimestampToNanoseconds(sweep.created_at()),
                 sweep.sweep_id()};
}

// An item's size on the wire, for a page's byte limit.
size_t WireSize(const google::protobuf::Message& message) { return message.ByteSizeLong(); }
size_t EventWireSize(const store::StoredDeviceEvent& stored) { return WireSize(stored.event); }

constexpr absl::string_view kDeviceList = "ListDevices";
constexpr absl::string_view kHistoryList = "GetDeviceHistory";
constexpr absl::string_view kSweepList = "ListSweeps";

absl::Status CheckSelector(const farm::v1::Selector& selector, absl::string_view field) {
  for (int i = 0; i < selector.match_size(); ++i) {
    if (selector.match(i).key().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".match[", i, "].key is empty"));
    }
  }
  return absl::OkStatus();
}

// The states filter of ListSweeps as one string, equal for equal sets.
std::string StatesFilter(const google::protobuf::RepeatedField<int>& states) {
  std::set<int> unique(states.begin(), states.end());
  return absl::StrJoin(unique, ",");
}

}  // namespace

absl::Status ControllerApi::CatchUp() {
  if (!catch_up_) return absl::OkStatus();
  absl::Status caught_up = catch_up_();
  if (caught_up.ok()) return caught_up;
  return absl::UnavailableError(
      absl::StrCat("this controller can't read what other replicas wrote, so it won't answer "
                   "from what it last knew: ",
                   caught_up.message()));
}

absl::StatusOr<farm::v1::ListDevicesResponse> ControllerApi::ListDevices(
    const farm::v1::ListDevicesRequest& request) {
  RETURN_IF_ERROR(CheckSelector(request.selector(), "selector"));
  RETURN_IF_ERROR(CatchUp());
  const std::string filter = request.selector().SerializeAsString();
  ASSIGN_OR_RETURN(const PageRequest page,
                   paging::ReadPageRequest(kDeviceList, filter, request.page_token(),
                                           request.page_size(), kDevicePages));
  std::vector<farm::v1::Device> devices =
      fleet_->List(request.selector(), page.after ? page.after->id : "", page.size + 1);
  farm::v1::ListDevicesResponse response;
  response.set_next_page_token(
      paging::TrimToPage(&devices, page, kDeviceList, filter, DeviceKey, WireSize, kMaxPageBytes));
  for (farm::v1::Device& device : devices) *response.add_devices() = std::move(device);
  return response;
}

absl::StatusOr<farm::v1::GetDeviceHistoryResponse> ControllerApi::DeviceHistory(
    const farm::v1::GetDeviceHistoryRequest& request) {
  RETURN_IF_ERROR(CatchUp());
  if (!fleet_->Get(request.device_id()).ok()) {
    return absl::NotFoundError(absl::StrCat("device_id: no device '", request.device_id(), "'"));
  }
  ASSIGN_OR_RETURN(const PageRequest page,
                   paging::ReadPageRequest(kHistoryList, request.device_id(), request.page_token(),
                                           request.page_size(), kHistoryPages));
  std::optional<int64_t> before;
  if (page.after) before = page.after->number;
  ASSIGN_OR_RETURN(std::vector<store::StoredDeviceEvent> events,
                   store_->DeviceHistory(request.device_id(), page.size + 1, before));
  farm::v1::GetDeviceHistoryResponse response;
  response.set_next_page_token(paging::TrimToPage(&events, page, kHistoryList, request.device_id(),
                                                  EventKey, EventWireSize, kMaxPageBytes));
  for (store::StoredDeviceEvent& stored : events) {
    *response.add_events() = std::move(stored.event);
  }
  return response;
}

absl::StatusOr<farm::v1::ListSweepsResponse> ControllerApi::ListSweeps(
    const farm::v1::ListSweepsRequest& request) {
  const std::string filter = StatesFilter(request.states());
  ASSIGN_OR_RETURN(const PageRequest page,
                   paging::ReadPageRequest(kSweepList, filter, request.page_token(),
                                           request.page_size(), kSweepPages));
  store::SweepListQuery query;
  for (int state : request.states()) {
    query.states.push_back(static_cast<farm::v1::SweepState>(state));
  }
  if (page.after) query.after = std::make_pair(page.after->number, page.after->id);
  query.limit = page.size + 1;
  ASSIGN_OR_RETURN(std::vector<farm::v1::Sweep> sweeps, scheduler_->ListSweeps(query));
  farm::v1::ListSweepsResponse response;
  response.set_next_page_token(
      paging::TrimToPage(&sweeps, page, kSweepList, filter, SweepKey, WireSize, kMaxPageBytes));
  for (farm::v1::Sweep& sweep : sweeps) *response.add_sweeps() = std::move(sweep);
  return response;
}

absl::StatusOr<farm::v1::Device> ControllerApi::Device(const std::string& device_id) {
  if (device_id.empty()) return absl::InvalidArgumentError("device_id is required");
  RETURN_IF_ERROR(CatchUp());
  absl::StatusOr<farm::v1::Device> device = fleet_->Get(device_id);
  if (absl::IsNotFound(device.status())) {
    return absl::NotFoundError(absl::StrCat("device_id: no device '", device_id, "'"));
  }
  return device;
}

absl::StatusOr<std::vector<store::StoredSummary>> ControllerApi::DeviceFigures(
    const std::string& device_id, int64_t limit) {
  return store_->DeviceSummaries(device_id, limit);
}

absl::StatusOr<farm::v1::Device> ControllerApi::SetDeviceState(
    const farm::v1::SetDeviceStateRequest& request, const std::string& audit) {
  if (request.device_id().empty()) return absl::InvalidArgumentError("device_id is required");
  RETURN_IF_ERROR(CatchUp());
  return fleet_->SetHealth(request.device_id(), request.health(), request.reason(), audit);
}

absl::StatusOr<farm::v1::Sweep> ControllerApi::StartSweep(
    const farm::v1::StartSweepRequest& request, const std::string& audit) {
  RETURN_IF_ERROR(CatchUp());
  return scheduler_->StartSweep(request, audit);
}

absl::StatusOr<farm::v1::Sweep> ControllerApi::GetSweep(const std::string& sweep_id,
                                                        bool include_results) {
  return scheduler_->GetSweep(sweep_id, include_results);
}

absl::StatusOr<farm::v1::Sweep> ControllerApi::CancelSweep(const std::string& sweep_id,
                                                           const std::string& reason,
                                                           const std::string& audit) {
  if (sweep_id.empty()) return absl::InvalidArgumentError("sweep_id is required");
  return scheduler_->CancelSweep(sweep_id, reason, audit);
}

absl::StatusOr<farm::v1::GetMatrixResponse> ControllerApi::Matrix(
    const farm::v1::GetMatrixRequest& request) {
  RETURN_IF_ERROR(CheckSelector(request.filter(), "filter"));
  RETURN_IF_ERROR(CatchUp());
  const std::vector<farm::v1::Device> devices = fleet_->ListBrief(request.filter());
  std::vector<std::string> ids;
  for (const farm::v1::Device& d : devices) ids.push_back(d.device_id());
  ASSIGN_OR_RETURN(const store::SummarySet summaries,
                   ids.empty() ? store::SummarySet() : summaries_->Latest(ids));
  farm::v1::GetMatrixResponse response;
  for (farm::v1::MatrixRow& row :
       matrix::BuildMatrix(devices, summaries.pointers(), request.group_by())) {
    *response.add_rows() = std::move(row);
  }
  *response.mutable_generated_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return response;
}

absl::StatusOr<farm::v1::CompareSweepsResponse> ControllerApi::CompareSweeps(
    const farm::v1::CompareSweepsRequest& request) {
  ASSIGN_OR_RETURN(
      comparison::SweepComparison compared,
      comparison::CompareStoredSweeps(
          *store_, request.sweep_a(), request.sweep_b(),
          request.has_threshold_percent() ? absl::make_optional(request.threshold_percent())
                                          : absl::nullopt,
          request.has_significance() ? absl::make_optional(request.significance())
                                     : absl::nullopt));
  farm::v1::CompareSweepsResponse response;
  for (farm::v1::MetricChange& c : compared.changes) *response.add_changes() = std::move(c);
  for (farm::v1::VerdictChange& c : compared.verdict_changes) {
    *response.add_verdict_changes() = std::move(c);
  }
  return response;
}

absl::StatusOr<farm::v1::Baseline> ControllerApi::SetBaseline(
    const farm::v1::SetBaselineRequest& request, const std::string& audit) {
  return regressions::PinBaseline(*store_, request, audit, absl::Now());
}

absl::StatusOr<farm::v1::ListBaselinesResponse> ControllerApi::Baselines() {
  ASSIGN_OR_RETURN(std::vector<farm::v1::Baseline> baselines, store_->ListBaselines());
  farm::v1::ListBaselinesResponse response;
  for (farm::v1::Baseline& b : baselines) *response.add_baselines() = std::move(b);
  return response;
}

absl::StatusOr<farm::v1::ListRegressionsResponse> ControllerApi::Regressions(
    const farm::v1::ListRegressionsRequest& request) {
  ASSIGN_OR_RETURN(std::vector<farm::v1::Regression> regressions,
                   store_->ListRegressions(request.open_only(), request.device_id()));
  farm::v1::ListRegressionsResponse response;
  for (farm::v1::Regression& r : regressions) *response.add_regressions() = std::move(r);
  return response;
}

absl::StatusOr<farm::v1::GetTaskLogsResponse> ControllerApi::TaskLogs(const std::string& task_id) {
  return task_logs::TaskLogs(*store_, task_id);
}

absl::StatusOr<farm::v1::ListControllersResponse> ControllerApi::Controllers() {
  ASSIGN_OR_RETURN(auto replicas, store_->Replicas());
  const store::Leadership& lease = replicas.first;
  farm::v1::ListControllersResponse response;
  response.set_leader(lease.holder);
  response.set_epoch(static_cast<uint64_t>(lease.epoch));
  if (!lease.holder.empty()) {
    *response.mutable_leading_since() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(lease.acquired_ns);
    *response.mutable_lease_expires() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(lease.expires_ns);
  }
  for (const store::StoredReplica& replica : replicas.second) {
    farm::v1::ControllerReplica* out = response.add_replicas();
    out->set_name(replica.name);
    out->set_address(replica.address);
    *out->mutable_last_seen() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(replica.seen_ns);
    out->set_leader(replica.name == lease.holder);
  }
  return response;
}

absl::StatusOr<farm::v1::Schedule> ControllerApi::AddSchedule(
    const farm::v1::AddScheduleRequest& request, const std::string& audit) {
  return schedules::AddSchedule(*store_, request.schedule(), audit, absl::Now());
}

absl::StatusOr<farm::v1::ListSchedulesResponse> ControllerApi::Schedules() {
  ASSIGN_OR_RETURN(std::vector<farm::v1::Schedule> all, store_->ListSchedules());
  farm::v1::ListSchedulesResponse response;
  for (farm::v1::Schedule& s : all) *response.add_schedules() = std::move(s);
  return response;
}

absl::Status ControllerApi::DeleteSchedule(const farm::v1::DeleteScheduleRequest& request) {
  return schedules::DeleteSchedule(*store_, request.schedule_id());
}

absl::StatusOr<farm::v1::Device> ControllerApi::ReserveDevice(
    const farm::v1::ReserveDeviceRequest& request, const std::string& audit) {
  if (request.device_id().empty()) return absl::InvalidArgumentError("device_id is required");
  if (!request.has_duration()) {
    return absl::InvalidArgumentError("duration is required: how long to hold the device");
  }
  ASSIGN_OR_RETURN(const absl::Duration duration,
                   CheckedDuration(request.duration(), "duration", fleet::kMaxReservation));
  RETURN_IF_ERROR(CatchUp());
  return fleet_->Reserve(request.device_id(), audit, duration, request.reason());
}

absl::StatusOr<farm::v1::Device> ControllerApi::ReleaseDevice(
    const farm::v1::ReleaseDeviceRequest& request, const std::string& audit) {
  if (request.device_id().empty()) return absl::InvalidArgumentError("device_id is required");
  RETURN_IF_ERROR(CatchUp());
  return fleet_->Release(request.device_id(), audit);
}

}  // namespace kvmfarm
