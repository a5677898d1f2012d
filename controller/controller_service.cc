#include "controller/controller_service.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/comparison/sweep_comparison.h"
#include "controller/matrix/matrix.h"
#include "controller/paging/page_token.h"
#include "controller/task_logs/task_logs.h"
#include "proto/states.h"

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

absl::Status ControllerServiceImpl::CatchUp() {
  if (!catch_up_) return absl::OkStatus();
  absl::Status caught_up = catch_up_();
  if (caught_up.ok()) return caught_up;
  return absl::UnavailableError(
      absl::StrCat("this controller can't read what other replicas wrote, so it won't answer "
                   "from what it last knew: ",
                   caught_up.message()));
}

absl::StatusOr<farm::v1::ListDevicesResponse> ControllerServiceImpl::DevicesPage(
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

absl::StatusOr<farm::v1::GetDeviceHistoryResponse> ControllerServiceImpl::HistoryPage(
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

absl::StatusOr<farm::v1::ListSweepsResponse> ControllerServiceImpl::SweepsPage(
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

grpc::Status ControllerServiceImpl::Authorize(const grpc::ServerContext& context,
                                              absl::string_view method, auth::Caller* caller) {
  absl::StatusOr<auth::Caller> allowed =
      authorizer_->Authorize(context, auth::ControllerMethod(method));
  if (!allowed.ok()) {
    FARM_LOG(WARNING) << method << " refused: " << allowed.status().message();
    return ToGrpcStatus(allowed.status());
  }
  if (caller != nullptr) *caller = *std::move(allowed);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RegisterAgent(grpc::ServerContext* context,
                                                  const farm::v1::RegisterAgentRequest* request,
                                                  farm::v1::RegisterAgentResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "RegisterAgent", &caller); !denied.ok())
    return denied;
  // (An empty id is the fleet's INVALID_ARGUMENT, not an impersonation.)
  if (caller.kind == auth::Caller::Kind::kDevice && !request->identity().device_id().empty() &&
      caller.name != request->identity().device_id()) {
    return ToGrpcStatus(fleet_->RefuseImpersonation(request->identity().device_id(), caller.Audit(),
                                                    "RegisterAgent"));
  }
  if (absl::Status fresh = CatchUp(); !fresh.ok()) return ToGrpcStatus(fresh);
  return ReplyWith(fleet_->Register(*request), response);
}

grpc::Status ControllerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                              const farm::v1::HeartbeatRequest* request,
                                              farm::v1::HeartbeatResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "Heartbeat", &caller); !denied.ok()) return denied;
  if (request->device_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("device_id is required"));
  }
  if (caller.kind == auth::Caller::Kind::kDevice && caller.name != request->device_id()) {
    return ToGrpcStatus(absl::PermissionDeniedError(
        absl::StrCat(caller.Audit(), " may not heartbeat for device ", request->device_id())));
  }
  return ReplyWith(fleet_->Heartbeat(*request), response);
}

grpc::Status ControllerServiceImpl::ListDevices(grpc::ServerContext* context,
                                                const farm::v1::ListDevicesRequest* request,
                                                farm::v1::ListDevicesResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListDevices"); !denied.ok()) return denied;
  return ReplyWith(DevicesPage(*request), response);
}

grpc::Status ControllerServiceImpl::SetDeviceState(grpc::ServerContext* context,
                                                   const farm::v1::SetDeviceStateRequest* request,
                                                   farm::v1::SetDeviceStateResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "SetDeviceState", &caller); !denied.ok())
    return denied;
  if (request->device_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("device_id is required"));
  }
  if (absl::Status fresh = CatchUp(); !fresh.ok()) return ToGrpcStatus(fresh);
  return ReplyWith(
      fleet_->SetHealth(request->device_id(), request->health(), request->reason(), caller.Audit()),
      response->mutable_device());
}

grpc::Status ControllerServiceImpl::GetDeviceHistory(
    grpc::ServerContext* context, const farm::v1::GetDeviceHistoryRequest* request,
    farm::v1::GetDeviceHistoryResponse* response) {
  if (grpc::Status denied = Authorize(*context, "GetDeviceHistory"); !denied.ok()) return denied;
  return ReplyWith(HistoryPage(*request), response);
}

grpc::Status ControllerServiceImpl::StartSweep(grpc::ServerContext* context,
                                               const farm::v1::StartSweepRequest* request,
                                               farm::v1::StartSweepResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "StartSweep", &caller); !denied.ok()) return denied;
  if (absl::Status fresh = CatchUp(); !fresh.ok()) return ToGrpcStatus(fresh);
  return ReplyWith(scheduler_->StartSweep(*request, caller.Audit()), response->mutable_sweep());
}

grpc::Status ControllerServiceImpl::GetSweep(grpc::ServerContext* context,
                                             const farm::v1::GetSweepRequest* request,
                                             farm::v1::GetSweepResponse* response) {
  if (grpc::Status denied = Authorize(*context, "GetSweep"); !denied.ok()) return denied;
  return ReplyWith(scheduler_->GetSweep(request->sweep_id(), request->include_results()),
                   response->mutable_sweep());
}

