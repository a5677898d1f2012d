#include "agent/vm/image.h"

#include "agent/probe/probe_test_util.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/x86_64/kernel", "k");
    root_.Write("/x86_64/initramfs.cpio.gz", "i");
    root_.Write("/x86_64/image.conf", "arch=x86_64\nworkloads=yes\n");
    root_.Write("/broken/kernel", "k");
    root_.Write("/secret/kernel", "k");
  }
  ScratchRoot root_;
};

TEST_F(ImageTest, ResolvesAnImageByName) {
  absl::StatusOr<GuestImage> image = ResolveImage(root_.path(), "x86_64");
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->arch, farm::v1::CPU_ARCH_X86_64);
  EXPECT_TRUE(image->has_workloads);
  EXPECT_EQ(image->kernel, root_.path() + "/x86_64/kernel");
}

TEST_F(ImageTest, RefusesNamesThatCouldLeaveTheDirectory) {
  for (const char* name : {"../x86_64", "x86_64/../secret", "/etc", "..", ".", "a b", "x;rm"}) {
    EXPECT_THAT(ResolveImage(root_.path(), name),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("guest.image")))
        << name;
  }
  EXPECT_THAT(ResolveImage(root_.path(), ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("required")));
}

TEST_F(ImageTest, MissingImagesAndFilesAreNotFoundAndListWhatThereIs) {
  EXPECT_THAT(ResolveImage(root_.path(), "riscv64"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("images: broken, secret, x86_64")));
  EXPECT_THAT(ResolveImage(root_.path(), "broken"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("initramfs.cpio.gz")));
  EXPECT_THAT(ResolveImage("/nonexistent-images", "x86_64"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--image-dir")));
  EXPECT_THAT(ListImages(root_.path()), ElementsAre("broken", "secret", "x86_64"));
}

TEST(GuestImageNameTest, TheNamedImageElseTheHostsOwn) {
  farm::v1::GuestConfig guest;
  EXPECT_EQ(GuestImageName(guest), HostImageName());
  guest.set_image("arm64");
  EXPECT_EQ(GuestImageName(guest), "arm64");
}

}  // namespace
}  // namespace kvmfarm::vm
