#include "common/measurement.h"

#include <algorithm>

namespace kvmfarm {

absl::optional<double> Median(std::vector<double> values) {
  if (values.empty()) return absl::nullopt;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  if (values.size() % 2 == 1) return values[mid];
  const double upper = values[mid];
  const double lower = *std::max_element(values.begin(), values.begin() + mid);
  return (lower + upper) / 2;
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

}  // namespace kvmfarm
