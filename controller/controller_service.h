// -----------------------------------------------------------------------------
// File: controller_service.h
// -----------------------------------------------------------------------------
//
// farm.v1.ControllerService, a thin layer over the domain libraries (the fleet,
// the scheduler, the matrix, sweep comparison, task logs): requests become calls,
// errors become gRPC statuses naming the field. Every handler first asks the
// authorizer whether the caller may call it; an agent may register and heartbeat
// only as the device its certificate names.
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
      : fleet_(fleet),
        store_(store),
        scheduler_(scheduler),
        summaries_(summaries),
        authorizer_(authorizer) {}

  // Several replicas on one database (issue 18): called before an answer from this
  // replica's memory (devices, the matrix) and before a device is written, so it
  // includes what other replicas wrote (replication::ChangeFollower::CatchUp). An
  // error is the call's UNAVAILABLE: no answer from memory that may be stale.
  void SetCatchUp(std::function<absl::Status()> catch_up) { catch_up_ = std::move(catch_up); }

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

 private:
  // OK when the caller may call ControllerService `method` (and then `caller` is
  // who it is); the refusal, logged without any credential, otherwise.
  grpc::Status Authorize(const grpc::ServerContext& context, absl::string_view method,
                         auth::Caller* caller = nullptr);

  // SetCatchUp's hook, with the error said for an operator.
  absl::Status CatchUp();

  // One page of each list; INVALID_ARGUMENT for a bad filter or page_token.
  absl::StatusOr<farm::v1::ListDevicesResponse> DevicesPage(
      const farm::v1::ListDevicesRequest& request);
  absl::StatusOr<farm::v1::GetDeviceHistoryResponse> HistoryPage(
      const farm::v1::GetDeviceHistoryRequest& request);
  absl::StatusOr<farm::v1::ListSweepsResponse> SweepsPage(
      const farm::v1::ListSweepsRequest& request);

  fleet::Fleet* const fleet_;
  store::Store* const store_;
  scheduler::Scheduler* const scheduler_;
  store::SummaryCache* const summaries_;
  auth::Authorizer* const authorizer_;
  std::function<absl::Status()> catch_up_;
};

}  // namespace kvmfarm

#endif  // KVMFARM_CONTROLLER_CONTROLLER_SERVICE_H_
