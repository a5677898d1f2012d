// -----------------------------------------------------------------------------
// File: checks.h
// -----------------------------------------------------------------------------
//
// Appending a probe Check with its evidence, the one way every probe step does it.
#ifndef KVMFARM_AGENT_PROBE_CHECKS_H_
#define KVMFARM_AGENT_PROBE_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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

// A source that is there but could not be read (a directory, a symlink loop, no
// permission, larger than its cap) is a WARN check `source.unreadable` naming it and
// why, so a bad file is seen and not quietly taken as absent. An absent source
// (NOT_FOUND) is not reported: most sources are optional.
inline void NoteUnreadable(const absl::Status& status, absl::string_view path, Checks* checks) {
  if (status.ok() || absl::IsNotFound(status)) return;
  AddCheck(checks, "source.unreadable", farm::v1::OUTCOME_WARN,
           absl::StrCat("cannot be read, taken as absent: ", status.message()), path);
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