grpc::Status ControllerServiceImpl::WatchSweep(
    grpc::ServerContext* context, const farm::v1::WatchSweepRequest* request,
    grpc::ServerWriter<farm::v1::WatchSweepResponse>* writer) {
  if (grpc::Status denied = Authorize(*context, "WatchSweep"); !denied.ok()) return denied;
  // Events queue up here and are written from this thread: the scheduler never
  // waits for a slow client.
  absl::Mutex mu;
  std::deque<farm::v1::WatchSweepResponse> queue;
  const int watch =
      scheduler_->Watch(request->sweep_id(), [&](const farm::v1::WatchSweepResponse& event) {
        absl::MutexLock lock(&mu);
        queue.push_back(event);
      });
  // The first event carries the tasks (without results), so a watcher knows each
  // device's share.
  absl::StatusOr<farm::v1::Sweep> sweep = scheduler_->GetSweep(request->sweep_id(), false);
  if (!sweep.ok()) {
    scheduler_->Unwatch(watch);
    return ToGrpcStatus(sweep.status());
  }
  farm::v1::WatchSweepResponse first;
  *first.mutable_sweep() = *sweep;
  // A sweep that has already ended still gets its summary, then the stream ends.
  bool finished = !writer->Write(first) || SweepFinished(sweep->state());
  while (!finished && !context->IsCancelled()) {
    std::deque<farm::v1::WatchSweepResponse> batch;
    {
      absl::MutexLock lock(&mu);
      mu.AwaitWithTimeout(
          absl::Condition(
              +[](std::deque<farm::v1::WatchSweepResponse>* q) { return !q->empty(); }, &queue),
          absl::Milliseconds(500));
      batch.swap(queue);
    }
    for (const farm::v1::WatchSweepResponse& event : batch) {
      if (!writer->Write(event)) {
        finished = true;
        break;
      }
      if (event.has_sweep() && SweepFinished(event.sweep().state())) finished = true;
    }
  }
  scheduler_->Unwatch(watch);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CancelSweep(grpc::ServerContext* context,
                                                const farm::v1::CancelSweepRequest* request,
                                                farm::v1::CancelSweepResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "CancelSweep", &caller); !denied.ok())
    return denied;
  if (request->sweep_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("sweep_id is required"));
  }
  return ReplyWith(scheduler_->CancelSweep(request->sweep_id(), request->reason(), caller.Audit()),
                   response->mutable_sweep());
}

grpc::Status ControllerServiceImpl::ListSweeps(grpc::ServerContext* context,
                                               const farm::v1::ListSweepsRequest* request,
                                               farm::v1::ListSweepsResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListSweeps"); !denied.ok()) return denied;
  return ReplyWith(SweepsPage(*request), response);
}

grpc::Status ControllerServiceImpl::GetMatrix(grpc::ServerContext* context,
                                              const farm::v1::GetMatrixRequest* request,
                                              farm::v1::GetMatrixResponse* response) {
  if (grpc::Status denied = Authorize(*context, "GetMatrix"); !denied.ok()) return denied;
  if (absl::Status bad = CheckSelector(request->filter(), "filter"); !bad.ok()) {
    return ToGrpcStatus(bad);
  }
  if (absl::Status fresh = CatchUp(); !fresh.ok()) return ToGrpcStatus(fresh);
  const std::vector<farm::v1::Device> devices = fleet_->List(request->filter());
  std::vector<std::string> ids;
  for (const farm::v1::Device& d : devices) ids.push_back(d.device_id());
  absl::StatusOr<store::SummarySet> summaries =
      ids.empty() ? store::SummarySet() : summaries_->Latest(ids);
  if (!summaries.ok()) return ToGrpcStatus(summaries.status());
  for (farm::v1::MatrixRow& row :
       matrix::BuildMatrix(devices, summaries->pointers(), request->group_by())) {
    *response->add_rows() = std::move(row);
  }
  *response->mutable_generated_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CompareSweeps(grpc::ServerContext* context,
                                                  const farm::v1::CompareSweepsRequest* request,
                                                  farm::v1::CompareSweepsResponse* response) {
  if (grpc::Status denied = Authorize(*context, "CompareSweeps"); !denied.ok()) return denied;
  absl::StatusOr<comparison::SweepComparison> compared = comparison::CompareStoredSweeps(
      *store_, request->sweep_a(), request->sweep_b(),
      request->has_threshold_percent() ? absl::make_optional(request->threshold_percent())
                                       : absl::nullopt);
  if (!compared.ok()) return ToGrpcStatus(compared.status());
  for (farm::v1::MetricChange& c : compared->changes) *response->add_changes() = std::move(c);
  for (farm::v1::VerdictChange& c : compared->verdict_changes) {
    *response->add_verdict_changes() = std::move(c);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListControllers(grpc::ServerContext* context,
                                                    const farm::v1::ListControllersRequest*,
                                                    farm::v1::ListControllersResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListControllers"); !denied.ok()) return denied;
  absl::StatusOr<std::pair<store::Leadership, std::vector<store::StoredReplica>>> replicas =
      store_->Replicas();
  if (!replicas.ok()) return ToGrpcStatus(replicas.status());
  const store::Leadership& lease = replicas->first;
  response->set_leader(lease.holder);
  response->set_epoch(static_cast<uint64_t>(lease.epoch));
  if (!lease.holder.empty()) {
    *response->mutable_leading_since() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(lease.acquired_ns);
    *response->mutable_lease_expires() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(lease.expires_ns);
  }
  for (const store::StoredReplica& replica : replicas->second) {
    farm::v1::ControllerReplica* out = response->add_replicas();
    out->set_name(replica.name);
    out->set_address(replica.address);
    *out->mutable_last_seen() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(replica.seen_ns);
    out->set_leader(replica.name == lease.holder);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GetTaskLogs(grpc::ServerContext* context,
                                                const farm::v1::GetTaskLogsRequest* request,
                                                farm::v1::GetTaskLogsResponse* response) {
  if (grpc::Status denied = Authorize(*context, "GetTaskLogs"); !denied.ok()) return denied;
  return ReplyWith(task_logs::TaskLogs(*store_, request->task_id()), response);
}

}  // namespace kvmfarm
