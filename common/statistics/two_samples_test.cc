#include "common/statistics/two_samples.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kvmfarm::statistics {
namespace {

using ::testing::DoubleNear;
using ::testing::Optional;

// Expected U and p computed once, independently, with scipy 1.10.1 (Debian
// bookworm's python3-scipy): scipy.stats.mannwhitneyu(x, y), its defaults
// (method="auto", two-sided, use_continuity=True).
struct Known {
  const char* name;
  std::vector<double> x, y;
  double u, p;
  bool exact;
};

TEST(MannWhitneyUTest, AgreesWithScipy) {
  const std::vector<Known> cases = {
      {"three_each", {1, 2, 3}, {4, 5, 6}, 0.0, 0.1, true},
      {"textbook", {19, 22, 16, 29, 24}, {20, 11, 17, 12}, 17.0, 0.1111111111111111, true},
      {"ties", {1, 2, 2, 3, 4}, {2, 3, 5, 6, 7, 8}, 4.5, 0.06476896969888761, false},
      {"large",
       {1.1, 2.3, 3.2, 4.8, 5.1, 6.7, 7.2, 8.9, 9.4, 10.1},
       {3.5, 4.4, 6.1, 7.7, 9.9, 10.6, 11.3, 12.8, 13.2, 14.9, 15.5},
       23.0,
       0.02654370762772395,
       false},
      {"five_each_apart",
       {10.1, 10.3, 10.2, 10.4, 10.0},
       {11.0, 11.2, 11.1, 11.3, 10.9},
       0.0,
       0.007936507936507936,
       true},
      {"one_overlap",
       {10.1, 10.3, 10.2, 10.4, 11.05},
       {11.0, 11.2, 11.1, 11.3, 10.9},
       2.0,
       0.031746031746031744,
       true},
      {"nine_vs_three",
       {1, 2, 3, 4, 5, 6, 7, 8, 9},
       {2.5, 7.5, 10},
       9.0,
       0.48181818181818176,
       true},
  };
  for (const Known& c : cases) {
    const UTest test = MannWhitneyU(c.x, c.y);
    EXPECT_DOUBLE_EQ(test.u, c.u) << c.name;
    EXPECT_NEAR(test.p_value, c.p, 1e-12) << c.name;
    EXPECT_EQ(test.exact, c.exact) << c.name;
  }
}

TEST(MannWhitneyUTest, EqualOrEmptySamplesShowNoDifference) {
  EXPECT_EQ(MannWhitneyU({}, {1, 2}).p_value, 1);
  EXPECT_EQ(MannWhitneyU({5, 5, 5, 5, 5, 5, 5, 5, 5}, {5, 5, 5, 5, 5, 5, 5, 5, 5}).p_value, 1);
}

TEST(MannWhitneyUTest, ThreeRepetitionsASideCanNeverBeSignificant) {
  EXPECT_DOUBLE_EQ(SmallestUTestP(3, 3), 0.1);
  EXPECT_NEAR(SmallestUTestP(5, 5), 0.007936507936507936, 1e-15);  // 2 / C(10, 5)
  EXPECT_NEAR(SmallestUTestP(4, 4), 2.0 / 70, 1e-15);
  EXPECT_EQ(SmallestUTestP(0, 5), 1);
}

TEST(BootstrapMedianRatioTest, ReproducibleAndAroundTheTrueRatio) {
  const std::vector<double> before = {100, 102, 98, 101, 99, 100, 103};
  const std::vector<double> slower = {80, 82, 78, 81, 79, 80, 83};
  const std::optional<Interval> ratio = BootstrapMedianRatio(before, slower);
  ASSERT_TRUE(ratio.has_value());
  EXPECT_LT(ratio->low, 0.8);
  EXPECT_GT(ratio->high, 0.8);
  EXPECT_LT(ratio->high, 1.0);  // 20 % slower is outside "no change"
  const std::optional<Interval> again = BootstrapMedianRatio(before, slower);
  EXPECT_EQ(again->low, ratio->low);
  EXPECT_EQ(again->high, ratio->high);
  const std::optional<Interval> same = BootstrapMedianRatio(before, before);
  ASSERT_TRUE(same.has_value());
  EXPECT_LE(same->low, 1.0);
  EXPECT_GE(same->high, 1.0);
  EXPECT_FALSE(BootstrapMedianRatio({}, slower).has_value());
  EXPECT_FALSE(BootstrapMedianRatio({0, 0}, slower).has_value());
}

TEST(CoefficientOfVariationTest, IsTheSampleDeviationOverTheMean) {
  // numpy.std([10, 12, 14], ddof=1) / numpy.mean(...) * 100 = 16.666...
  EXPECT_THAT(CoefficientOfVariationPercent({10, 12, 14}),
              Optional(DoubleNear(16.666666666666664, 1e-12)));
  EXPECT_FALSE(CoefficientOfVariationPercent({5}).has_value());
  EXPECT_FALSE(CoefficientOfVariationPercent({-1, 1}).has_value());
}

TEST(MedianTest, OddAndEvenCounts) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({}), 0);
}

}  // namespace
}  // namespace kvmfarm::statistics
