#include "agent/vm/provenance.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

std::string Write(const std::string& name, const std::string& content) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// The digest is of the kernel's bytes followed by the initramfs's: `printf abc |
// sha256sum` gives ba7816bf...f20015ad (FIPS 180-2's example).
TEST(ProvenanceTest, TheImageDigestIsOfTheKernelThenTheInitramfs) {
  GuestImage image;
  image.kernel = Write("vmlinuz", "ab");
  image.initramfs = Write("initrd", "c");
  EXPECT_EQ(ImageSha256(image), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Rewritten (a new size): computed again, not served from the cache.
  Write("initrd", "cd");
  EXPECT_EQ(ImageSha256(image), "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
  image.initramfs += ".missing";
  EXPECT_EQ(ImageSha256(image), "");
}

TEST(ProvenanceTest, QemuVersionIsTheVersionOnTheFirstLine) {
  // A stand-in for qemu-system-*: a script printing what QEMU prints.
  const std::string fake = Write("qemu-system-fake",
                                 "#!/bin/sh\necho 'QEMU emulator version 7.2.5 (Debian 1:7.2)'\n"
                                 "echo 'Copyright (c) 2003-2022 Fabrice Bellard'\n");
  ASSERT_EQ(::chmod(fake.c_str(), 0755), 0);
  EXPECT_EQ(QemuVersion(fake), "7.2.5 (Debian 1:7.2)");
  EXPECT_EQ(QemuVersion(fake + ".missing"), "");
}

}  // namespace
}  // namespace kvmfarm::vm
