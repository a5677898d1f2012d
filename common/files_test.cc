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

}  // namespace
}  // namespace kvmfarm
