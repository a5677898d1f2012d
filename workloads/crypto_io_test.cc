#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workloads/crypto.h"
#include "workloads/io.h"

namespace kvmfarm::workloads {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CryptoWorkloadTest, BothCiphersReportThroughput) {
  std::unique_ptr<Workload> w = MakeCryptoWorkload(1 << 20);
  ASSERT_THAT(w->Prepare(), IsOk());
  absl::StatusOr<std::vector<Sample>> samples = w->RunOnce();
  ASSERT_THAT(samples, IsOk());
  ASSERT_EQ(samples->size(), 2u);
  EXPECT_EQ((*samples)[0].metric, "crypto.sha256");
  EXPECT_EQ((*samples)[1].metric, "crypto.aes256gcm");
  EXPECT_GT((*samples)[0].value, 0);
  EXPECT_GT((*samples)[1].value, 0);
  EXPECT_EQ(w->parameters().at("block_bytes"), "16384");
}

TEST(IoWorkloadTest, WritesReadsAndCleansUp) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  std::unique_ptr<Workload> w = MakeIoWorkload(dir, 4 << 20);
  absl::Status prepared = w->Prepare();
  if (absl::IsFailedPrecondition(prepared)) GTEST_SKIP() << prepared;  // TEST_TMPDIR on tmpfs
  ASSERT_THAT(prepared, IsOk());
  absl::StatusOr<std::vector<Sample>> samples = w->RunOnce();
  ASSERT_THAT(samples, IsOk());
  ASSERT_EQ(samples->size(), 2u);
  EXPECT_EQ((*samples)[0].metric, "io.write");
  EXPECT_GT((*samples)[0].value, 0);
  EXPECT_GT((*samples)[1].value, 0);
  // No file left behind.
  const std::string leftover = dir + "/farm-workload-io." + std::to_string(getpid()) + ".tmp";
  struct stat st;
  EXPECT_NE(stat(leftover.c_str(), &st), 0);
}

TEST(IoWorkloadTest, RefusesARamFilesystem) {
  struct stat st;
  if (stat("/dev/shm", &st) != 0) GTEST_SKIP() << "no /dev/shm here";
  std::unique_ptr<Workload> w = MakeIoWorkload("/dev/shm", 4 << 20);
  EXPECT_THAT(w->Prepare(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("RAM filesystem")));
}

TEST(IoWorkloadTest, MissingDirectoryIsAClearError) {
  std::unique_ptr<Workload> w = MakeIoWorkload("/nonexistent-dir", 4 << 20);
  EXPECT_THAT(w->Prepare(), StatusIs(absl::StatusCode::kInternal, HasSubstr("/nonexistent-dir")));
}

}  // namespace
}  // namespace kvmfarm::workloads
