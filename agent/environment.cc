#include "agent/environment.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/proto_time.h"

namespace kvmfarm {
namespace {

std::vector<std::string> ListDir(const probe::Sysroot& sysroot, const std::string& path,
                                 absl::string_view prefix) {
  std::vector<std::string> names;
  for (const std::string& name : ListDirectory(sysroot.Resolve(path))) {
    if (absl::StartsWith(name, prefix)) names.push_back(name);
  }
  return names;
}

template <typename T>
absl::optional<T> ReadNumber(const probe::Sysroot& sysroot, const std::string& path) {
  absl::StatusOr<std::string> text = sysroot.ReadLine(path);
  T value;
  if (!text.ok() || !absl::SimpleAtoi(*text, &value)) return absl::nullopt;
  return value;
}

// The lowest trip point at which the kernel throttles (passive) or acts (hot,
// critical); "active" trips start fans and are not throttling.
absl::optional<int32_t> LowestThrottlingTrip(const probe::Sysroot& sysroot,
                                             const std::string& zone_dir) {
  absl::optional<int32_t> lowest;
  for (const std::string& name : ListDir(sysroot, zone_dir, "trip_point_")) {
    if (!absl::EndsWith(name, "_type")) continue;
    absl::StatusOr<std::string> type = sysroot.ReadLine(absl::StrCat(zone_dir, "/", name));
    if (!type.ok() || (*type != "passive" && *type != "hot" && *type != "critical")) continue;
    const std::string temp_file = name.substr(0, name.size() - 5) + "_temp";
    auto temp = ReadNumber<int32_t>(sysroot, absl::StrCat(zone_dir, "/", temp_file));
    if (temp && *temp > 0 && (!lowest || *temp < *lowest)) lowest = *temp;
  }
  return lowest;
}

}  // namespace

farm::v1::EnvironmentSample ReadEnvironment(const probe::Sysroot& sysroot, absl::Duration offset) {
  farm::v1::EnvironmentSample sample;
  *sample.mutable_offset() = ToProtoDuration(offset);
  for (const std::string& cpu : ListDir(sysroot, "/sys/devices/system/cpu", "cpu")) {
    uint32_t id;
    if (!absl::SimpleAtoi(cpu.substr(3), &id)) continue;
    const std::string cpufreq = absl::StrCat("/sys/devices/system/cpu/", cpu, "/cpufreq/");
    if (auto khz = ReadNumber<uint32_t>(sysroot, cpufreq + "scaling_cur_freq")) {
      (*sample.mutable_cpu_frequency_khz())[id] = *khz;
    }
    if (auto khz = ReadNumber<uint32_t>(sysroot, cpufreq + "scaling_max_freq")) {
      (*sample.mutable_cpu_max_frequency_khz())[id] = *khz;
    }
  }
  for (const std::string& zone : ListDir(sysroot, "/sys/class/thermal", "thermal_zone")) {
    const std::string dir = "/sys/class/thermal/" + zone;
    absl::StatusOr<std::string> type = sysroot.ReadLine(dir + "/type");
    auto temp = ReadNumber<int32_t>(sysroot, dir + "/temp");
    if (!type.ok()) continue;
    if (temp) (*sample.mutable_thermal_millicelsius())[*type] = *temp;
    if (auto trip = LowestThrottlingTrip(sysroot, dir)) {
      (*sample.mutable_thermal_trip_millicelsius())[*type] = *trip;
    }
  }
  const std::string battery = "/sys/class/power_supply/battery/";
  if (sysroot.Exists(battery)) {
    farm::v1::BatteryState* state = sample.mutable_battery();
    if (auto v = ReadNumber<int64_t>(sysroot, battery + "current_now"))
      state->set_current_now_ua(*v);
    if (auto v = ReadNumber<int64_t>(sysroot, battery + "voltage_now"))
      state->set_voltage_now_uv(*v);
    if (auto v = ReadNumber<int32_t>(sysroot, battery + "temp")) state->set_temp_decicelsius(*v);
    if (auto v = ReadNumber<int32_t>(sysroot, battery + "capacity"))
      state->set_capacity_percent(*v);
    absl::StatusOr<std::string> status = sysroot.ReadLine(battery + "status");
    if (status.ok()) state->set_status(*status);
  }
  return sample;
}

absl::optional<double> EnergyJoules(const std::vector<farm::v1::EnvironmentSample>& samples,
                                    absl::Duration from, absl::Duration to) {
  double joules = 0;
  int intervals = 0;
  const farm::v1::EnvironmentSample* previous = nullptr;
  for (const farm::v1::EnvironmentSample& s : samples) {
    const absl::Duration at = FromProtoDuration(s.offset());
    const bool has_power = s.battery().has_current_now_ua() && s.battery().has_voltage_now_uv();
    if (at < from || at > to || !has_power) continue;
    if (previous != nullptr) {
      const double watts = std::abs(static_cast<double>(previous->battery().current_now_ua())) *
                           1e-6 * static_cast<double>(previous->battery().voltage_now_uv()) * 1e-6;
      const double seconds = absl::ToDoubleSeconds(at - FromProtoDuration(previous->offset()));
      joules += watts * seconds;
      ++intervals;
    }
    previous = &s;
  }
  if (intervals == 0) return absl::nullopt;
  return joules;
}

EnvironmentSampler::EnvironmentSampler(probe::Sysroot sysroot, absl::Duration interval)
    : sysroot_(std::move(sysroot)), interval_(interval) {}

EnvironmentSampler::~EnvironmentSampler() {
  if (thread_.joinable()) Stop();
}

void EnvironmentSampler::Start() {
  start_ = absl::Now();
  // The first reading is the job's start, taken before the job begins.
  farm::v1::EnvironmentSample first = ReadEnvironment(sysroot_, absl::ZeroDuration());
  {
    absl::MutexLock lock(&mu_);
    samples_.push_back(std::move(first));
  }
  thread_ = std::thread(&EnvironmentSampler::Loop, this);
}

void EnvironmentSampler::Loop() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    farm::v1::EnvironmentSample sample = ReadEnvironment(sysroot_, absl::Now() - start_);
    absl::MutexLock lock(&mu_);
    samples_.push_back(std::move(sample));
  }
}

std::vector<farm::v1::EnvironmentSample> EnvironmentSampler::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
  farm::v1::EnvironmentSample last = ReadEnvironment(sysroot_, absl::Now() - start_);
  absl::MutexLock lock(&mu_);
  samples_.push_back(std::move(last));
  return samples_;
}

}  // namespace kvmfarm
