#include "controller/fleet/fleet.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/device_id.h"
#include "common/ip_address.h"
#include "common/logging.h"
#include "common/proto_enum.h"
#include "common/proto_time.h"
#include "common/status_macros.h"

namespace kvmfarm::fleet {
namespace {

bool HasLabel(const farm::v1::Device& device, const std::string& key, const std::string& value) {
  return std::any_of(device.labels().begin(), device.labels().end(), [&](const farm::v1::Label& l) {
    return l.key() == key && l.value() == value;
  });
}

// Replaces the derived labels, keeping the operator's; an operator label wins
// over a derived one with the same key.
void MergeLabels(farm::v1::Device* device, const std::vector<farm::v1::Label>& derived) {
  google::protobuf::RepeatedPtrField<farm::v1::Label> kept;
  for (const farm::v1::Label& l : device->labels()) {
    if (l.source() == farm::v1::LABEL_SOURCE_OPERATOR) *kept.Add() = l;
  }
  for (const farm::v1::Label& l : derived) {
    const bool operator_owns = std::any_of(kept.begin(), kept.end(), [&](const farm::v1::Label& k) {
      return k.key() == l.key() && k.source() == farm::v1::LABEL_SOURCE_OPERATOR;
    });
    if (!operator_owns) *kept.Add() = l;
  }
  *device->mutable_labels() = std::move(kept);
}

// What a registration was, for the history: a known device that hasn't registered
// with this controller process before did so with an earlier one (the controller
// restarted); one that registers again while online means the agent restarted.
std::string RegistrationNote(bool known, bool registered_before, bool was_offline,
                             const std::string& address) {
  if (!known) return absl::StrCat("registered from ", address);
  if (!registered_before) {
    return absl::StrCat("registered again from ", address,
                        " (first time since the controller started)");
  }
  if (was_offline) return absl::StrCat("registered again from ", address, " after being offline");
  return absl::StrCat("registered again from ", address,
                      " (the agent restarted: a new session while the last one was live)");
}

}  // namespace

bool Matches(const farm::v1::Device& device, const farm::v1::Selector& selector) {
  if (!selector.device_ids().empty() &&
      std::find(selector.device_ids().begin(), selector.device_ids().end(), device.device_id()) ==
          selector.device_ids().end()) {
    return false;
  }
  for (const farm::v1::LabelMatch& match : selector.match()) {
    const bool any =
        std::any_of(match.values().begin(), match.values().end(),
                    [&](const std::string& v) { return HasLabel(device, match.key(), v); });
    if (!any) return false;
  }
  return true;
}

std::vector<farm::v1::Label> DerivedLabels(const farm::v1::DeviceIdentity& identity,
                                           const farm::v1::KvmCapability& capability) {
  std::vector<farm::v1::Label> labels;
  auto add = [&labels](const std::string& key, std::string value) {
    if (value.empty()) return;
    farm::v1::Label label;
    label.set_key(key);
    label.set_value(absl::AsciiStrToLower(value));
    label.set_source(farm::v1::LABEL_SOURCE_DERIVED);
    labels.push_back(std::move(label));
  };
  add("arch", identity.cpu_arch_name());
  add("soc_vendor", identity.soc_vendor());
  // Without spaces, so a selector names them easily ("PowerEdge R650" ->
  // poweredger650; an x86 host's CPU model is its soc).
  const auto squeezed = [](std::string value) {
    value.erase(std::remove(value.begin(), value.end(), ' '), value.end());
    return value;
  };
  add("soc", squeezed(identity.soc_model()));
  add("model", squeezed(identity.model()));
  if (!identity.android_release().empty()) add("android", identity.android_release());
  if (capability.hypervisor_kind() != farm::v1::HYPERVISOR_KIND_UNSPECIFIED) {
    add("hypervisor", EnumValueName(capability.hypervisor_kind()));
  }
  if (capability.verdict() != farm::v1::VERDICT_UNSPECIFIED) {
    add("verdict", EnumValueName(capability.verdict()));
  }
  if (identity.is_fixture()) add("fixture", "true");
  return labels;
}

Fleet::Fleet(store::Store* store, const Clock* clock, FleetOptions options)
    : store_(store), clock_(clock), options_(options), started_(clock->Now()) {}

std::string Fleet::HealthCheckReason(const farm::v1::Device& known,
                                     const farm::v1::RegisterAgentRequest& request) const {
  const std::string& before = known.agent().version();
  const std::string& after = request.agent().version();
  if (!before.empty() && !after.empty() && before != after) {
    return absl::StrCat("agent ", before, " -> ", after);
  }
  const absl::Duration threshold = options_.health_check_after_absence;
  const absl::Time now = clock_->Now();
  if (threshold <= absl::ZeroDuration() || !known.has_last_seen() || now - started_ < threshold) {
    return "";
  }
  const absl::Duration absent = now - FromProtoTimestamp(known.last_seen());
  if (absent <= threshold) return "";
  return absl::StrCat("registered after ",
                      absl::FormatDuration(absl::Trunc(absent, absl::Minutes(1))), " unheard");
}

absl::Status Fleet::RefuseOldAgent(const farm::v1::RegisterAgentRequest& request) {
  const std::string refusal = absl::StrCat(
      "registration refused: farm-agent ",
      request.agent().version().empty() ? "(no version)" : request.agent().version(),
      " speaks agent API ", request.agent().api_version(), "; this controller needs API ",
      options_.min_agent_api_version, " or newer: upgrade the agent");
  // Once per device and version: the agent's registrar retries for as long as it runs.
  std::string& recorded_version = refused_agents_[request.identity().device_id()];
  const farm::v1::Device* known = Find(request.identity().device_id());
  if (known != nullptr && recorded_version != request.agent().version() + "#") {
    recorded_version = request.agent().version() + "#";
    const absl::Status recorded =
        store_->AppendDeviceEvent(known->device_id(), NewEvent(*known, refusal));
    if (!recorded.ok()) FARM_LOG(ERROR) << "recording '" << refusal << "': " << recorded;
  }
  return absl::FailedPreconditionError(refusal);
}

absl::Status Fleet::Load() {
  ASSIGN_OR_RETURN(std::vector<farm::v1::Device> devices, store_->ListDevices());
  // Devices another replica heard from lately stay as stored (issue 18); the rest
  // are offline until they heartbeat again.
  ASSIGN_OR_RETURN(const std::vector<store::StoredHeartbeat> heard,
                   store_->HeartbeatsSince(absl::ToUnixNanos(clock_->Now() - LivenessLimit())));
  std::map<std::string, int64_t> heard_at;
  for (const store::StoredHeartbeat& heartbeat : heard) {
    heard_at[heartbeat.device_id] = heartbeat.seen_ns;
  }
  absl::MutexLock lock(&mu_);
  for (farm::v1::Device& device : devices) {
    device.clear_busy_job();
    auto recent = heard_at.find(device.device_id());
    if (recent == heard_at.end()) {
      device.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_OFFLINE);
    } else {
      *device.mutable_last_seen() = ToProtoTimestamp(absl::FromUnixNanos(recent->second));
      if (device.state().operational() == farm::v1::OPERATIONAL_STATE_BUSY) {
        device.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_IDLE);
      }
    }
    devices_[device.device_id()] = std::move(device);
  }
  return absl::OkStatus();
}

