#include "common/files.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::ElementsAre;
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

}  // namespace
}  // namespace kvmfarm
