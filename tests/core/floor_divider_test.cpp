#include "sim/core/floor_divider.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "sim/core/rng.hpp"

namespace moesim {
namespace {

TEST_CASE("floor division by a reciprocal equals integer division, at every boundary") {
  // The reciprocal's quotient is wrong exactly next to multiples of the divisor: try k d - 1,
  // k d and k d + 1 for quotients k up to 2^31 and divisors up to 2^31, and random x below 2^62.
  const std::vector<std::int64_t> divisors{
      1, 2, 3, 7, 1000, 65537, 999'999'937, (1LL << 31) - 1, (1LL << 31)};
  Rng rng(5, 1);
  for (const std::int64_t d : divisors) {
    const FloorDivider div(d);
    for (std::int64_t k : {std::int64_t{0}, std::int64_t{1}, std::int64_t{12345},
                           (std::int64_t{1} << 31) - 3, std::int64_t{1} << 31}) {
      for (std::int64_t delta : {-1, 0, 1}) {
        const std::int64_t x = k * d + delta;
        if (x < 0) continue;
        CHECK(div(x) == x / d);
      }
    }
    for (int i = 0; i < 2000; ++i) {
      const auto x = static_cast<std::int64_t>(rng() >> 2);
      const auto k = static_cast<std::int64_t>(rng.uniform_int(std::uint64_t{1} << 31));
      CHECK(div(x) == x / d);
      CHECK(div(k * d + d - 1) == k);
      CHECK(div(k * d) == k);
    }
  }
}

}  // namespace
}  // namespace moesim