void Fleet::ReplaceWithStoredLocked(farm::v1::Device stored) {
  const farm::v1::Device* known = Find(stored.device_id());
  if (known != nullptr) {
    if (known->has_last_seen() &&
        (!stored.has_last_seen() ||
         FromProtoTimestamp(known->last_seen()) > FromProtoTimestamp(stored.last_seen()))) {
      *stored.mutable_last_seen() = known->last_seen();
    }
    if (known->has_busy_job()) *stored.mutable_busy_job() = known->busy_job();
    if (known->state().operational() == farm::v1::OPERATIONAL_STATE_BUSY &&
        stored.state().operational() == farm::v1::OPERATIONAL_STATE_IDLE) {
      stored.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_BUSY);
    }
  }
  devices_[stored.device_id()] = std::move(stored);
}

absl::Status Fleet::Refresh(const std::vector<std::string>& device_ids) {
  // Many at once (a burst of registrations elsewhere): one read of them all.
  constexpr size_t kOneByOne = 64;
  if (device_ids.size() > kOneByOne) return RefreshAll();
  // Read under the lock, so a write of this replica can't land between the read
  // and the replacement and be undone by an older copy.
  absl::MutexLock lock(&mu_);
  for (const std::string& id : device_ids) {
    absl::StatusOr<farm::v1::Device> stored = store_->GetDevice(id);
    if (absl::IsNotFound(stored.status())) continue;
    RETURN_IF_ERROR(stored.status());
    ReplaceWithStoredLocked(*std::move(stored));
  }
  return absl::OkStatus();
}

