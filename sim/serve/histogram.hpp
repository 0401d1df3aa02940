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
/// bucket); below 1 ns one bucket. Quantiles are bucket midpoints; the mean is exact. Built for
/// inter-token gaps, whose count (one per token emission) is too large to store. Adding is a few
/// integer operations, with a shortcut when the value repeats (the gaps of one step's batch).
class DurationHistogram {
 public:
  DurationHistogram();
  /// Adds one duration (>= 0). Inline: the engine adds one per emitted token, and consecutive
  /// values are usually equal (one step's length), so the bucket of the last value is kept.
  void add(Duration d) {
    MOESIM_ASSERT(d >= Duration::zero(), "negative duration");
    if (d != last_) {
      last_ = d;
      last_bucket_ = bucket_of(d);
    }
    ++buckets_[last_bucket_];
    ++count_;
    sum_ps_ += static_cast<double>(d.count());
  }
  std::int64_t count() const { return count_; }
  /// Mean of the added values, exactly (ms).
  double mean_ms() const;
  /// The q-quantile (0 <= q <= 1) in milliseconds: the midpoint of the bucket holding the
  /// value of rank floor(q (count - 1)) in sorted order; 0 when empty.
  double quantile_ms(double q) const;

 private:
  static std::size_t bucket_of(Duration d);
  std::vector<std::int64_t> buckets_;
  std::int64_t count_ = 0;
  double sum_ps_ = 0.0;
  Duration last_{-1};
  std::size_t last_bucket_ = 0;
};

}  // namespace moesim::serve
