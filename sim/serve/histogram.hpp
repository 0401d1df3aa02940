#pragma once
/// \file
/// DurationHistogram: quantiles of a very large number of durations in constant memory.

#include <cstdint>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"

namespace moesim::serve {

/// Log-linear histogram of durations (HDR-histogram style): above 1 ns, each power-of-two range
/// is split into 64 equal buckets (width <= 1/64 = 1.6 % of the value; a bucket's midpoint is
/// within 0.8 % of any value in it), up to 2^44 ns (about 4.9 h, longer values share the last
/// bucket); below 1 ns one bucket. Quantiles are bucket midpoints; the mean is exact (the sum is
/// kept in integer nanoseconds plus picoseconds, so it does not depend on the order of adds).
/// Built for inter-token gaps, whose count (one per token emission) is too large to store.
/// Adding is a few integer operations, with a shortcut when the value repeats (the gaps of one
/// step's batch); add(d, n) adds n equal values at once, exactly as n single adds would.
class DurationHistogram {
 public:
  DurationHistogram();
  /// Adds one duration (>= 0). Inline: the engine adds one per emitted token, and consecutive
  /// values are usually equal (one step's length), so the bucket of the last value is kept.
  void add(Duration d, std::int64_t n = 1) {
    MOESIM_ASSERT(d >= Duration::zero() && n >= 0, "negative duration or count");
    if (d != last_) {
      last_ = d;
      last_bucket_ = bucket_of(d);
    }
    buckets_[last_bucket_] += n;
    count_ += n;
    sum_ns_ += d.count() / kPsPerNs * n;
    sum_sub_ns_ps_ += d.count() % kPsPerNs * n;
  }
  std::int64_t count() const { return count_; }
  /// Mean of the added values, exactly (ms).
  double mean_ms() const;
  /// The q-quantile (0 <= q <= 1) in milliseconds: the midpoint of the bucket holding the
  /// value of rank floor(q (count - 1)) in sorted order; 0 when empty.
  double quantile_ms(double q) const;

 private:
  static constexpr std::int64_t kPsPerNs = nanoseconds(1).count();
  static std::size_t bucket_of(Duration d);
  std::vector<std::int64_t> buckets_;
  std::int64_t count_ = 0;
  std::int64_t sum_ns_ = 0;         ///< whole nanoseconds of the added values
  std::int64_t sum_sub_ns_ps_ = 0;  ///< their picoseconds below a nanosecond (< 1000 each)
  Duration last_{-1};
  std::size_t last_bucket_ = 0;
};

}  // namespace moesim::serve