absl::Status Fleet::RefreshAll() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::vector<farm::v1::Device> devices, store_->ListDevices());
  for (farm::v1::Device& device : devices) ReplaceWithStoredLocked(std::move(device));
  return absl::OkStatus();
}

absl::Status Fleet::FlushHeartbeats(const std::string& replica) {
  std::map<std::string, int64_t> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(unflushed_heartbeats_);
  }
  if (batch.empty()) return absl::OkStatus();
  std::vector<store::StoredHeartbeat> heartbeats;
  heartbeats.reserve(batch.size());
  for (const auto& [id, seen_ns] : batch) heartbeats.push_back({id, seen_ns});
  absl::Status written = store_->RecordHeartbeats(replica, heartbeats);
  if (!written.ok()) {
    // Kept for the next flush, unless a newer heartbeat came meanwhile.
    absl::MutexLock lock(&mu_);
    for (const auto& [id, seen_ns] : batch) unflushed_heartbeats_.emplace(id, seen_ns);
  }
  return written;
}

absl::Status Fleet::MergeHeartbeats() {
  const absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(const std::vector<store::StoredHeartbeat> heard,
                   store_->HeartbeatsSince(absl::ToUnixNanos(now - LivenessLimit())));
  absl::MutexLock lock(&mu_);
  heard_elsewhere_.clear();
  absl::Status first_error;
  for (const store::StoredHeartbeat& heartbeat : heard) {
    farm::v1::Device* device = Find(heartbeat.device_id);
    if (device == nullptr) continue;
    if (!sessions_.count(heartbeat.device_id)) heard_elsewhere_.insert(heartbeat.device_id);
    const absl::Time seen = absl::FromUnixNanos(heartbeat.seen_ns);
    if (device->has_last_seen() && FromProtoTimestamp(device->last_seen()) >= seen) continue;
    *device->mutable_last_seen() = ToProtoTimestamp(seen);
    if (device->state().operational() != farm::v1::OPERATIONAL_STATE_OFFLINE) continue;
    farm::v1::Device back = *device;
    back.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_IDLE);
    absl::Status committed = Commit(std::move(back), "heartbeat via another replica: online");
    if (!committed.ok() && first_error.ok()) first_error = committed;
  }
  return first_error;
}

farm::v1::Device* Fleet::Find(const std::string& device_id) {
  auto it = devices_.find(device_id);
  return it == devices_.end() ? nullptr : &it->second;
}

farm::v1::DeviceEvent Fleet::NewEvent(const farm::v1::Device& device,
                                      const std::string& description) const {
  farm::v1::DeviceEvent event;
  *event.mutable_time() = ToProtoTimestamp(clock_->Now());
  event.set_description(description);
  *event.mutable_state() = device.state();
  event.set_verdict(device.capability().verdict());
  return event;
}

absl::Status Fleet::Commit(farm::v1::Device device, const std::string& description,
                           const std::string& actor) {
  // The row and its event together, then memory: never one without the others.
  std::optional<farm::v1::DeviceEvent> event;
  if (!description.empty()) {
    event = NewEvent(device, description);
    event->set_actor(actor);
  }
  RETURN_IF_ERROR(store_->PutDevice(device, event));
  devices_[device.device_id()] = std::move(device);
  return absl::OkStatus();
}

