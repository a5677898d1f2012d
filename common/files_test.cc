#include "common/files.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(FilesTest, ListsADirectorySortedWithoutDotEntries) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/listing";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  std::ofstream(dir + "/b") << "x";
  std::ofstream(dir + "/.hidden") << "x";
  ASSERT_EQ(mkdir((dir + "/a").c_str(), 0755), 0);
  EXPECT_THAT(ListDirectory(dir), ElementsAre(".hidden", "a", "b"));
  EXPECT_TRUE(IsDirectory(dir + "/a"));
  EXPECT_FALSE(IsDirectory(dir + "/b"));
  EXPECT_FALSE(IsDirectory(dir + "/missing"));
  EXPECT_THAT(ListDirectory(dir + "/missing"), IsEmpty());
}

TEST(FilesTest, ASecretFileMustBeItsOwnersOnly) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/secret";
  std::ofstream(path) << "s3cret";
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_THAT(CheckOwnerOnly(path, "--token_file"), IsOk());
  for (mode_t open : {0640, 0604, 0620}) {
    ASSERT_EQ(chmod(path.c_str(), open), 0);
    EXPECT_THAT(CheckOwnerOnly(path, "--token_file"),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--token_file " + path)))
        << std::oct << open;
  }
  EXPECT_THAT(CheckOwnerOnly(path + ".missing", "the key"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot be read")));
}

TEST(FilesTest, ASecretIsTheFirstLineOfAnOwnerOnlyFile) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/hook-secret";
  std::ofstream(path) << "  s3cret \nsecond line\n";
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_THAT(ReadSecretFile(path, "--webhook_secret_file"), IsOkAndHolds("s3cret"));
  std::ofstream(path) << "\n";
  EXPECT_THAT(ReadSecretFile(path, "--webhook_secret_file"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is empty")));
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  EXPECT_THAT(ReadSecretFile(path, "--webhook_secret_file"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--webhook_secret_file")));
}

}  // namespace
}  // namespace kvmfarm
