// -----------------------------------------------------------------------------
// File: fleet.h
// -----------------------------------------------------------------------------
//
// The controller's view of every device: from the inventory file and from agents
// that register and heartbeat. Each device has two separate states:
//  * operational (IDLE / BUSY / OFFLINE), computed: OFFLINE after
//    `missed_heartbeats` intervals without a heartbeat;
//  * health (GOOD / UNKNOWN / QUARANTINED / MAINTENANCE / RETIRED): quarantined
//    after `quarantine_after` consecutive infrastructure failures, but never more
//    than `max_quarantined_fraction` of the fleet at once (a lab-wide network fault
//    must not quarantine everything); maintenance, retired and back to good by an
//    operator.
// Labels are the operator's plus those derived from identity and capability (arch,
// soc_vendor, soc, model, android, hypervisor, verdict); an agent can't overwrite an
// operator label. Every change is written to the store, with an event in the
// device's history, before it is acted on.
#ifndef KVMFARM_CONTROLLER_FLEET_FLEET_H_
#define KVMFARM_CONTROLLER_FLEET_FLEET_H_

#include <atomic>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/fleet/reservation.h"
#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::fleet {

struct FleetOptions {
  absl::Duration heartbeat_interval = absl::Seconds(10);
  int missed_heartbeats = 3;
  int quarantine_after = 3;
  double max_quarantined_fraction = 0.25;
  // Called (under the fleet's lock, so it must return at once) with a device once
  // its quarantine is written: the lab's webhook hears of it.
  std::function<void(const farm::v1::Device&)> on_quarantined;
  // A device whose agent registers after being unheard this long (while this
  // controller has run at least as long: a controller's own downtime is not the
  // device's absence) is due a health check. Zero: never.
  absl::Duration health_check_after_absence = absl::Hours(1);
  // Agents speaking an older agent API (AgentInfo.api_version) are refused; 0
  // accepts every agent.
  uint32_t min_agent_api_version = 0;
};

// Whether `device` matches `selector` (every label condition, and the id list).
bool Matches(const farm::v1::Device& device, const farm::v1::Selector& selector);

// Labels derived from what the agent reported.
std::vector<farm::v1::Label> DerivedLabels(const farm::v1::DeviceIdentity& identity,
                                           const farm::v1::KvmCapability& capability);

// How many devices are in each state, health, verdict and model (for /metrics),
// by the lower-case name of each ("idle", "kvm_ready"; "unknown" for no model).
struct FleetCensus {
  std::map<std::string, int64_t> by_operational_state;
  std::map<std::string, int64_t> by_health;
  std::map<std::string, int64_t> by_verdict;
  std::map<std::string, int64_t> by_model;
};

class Fleet {
 public:
  Fleet(store::Store* store, const Clock* clock, FleetOptions options);

  // Loads the devices the store holds (after a restart): all start OFFLINE until
  // they heartbeat again.
  absl::Status Load();
  // Adds or updates the inventory's devices (operator labels and addresses).
  absl::Status AddInventory(const farm::v1::Inventory& inventory);

  absl::StatusOr<farm::v1::RegisterAgentResponse> Register(
      const farm::v1::RegisterAgentRequest& request);
  absl::StatusOr<farm::v1::HeartbeatResponse> Heartbeat(const farm::v1::HeartbeatRequest& request);

  // Marks devices OFFLINE whose heartbeats stopped, counting those other replicas
  // received (MergeHeartbeats first); call on a schedule, on the leader.
  absl::Status CheckLiveness();

  // Several controllers on one database (issue 18).
  // Refresh: these devices as the store has them now (another replica wrote them),
  // keeping what only this replica knows: a newer heartbeat, the job its agent
  // reported, BUSY while this replica runs a task there. RefreshAll: every device.
  absl::Status Refresh(const std::vector<std::string>& device_ids);
  absl::Status RefreshAll();
  // Shared liveness. FlushHeartbeats writes the heartbeats received here since the
  // last flush, in one write (kept for the next when it fails). MergeHeartbeats
  // reads those every replica wrote: each device's last_seen moves forward, and a
  // device this replica holds OFFLINE but heard from within the liveness limit is
  // online again.
  absl::Status FlushHeartbeats(const std::string& replica);
  absl::Status MergeHeartbeats();
  // Inventory devices with an agent address that has not registered here, not
  // heard from within an interval, and not heartbeating to another replica: the
  // ones to health-ping (their agents may not know the controller).
  std::vector<farm::v1::Device> ToPing() const;
  // A successful health ping: the device counts as heard from.
  absl::Status Seen(const std::string& device_id);
  // An operator's change of health: MAINTENANCE, RETIRED or GOOD (with a reason);
  // `by` (who, for the audit trail) is the history event's actor.
  absl::StatusOr<farm::v1::Device> SetHealth(const std::string& device_id,
                                             farm::v1::HealthState health,
                                             const std::string& reason, const std::string& by = "");
  // `by` (an agent's certificate) tried to act as device `claimed_id` in `rpc`: the
  // claimed device's history records it (when the device exists) and the answer is
  // PERMISSION_DENIED naming both.
  absl::Status RefuseImpersonation(const std::string& claimed_id, const std::string& by,
                                   const std::string& rpc);
  // The scheduler's report of a device's infrastructure failure or success.
  absl::Status RecordFailure(const std::string& device_id, const std::string& reason);
  absl::Status RecordSuccess(const std::string& device_id);
  // A task's result was stored: the device's history says so, naming the sweep and
  // the task (and, for a capability step, the verdict it reported).
  absl::Status RecordResult(const farm::v1::Task& task);
  // A capability step's result: the device's capability (and derived labels) become
  // the new report; a verdict change is recorded in the history.
  absl::Status UpdateCapability(const std::string& device_id,
                                const farm::v1::KvmCapability& capability);
  // BUSY while a task runs on it, IDLE after.
  absl::Status SetBusy(const std::string& device_id, bool busy);