absl::Status Fleet::AddInventory(const farm::v1::Inventory& inventory) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < inventory.devices_size(); ++i) {
    const farm::v1::InventoryDevice& entry = inventory.devices(i);
    if (entry.device_id().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("inventory devices[", i, "]: device_id is empty"));
    }
    RETURN_IF_ERROR(
        CheckDeviceId(entry.device_id(), absl::StrCat("inventory devices[", i, "].device_id")));
    farm::v1::Device device;
    if (const farm::v1::Device* known = Find(entry.device_id())) {
      device = *known;
    } else {
      device.set_device_id(entry.device_id());
      device.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_OFFLINE);
      device.mutable_state()->set_health(farm::v1::HEALTH_STATE_UNKNOWN);
      device.mutable_state()->set_reason("listed in the inventory, not heard from yet");
    }
    if (!entry.agent_address().empty()) {
      RETURN_IF_ERROR(CheckDialAddress(absl::StrCat("inventory devices[", i, "].agent_address"),
                                       entry.agent_address()));
      device.set_agent_address(entry.agent_address());
    }
    google::protobuf::RepeatedPtrField<farm::v1::Label> labels;
    for (const farm::v1::Label& l : device.labels()) {
      if (l.source() == farm::v1::LABEL_SOURCE_DERIVED && !entry.labels().count(l.key())) {
        *labels.Add() = l;
      }
    }
    for (const auto& [key, value] : entry.labels()) {
      farm::v1::Label* label = labels.Add();
      label->set_key(key);
      label->set_value(value);
      label->set_source(farm::v1::LABEL_SOURCE_OPERATOR);
    }
    *device.mutable_labels() = std::move(labels);
    RETURN_IF_ERROR(Commit(std::move(device), "inventory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<farm::v1::RegisterAgentResponse> Fleet::Register(
    const farm::v1::RegisterAgentRequest& request) {
  const std::string& id = request.identity().device_id();
  if (id.empty()) return absl::InvalidArgumentError("identity.device_id is required");
  RETURN_IF_ERROR(CheckDeviceId(id, "identity.device_id"));
  if (request.agent_address().empty()) {
    return absl::InvalidArgumentError(
        "agent_address is required: the host:port the controller can reach the agent at");
  }
  RETURN_IF_ERROR(CheckDialAddress("agent_address", request.agent_address()));
  absl::MutexLock lock(&mu_);
  if (request.agent().api_version() < options_.min_agent_api_version) {
    return RefuseOldAgent(request);
  }
  farm::v1::Device device;
  const farm::v1::Device* known = Find(id);
  const std::string check_reason = known != nullptr ? HealthCheckReason(*known, request) : "";
  if (known != nullptr) {
    device = *known;
  } else {
    device.set_device_id(id);
    device.mutable_state()->set_health(farm::v1::HEALTH_STATE_GOOD);
    *device.mutable_state()->mutable_since() = ToProtoTimestamp(clock_->Now());
  }
  const std::string note = RegistrationNote(
      known != nullptr, registered_since_start_.count(id) > 0,
      device.state().operational() == farm::v1::OPERATIONAL_STATE_OFFLINE, request.agent_address());
  *device.mutable_identity() = request.identity();
  *device.mutable_capability() = request.capability();
  *device.mutable_agent() = request.agent();
  device.set_agent_address(request.agent_address());
  if (request.has_busy_job()) {
    *device.mutable_busy_job() = request.busy_job();
  } else {
    device.clear_busy_job();
  }
  *device.mutable_last_seen() = ToProtoTimestamp(clock_->Now());
  device.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_IDLE);
  if (device.state().health() == farm::v1::HEALTH_STATE_UNKNOWN ||
      device.state().health() == farm::v1::HEALTH_STATE_UNSPECIFIED) {
    device.mutable_state()->set_health(farm::v1::HEALTH_STATE_GOOD);
    device.mutable_state()->set_reason("agent registered");
    *device.mutable_state()->mutable_since() = ToProtoTimestamp(clock_->Now());
  }
  MergeLabels(&device, DerivedLabels(request.identity(), request.capability()));
  if (!check_reason.empty()) device.set_health_check_due(check_reason);
  const std::string session = absl::StrCat(id, "#", next_session_++);
  RETURN_IF_ERROR(Commit(
      std::move(device),
      absl::StrCat(note, "; verdict ", farm::v1::Verdict_Name(request.capability().verdict()),
                   check_reason.empty() ? "" : "; health check due: ", check_reason)));
  sessions_[id] = session;
  registered_since_start_.insert(id);
  unflushed_heartbeats_[id] = absl::ToUnixNanos(clock_->Now());
  farm::v1::RegisterAgentResponse response;
  response.set_device_id(id);
  response.set_session_id(session);
  *response.mutable_heartbeat_interval() = ToProtoDuration(options_.heartbeat_interval);
  return response;
}

