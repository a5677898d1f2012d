#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "common/testing/wait_for.h"
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

// Where one of this process's descriptors leads into `dir`: "" when none does.
std::string OpenFileIn(const std::string& dir) {
  std::error_code error;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    const std::string target = std::filesystem::read_symlink(fd.path(), error).string();
    if (!error && absl::StartsWith(target, dir + "/")) return target;
  }
  return "";
}

TEST(IoWorkloadTest, WritesReadsAndLeavesNothing) {
  const std::string dir = kvmfarm::testing::FreshTestDir();
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
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  EXPECT_EQ(OpenFileIn(dir), "");
}

// The file has no name even while it is written: a SIGKILL leaves nothing behind.
TEST(IoWorkloadTest, TheFileHasNoNameWhileItIsWritten) {
  const std::string dir = kvmfarm::testing::FreshTestDir();
  std::unique_ptr<Workload> w = MakeIoWorkload(dir, 512 << 20);
  absl::Status prepared = w->Prepare();
  if (absl::IsFailedPrecondition(prepared)) GTEST_SKIP() << prepared;  // TEST_TMPDIR on tmpfs
  ASSERT_THAT(prepared, IsOk());
  absl::StatusOr<std::vector<Sample>> samples;
  std::thread run([&] { samples = w->RunOnce(); });
  std::string open_file;
  const bool open =
      kvmfarm::testing::WaitFor([&] { return !(open_file = OpenFileIn(dir)).empty(); },
                                absl::Seconds(30), absl::Milliseconds(1));
  const bool nameless = std::filesystem::is_empty(dir);
  run.join();
  ASSERT_THAT(samples, IsOk());
  ASSERT_TRUE(open) << "the io file was never seen open";
  EXPECT_TRUE(nameless) << "the io file had a name while open: " << open_file;
  EXPECT_THAT(open_file, HasSubstr("(deleted)"));
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
