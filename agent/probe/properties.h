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
#include "agent/probe/checks.h"
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
  // Non-blank lines that were not `[key]: [value]` (truncated or garbled).
  int skipped_lines() const { return skipped_lines_; }
  void set_skipped_lines(int lines) { skipped_lines_ = lines; }

 private:
  std::map<std::string, std::string> values_;
  std::string source_ = "none";
  int skipped_lines_ = 0;
};

// Parses getprop output. Lines that are not `[key]: [value]` are skipped (and
// counted); input with no property at all but some non-blank text is
// INVALID_ARGUMENT, since that is not getprop output.
absl::StatusOr<Properties> ParseGetprop(absl::string_view text);

// Loads the device's properties:
//  * `props_file` set (--props): that file, read directly (not below the sysroot).
//    The operator named it, so a missing or garbled one is an error.
//  * a fixture sysroot: <sysroot>/getprop.txt if present, else none.
//  * the host: /system/bin/getprop when present (Android), else none (Linux).
// The device's own source is one source among many: when it cannot be read or
// parsed, that is a FAIL check `android.properties` naming it and why, and the
// probe goes on without properties; skipped lines are a WARN check.
absl::StatusOr<Properties> LoadProperties(const Sysroot& sysroot, const std::string& props_file,
                                          Checks* checks);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_PROPERTIES_H_