absl::StatusOr<farm::v1::HeartbeatResponse> Fleet::Heartbeat(
    const farm::v1::HeartbeatRequest& request) {
  farm::v1::HeartbeatResponse response;
  *response.mutable_heartbeat_interval() = ToProtoDuration(options_.heartbeat_interval);
  ++heartbeats_received_;
  absl::MutexLock lock(&mu_);
  farm::v1::Device* device = Find(request.device_id());
  auto session = sessions_.find(request.device_id());
  if (device == nullptr || session == sessions_.end() || session->second != request.session_id()) {
    // A restarted controller (or a forgotten device): the agent must register again.
    response.set_register_again(true);
    return response;
  }
  const absl::Time now = clock_->Now();
  *device->mutable_last_seen() = ToProtoTimestamp(now);
  unflushed_heartbeats_[request.device_id()] = absl::ToUnixNanos(now);
  if (request.has_busy_job()) {
    *device->mutable_busy_job() = request.busy_job();
  } else {
    device->clear_busy_job();
  }
  if (device->state().operational() == farm::v1::OPERATIONAL_STATE_OFFLINE) {
    farm::v1::Device back = *device;
    back.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_IDLE);
    RETURN_IF_ERROR(Commit(std::move(back), "heartbeat again: online"));
  }
  return response;
}

absl::Status Fleet::CheckLiveness() {
  // A merge that fails (the database away) leaves each device's own last_seen.
  absl::Status first_error = MergeHeartbeats();
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  const absl::Duration limit = LivenessLimit();
  std::vector<std::string> stale;
  for (const auto& [id, device] : devices_) {
    if (device.state().operational() == farm::v1::OPERATIONAL_STATE_OFFLINE) continue;
    if (!device.has_last_seen() || now - FromProtoTimestamp(device.last_seen()) > limit)
      stale.push_back(id);
  }
  // One device whose change can't be written doesn't keep the others online; it
  // is tried again on the next check.
  for (const std::string& id : stale) {
    farm::v1::Device device = devices_[id];
    device.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_OFFLINE);
    absl::Status committed = Commit(
        std::move(device), absl::StrCat("offline: no heartbeat for ", absl::FormatDuration(limit),
                                        " (", options_.missed_heartbeats, " intervals)"));
    if (committed.ok()) {
      sessions_.erase(id);
    } else if (first_error.ok()) {
      first_error = committed;
    }
  }
  return first_error;
}

std::vector<farm::v1::Device> Fleet::ToPing() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  std::vector<farm::v1::Device> out;
  for (const auto& [id, device] : devices_) {
    // Heard from within an interval (a heartbeat through another replica, its
    // registration there, a ping answered): nothing to ask.
    const bool heard_lately =
        device.has_last_seen() &&
        now - FromProtoTimestamp(device.last_seen()) < options_.heartbeat_interval;
    if (!device.agent_address().empty() && !sessions_.count(id) && !heard_lately &&
        !heard_elsewhere_.count(id) && device.state().health() != farm::v1::HEALTH_STATE_RETIRED) {
      out.push_back(device);
    }
  }
  return out;
}

absl::Status Fleet::Seen(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  *known->mutable_last_seen() = ToProtoTimestamp(clock_->Now());
  unflushed_heartbeats_[device_id] = absl::ToUnixNanos(clock_->Now());
  if (known->state().operational() != farm::v1::OPERATIONAL_STATE_OFFLINE) return absl::OkStatus();
  farm::v1::Device back = *known;
  back.mutable_state()->set_operational(farm::v1::OPERATIONAL_STATE_IDLE);
  if (back.state().health() == farm::v1::HEALTH_STATE_UNKNOWN) {
    back.mutable_state()->set_health(farm::v1::HEALTH_STATE_GOOD);
    back.mutable_state()->set_reason("answers health pings");
  }
  return Commit(std::move(back), "health ping answered: online");
}

