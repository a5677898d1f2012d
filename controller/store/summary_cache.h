// -----------------------------------------------------------------------------
// File: summary_cache.h
// -----------------------------------------------------------------------------
//
// Store::LatestSummaries per device, kept in memory for GetMatrix. Reading and
// parsing 150,000 summaries takes 0.7 s from SQLite and 1.8 s from PostgreSQL on
// the reference machine (10,000 devices); served from memory, and shared rather than
// copied (SummarySet), the whole-fleet matrix takes ~35 ms (p50;
// docs/SPECIFICATION.md has the scale benchmark's figures).
// A device's entry is dropped whenever a result for it is stored, and read again on
// the next query, so the matrix is never staler than the database.
//
// Example:
//
//   SummaryCache summaries(store);
//   options.on_result_stored = [&](const std::string& id) { summaries.Invalidate(id); };
//   ASSIGN_OR_RETURN(SummarySet latest, summaries.Latest(device_ids));
//   BuildMatrix(devices, latest.pointers(), group_by);
#ifndef KVMFARM_CONTROLLER_STORE_SUMMARY_CACHE_H_
#define KVMFARM_CONTROLLER_STORE_SUMMARY_CACHE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/store/store.h"

namespace kvmfarm::store {

// Summaries shared with the cache, never copied: each device's are kept alive by
// the set even when the cache drops them meanwhile (a result was stored).
class SummarySet {
 public:
  const std::vector<const StoredSummary*>& pointers() const { return pointers_; }
  size_t size() const { return pointers_.size(); }
  bool empty() const { return pointers_.empty(); }
  const StoredSummary& operator[](size_t i) const { return *pointers_[i]; }

 private:
  friend class SummaryCache;
  std::vector<std::shared_ptr<const std::vector<StoredSummary>>> owners_;
  std::vector<const StoredSummary*> pointers_;
};

class SummaryCache {
 public:
  explicit SummaryCache(Store* store) : store_(store) {}

  // The latest summaries of `device_ids`, in their order, from memory where cached.
  absl::StatusOr<SummarySet> Latest(const std::vector<std::string>& device_ids);
  // A result for `device_id` was stored: its summaries must be read again.
  void Invalidate(const std::string& device_id);
  // Everything must be read again (a replica that lost track of other replicas).
  void InvalidateAll();

 private:
  Store* const store_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const std::vector<StoredSummary>>> by_device_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_SUMMARY_CACHE_H_
