#include "controller/store/summary_cache.h"

#include <utility>

#include "common/status_macros.h"

namespace kvmfarm::store {

absl::StatusOr<std::vector<StoredSummary>> SummaryCache::Latest(
    const std::vector<std::string>& device_ids) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> missing;
  for (const std::string& id : device_ids) {
    if (!by_device_.count(id)) missing.push_back(id);
  }
  if (!missing.empty()) {
    ASSIGN_OR_RETURN(std::vector<StoredSummary> loaded, store_->LatestSummaries(missing));
    for (const std::string& id : missing) by_device_[id];  // cached, even when empty
    for (StoredSummary& s : loaded) by_device_[s.device_id].push_back(std::move(s));
  }
  std::vector<StoredSummary> out;
  for (const std::string& id : device_ids) {
    const std::vector<StoredSummary>& cached = by_device_[id];
    out.insert(out.end(), cached.begin(), cached.end());
  }
  return out;
}

void SummaryCache::Invalidate(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  by_device_.erase(device_id);
}

}  // namespace kvmfarm::store