absl::StatusOr<farm::v1::Device> Fleet::SetHealth(const std::string& device_id,
                                                  farm::v1::HealthState health,
                                                  const std::string& reason,
                                                  const std::string& by) {
  if (health != farm::v1::HEALTH_STATE_MAINTENANCE && health != farm::v1::HEALTH_STATE_RETIRED &&
      health != farm::v1::HEALTH_STATE_GOOD) {
    return absl::InvalidArgumentError(
        "health must be HEALTH_STATE_MAINTENANCE, HEALTH_STATE_RETIRED or HEALTH_STATE_GOOD");
  }
  if (reason.empty()) return absl::InvalidArgumentError("reason is required, for the history");
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  farm::v1::Device device = *known;
  const farm::v1::HealthState before = device.state().health();
  device.mutable_state()->set_health(health);
  device.mutable_state()->set_reason(reason);
  *device.mutable_state()->mutable_since() = ToProtoTimestamp(clock_->Now());
  if (health == farm::v1::HEALTH_STATE_GOOD) device.set_consecutive_failures(0);
  RETURN_IF_ERROR(
      Commit(device,
             absl::StrCat("health ", LowerEnumValueName(before), " -> ", LowerEnumValueName(health),
                          " by ", by.empty() ? "operator" : by, ": ", reason),
             by));
  return device;
}

absl::Status Fleet::RefuseImpersonation(const std::string& claimed_id, const std::string& by,
                                        const std::string& rpc) {
  const std::string refusal =
      absl::StrCat(rpc, " refused: ", by, " tried to act as device ", claimed_id);
  absl::MutexLock lock(&mu_);
  if (const farm::v1::Device* claimed = Find(claimed_id)) {
    farm::v1::DeviceEvent event = NewEvent(*claimed, refusal);
    event.set_actor(by);
    const absl::Status recorded = store_->AppendDeviceEvent(claimed_id, event);
    if (!recorded.ok()) FARM_LOG(ERROR) << "recording '" << refusal << "': " << recorded;
  }
  return absl::PermissionDeniedError(
      absl::StrCat(refusal, ": an agent registers only as the device its certificate names"));
}

absl::Status Fleet::RecordFailure(const std::string& device_id, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  farm::v1::Device device = *known;
  device.set_consecutive_failures(device.consecutive_failures() + 1);
  std::string description =
      absl::StrCat("infrastructure failure ", device.consecutive_failures(), ": ", reason);
  if (device.consecutive_failures() >= static_cast<uint32_t>(options_.quarantine_after) &&
      device.state().health() == farm::v1::HEALTH_STATE_GOOD) {
    const size_t quarantined = std::count_if(devices_.begin(), devices_.end(), [](const auto& kv) {
      return kv.second.state().health() == farm::v1::HEALTH_STATE_QUARANTINED;
    });
    const size_t cap = static_cast<size_t>(options_.max_quarantined_fraction * devices_.size());
    if (quarantined < cap) {
      device.mutable_state()->set_health(farm::v1::HEALTH_STATE_QUARANTINED);
      device.mutable_state()->set_reason(absl::StrCat(
          device.consecutive_failures(), " consecutive infrastructure failures; last: ", reason));
      *device.mutable_state()->mutable_since() = ToProtoTimestamp(clock_->Now());
      absl::StrAppend(&description, "; health good -> quarantined");
      const farm::v1::Device quarantined_device = device;
      RETURN_IF_ERROR(Commit(std::move(device), description));
      ++quarantines_;  // counted and announced once written
      if (options_.on_quarantined) options_.on_quarantined(quarantined_device);
      return absl::OkStatus();
    } else {
      absl::StrAppend(&description, "; not quarantined: ", quarantined, " of ", devices_.size(),
                      " devices already are (cap ", options_.max_quarantined_fraction * 100, " %)");
    }
  }
  return Commit(std::move(device), description);
}

absl::Status Fleet::RecordSuccess(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  if (known->consecutive_failures() == 0) return absl::OkStatus();
  farm::v1::Device device = *known;
  device.set_consecutive_failures(0);
  return Commit(std::move(device), "");
}

