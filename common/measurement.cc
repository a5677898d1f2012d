#include "common/measurement.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/statistics/two_samples.h"

namespace kvmfarm {

absl::optional<double> Median(std::vector<double> values) {
  if (values.empty()) return absl::nullopt;
  return statistics::Median(std::move(values));
}

void Summarize(farm::v1::Measurement* m) {
  if (m->values().empty()) {
    m->clear_median();
    m->clear_min();
    m->clear_max();
    return;
  }
  const std::vector<double> values(m->values().begin(), m->values().end());
  m->set_median(*Median(values));
  m->set_min(*std::min_element(values.begin(), values.end()));
  m->set_max(*std::max_element(values.begin(), values.end()));
}

std::string MetricLabel(absl::string_view metric,
                        const google::protobuf::Map<std::string, std::string>& parameters) {
  auto arch = parameters.find(kGuestArchParameter);
  return arch == parameters.end() ? std::string(metric)
                                  : absl::StrCat(metric, " (", arch->second, " guest)");
}

std::string ParametersKey(const google::protobuf::Map<std::string, std::string>& parameters,
                          absl::string_view without) {
  std::map<std::string, std::string> sorted(parameters.begin(), parameters.end());
  std::vector<std::string> parts;
  for (const auto& [key, value] : sorted) {
    if (key != without) parts.push_back(absl::StrCat(key, "=", value));
  }
  return absl::StrJoin(parts, ",");
}

std::string RatioText(double value, const farm::v1::Interval* interval, absl::string_view unit) {
  std::string text = absl::StrFormat("%.1f%s", value, unit);
  if (interval != nullptr) {
    absl::StrAppendFormat(&text, " [%.1f-%.1f]", interval->low(), interval->high());
  }
  return text;
}

}  // namespace kvmfarm