  // Health checks (issue 21). A device's health_check_due is set by Register (an
  // absence, a new agent version); the leader starts a check and clears it here,
  // saying what it did ("started sweep X", "not started: ..."). A passing check
  // lifts a quarantine; each outcome is an event in the device's history.
  // Clears it only while it is still `reason` (a newer reason stays due).
  absl::Status ClearHealthCheckDue(const std::string& device_id, const std::string& reason,
                                   const std::string& outcome);
  // The devices a health check is due for, by id, with why; found under the lock
  // without copying any device (the leader asks every few seconds).
  std::map<std::string, std::string> HealthChecksDue() const;
  absl::Status HealthCheckPassed(const std::string& device_id, const std::string& sweep_id);
  absl::Status HealthCheckFailed(const std::string& device_id, const std::string& sweep_id,
                                 const std::string& reason);

  // An operator's hold on a device (`holder` is who): INVALID_ARGUMENT for a
  // duration outside (0, kMaxReservation] or no reason, FAILED_PRECONDITION while
  // another holds it; the holder may extend it. Release: FAILED_PRECONDITION when
  // not reserved.
  absl::StatusOr<farm::v1::Device> Reserve(const std::string& device_id, const std::string& holder,
                                           absl::Duration duration, const std::string& reason);
  absl::StatusOr<farm::v1::Device> Release(const std::string& device_id, const std::string& by);

  // The devices `selector` matches, by id: those after `after_id`, at most `limit`.
  std::vector<farm::v1::Device> List(const farm::v1::Selector& selector,
                                     const std::string& after_id = "",
                                     size_t limit = std::numeric_limits<size_t>::max()) const;
  // The matching devices with what the matrix reads of each: identity, labels and
  // the capability's verdict, reasons, recommendation and hypervisor, without its
  // checks and evidence (most of a device's size: 10,000 full copies take longer
  // than building the whole matrix).
  std::vector<farm::v1::Device> ListBrief(const farm::v1::Selector& selector) const;
  absl::StatusOr<farm::v1::Device> Get(const std::string& device_id) const;
  // The counts of every device, made under the lock without copying any.
  FleetCensus Census() const;
  // Since this process started (for /metrics): heartbeats received, and devices
  // this process quarantined.
  int64_t heartbeats_received() const { return heartbeats_received_.load(); }
  int64_t quarantines() const { return quarantines_.load(); }
  // The id of the device whose agent is at `address`, i.e. the name its certificate
  // must carry; NOT_FOUND for none, FAILED_PRECONDITION when several claim it.
  absl::StatusOr<std::string> DeviceAt(const std::string& address) const;

 private:
  // A history event for `device` as it stands: now, the description, its state and
  // verdict.
  farm::v1::DeviceEvent NewEvent(const farm::v1::Device& device,
                                 const std::string& description) const;
  // Writes the device and an event to the store, then updates memory. `actor`, when
  // set, is who caused the event (DeviceEvent.actor).
  absl::Status Commit(farm::v1::Device device, const std::string& description,
                      const std::string& actor = "") ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  farm::v1::Device* Find(const std::string& device_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `stored` (as the store has it) in place of the device in memory, keeping what
  // only memory knows (see Refresh).
  void ReplaceWithStoredLocked(farm::v1::Device stored) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How long a device may go unheard before it is offline.
  absl::Duration LivenessLimit() const {
    return options_.heartbeat_interval * options_.missed_heartbeats;
  }

  // Why `request` makes a health check due for the known device, or "".
  std::string HealthCheckReason(const farm::v1::Device& known,
                                const farm::v1::RegisterAgentRequest& request) const;
  // The history event of a refused registration, when the device is known.
  absl::Status RefuseOldAgent(const farm::v1::RegisterAgentRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store* const store_;
  const Clock* const clock_;
  const FleetOptions options_;
  const absl::Time started_;
  std::atomic<int64_t> heartbeats_received_{0};
  std::atomic<int64_t> quarantines_{0};
  mutable absl::Mutex mu_;
  std::map<std::string, farm::v1::Device> devices_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> sessions_ ABSL_GUARDED_BY(mu_);
  // Devices that registered with this controller process, live session or not (the
  // history tells a controller restart from an agent restart by it).
  std::set<std::string> registered_since_start_ ABSL_GUARDED_BY(mu_);

  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 1;
  // Devices whose heartbeats another replica received within the liveness limit,
  // as of the last merge: not health-pinged from here.
  std::set<std::string> heard_elsewhere_ ABSL_GUARDED_BY(mu_);
  // The agent version whose refusal each device's history records (RefuseOldAgent).
  std::map<std::string, std::string> refused_agents_ ABSL_GUARDED_BY(mu_);
  // Heartbeats received here and not yet flushed to the store, by device.
  std::map<std::string, int64_t> unflushed_heartbeats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm::fleet

#endif  // KVMFARM_CONTROLLER_FLEET_FLEET_H_