absl::Status Fleet::ClearHealthCheckDue(const std::string& device_id, const std::string& reason,
                                        const std::string& outcome) {
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  farm::v1::Device device = *known;
  if (device.health_check_due() == reason) device.clear_health_check_due();
  return Commit(std::move(device), absl::StrCat("health check due (", reason, "): ", outcome));
}

std::map<std::string, std::string> Fleet::HealthChecksDue() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, std::string> due;
  for (const auto& [id, device] : devices_) {
    if (!device.health_check_due().empty()) due[id] = device.health_check_due();
  }
  return due;
}

absl::Status Fleet::HealthCheckPassed(const std::string& device_id, const std::string& sweep_id) {
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  const std::string passed = absl::StrCat("health check passed (sweep ", sweep_id, ")");
  if (known->state().health() != farm::v1::HEALTH_STATE_QUARANTINED) {
    return store_->AppendDeviceEvent(device_id, NewEvent(*known, passed));
  }
  farm::v1::Device device = *known;
  device.mutable_state()->set_health(farm::v1::HEALTH_STATE_GOOD);
  device.mutable_state()->set_reason(passed);
  *device.mutable_state()->mutable_since() = ToProtoTimestamp(clock_->Now());
  device.set_consecutive_failures(0);
  return Commit(std::move(device), absl::StrCat(passed, "; health quarantined -> good"));
}

absl::Status Fleet::HealthCheckFailed(const std::string& device_id, const std::string& sweep_id,
                                      const std::string& reason) {
  absl::MutexLock lock(&mu_);
  const farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  return store_->AppendDeviceEvent(
      device_id,
      NewEvent(*known, absl::StrCat("health check failed (sweep ", sweep_id, "): ", reason)));
}

absl::StatusOr<farm::v1::Device> Fleet::Reserve(const std::string& device_id,
                                                const std::string& holder, absl::Duration duration,
                                                const std::string& reason) {
  if (duration <= absl::ZeroDuration() || duration > kMaxReservation) {
    return absl::InvalidArgumentError(absl::StrCat("duration must be positive and at most ",
                                                   absl::FormatDuration(kMaxReservation)));
  }
  if (reason.empty()) return absl::InvalidArgumentError("reason is required, for the history");
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  const absl::Time now = clock_->Now();
  if (Reserved(*known, now) && known->reservation().holder() != holder) {
    return absl::FailedPreconditionError(
        absl::StrCat("device ", device_id, " is reserved by ", known->reservation().holder(),
                     " until ", absl::FormatTime(FromProtoTimestamp(known->reservation().until())),
                     ": ", known->reservation().reason()));
  }
  farm::v1::Device device = *known;
  farm::v1::Reservation* reservation = device.mutable_reservation();
  reservation->set_holder(holder);
  reservation->set_reason(reason);
  *reservation->mutable_since() = ToProtoTimestamp(now);
  *reservation->mutable_until() = ToProtoTimestamp(now + duration);
  RETURN_IF_ERROR(Commit(
      device,
      absl::StrCat("reserved by ", holder, " for ", absl::FormatDuration(duration), ": ", reason),
      holder));
  return device;
}

absl::StatusOr<farm::v1::Device> Fleet::Release(const std::string& device_id,
                                                const std::string& by) {
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  if (!Reserved(*known, clock_->Now())) {
    return absl::FailedPreconditionError(absl::StrCat("device ", device_id, " is not reserved"));
  }
  farm::v1::Device device = *known;
  const std::string holder = device.reservation().holder();
  device.clear_reservation();
  RETURN_IF_ERROR(Commit(device, absl::StrCat("reservation of ", holder, " released by ", by), by));
  return device;
}

absl::Status Fleet::RecordResult(const farm::v1::Task& task) {
  absl::MutexLock lock(&mu_);
  const farm::v1::Device* known = Find(task.device_id());
  if (known == nullptr) {
    return absl::NotFoundError(absl::StrCat("no device '", task.device_id(), "'"));
  }
  farm::v1::DeviceEvent event =
      NewEvent(*known, absl::StrCat("result stored: ", LowerEnumValueName(task.kind()),
                                    task.mode() != farm::v1::MODE_UNSPECIFIED
                                        ? absl::StrCat(" ", LowerEnumValueName(task.mode()))
                                        : "",
                                    ", ", task.status(), " (task ", task.task_id(), ")"));
  event.set_sweep_id(task.sweep_id());
  event.set_task_id(task.task_id());
  if (task.has_capability()) event.set_verdict(task.capability().verdict());
  return store_->AppendDeviceEvent(task.device_id(), event);
}

