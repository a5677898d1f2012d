#include "controller/store/summary_cache.h"

#include <utility>

#include "common/status_macros.h"

namespace kvmfarm::store {

absl::StatusOr<SummarySet> SummaryCache::Latest(const std::vector<std::string>& device_ids) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> missing;
  for (const std::string& id : device_ids) {
    if (!by_device_.count(id)) missing.push_back(id);
  }
  if (!missing.empty()) {
    ASSIGN_OR_RETURN(std::vector<StoredSummary> loaded, store_->LatestSummaries(missing));
    std::map<std::string, std::vector<StoredSummary>> grouped;
    for (const std::string& id : missing) grouped[id];  // cached, even when empty
    for (StoredSummary& s : loaded) grouped[s.device_id].push_back(std::move(s));
    for (auto& [id, summaries] : grouped) {
      by_device_[id] = std::make_shared<const std::vector<StoredSummary>>(std::move(summaries));
    }
  }
  SummarySet set;
  for (const std::string& id : device_ids) {
    const std::shared_ptr<const std::vector<StoredSummary>>& cached = by_device_[id];
    for (const StoredSummary& s : *cached) set.pointers_.push_back(&s);
    set.owners_.push_back(cached);
  }
  return set;
}

void SummaryCache::Invalidate(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  by_device_.erase(device_id);
}

void SummaryCache::InvalidateAll() {
  absl::MutexLock lock(&mu_);
  by_device_.clear();
}

}  // namespace kvmfarm::store
