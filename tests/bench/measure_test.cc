#include "bench/harness/measure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace trestle::bench {
namespace {

TEST(Measure, RatesAndLoss) {
  EXPECT_DOUBLE_EQ(mpps(10'000'000, 2.0), 5.0);
  EXPECT_DOUBLE_EQ(mpps(5, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(loss_pct(1000, 990), 1.0);
  EXPECT_DOUBLE_EQ(loss_pct(1000, 1000), 0.0);
  EXPECT_DOUBLE_EQ(loss_pct(1000, 1500), 0.0);  // floods do not make loss negative
  EXPECT_DOUBLE_EQ(loss_pct(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(loss_pct(10000, 9999), 0.01);
}

TEST(LatencyHistogram, PercentilesWithinOneSixteenth) {
  LatencyHistogram h;
  std::vector<uint64_t> v;
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(9.0, 1.0);  // ~8 us median, long tail
  for (int i = 0; i < 100000; ++i) {
    uint64_t x = static_cast<uint64_t>(d(rng));
    v.push_back(x);
    h.record(x);
  }
  std::sort(v.begin(), v.end());
  for (double p : {50.0, 99.0, 99.9}) {
    uint64_t exact = v[static_cast<size_t>(std::ceil(p / 100 * v.size())) - 1];
    uint64_t got = h.percentile(p).value();
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(double(got), double(exact) * 1.0625 + 1) << p;
  }
  EXPECT_EQ(h.percentile(100).value(), v.back());
  EXPECT_EQ(h.min(), v.front());
  EXPECT_EQ(h.count(), 100000u);
}

TEST(LatencyHistogram, SmallExactAndEmpty) {
  LatencyHistogram h;
  EXPECT_FALSE(h.percentile(50).has_value());
  for (uint64_t x : {1, 2, 3, 4}) h.record(x);
  EXPECT_EQ(h.percentile(50).value(), 2u);
  EXPECT_EQ(h.percentile(75).value(), 3u);
  EXPECT_EQ(h.percentile(99.9).value(), 4u);
  LatencyHistogram o;
  o.record(1000);
  h.merge(o);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_EQ(h.percentile(100).value(), 1000u);
}

// A switch that loses frames above 6.3 Mpps.
double fake_trial(double rate) { return rate > 6.3 ? 100.0 * (rate - 6.3) / rate : 0.0; }

TEST(ZeroLossSearch, FindsTheKnee) {
  ZeroLossSearch s(0.1, 20.0, 0.0, 0.05);
  int trials = 0;
  while (!s.done()) {
    double r = s.next();
    s.report(r, fake_trial(r));
    ++trials;
    ASSERT_LT(trials, 50);
  }
  EXPECT_LE(s.best(), 6.3);
  EXPECT_GE(s.best(), 6.3 - 0.05);
  EXPECT_LT(trials, 12);
}

TEST(ZeroLossSearch, StopsAtOnceWhenTheTopPasses) {
  ZeroLossSearch s(0.1, 5.0, 0.0, 0.05);
  s.report(s.next(), 0.0);
  EXPECT_TRUE(s.done());
  EXPECT_DOUBLE_EQ(s.best(), 5.0);
}

TEST(ZeroLossSearch, ToleratesTheConfiguredLoss) {
  // 0.01% allowed: a trial with 0.005% loss passes, 0.02% fails.
  ZeroLossSearch s(1, 10, 0.01, 0.5);
  s.report(10, 0.02);
  EXPECT_FALSE(s.done());
  s.report(s.next(), 0.005);
  EXPECT_DOUBLE_EQ(s.best(), 5.5);
}

TEST(ZeroLossSearch, NothingPasses) {
  ZeroLossSearch s(1, 2, 0.0, 0.1);
  while (!s.done()) s.report(s.next(), 50.0);
  EXPECT_DOUBLE_EQ(s.best(), 0.0);
}

}  // namespace
}  // namespace trestle::bench
