// -----------------------------------------------------------------------------
// File: checks.h
// -----------------------------------------------------------------------------
//
// Appending a probe Check with its evidence, the one way every probe step does it.
#ifndef KVMFARM_AGENT_PROBE_CHECKS_H_
#define KVMFARM_AGENT_PROBE_CHECKS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

using Checks = google::protobuf::RepeatedPtrField<farm::v1::Check>;

inline farm::v1::Check* AddCheck(Checks* checks, absl::string_view name, farm::v1::Outcome outcome,
                                 absl::string_view detail, absl::string_view source) {
  farm::v1::Check* check = checks->Add();
  check->set_name(std::string(name));
  check->set_outcome(outcome);
  check->set_detail(std::string(detail));
  check->set_source(std::string(source));
  return check;
}

// The check named `name`, or nullptr.
inline const farm::v1::Check* FindCheck(const Checks& checks, absl::string_view name) {
  for (const farm::v1::Check& check : checks) {
    if (check.name() == name) return &check;
  }
  return nullptr;
}

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_CHECKS_H_
