// -----------------------------------------------------------------------------
// File: failing_store.h
// -----------------------------------------------------------------------------
//
// A store whose writes fail on command, for tests of the rule every writer keeps:
// a change that could not be written is not acted on and not announced. It wraps
// a real store (a scratch SQLite store, through WrappedStore): reads always pass
// through, and a write
// whose method is named in `Fail` answers RESOURCE_EXHAUSTED "database or disk is
// full" (what SQLite says on a full disk) without reaching the real store, and so
// does a write about a device, sweep, task or attempt whose id is named in FailFor.
//
// Example:
//
//   std::unique_ptr<SqliteStore> real = OpenScratchStore();
//   FailingStore store(real.get());
//   store.Fail({"RecordAttempt", "StoreTaskResult"});
//   ... the code under test sees a full disk ...
//   store.Fail({});  // the disk has room again
#ifndef KVMFARM_CONTROLLER_STORE_TESTING_FAILING_STORE_H_
#define KVMFARM_CONTROLLER_STORE_TESTING_FAILING_STORE_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "controller/store/store.h"
#include "controller/store/wrapped_store.h"

namespace kvmfarm::store::testing {

class FailingStore final : public WrappedStore {
 public:
  explicit FailingStore(Store* real) : WrappedStore(real) {}

  // The write methods that fail from now on ("PutTask", "RecordAttempt", ...).
  void Fail(std::set<std::string> methods) {
    absl::MutexLock lock(&mu_);
    failing_ = std::move(methods);
  }
  // Writes about these ids (device_id, sweep_id, task_id, attempt_id) fail from now on.
  void FailFor(std::set<std::string> ids) {
    absl::MutexLock lock(&mu_);
    failing_ids_ = std::move(ids);
  }
  // How many writes failed so far.
  int failed_writes() {
    absl::MutexLock lock(&mu_);
    return failed_writes_;
  }

 protected:
  absl::Status BeforeWrite(const std::string& method, const std::string& id) override {
    absl::MutexLock lock(&mu_);
    if (!failing_.count(method) && !failing_ids_.count(id)) return absl::OkStatus();
    ++failed_writes_;
    return absl::ResourceExhaustedError(
        absl::StrCat("database or disk is full (", method, ", injected by FailingStore)"));
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> failing_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> failing_ids_ ABSL_GUARDED_BY(mu_);
  int failed_writes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvmfarm::store::testing

#endif  // KVMFARM_CONTROLLER_STORE_TESTING_FAILING_STORE_H_
