// -----------------------------------------------------------------------------
// File: properties.h
// -----------------------------------------------------------------------------
//
// Android system properties (ro.product.model, ro.soc.model,
// ro.boot.hypervisor.version, ...). On a phone they come from `getprop`; in tests
// and with --props from a file in getprop's output format:
//
//   [ro.product.model]: [Pixel 8]
//   [ro.boot.hypervisor.vm.supported]: [true]
//
// On a Linux host there are none, and every lookup is simply absent.
#ifndef KVMFARM_AGENT_PROBE_PROPERTIES_H_
#define KVMFARM_AGENT_PROBE_PROPERTIES_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "agent/probe/sysroot.h"

namespace kvmfarm::probe {

class Properties {
 public:
  Properties() = default;
  explicit Properties(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  absl::optional<std::string> Get(absl::string_view key) const;
  // The value, or "" when absent.
  std::string GetOr(absl::string_view key, absl::string_view fallback = "") const;
  bool empty() const { return values_.empty(); }
  size_t size() const { return values_.size(); }

  // Where they came from: "getprop", a file path, or "none".
  const std::string& source() const { return source_; }
  void set_source(std::string source) { source_ = std::move(source); }

 private:
  std::map<std::string, std::string> values_;
  std::string source_ = "none";
};

// Parses getprop output. Lines that are not `[key]: [value]` are skipped; input
// with no property at all but some non-blank text is INVALID_ARGUMENT, since that
// is not getprop output.
absl::StatusOr<Properties> ParseGetprop(absl::string_view text);

// Loads the device's properties:
//  * `props_file` set (--props): that file, read directly (not below the sysroot).
//  * a fixture sysroot: <sysroot>/getprop.txt if present, else none.
//  * the host: /system/bin/getprop when present (Android), else none (Linux).
// A props file that is missing or garbled is an error; no properties is not.
absl::StatusOr<Properties> LoadProperties(const Sysroot& sysroot, const std::string& props_file);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_PROPERTIES_H_
