#include "agent/work_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// A directory with a file in it, as an agent leaves it.
std::string MakeAgentDir(const std::string& parent, const std::string& name) {
  const std::string dir = absl::StrCat(parent, "/", name);
  std::filesystem::create_directories(dir + "/kvmfarm-qmp-abc");
  std::ofstream(dir + "/farm-scratch-abc") << "disk";
  return dir;
}

// Whether another open file description could take `dir`'s lock now.
bool LockIsFree(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << dir;
  const bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);
  return free;
}

TEST(AgentWorkDirTest, ClaimMakesALockedDirectoryOfItsOwnAndRemovesItWhenDone) {
  const std::string parent = testing::FreshTestPath() + "/work/nested";
  std::string own;
  {
    absl::StatusOr<std::unique_ptr<AgentWorkDir>> claimed = AgentWorkDir::Claim(parent);
    ASSERT_THAT(claimed, IsOk());
    own = (*claimed)->path();
    EXPECT_EQ(own, absl::StrCat(parent, "/farm-agent.", getpid()));
    EXPECT_TRUE(IsDirectory(own));
    EXPECT_FALSE(LockIsFree(own));
    std::ofstream(own + "/farm-scratch-1") << "disk";
  }
  EXPECT_FALSE(std::filesystem::exists(own));
  EXPECT_THAT(ListDirectory(parent), ::testing::IsEmpty());
}

TEST(AgentWorkDirTest, DeadAgentsDirectoriesGoAndALiveOnesStays) {
  const std::string parent = testing::FreshTestDir();
  const std::string dead = MakeAgentDir(parent, "farm-agent.111");
  const std::string half_made = MakeAgentDir(parent, "farm-agent-new.Xy12Zq");
  const std::string live = MakeAgentDir(parent, "farm-agent.222");
  MakeAgentDir(parent, "someone-else");
  std::ofstream(parent + "/farm-agent.file") << "not a directory";
  ASSERT_EQ(symlink(live.c_str(), (parent + "/farm-agent.link").c_str()), 0);
  // The live agent's lock, held through its own open file description.
  const int live_lock = open(live.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_EQ(flock(live_lock, LOCK_EX | LOCK_NB), 0);

  EXPECT_THAT(RemoveDeadAgentDirs(parent), UnorderedElementsAre(dead, half_made));
  EXPECT_THAT(ListDirectory(parent),
              ElementsAre("farm-agent.222", "farm-agent.file", "farm-agent.link", "someone-else"));
  EXPECT_TRUE(std::filesystem::exists(live + "/farm-scratch-abc"));

  // Once its owner is gone, the next agent to start removes it.
  close(live_lock);
  absl::StatusOr<std::unique_ptr<AgentWorkDir>> claimed = AgentWorkDir::Claim(parent);
  ASSERT_THAT(claimed, IsOk());
  EXPECT_THAT((*claimed)->removed(), ElementsAre(live));
  EXPECT_THAT(ListDirectory(parent),
              ElementsAre(absl::StrCat("farm-agent.", getpid()), "farm-agent.file",
                          "farm-agent.link", "someone-else"));
}

TEST(AgentWorkDirTest, AWorkDirThatCannotBeMadeIsNamed) {
  EXPECT_THAT(AgentWorkDir::Claim("/proc/kvmfarm-no/work"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cannot create --work-dir '/proc/kvmfarm-no/work'")));
}

TEST(FreeSpaceTest, TheMarginIsTenPercentUpToOneGib) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  EXPECT_EQ(MinimumFreeBytes(4 * kGiB), 4 * kGiB / 10);
  EXPECT_EQ(MinimumFreeBytes(10 * kGiB), kGiB);
  EXPECT_EQ(MinimumFreeBytes(256 * kGiB), kGiB);
}

TEST(FreeSpaceTest, AWriteThatWouldEatTheMarginIsRefusedNamingBothFigures) {
  const std::string dir = testing::FreshTestDir();
  struct statvfs fs;
  ASSERT_EQ(statvfs(dir.c_str(), &fs), 0);
  const uint64_t free_bytes = uint64_t{fs.f_bavail} * fs.f_frsize;
  EXPECT_THAT(CheckRoomToWrite(dir, 1 << 20, "io"), IsOk());
  // All that is free, and then some: nothing would be left for the device.
  const uint64_t too_much = free_bytes + (uint64_t{1} << 30);
  EXPECT_THAT(CheckRoomToWrite(dir, too_much, "io"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(absl::StrCat("io needs ", too_much, " bytes")),
                             HasSubstr(dir), HasSubstr("are free"), HasSubstr("size_bytes"))));
  EXPECT_THAT(CheckRoomToWrite("/nonexistent-dir", 1, "io"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("/nonexistent-dir")));
}

}  // namespace
}  // namespace kvmfarm
