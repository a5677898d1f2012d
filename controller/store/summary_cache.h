// -----------------------------------------------------------------------------
// File: summary_cache.h
// -----------------------------------------------------------------------------
//
// Store::LatestSummaries per device, kept in memory for GetMatrix. Reading and
// parsing 100,000 summaries from SQLite takes ~110 ms on the reference machine
// (10,000 devices); served from memory, the whole-fleet matrix is built in ~60 ms
// (p50; docs/SPECIFICATION.md has the scale benchmark's figures).
// A device's entry is dropped whenever a result for it is stored, and read again on
// the next query, so the matrix is never staler than the database.
//
// Example:
//
//   SummaryCache summaries(store);
//   options.on_result_stored = [&](const std::string& id) { summaries.Invalidate(id); };
//   ASSIGN_OR_RETURN(std::vector<StoredSummary> latest, summaries.Latest(device_ids));
#ifndef KVMFARM_CONTROLLER_STORE_SUMMARY_CACHE_H_
#define KVMFARM_CONTROLLER_STORE_SUMMARY_CACHE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/store/store.h"

namespace kvmfarm::store {

class SummaryCache {
 public:
  explicit SummaryCache(Store* store) : store_(store) {}

  // The latest summaries of `device_ids`, from memory where cached.
  absl::StatusOr<std::vector<StoredSummary>> Latest(const std::vector<std::string>& device_ids);
  // A result for `device_id` was stored: its summaries must be read again.
  void Invalidate(const std::string& device_id);

 private:
  Store* const store_;
  absl::Mutex mu_;
  std::map<std::string, std::vector<StoredSummary>> by_device_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_SUMMARY_CACHE_H_
