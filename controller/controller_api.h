// -----------------------------------------------------------------------------
// File: controller_api.h
// -----------------------------------------------------------------------------
//
// What farm-controller answers, once, for every front door: the gRPC service
// (controller_service.h) and the dashboard (controller/dashboard/) call the same
// methods, so a page shows exactly what GetMatrix or ListDevices returns. Callers
// are authorized before they get here; `audit` names them in what is stored.
// Errors are absl statuses naming the field.
//
// Example:
//
//   ControllerApi api(&fleet, store, &scheduler, &summaries);
//   ASSIGN_OR_RETURN(farm::v1::GetMatrixResponse matrix, api.Matrix(request));
#ifndef KVMFARM_CONTROLLER_CONTROLLER_API_H_
#define KVMFARM_CONTROLLER_CONTROLLER_API_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "controller/fleet/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/store.h"
#include "controller/store/summary_cache.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm {

class ControllerApi {
 public:
  ControllerApi(fleet::Fleet* fleet, store::Store* store, scheduler::Scheduler* scheduler,
                store::SummaryCache* summaries)
      : fleet_(fleet), store_(store), scheduler_(scheduler), summaries_(summaries) {}

  // Several replicas on one database (issue 18): called before an answer from this
  // replica's memory (devices, the matrix) and before a device is written, so it
  // includes what other replicas wrote (replication::ChangeFollower::CatchUp). An
  // error is the call's UNAVAILABLE: no answer from memory that may be stale.
  void SetCatchUp(std::function<absl::Status()> catch_up) { catch_up_ = std::move(catch_up); }
  // SetCatchUp's hook, with the error said for an operator.
  absl::Status CatchUp();

  // One page of each list; INVALID_ARGUMENT for a bad filter or page_token.
  absl::StatusOr<farm::v1::ListDevicesResponse> ListDevices(
      const farm::v1::ListDevicesRequest& request);
  absl::StatusOr<farm::v1::GetDeviceHistoryResponse> DeviceHistory(
      const farm::v1::GetDeviceHistoryRequest& request);
  absl::StatusOr<farm::v1::ListSweepsResponse> ListSweeps(
      const farm::v1::ListSweepsRequest& request);

  // One device, as ListDevices shows it; NOT_FOUND naming it.
  absl::StatusOr<farm::v1::Device> Device(const std::string& device_id);
  // The device's newest `limit` summaries, newest first (its figures across sweeps).
  absl::StatusOr<std::vector<store::StoredSummary>> DeviceFigures(const std::string& device_id,
                                                                  int64_t limit);
  absl::StatusOr<farm::v1::Device> SetDeviceState(const farm::v1::SetDeviceStateRequest& request,
                                                  const std::string& audit);

  absl::StatusOr<farm::v1::Sweep> StartSweep(const farm::v1::StartSweepRequest& request,
                                             const std::string& audit);
  absl::StatusOr<farm::v1::Sweep> GetSweep(const std::string& sweep_id, bool include_results);
  absl::StatusOr<farm::v1::Sweep> CancelSweep(const std::string& sweep_id,
                                              const std::string& reason, const std::string& audit);

  absl::StatusOr<farm::v1::GetMatrixResponse> Matrix(const farm::v1::GetMatrixRequest& request);
  absl::StatusOr<farm::v1::CompareSweepsResponse> CompareSweeps(
      const farm::v1::CompareSweepsRequest& request);
  absl::StatusOr<farm::v1::GetTaskLogsResponse> TaskLogs(const std::string& task_id);
  absl::StatusOr<farm::v1::ListControllersResponse> Controllers();

  // Baselines and regressions (issue 20): see regressions/regression_tracker.h.
  absl::StatusOr<farm::v1::Baseline> SetBaseline(const farm::v1::SetBaselineRequest& request,
                                                 const std::string& audit);
  absl::StatusOr<farm::v1::ListBaselinesResponse> Baselines();
  absl::StatusOr<farm::v1::ListRegressionsResponse> Regressions(
      const farm::v1::ListRegressionsRequest& request);

  // Schedules and reservations (issue 21): see schedules/schedule_runner.h and
  // fleet.h. A reservation's holder is `audit`.
  absl::StatusOr<farm::v1::Schedule> AddSchedule(const farm::v1::AddScheduleRequest& request,
                                                 const std::string& audit);
  absl::StatusOr<farm::v1::ListSchedulesResponse> Schedules();
  absl::Status DeleteSchedule(const farm::v1::DeleteScheduleRequest& request);
  absl::StatusOr<farm::v1::Device> ReserveDevice(const farm::v1::ReserveDeviceRequest& request,
                                                 const std::string& audit);
  absl::StatusOr<farm::v1::Device> ReleaseDevice(const farm::v1::ReleaseDeviceRequest& request,
                                                 const std::string& audit);

  fleet::Fleet& fleet() { return *fleet_; }
  scheduler::Scheduler& scheduler() { return *scheduler_; }

 private:
  fleet::Fleet* const fleet_;
  store::Store* const store_;
  scheduler::Scheduler* const scheduler_;
  store::SummaryCache* const summaries_;
  std::function<absl::Status()> catch_up_;
};

}  // namespace kvmfarm

#endif  // KVMFARM_CONTROLLER_CONTROLLER_API_H_
