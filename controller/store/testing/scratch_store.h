// -----------------------------------------------------------------------------
// File: scratch_store.h
// -----------------------------------------------------------------------------
//
// A new, empty SQLite store for a unit test of what sits on the store (fleet,
// scheduler, comparison, task logs, the service): one database file per test
// under TEST_TMPDIR, so tests never see each other's rows.
//
// Example:
//
//   std::string path;
//   std::unique_ptr<store::SqliteStore> store = store::testing::OpenScratchStore(&path);
//   fleet::Fleet fleet(store.get(), &clock, fleet::FleetOptions());
#ifndef KVMFARM_CONTROLLER_STORE_TESTING_SCRATCH_STORE_H_
#define KVMFARM_CONTROLLER_STORE_TESTING_SCRATCH_STORE_H_

#include <memory>
#include <string>

#include "common/testing/test_paths.h"
#include "controller/store/sqlite_store.h"
#include "gtest/gtest.h"

namespace kvmfarm::store::testing {

// Opens FreshTestPath(".db"); `path`, when given, receives the file's path (to open
// it again). A store that fails to open fails the test and returns null.
inline std::unique_ptr<SqliteStore> OpenScratchStore(std::string* path = nullptr) {
  const std::string db = kvmfarm::testing::FreshTestPath(".db");
  if (path != nullptr) *path = db;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(db);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

}  // namespace kvmfarm::store::testing

#endif  // KVMFARM_CONTROLLER_STORE_TESTING_SCRATCH_STORE_H_
