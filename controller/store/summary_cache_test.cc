#include "controller/store/summary_cache.h"

#include <google/protobuf/util/time_util.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/scratch_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::store {
namespace {

void StoreResult(Store* store, const std::string& sweep, const std::string& device, double value,
                 int64_t when) {
  farm::v1::Sweep s;
  s.set_sweep_id(sweep);
  ASSERT_TRUE(store->CreateSweep(s).ok());
  farm::v1::Task task;
  task.set_task_id(sweep + "/t0");
  task.set_sweep_id(sweep);
  task.set_device_id(device);
  *task.mutable_finished_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(when);
  farm::v1::Measurement* m = task.mutable_benchmark()->add_measurements();
  m->set_metric("crypto.sha256");
  m->set_mode(farm::v1::MODE_NATIVE);
  m->add_values(value);
  m->set_median(value);
  ASSERT_TRUE(store->StoreTaskResult(task, task.task_id() + "/a1").ok());
}

TEST(SummaryCacheTest, ServesFromMemoryAndRereadsAfterInvalidation) {
  std::unique_ptr<SqliteStore> store = testing::OpenScratchStore();
  StoreResult(store.get(), "s1", "d1", 100, 1);
  SummaryCache cache(store.get());
  absl::StatusOr<SummarySet> first = cache.Latest({"d1", "d2"});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].measurement.median(), 100);

  // A newer result is in the database; until invalidated the cache still serves
  // the old one: it is the scheduler's job to say so.
  StoreResult(store.get(), "s2", "d1", 200, 2);
  EXPECT_EQ((*cache.Latest({"d1"}))[0].measurement.median(), 100);
  cache.Invalidate("d1");
  EXPECT_EQ((*cache.Latest({"d1"}))[0].measurement.median(), 200);
  EXPECT_TRUE(cache.Latest({"d2"})->empty());
  // A set taken before the invalidation still reads what it was given: the cache
  // shares its summaries, it doesn't copy them, and they outlive being dropped.
  EXPECT_EQ((*first)[0].measurement.median(), 100);
  EXPECT_EQ((*first)[0].device_id, "d1");
}

}  // namespace
}  // namespace kvmfarm::store
