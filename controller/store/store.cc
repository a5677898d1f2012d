#include "controller/store/store.h"

#include "common/measurement.h"

namespace kvmfarm::store {

std::string ParametersKeyOf(const StoredSummary& summary) {
  if (!summary.parameters_key.empty() || summary.measurement.parameters().empty()) {
    return summary.parameters_key;
  }
  return ParametersKey(summary.measurement.parameters());
}

}  // namespace kvmfarm::store
