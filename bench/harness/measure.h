#pragma once
// The arithmetic of the benchmark harness, DPDK-free and unit-tested: rates,
// loss, latency percentiles from a histogram, and the search for the highest
// offered rate whose loss stays within a threshold (RFC 2544 style).

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>

namespace trestle::bench {

inline double mpps(uint64_t packets, double seconds) {
  return seconds > 0 ? double(packets) / seconds / 1e6 : 0.0;
}

// Percentage of `sent` that did not arrive; frames that arrived beyond what
// was sent (duplicates, floods) do not make it negative.
inline double loss_pct(uint64_t sent, uint64_t received) {
  if (sent == 0) return 0.0;
  const uint64_t got = received < sent ? received : sent;
  return 100.0 * double(sent - got) / double(sent);
}

// Latency histogram in nanoseconds: log-linear buckets (16 linear steps per
// power of two), so any percentile is within 1/16 (6.25%) of the truth, in
// fixed memory, with O(1) recording (no allocation on the rx path).
class LatencyHistogram {
 public:
  static constexpr int kSub = 16;
  static constexpr int kPowers = 40;  // up to ~2^40 ns: 18 minutes

  void record(uint64_t ns) {
    ++counts_[bucket(ns)];
    ++n_;
    if (ns > max_) max_ = ns;
    if (n_ == 1 || ns < min_) min_ = ns;
  }
  uint64_t count() const { return n_; }
  uint64_t min() const { return min_; }
  uint64_t max() const { return max_; }

  // The value at percentile p (0 < p <= 100): the upper bound of the
  // bucket holding the ceil(p% * n)-th smallest sample, clamped to the
  // observed maximum. nullopt when empty.
  std::optional<uint64_t> percentile(double p) const {
    if (n_ == 0) return std::nullopt;
    uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * double(n_)));
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= rank) {
        const uint64_t hi = upper(b);
        return hi < max_ ? hi : max_;
      }
    }
    return max_;
  }

  void merge(const LatencyHistogram& o) {
    for (int b = 0; b < kBuckets; ++b) counts_[b] += o.counts_[b];
    if (o.n_ && (n_ == 0 || o.min_ < min_)) min_ = o.min_;
    if (o.max_ > max_) max_ = o.max_;
    n_ += o.n_;
  }

 private:
  static constexpr int kBuckets = kSub * (kPowers + 1);
  // Values below kSub get exact buckets; above, bucket = (power, top 4 bits
  // below the leading one).
  static int bucket(uint64_t v) {
    if (v < kSub) return static_cast<int>(v);
    const int lz = __builtin_clzll(v);
    const int power = 63 - lz;  // >= 4
    const int sub = static_cast<int>((v >> (power - 4)) & (kSub - 1));
    const int b = (power - 3) * kSub + sub;
    return b < kBuckets ? b : kBuckets - 1;
  }
  static uint64_t upper(int b) {
    if (b < kSub) return static_cast<uint64_t>(b);
    const int power = b / kSub + 3;
    const uint64_t sub = static_cast<uint64_t>(b % kSub);
    // Bucket covers [(16+sub) << (power-4), (17+sub) << (power-4)).
    return ((kSub + sub + 1) << (power - 4)) - 1;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t n_ = 0, min_ = 0, max_ = 0;
};

// Binary search for the highest rate (Mpps) with loss <= max_loss_pct.
// Usage: while (!s.done()) { rate = s.next(); loss = trial(rate); s.report(rate, loss); }
class ZeroLossSearch {
 public:
  ZeroLossSearch(double lo_mpps, double hi_mpps, double max_loss_pct, double precision_mpps)
      : lo_(lo_mpps), hi_(hi_mpps), max_loss_(max_loss_pct), precision_(precision_mpps) {}

  // The first trial runs at the top of the range: a switch that keeps up
  // with it needs no search.
  double next() const { return first_ ? hi_ : (lo_ + hi_) / 2; }
  void report(double rate, double loss) {
    first_ = false;
    if (loss <= max_loss_) {
      best_ = rate > best_ ? rate : best_;
      lo_ = rate;
      if (rate >= hi_) done_ = true;
    } else {
      hi_ = rate;
    }
    if (hi_ - lo_ <= precision_) done_ = true;
  }
  bool done() const { return done_; }
  // The highest rate that passed (0 when none did).
  double best() const { return best_; }

 private:
  double lo_, hi_, max_loss_, precision_;
  double best_ = 0;
  bool first_ = true, done_ = false;
};

}  // namespace trestle::bench
