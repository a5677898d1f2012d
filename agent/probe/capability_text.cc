#include "agent/probe/capability_text.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "agent/probe/hypervisor.h"
#include "common/proto_enum.h"

namespace kvmfarm::probe {
namespace {

std::string OutcomeWord(farm::v1::Outcome outcome) {
  return outcome == farm::v1::OUTCOME_UNSPECIFIED ? "????" : EnumValueName(outcome);
}

}  // namespace

std::string FormatCapabilityText(const farm::v1::KvmCapability& c) {
  const farm::v1::DeviceIdentity& d = c.device();
  std::string out;
  std::string title =
      d.model().empty() ? d.device_id() : absl::StrCat(d.model(), " (", d.device_id(), ")");
  absl::StrAppend(&out, "kvmfarm probe: ", title,
                  d.is_fixture() ? absl::StrCat("  [fixture ", c.sysroot(), "]") : "", "\n");
  std::vector<std::string> facts;
  if (!d.soc_marketing_name().empty()) {
    facts.push_back(absl::StrCat(d.soc_marketing_name(), " (", d.soc_model(), ")"));
  } else if (!d.cpu_model_name().empty()) {
    facts.push_back(d.cpu_model_name());
  }
  if (!d.kernel_release().empty()) facts.push_back("kernel " + d.kernel_release());
  if (!d.android_release().empty()) facts.push_back("Android " + d.android_release());
  if (c.has_agent_user()) {
    facts.push_back(
        absl::StrCat("as user ", c.agent_user().name(), " (uid ", c.agent_user().uid(), ")"));
  }
  if (!facts.empty()) absl::StrAppend(&out, "  ", absl::StrJoin(facts, ", "), "\n");
  absl::StrAppend(&out, "\n");

  size_t width = 0;
  for (const farm::v1::Check& check : c.checks()) width = std::max(width, check.name().size());
  for (const farm::v1::Check& check : c.checks()) {
    absl::StrAppend(&out, "  ", OutcomeWord(check.outcome()), "  ",
                    absl::StrFormat("%-*s", static_cast<int>(width), check.name()), "  ",
                    check.detail(), "\n");
  }
  absl::StrAppend(&out, "\nVerdict: ", EnumValueName(c.verdict()), "\n");
  for (const std::string& reason : c.verdict_reasons()) {
    absl::StrAppend(&out, "  - ", reason, "\n");
  }
  absl::StrAppend(&out, "Hypervisor: ", HypervisorKindName(c.hypervisor_kind()), "\n");
  absl::StrAppend(&out, "Recommendation: ", c.recommendation(), "\n");
  if (c.to_change_verdict_size() > 0) {
    absl::StrAppend(&out, "To change the verdict:\n");
    for (const std::string& fix : c.to_change_verdict()) {
      absl::StrAppend(&out, "  - ", fix, "\n");
    }
  }
  if (c.has_probe_duration()) {
    absl::StrAppend(&out, "Probe took ",
                    google::protobuf::util::TimeUtil::DurationToMilliseconds(c.probe_duration()),
                    " ms\n");
  }
  return out;
}

}  // namespace kvmfarm::probe
