#pragma once
/// \file
/// Exact floor division by one divisor many times, without a hardware division each time: a
/// quotient from the divisor's reciprocal in double, corrected to the exact one by its
/// remainder. The reciprocal's quotient carries a relative error of at most 3 ulp (rounding x,
/// 1 / divisor and the product), under 1 in absolute terms while x / divisor < 2^51, so one
/// correction step each way suffices there; larger quotients take more steps and stay exact.

#include <cstdint>

#include "sim/core/assert.hpp"

namespace moesim {

class FloorDivider {
 public:
  /// 1 <= divisor <= 2^31.
  explicit FloorDivider(std::int64_t divisor)
      : divisor_(divisor), inverse_(1.0 / static_cast<double>(divisor)) {
    MOESIM_ASSERT(divisor >= 1 && divisor <= (std::int64_t{1} << 31),
                  "FloorDivider takes divisors 1..2^31");
  }

  /// floor(x / divisor), equal to x / divisor, for 0 <= x < 2^62 (unchecked in the hot path).
  std::int64_t operator()(std::int64_t x) const {
    auto q = static_cast<std::int64_t>(static_cast<double>(x) * inverse_);
    std::int64_t rem = x - q * divisor_;
    while (rem < 0) {
      --q;
      rem += divisor_;
    }
    while (rem >= divisor_) {
      ++q;
      rem -= divisor_;
    }
    return q;
  }

 private:
  std::int64_t divisor_;
  double inverse_;
};

}  // namespace moesim
