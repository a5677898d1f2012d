#include "workloads/reference_tools.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::workloads {
namespace {

TEST(ReferenceToolsTest, OpensslSpeedRows) {
  const char* out =
      "The 'numbers' are in 1000s of bytes per second processed.\n"
      "type          16384 bytes\n"
      "AES-256-GCM    5047347.72k\n";
  absl::StatusOr<double> mbps = ParseOpensslSpeed(out, "AES-256-GCM");
  ASSERT_TRUE(mbps.ok());
  EXPECT_NEAR(*mbps, 5047.34772, 1e-6);
  EXPECT_FALSE(ParseOpensslSpeed(out, "sha256").ok());
  EXPECT_FALSE(ParseOpensslSpeed("", "sha256").ok());
}

TEST(ReferenceToolsTest, SysbenchMemory) {
  absl::StatusOr<double> mbps =
      ParseSysbenchMemory("Total operations: 16\n\n4096.00 MiB transferred (24512.46 MiB/sec)\n");
  ASSERT_TRUE(mbps.ok());
  EXPECT_NEAR(*mbps, 24512.46 * 1.048576, 1e-6);
  EXPECT_FALSE(ParseSysbenchMemory("garbage").ok());
}

}  // namespace
}  // namespace kvmfarm::workloads
