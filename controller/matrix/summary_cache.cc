#include "controller/matrix/summary_cache.h"

#include <utility>

namespace kvmfarm::matrix {

absl::StatusOr<std::vector<store::StoredSummary>> SummaryCache::Latest(
    const std::vector<std::string>& device_ids) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> missing;
  for (const std::string& id : device_ids) {
    if (!by_device_.count(id)) missing.push_back(id);
  }
  if (!missing.empty()) {
    absl::StatusOr<std::vector<store::StoredSummary>> loaded = store_->LatestSummaries(missing);
    if (!loaded.ok()) return loaded.status();
    for (const std::string& id : missing) by_device_[id];  // cached, even when empty
    for (store::StoredSummary& s : *loaded) by_device_[s.device_id].push_back(std::move(s));
  }
  std::vector<store::StoredSummary> out;
  for (const std::string& id : device_ids) {
    const std::vector<store::StoredSummary>& cached = by_device_[id];
    out.insert(out.end(), cached.begin(), cached.end());
  }
  return out;
}

void SummaryCache::Invalidate(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  by_device_.erase(device_id);
}

}  // namespace kvmfarm::matrix
