// -----------------------------------------------------------------------------
// File: controller_service.h
// -----------------------------------------------------------------------------
//
// farm.v1.ControllerService, a thin layer over ControllerApi (controller_api.h),
// which the dashboard calls too: requests become calls, errors become gRPC statuses
// naming the field. Every handler first asks the authorizer whether the caller may
// call it; an agent may register and heartbeat only as the device its certificate
// names.
//
// Example:
//
//   ControllerServiceImpl service(&fleet, store, &scheduler, &summaries);
//   server_options.services = {&service};
#ifndef KVMFARM_CONTROLLER_CONTROLLER_SERVICE_H_
#define KVMFARM_CONTROLLER_CONTROLLER_SERVICE_H_

#include <functional>
#include <utility>

#include "controller/auth/authorizer.h"
#include "controller/controller_api.h"
#include "controller/fleet/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/store.h"
#include "controller/store/summary_cache.h"
#include "farm/v1/controller.grpc.pb.h"

namespace kvmfarm {

class ControllerServiceImpl final : public farm::v1::ControllerService::Service {
 public:
  // Every call is first checked by `authorizer` (controller/auth/authorizer.h).
  ControllerServiceImpl(fleet::Fleet* fleet, store::Store* store, scheduler::Scheduler* scheduler,
                        store::SummaryCache* summaries, auth::Authorizer* authorizer)
      : api_(fleet, store, scheduler, summaries), authorizer_(authorizer) {}

  // See ControllerApi::SetCatchUp.
  void SetCatchUp(std::function<absl::Status()> catch_up) { api_.SetCatchUp(std::move(catch_up)); }
  // What every handler calls once the caller is allowed (the dashboard calls it too).
  ControllerApi& api() { return api_; }

  grpc::Status RegisterAgent(grpc::ServerContext* context,
                             const farm::v1::RegisterAgentRequest* request,
                             farm::v1::RegisterAgentResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const farm::v1::HeartbeatRequest* request,
                         farm::v1::HeartbeatResponse* response) override;
  grpc::Status ListDevices(grpc::ServerContext* context,
                           const farm::v1::ListDevicesRequest* request,
                           farm::v1::ListDevicesResponse* response) override;
  grpc::Status SetDeviceState(grpc::ServerContext* context,
                              const farm::v1::SetDeviceStateRequest* request,
                              farm::v1::SetDeviceStateResponse* response) override;
  grpc::Status GetDeviceHistory(grpc::ServerContext* context,
                                const farm::v1::GetDeviceHistoryRequest* request,
                                farm::v1::GetDeviceHistoryResponse* response) override;
  grpc::Status StartSweep(grpc::ServerContext* context, const farm::v1::StartSweepRequest* request,
                          farm::v1::StartSweepResponse* response) override;
  grpc::Status GetSweep(grpc::ServerContext* context, const farm::v1::GetSweepRequest* request,
                        farm::v1::GetSweepResponse* response) override;
  grpc::Status WatchSweep(grpc::ServerContext* context, const farm::v1::WatchSweepRequest* request,
                          grpc::ServerWriter<farm::v1::WatchSweepResponse>* writer) override;
  grpc::Status CancelSweep(grpc::ServerContext* context,
                           const farm::v1::CancelSweepRequest* request,
                           farm::v1::CancelSweepResponse* response) override;
  grpc::Status ListSweeps(grpc::ServerContext* context, const farm::v1::ListSweepsRequest* request,
                          farm::v1::ListSweepsResponse* response) override;
  grpc::Status GetMatrix(grpc::ServerContext* context, const farm::v1::GetMatrixRequest* request,
                         farm::v1::GetMatrixResponse* response) override;
  grpc::Status CompareSweeps(grpc::ServerContext* context,
                             const farm::v1::CompareSweepsRequest* request,
                             farm::v1::CompareSweepsResponse* response) override;
  grpc::Status GetTaskLogs(grpc::ServerContext* context,
                           const farm::v1::GetTaskLogsRequest* request,
                           farm::v1::GetTaskLogsResponse* response) override;
  grpc::Status ListControllers(grpc::ServerContext* context,
                               const farm::v1::ListControllersRequest* request,
                               farm::v1::ListControllersResponse* response) override;
  grpc::Status SetBaseline(grpc::ServerContext* context,
                           const farm::v1::SetBaselineRequest* request,
                           farm::v1::SetBaselineResponse* response) override;
  grpc::Status ListBaselines(grpc::ServerContext* context,
                             const farm::v1::ListBaselinesRequest* request,
                             farm::v1::ListBaselinesResponse* response) override;
  grpc::Status AddSchedule(grpc::ServerContext* context,
                           const farm::v1::AddScheduleRequest* request,
                           farm::v1::AddScheduleResponse* response) override;
  grpc::Status ListSchedules(grpc::ServerContext* context,
                             const farm::v1::ListSchedulesRequest* request,
                             farm::v1::ListSchedulesResponse* response) override;
  grpc::Status DeleteSchedule(grpc::ServerContext* context,
                              const farm::v1::DeleteScheduleRequest* request,
                              farm::v1::DeleteScheduleResponse* response) override;
  grpc::Status ReserveDevice(grpc::ServerContext* context,
                             const farm::v1::ReserveDeviceRequest* request,
                             farm::v1::ReserveDeviceResponse* response) override;
  grpc::Status ReleaseDevice(grpc::ServerContext* context,
                             const farm::v1::ReleaseDeviceRequest* request,
                             farm::v1::ReleaseDeviceResponse* response) override;
  grpc::Status ListRegressions(grpc::ServerContext* context,
                               const farm::v1::ListRegressionsRequest* request,
                               farm::v1::ListRegressionsResponse* response) override;

 private:
  // OK when the caller may call ControllerService `method` (and then `caller` is
  // who it is); the refusal, logged without any credential, otherwise.
  grpc::Status Authorize(const grpc::ServerContext& context, absl::string_view method,
                         auth::Caller* caller = nullptr);

  ControllerApi api_;
  auth::Authorizer* const authorizer_;
};

}  // namespace kvmfarm

#endif  // KVMFARM_CONTROLLER_CONTROLLER_SERVICE_H_
