#include "common/statistics/two_samples.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

namespace kvmfarm::statistics {
namespace {

// Ranks of x's values among all, ties given their mean rank: x's rank sum, and
// the tie term sum(t^3 - t) over groups of equal values.
struct Ranked {
  double rank_sum_x = 0;
  double tie_term = 0;
  bool ties = false;
};

Ranked RankSum(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<std::pair<double, bool>> all;  // value, from x
  for (double v : x) all.push_back({v, true});
  for (double v : y) all.push_back({v, false});
  std::sort(all.begin(), all.end());
  Ranked ranked;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k) {
      if (all[k].second) ranked.rank_sum_x += mean_rank;
    }
    if (t > 1) {
      ranked.ties = true;
      ranked.tie_term += t * t * t - t;
    }
    i = j;
  }
  return ranked;
}

// How many of the C(m+n, m) orderings give each U, for samples of m and n values
// (the recursion f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u)).
std::vector<double> UCounts(int64_t m, int64_t n) {
  // counts[j][u] for the current m and every n' <= n.
  std::vector<std::vector<double>> previous(n + 1), current(n + 1);
  for (int64_t j = 0; j <= n; ++j) previous[j] = {1};  // m = 0: U is 0, one way
  for (int64_t i = 1; i <= m; ++i) {
    current[0] = {1};  // n' = 0: U is 0
    for (int64_t j = 1; j <= n; ++j) {
      std::vector<double> counts(i * j + 1, 0);
      // The largest value is from the first sample (it beats all j) or the second.
      for (size_t u = 0; u < previous[j].size(); ++u) counts[u + j] += previous[j][u];
      for (size_t u = 0; u < current[j - 1].size(); ++u) counts[u] += current[j - 1][u];
      current[j] = std::move(counts);
    }
    std::swap(previous, current);
  }
  return previous[n];
}

double NormalSurvival(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

}  // namespace

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  if (values.size() % 2 == 1) return values[mid];
  const double upper = values[mid];
  const double lower = *std::max_element(values.begin(), values.begin() + mid);
  return (lower + upper) / 2;
}

UTest MannWhitneyU(const std::vector<double>& x, const std::vector<double>& y) {
  UTest test;
  if (x.empty() || y.empty()) return test;
  const double n1 = static_cast<double>(x.size()), n2 = static_cast<double>(y.size());
  const Ranked ranked = RankSum(x, y);
  test.u = ranked.rank_sum_x - n1 * (n1 + 1) / 2;
  const double u = std::max(test.u, n1 * n2 - test.u);  // two-sided: the larger U
  test.exact = (x.size() <= 8 || y.size() <= 8) && !ranked.ties;
  if (test.exact) {
    const std::vector<double> counts =
        UCounts(static_cast<int64_t>(x.size()), static_cast<int64_t>(y.size()));
    double total = 0, at_least = 0;
    for (size_t k = 0; k < counts.size(); ++k) {
      total += counts[k];
      if (static_cast<double>(k) >= u - 1e-9) at_least += counts[k];
    }
    test.p_value = std::min(1.0, 2 * at_least / total);
    return test;
  }
  const double n = n1 + n2;
  const double sigma = std::sqrt(n1 * n2 / 12 * ((n + 1) - ranked.tie_term / (n * (n - 1))));
  if (sigma == 0) return test;  // every value equal: no evidence of a difference
  test.p_value = std::min(1.0, 2 * NormalSurvival((u - n1 * n2 / 2 - 0.5) / sigma));
  return test;
}

double SmallestUTestP(int64_t n_x, int64_t n_y) {
  if (n_x <= 0 || n_y <= 0) return 1;
  // The most extreme ordering is one of C(n_x + n_y, n_x); two-sided doubles it.
  double orderings = 1;
  for (int64_t k = 1; k <= n_x; ++k) orderings = orderings * (n_y + k) / k;
  return std::min(1.0, 2 / orderings);
}

std::optional<Interval> BootstrapMedianRatio(const std::vector<double>& x,
                                             const std::vector<double>& y, double confidence,
                                             int resamples) {
  if (x.empty() || y.empty() || resamples < 1) return std::nullopt;
  // A fixed seed and a generator the standard fixes bit for bit (mt19937_64), and
  // indices drawn without std::uniform_int_distribution (whose algorithm is the
  // library's): the same samples give the same interval everywhere.
  std::mt19937_64 generator(20261130);
  auto resample = [&generator](const std::vector<double>& from) {
    std::vector<double> drawn(from.size());
    for (double& v : drawn) v = from[generator() % from.size()];
    return Median(std::move(drawn));
  };
  std::vector<double> ratios;
  ratios.reserve(resamples);
  for (int r = 0; r < resamples; ++r) {
    const double median_x = resample(x);
    const double median_y = resample(y);
    if (median_x == 0) return std::nullopt;
    ratios.push_back(median_y / median_x);
  }
  std::sort(ratios.begin(), ratios.end());
  const double tail = (1 - confidence) / 2;
  auto at = [&ratios](double q) {
    const size_t i = static_cast<size_t>(std::floor(q * static_cast<double>(ratios.size() - 1)));
    return ratios[std::min(i, ratios.size() - 1)];
  };
  return Interval{at(tail), at(1 - tail)};
}

std::optional<double> CoefficientOfVariationPercent(const std::vector<double>& values) {
  if (values.size() < 2) return std::nullopt;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  if (mean == 0) return std::nullopt;
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double sd = std::sqrt(squares / static_cast<double>(values.size() - 1));
  return 100 * sd / std::fabs(mean);
}

}  // namespace kvmfarm::statistics
