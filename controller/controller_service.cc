#include "controller/controller_service.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "proto/states.h"

namespace kvmfarm {

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
    return ToGrpcStatus(api_.fleet().RefuseImpersonation(request->identity().device_id(),
                                                         caller.Audit(), "RegisterAgent"));
  }
  if (absl::Status fresh = api_.CatchUp(); !fresh.ok()) return ToGrpcStatus(fresh);
  return ReplyWith(api_.fleet().Register(*request), response);
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
  return ReplyWith(api_.fleet().Heartbeat(*request), response);
}

grpc::Status ControllerServiceImpl::ListDevices(grpc::ServerContext* context,
                                                const farm::v1::ListDevicesRequest* request,
                                                farm::v1::ListDevicesResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListDevices"); !denied.ok()) return denied;
  return ReplyWith(api_.ListDevices(*request), response);
}

grpc::Status ControllerServiceImpl::SetDeviceState(grpc::ServerContext* context,
                                                   const farm::v1::SetDeviceStateRequest* request,
                                                   farm::v1::SetDeviceStateResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "SetDeviceState", &caller); !denied.ok())
    return denied;
  return ReplyWith(api_.SetDeviceState(*request, caller.Audit()), response->mutable_device());
}

grpc::Status ControllerServiceImpl::GetDeviceHistory(
    grpc::ServerContext* context, const farm::v1::GetDeviceHistoryRequest* request,
    farm::v1::GetDeviceHistoryResponse* response) {
  if (grpc::Status denied = Authorize(*context, "GetDeviceHistory"); !denied.ok()) return denied;
  return ReplyWith(api_.DeviceHistory(*request), response);
}

grpc::Status ControllerServiceImpl::StartSweep(grpc::ServerContext* context,
                                               const farm::v1::StartSweepRequest* request,
                                               farm::v1::StartSweepResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "StartSweep", &caller); !denied.ok()) return denied;
  return ReplyWith(api_.StartSweep(*request, caller.Audit()), response->mutable_sweep());
}

grpc::Status ControllerServiceImpl::GetSweep(grpc::ServerContext* context,
                                             const farm::v1::GetSweepRequest* request,
                                             farm::v1::GetSweepResponse* response) {
  if (grpc::Status denied = Authorize(*context, "GetSweep"); !denied.ok()) return denied;
  return ReplyWith(api_.GetSweep(request->sweep_id(), request->include_results()),
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
      api_.scheduler().Watch(request->sweep_id(), [&](const farm::v1::WatchSweepResponse& event) {
        absl::MutexLock lock(&mu);
        queue.push_back(event);
      });
  // The first event carries the tasks (without results), so a watcher knows each
  // device's share.
  absl::StatusOr<farm::v1::Sweep> sweep = api_.scheduler().GetSweep(request->sweep_id(), false);
  if (!sweep.ok()) {
    api_.scheduler().Unwatch(watch);
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
  api_.scheduler().Unwatch(watch);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CancelSweep(grpc::ServerContext* context,
                                                const farm::v1::CancelSweepRequest* request,
                                                farm::v1::CancelSweepResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "CancelSweep", &caller); !denied.ok())
    return denied;
  return ReplyWith(api_.CancelSweep(request->sweep_id(), request->reason(), caller.Audit()),
                   response->mutable_sweep());
}

grpc::Status ControllerServiceImpl::ListSweeps(grpc::ServerContext* context,
                                               const farm::v1::ListSweepsRequest* request,
                                               farm::v1::ListSweepsResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListSweeps"); !denied.ok()) return denied;
  return ReplyWith(api_.ListSweeps(*request), response);
}

grpc::Status ControllerServiceImpl::GetMatrix(grpc::ServerContext* context,
                                              const farm::v1::GetMatrixRequest* request,
                                              farm::v1::GetMatrixResponse* response) {
  if (grpc::Status denied = Authorize(*context, "GetMatrix"); !denied.ok()) return denied;
  return ReplyWith(api_.Matrix(*request), response);
}

grpc::Status ControllerServiceImpl::CompareSweeps(grpc::ServerContext* context,
                                                  const farm::v1::CompareSweepsRequest* request,
                                                  farm::v1::CompareSweepsResponse* response) {
  if (grpc::Status denied = Authorize(*context, "CompareSweeps"); !denied.ok()) return denied;
  return ReplyWith(api_.CompareSweeps(*request), response);
}

grpc::Status ControllerServiceImpl::ListControllers(grpc::ServerContext* context,
                                                    const farm::v1::ListControllersRequest*,
                                                    farm::v1::ListControllersResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListControllers"); !denied.ok()) return denied;
  return ReplyWith(api_.Controllers(), response);
}

grpc::Status ControllerServiceImpl::GetTaskLogs(grpc::ServerContext* context,
                                                const farm::v1::GetTaskLogsRequest* request,
                                                farm::v1::GetTaskLogsResponse* response) {
  if (grpc::Status denied = Authorize(*context, "GetTaskLogs"); !denied.ok()) return denied;
  return ReplyWith(api_.TaskLogs(request->task_id()), response);
}

grpc::Status ControllerServiceImpl::SetBaseline(grpc::ServerContext* context,
                                                const farm::v1::SetBaselineRequest* request,
                                                farm::v1::SetBaselineResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "SetBaseline", &caller); !denied.ok()) {
    return denied;
  }
  return ReplyWith(api_.SetBaseline(*request, caller.Audit()), response->mutable_baseline());
}

