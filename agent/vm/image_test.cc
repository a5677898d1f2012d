#include "agent/vm/image.h"

#include <unistd.h>

#include "agent/probe/probe_test_util.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::AllOf;
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
  EXPECT_EQ(image->initramfs, root_.path() + "/x86_64/initramfs.cpio.gz");
  EXPECT_TRUE(image->acpi);
}

TEST_F(ImageTest, AnUncompressedInitramfsIsPreferredAndAcpiCanBeOff) {
  root_.Write("/tiny/kernel", "k");
  root_.Write("/tiny/initramfs.cpio", "i");
  root_.Write("/tiny/initramfs.cpio.gz", "stale");
  root_.Write("/tiny/image.conf", "arch=x86_64\nworkloads=yes\nacpi=no\n");
  absl::StatusOr<GuestImage> image = ResolveImage(root_.path(), "tiny");
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->initramfs, root_.path() + "/tiny/initramfs.cpio");
  EXPECT_FALSE(image->acpi);
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
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("has no initramfs.cpio.gz (nor initramfs.cpio)")));
  EXPECT_THAT(ResolveImage("/nonexistent-images", "x86_64"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--image-dir")));
  EXPECT_THAT(ListImages(root_.path()), ElementsAre("broken", "secret", "x86_64"));
}

// An image directory with links in it, and a complete image outside it that the
// links lead to.
class ImageLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* dir : {"/images/x86_64", "/elsewhere"}) {
      root_.Write(absl::StrCat(dir, "/kernel"), "k");
      root_.Write(absl::StrCat(dir, "/initramfs.cpio.gz"), "i");
      root_.Write(absl::StrCat(dir, "/image.conf"), "arch=x86_64\n");
    }
    root_.Write("/images/x/initramfs.cpio.gz", "i");
    root_.Write("/images/x/image.conf", "arch=x86_64\n");
    root_.Write("/images/y/image.conf", "arch=x86_64\n");
    Link(root_.path() + "/elsewhere", "/images/evil");
    Link(root_.path() + "/elsewhere/kernel", "/images/x/kernel");
    Link("../x86_64/kernel", "/images/y/kernel");  // stays inside: followed
    Link("../x86_64/initramfs.cpio.gz", "/images/y/initramfs.cpio.gz");
    Link("x86_64", "/images/alias");
    Link("images", "/linked-images");  // the directory itself may be a link
  }
  void Link(const std::string& target, const std::string& at) {
    ASSERT_EQ(symlink(target.c_str(), (root_.path() + at).c_str()), 0) << at;
  }
  std::string images() const { return root_.path() + "/images"; }
  ScratchRoot root_;
};

TEST_F(ImageLinksTest, AnImageDirectoryLinkedOutsideIsRefusedNamingBoth) {
  EXPECT_THAT(ResolveImage(images(), "evil"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("guest image 'evil'"), HasSubstr(images() + "/evil"),
                             HasSubstr("resolves to " + root_.path() + "/elsewhere"),
                             HasSubstr("outside the image directory"))));
}

TEST_F(ImageLinksTest, AFileLinkedOutsideIsRefusedNamingBoth) {
  EXPECT_THAT(ResolveImage(images(), "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("guest image 'x'"), HasSubstr(images() + "/x/kernel"),
                             HasSubstr("resolves to " + root_.path() + "/elsewhere/kernel"))));
}

TEST_F(ImageLinksTest, LinksWithinTheDirectoryAreFollowedAndQemuGetsTheRealPaths) {
  for (const char* name : {"y", "alias"}) {
    absl::StatusOr<GuestImage> image = ResolveImage(root_.path() + "/linked-images", name);
    ASSERT_THAT(image, IsOk()) << name;
    EXPECT_EQ(image->kernel, images() + "/x86_64/kernel") << name;
    EXPECT_EQ(image->initramfs, images() + "/x86_64/initramfs.cpio.gz") << name;
  }
}

TEST_F(ImageLinksTest, TheRealDirectoryBehindATreeOfLinksIsFound) {
  // Bazel's runfiles: a real directory per image, a link per file.
  root_.Write("/runfiles/images/x86_64/image.conf", "arch=x86_64\n");
  Link(images() + "/x86_64/kernel", "/runfiles/images/x86_64/kernel");
  Link(images() + "/x86_64/initramfs.cpio.gz", "/runfiles/images/x86_64/initramfs.cpio.gz");
  const std::string runfiles = root_.path() + "/runfiles/images";
  EXPECT_THAT(ResolveImage(runfiles, "x86_64"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(RealImageDirBehindLinks(runfiles), images());
  EXPECT_EQ(RealImageDirBehindLinks(images()), images());
}

TEST(GuestImageNameTest, TheNamedImageElseTheHostsOwn) {
  farm::v1::GuestConfig guest;
  EXPECT_EQ(GuestImageName(guest), HostImageName());
  guest.set_image("arm64");
  EXPECT_EQ(GuestImageName(guest), "arm64");
}

TEST(GuestImageNameTest, TheDistributionImageIsTheHostsWithTheSuffix) {
  EXPECT_EQ(DistributionImageName(), HostImageName() + "-debian");
}

}  // namespace
}  // namespace kvmfarm::vm
