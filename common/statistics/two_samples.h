// -----------------------------------------------------------------------------
// File: two_samples.h
// -----------------------------------------------------------------------------
//
// Whether two samples of one figure differ, from every repetition rather than two
// medians (issue 20): the Mann-Whitney U test for "is one shifted", a bootstrap
// interval of the ratio of their medians for "by how much", and the coefficient of
// variation for "how noisy". Deterministic: the bootstrap's generator has a fixed
// seed, so the same samples always give the same answer.
//
// The U test gives what scipy.stats.mannwhitneyu (1.10, method="auto",
// two-sided, continuity-corrected) gives: the exact distribution of U when a
// sample has at most 8 values and there are no ties; otherwise the normal
// approximation with the tie correction.
//
// Example:
//
//   const UTest u = MannWhitneyU(before, after);
//   if (u.p_value < 0.05) ...
//   const Interval ratio = BootstrapMedianRatio(before, after);  // after / before
#ifndef KVMFARM_COMMON_STATISTICS_TWO_SAMPLES_H_
#define KVMFARM_COMMON_STATISTICS_TWO_SAMPLES_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace kvmfarm::statistics {

struct UTest {
  // U of the first sample (the number of pairs in which its value is larger, ties
  // counting one half).
  double u = 0;
  // Two-sided.
  double p_value = 1;
  bool exact = false;
};

// Both samples non-empty; otherwise p = 1.
UTest MannWhitneyU(const std::vector<double>& x, const std::vector<double>& y);

// The smallest two-sided p the U test can give for samples of these sizes (no
// ties): how small a difference could possibly be shown. 3 and 3 give 0.1, so
// three repetitions a side can never be significant at 0.05.
double SmallestUTestP(int64_t n_x, int64_t n_y);

struct Interval {
  double low = 0;
  double high = 0;
};

// A percentile bootstrap interval (`confidence`, e.g. 0.95) of median(y) /
// median(x), from `resamples` resamplings of each sample, with a fixed seed.
// nullopt when a sample is empty or a resampled median of x is 0.
std::optional<Interval> BootstrapMedianRatio(const std::vector<double>& x,
                                             const std::vector<double>& y, double confidence = 0.95,
                                             int resamples = 2000);

// Standard deviation (n - 1) over the mean, in percent; nullopt for fewer than two
// values or a zero mean.
std::optional<double> CoefficientOfVariationPercent(const std::vector<double>& values);

// The median of `values` (the mean of the middle two for an even count); 0 when
// empty.
double Median(std::vector<double> values);

}  // namespace kvmfarm::statistics

#endif  // KVMFARM_COMMON_STATISTICS_TWO_SAMPLES_H_