grpc::Status ControllerServiceImpl::ListBaselines(grpc::ServerContext* context,
                                                  const farm::v1::ListBaselinesRequest*,
                                                  farm::v1::ListBaselinesResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListBaselines"); !denied.ok()) return denied;
  return ReplyWith(api_.Baselines(), response);
}

grpc::Status ControllerServiceImpl::ListRegressions(grpc::ServerContext* context,
                                                    const farm::v1::ListRegressionsRequest* request,
                                                    farm::v1::ListRegressionsResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListRegressions"); !denied.ok()) return denied;
  return ReplyWith(api_.Regressions(*request), response);
}

grpc::Status ControllerServiceImpl::AddSchedule(grpc::ServerContext* context,
                                                const farm::v1::AddScheduleRequest* request,
                                                farm::v1::AddScheduleResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "AddSchedule", &caller); !denied.ok()) {
    return denied;
  }
  return ReplyWith(api_.AddSchedule(*request, caller.Audit()), response->mutable_schedule());
}

grpc::Status ControllerServiceImpl::ListSchedules(grpc::ServerContext* context,
                                                  const farm::v1::ListSchedulesRequest*,
                                                  farm::v1::ListSchedulesResponse* response) {
  if (grpc::Status denied = Authorize(*context, "ListSchedules"); !denied.ok()) return denied;
  return ReplyWith(api_.Schedules(), response);
}

grpc::Status ControllerServiceImpl::DeleteSchedule(grpc::ServerContext* context,
                                                   const farm::v1::DeleteScheduleRequest* request,
                                                   farm::v1::DeleteScheduleResponse*) {
  if (grpc::Status denied = Authorize(*context, "DeleteSchedule"); !denied.ok()) return denied;
  return ToGrpcStatus(api_.DeleteSchedule(*request));
}

grpc::Status ControllerServiceImpl::ReserveDevice(grpc::ServerContext* context,
                                                  const farm::v1::ReserveDeviceRequest* request,
                                                  farm::v1::ReserveDeviceResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "ReserveDevice", &caller); !denied.ok()) {
    return denied;
  }
  return ReplyWith(api_.ReserveDevice(*request, caller.Audit()), response->mutable_device());
}

grpc::Status ControllerServiceImpl::ReleaseDevice(grpc::ServerContext* context,
                                                  const farm::v1::ReleaseDeviceRequest* request,
                                                  farm::v1::ReleaseDeviceResponse* response) {
  auth::Caller caller;
  if (grpc::Status denied = Authorize(*context, "ReleaseDevice", &caller); !denied.ok()) {
    return denied;
  }
  return ReplyWith(api_.ReleaseDevice(*request, caller.Audit()), response->mutable_device());
}

}  // namespace kvmfarm