absl::Status Fleet::UpdateCapability(const std::string& device_id,
                                     const farm::v1::KvmCapability& capability) {
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  farm::v1::Device device = *known;
  const farm::v1::Verdict before = device.capability().verdict();
  *device.mutable_capability() = capability;
  // The identity in a capability report is the agent's; keep the device's own id.
  if (capability.has_device()) {
    *device.mutable_identity() = capability.device();
    device.mutable_identity()->set_device_id(device_id);
  }
  MergeLabels(&device, DerivedLabels(device.identity(), capability));
  return Commit(std::move(device),
                before == capability.verdict()
                    ? ""
                    : absl::StrCat("capability: verdict ", farm::v1::Verdict_Name(before), " -> ",
                                   farm::v1::Verdict_Name(capability.verdict())));
}

absl::Status Fleet::SetBusy(const std::string& device_id, bool busy) {
  absl::MutexLock lock(&mu_);
  farm::v1::Device* known = Find(device_id);
  if (known == nullptr) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  if (known->state().operational() == farm::v1::OPERATIONAL_STATE_OFFLINE) return absl::OkStatus();
  known->mutable_state()->set_operational(busy ? farm::v1::OPERATIONAL_STATE_BUSY
                                               : farm::v1::OPERATIONAL_STATE_IDLE);
  return absl::OkStatus();
}

std::vector<farm::v1::Device> Fleet::List(const farm::v1::Selector& selector,
                                          const std::string& after_id, size_t limit) const {
  absl::MutexLock lock(&mu_);
  std::vector<farm::v1::Device> out;
  for (auto it = devices_.upper_bound(after_id); it != devices_.end() && out.size() < limit; ++it) {
    if (Matches(it->second, selector)) out.push_back(it->second);
  }
  return out;
}

std::vector<farm::v1::Device> Fleet::ListBrief(const farm::v1::Selector& selector) const {
  absl::MutexLock lock(&mu_);
  std::vector<farm::v1::Device> out;
  for (const auto& [id, device] : devices_) {
    if (!Matches(device, selector)) continue;
    farm::v1::Device& brief = out.emplace_back();
    brief.set_device_id(id);
    *brief.mutable_identity() = device.identity();
    *brief.mutable_labels() = device.labels();
    const farm::v1::KvmCapability& capability = device.capability();
    farm::v1::KvmCapability* kept = brief.mutable_capability();
    kept->set_verdict(capability.verdict());
    *kept->mutable_verdict_reasons() = capability.verdict_reasons();
    kept->set_recommendation(capability.recommendation());
    kept->set_hypervisor_kind(capability.hypervisor_kind());
  }
  return out;
}

absl::StatusOr<std::string> Fleet::DeviceAt(const std::string& address) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (const auto& [id, device] : devices_) {
    if (device.agent_address() == address) ids.push_back(id);
  }
  if (ids.empty()) return absl::NotFoundError(absl::StrCat("no device's agent is at ", address));
  if (ids.size() > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("devices ", absl::StrJoin(ids, ", "), " all claim the agent at ", address,
                     ": the controller won't guess which certificate to expect"));
  }
  return ids.front();
}

FleetCensus Fleet::Census() const {
  absl::MutexLock lock(&mu_);
  FleetCensus census;
  for (const auto& [id, device] : devices_) {
    ++census.by_operational_state[LowerEnumValueName(device.state().operational())];
    ++census.by_health[LowerEnumValueName(device.state().health())];
    ++census.by_verdict[LowerEnumValueName(device.capability().verdict())];
    ++census.by_model[device.identity().model().empty() ? "unknown" : device.identity().model()];
  }
  return census;
}

absl::StatusOr<farm::v1::Device> Fleet::Get(const std::string& device_id) const {
  absl::MutexLock lock(&mu_);
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return absl::NotFoundError(absl::StrCat("no device '", device_id, "'"));
  return it->second;
}

}  // namespace kvmfarm::fleet
