#include "controller/controller_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace kvmfarm {
namespace {

constexpr uint32_t kDefaultHistory = 100;
constexpr uint32_t kMaxHistory = 10000;

}  // namespace

grpc::Status ControllerServiceImpl::RegisterAgent(grpc::ServerContext*,
                                                  const farm::v1::RegisterAgentRequest* request,
                                                  farm::v1::RegisterAgentResponse* response) {
  absl::StatusOr<farm::v1::RegisterAgentResponse> registered = fleet_->Register(*request);
  if (!registered.ok()) return ToGrpcStatus(registered.status());
  *response = *std::move(registered);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Heartbeat(grpc::ServerContext*,
                                              const farm::v1::HeartbeatRequest* request,
                                              farm::v1::HeartbeatResponse* response) {
  if (request->device_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("device_id is required"));
  }
  absl::StatusOr<farm::v1::HeartbeatResponse> answer = fleet_->Heartbeat(*request);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  *response = *std::move(answer);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListDevices(grpc::ServerContext*,
                                                const farm::v1::ListDevicesRequest* request,
                                                farm::v1::ListDevicesResponse* response) {
  for (int i = 0; i < request->selector().match_size(); ++i) {
    if (request->selector().match(i).key().empty()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("selector.match[", i, "].key is empty")));
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
  absl::StatusOr<farm::v1::Device> device =
      fleet_->SetHealth(request->device_id(), request->health(), request->reason());
  if (!device.ok()) return ToGrpcStatus(device.status());
  *response->mutable_device() = *std::move(device);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GetDeviceHistory(
    grpc::ServerContext*, const farm::v1::GetDeviceHistoryRequest* request,
    farm::v1::GetDeviceHistoryResponse* response) {
  if (!fleet_->Get(request->device_id()).ok()) {
    return ToGrpcStatus(absl::NotFoundError(
        absl::StrCat("device_id: no device '", request->device_id(), "'")));
  }
  const uint32_t limit = request->page_size() == 0 ? kDefaultHistory
                                                   : std::min(request->page_size(), kMaxHistory);
  absl::StatusOr<std::vector<farm::v1::DeviceEvent>> events =
      store_->DeviceHistory(request->device_id(), static_cast<int>(limit));
  if (!events.ok()) return ToGrpcStatus(events.status());
  for (farm::v1::DeviceEvent& event : *events) *response->add_events() = std::move(event);
  return grpc::Status::OK;
}

}  // namespace kvmfarm
