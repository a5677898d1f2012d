// -----------------------------------------------------------------------------
// File: controller_service.h
// -----------------------------------------------------------------------------
//
// farm.v1.ControllerService, a thin layer over the fleet (and, as it lands, the
// scheduler and the matrix): requests become calls, errors become gRPC statuses
// naming the field.
#ifndef KVMFARM_CONTROLLER_CONTROLLER_SERVICE_H_
#define KVMFARM_CONTROLLER_CONTROLLER_SERVICE_H_

#include "controller/fleet/fleet.h"
#include "controller/store/store.h"
#include "farm/v1/controller.grpc.pb.h"

namespace kvmfarm {

class ControllerServiceImpl final : public farm::v1::ControllerService::Service {
 public:
  ControllerServiceImpl(fleet::Fleet* fleet, store::Store* store)
      : fleet_(fleet), store_(store) {}

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

 private:
  fleet::Fleet* const fleet_;
  store::Store* const store_;
};

}  // namespace kvmfarm

#endif  // KVMFARM_CONTROLLER_CONTROLLER_SERVICE_H_
