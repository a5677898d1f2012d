#include "common/measurement.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

TEST(MedianTest, OddEvenAndEmpty) {
  EXPECT_EQ(Median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(Median({4.0, 1.0, 3.0, 2.0}), 2.5);
  EXPECT_EQ(Median({7.0}), 7.0);
  EXPECT_FALSE(Median({}).has_value());
}

TEST(SummarizeTest, FillsFromValuesAndClearsWithoutThem) {
  farm::v1::Measurement m;
  m.add_values(35.5);
  m.add_values(34.0);
  m.add_values(36.25);
  Summarize(&m);
  EXPECT_EQ(m.median(), 35.5);
  EXPECT_EQ(m.min(), 34.0);
  EXPECT_EQ(m.max(), 36.25);
  m.clear_values();
  Summarize(&m);
  EXPECT_FALSE(m.has_median());
  EXPECT_FALSE(m.has_min());
  EXPECT_FALSE(m.has_max());
}

TEST(ParametersKeyTest, SortedAndWithoutTheNamedParameter) {
  farm::v1::Measurement m;
  (*m.mutable_parameters())["size_bytes"] = "1048576";
  (*m.mutable_parameters())["block_bytes"] = "16384";
  (*m.mutable_parameters())[kGuestArchParameter] = "arm64";
  EXPECT_EQ(ParametersKey(m.parameters()), "block_bytes=16384,guest_arch=arm64,size_bytes=1048576");
  EXPECT_EQ(ParametersKey(m.parameters(), kGuestArchParameter),
            "block_bytes=16384,size_bytes=1048576");
  EXPECT_EQ(ParametersKey(farm::v1::Measurement().parameters()), "");
}

TEST(MetricLabelTest, NamesTheGuestArchitectureWhenItIsNotTheHosts) {
  farm::v1::Measurement m;
  EXPECT_EQ(MetricLabel("crypto.sha256", m.parameters()), "crypto.sha256");
  (*m.mutable_parameters())["size_bytes"] = "1048576";
  EXPECT_EQ(MetricLabel("crypto.sha256", m.parameters()), "crypto.sha256");
  (*m.mutable_parameters())[kGuestArchParameter] = "arm64";
  EXPECT_EQ(MetricLabel("crypto.sha256", m.parameters()), "crypto.sha256 (arm64 guest)");
}

}  // namespace
}  // namespace kvmfarm
