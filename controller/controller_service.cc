#include "controller/controller_service.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "controller/comparison/sweep_comparison.h"
#include "controller/matrix/matrix.h"
#include "controller/task_logs/task_logs.h"
#include "proto/states.h"

namespace kvmfarm {
namespace {

constexpr uint32_t kDefaultHistory = 100;
constexpr uint32_t kMaxHistory = 10000;

}  // namespace

grpc::Status ControllerServiceImpl::RegisterAgent(grpc::ServerContext*,
                                                  const farm::v1::RegisterAgentRequest* request,
                                                  farm::v1::RegisterAgentResponse* response) {
  return ReplyWith(fleet_->Register(*request), response);
}

grpc::Status ControllerServiceImpl::Heartbeat(grpc::ServerContext*,
                                              const farm::v1::HeartbeatRequest* request,
                                              farm::v1::HeartbeatResponse* response) {
  if (request->device_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("device_id is required"));
  }
  return ReplyWith(fleet_->Heartbeat(*request), response);
}

grpc::Status ControllerServiceImpl::ListDevices(grpc::ServerContext*,
                                                const farm::v1::ListDevicesRequest* request,
                                                farm::v1::ListDevicesResponse* response) {
  for (int i = 0; i < request->selector().match_size(); ++i) {
    if (request->selector().match(i).key().empty()) {
      return ToGrpcStatus(
          absl::InvalidArgumentError(absl::StrCat("selector.match[", i, "].key is empty")));
    }
  }
  for (farm::v1::Device& device : fleet_->List(request->selector())) {
    *response->add_devices() = std::move(device);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::SetDeviceState(grpc::ServerContext*,
                                                   const farm::v1::SetDeviceStateRequest* request,
                                                   farm::v1::SetDeviceStateResponse* response) {
  if (request->device_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("device_id is required"));
  }
  return ReplyWith(fleet_->SetHealth(request->device_id(), request->health(), request->reason()),
                   response->mutable_device());
}

grpc::Status ControllerServiceImpl::GetDeviceHistory(
    grpc::ServerContext*, const farm::v1::GetDeviceHistoryRequest* request,
    farm::v1::GetDeviceHistoryResponse* response) {
  if (!fleet_->Get(request->device_id()).ok()) {
    return ToGrpcStatus(
        absl::NotFoundError(absl::StrCat("device_id: no device '", request->device_id(), "'")));
  }
  const uint32_t limit =
      request->page_size() == 0 ? kDefaultHistory : std::min(request->page_size(), kMaxHistory);
  absl::StatusOr<std::vector<farm::v1::DeviceEvent>> events =
      store_->DeviceHistory(request->device_id(), static_cast<int>(limit));
  if (!events.ok()) return ToGrpcStatus(events.status());
  for (farm::v1::DeviceEvent& event : *events) *response->add_events() = std::move(event);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::StartSweep(grpc::ServerContext*,
                                               const farm::v1::StartSweepRequest* request,
                                               farm::v1::StartSweepResponse* response) {
  return ReplyWith(scheduler_->StartSweep(*request), response->mutable_sweep());
}

grpc::Status ControllerServiceImpl::GetSweep(grpc::ServerContext*,
                                             const farm::v1::GetSweepRequest* request,
                                             farm::v1::GetSweepResponse* response) {
  return ReplyWith(scheduler_->GetSweep(request->sweep_id(), request->include_results()),
                   response->mutable_sweep());
}

grpc::Status ControllerServiceImpl::WatchSweep(
    grpc::ServerContext* context, const farm::v1::WatchSweepRequest* request,
    grpc::ServerWriter<farm::v1::WatchSweepResponse>* writer) {
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

grpc::Status ControllerServiceImpl::CancelSweep(grpc::ServerContext*,
                                                const farm::v1::CancelSweepRequest* request,
                                                farm::v1::CancelSweepResponse* response) {
  if (request->sweep_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("sweep_id is required"));
  }
  return ReplyWith(scheduler_->CancelSweep(request->sweep_id(), request->reason()),
                   response->mutable_sweep());
}

grpc::Status ControllerServiceImpl::ListSweeps(grpc::ServerContext*,
                                               const farm::v1::ListSweepsRequest* request,
                                               farm::v1::ListSweepsResponse* response) {
  const int limit = request->page_size() == 0 ? 100 : static_cast<int>(request->page_size());
  absl::StatusOr<std::vector<farm::v1::Sweep>> sweeps = scheduler_->ListSweeps(limit);
  if (!sweeps.ok()) return ToGrpcStatus(sweeps.status());
  for (farm::v1::Sweep& sweep : *sweeps) {
    if (!request->states().empty() && std::find(request->states().begin(), request->states().end(),
                                                sweep.state()) == request->states().end()) {
      continue;
    }
    *response->add_sweeps() = std::move(sweep);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GetMatrix(grpc::ServerContext*,
                                              const farm::v1::GetMatrixRequest* request,
                                              farm::v1::GetMatrixResponse* response) {
  for (int i = 0; i < request->filter().match_size(); ++i) {
    if (request->filter().match(i).key().empty()) {
      return ToGrpcStatus(
          absl::InvalidArgumentError(absl::StrCat("filter.match[", i, "].key is empty")));
    }
  }
  const std::vector<farm::v1::Device> devices = fleet_->List(request->filter());
  std::vector<std::string> ids;
  for (const farm::v1::Device& d : devices) ids.push_back(d.device_id());
  absl::StatusOr<std::vector<store::StoredSummary>> summaries =
      ids.empty() ? std::vector<store::StoredSummary>() : summaries_->Latest(ids);
  if (!summaries.ok()) return ToGrpcStatus(summaries.status());
  for (farm::v1::MatrixRow& row : matrix::BuildMatrix(devices, *summaries, request->group_by())) {
    *response->add_rows() = std::move(row);
  }
  *response->mutable_generated_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CompareSweeps(grpc::ServerContext*,
                                                  const farm::v1::CompareSweepsRequest* request,
                                                  farm::v1::CompareSweepsResponse* response) {
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

grpc::Status ControllerServiceImpl::GetTaskLogs(grpc::ServerContext*,
                                                const farm::v1::GetTaskLogsRequest* request,
                                                farm::v1::GetTaskLogsResponse* response) {
  return ReplyWith(task_logs::TaskLogs(*store_, request->task_id()), response);
}

}  // namespace kvmfarm
