#include "sim/serve/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace moesim::serve {

namespace {
constexpr std::int64_t kFloorPs = 1000;  // 1 ns: the first log bucket starts here
constexpr int kSubBits = 6;              // 64 buckets per power of two
constexpr int kSub = 1 << kSubBits;
constexpr int kOctaves = 44;  // 1 ns .. 2^44 ns
constexpr std::size_t kBuckets = 1 + static_cast<std::size_t>(kOctaves) * kSub;
constexpr int kMantissaBits = 52;
constexpr int kExponentBias = 1023;
}  // namespace

DurationHistogram::DurationHistogram() : buckets_(kBuckets, 0) {}

std::size_t DurationHistogram::bucket_of(Duration d) {
  if (d.count() < kFloorPs) return 0;
  // x = d / 1 ns >= 1: bucket 1 + 64 floor(log2 x) + the top 6 bits of x's mantissa.
  const double x = static_cast<double>(d.count()) / static_cast<double>(kFloorPs);
  const auto bits = std::bit_cast<std::uint64_t>(x);
  const auto exponent = static_cast<std::int64_t>(bits >> kMantissaBits) - kExponentBias;
  const auto sub = static_cast<std::int64_t>((bits >> (kMantissaBits - kSubBits)) & (kSub - 1));
  const std::int64_t idx = 1 + exponent * kSub + sub;
  return static_cast<std::size_t>(std::min<std::int64_t>(idx, kBuckets - 1));
}

double DurationHistogram::mean_ms() const {
  if (count_ == 0) return 0.0;
  const double sum_ps = static_cast<double>(sum_ns_) * static_cast<double>(kPsPerNs) +
                        static_cast<double>(sum_sub_ns_ps_);
  return sum_ps / static_cast<double>(count_) / scale::kGiga;  // 1e9 ps per ms
}

double DurationHistogram::quantile_ms(double q) const {
  if (count_ == 0) return 0.0;
  const auto rank = static_cast<std::int64_t>(std::floor(q * static_cast<double>(count_ - 1)));
  std::int64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen <= rank) continue;
    if (i == 0) return 0.5 * static_cast<double>(kFloorPs) / scale::kGiga;
    const auto octave = static_cast<int>((i - 1) / kSub);
    const auto sub = static_cast<double>((i - 1) % kSub);
    const double x = std::ldexp(1.0 + (sub + 0.5) / kSub, octave);  // in ns
    return x * static_cast<double>(kFloorPs) / scale::kGiga;
  }
  return 0.0;
}

}  // namespace moesim::serve
