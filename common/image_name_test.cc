#include "common/image_name.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ImageNameTest, OneNameFromTheImageDirectory) {
  EXPECT_THAT(CheckImageName("x86_64", "guest.image"), IsOk());
  EXPECT_THAT(CheckImageName("arm64-v2.1", "guest.image"), IsOk());
}

TEST(ImageNameTest, PathsAndOddNamesAreRefusedNamingTheField) {
  for (const char* bad : {"../../etc", "/boot", "a/b", ".", "..", "", "x y", "image;rm"}) {
    EXPECT_THAT(
        CheckImageName(bad, "spec.plan.guest.image"),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr(absl::StrCat("spec.plan.guest.image '", bad, "' is not an image name"))))
        << bad;
  }
}

}  // namespace
}  // namespace kvmfarm
