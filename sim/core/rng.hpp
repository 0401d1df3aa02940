#pragma once
/// \file
/// Deterministic random numbers: xoshiro256** generators (Blackman and Vigna 2018,
/// https://prng.di.unimi.it/xoshiro256starstar.c) seeded through splitmix64
/// (https://prng.di.unimi.it/splitmix64.c), one independent stream per (seed, stream id).
///
/// Reproducibility: the raw 64-bit outputs, uniform(), uniform_int() and bernoulli() are exact
/// integer/IEEE arithmetic, identical bit for bit on every platform. The other samplers are written
/// here (no std::*_distribution, whose algorithms differ between standard libraries) and call only
/// std::log, std::log1p, std::exp and std::sqrt, so they are identical wherever the C maths library
/// returns the same results (sqrt always does; glibc on every architecture does for log and exp).
///
/// Samplers and their algorithms:
///   exponential: the ziggurat of Marsaglia and Tsang (2000), 256 layers; 98.9% of draws cost one
///     64-bit output, a multiplication and a comparison (no logarithm).
///   normal: Marsaglia's polar method; the second variate of each pair is kept for the next call.
///   poisson: multiplication of uniforms (Knuth) for mean < 10, else PTRS (W. Hoermann, "The
///     transformed rejection method for generating Poisson random variables", Insurance:
///     Mathematics and Economics 12, 1993), O(1) expected.
///   binomial: for n * min(p, 1 - p) < 10, counts geometric gaps (expected n * p + 1 uniforms);
///     otherwise BTRS (W. Hoermann, "The generation of binomial random variates", J. Statist.
///     Comput. Simul. 46, 1993), O(1) expected.
///   multinomial: conditional binomials, O(categories).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"

namespace moesim {

/// The splitmix64 output function: a bijective 64-bit mixer (Stafford's variant 13).
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Advances a splitmix64 state by the golden-ratio increment and returns the next output.
constexpr std::uint64_t splitmix64_next(std::uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  return mix64(state);
}

/// Stream id of a named stream: the 64-bit FNV-1a hash of the name's bytes.
constexpr std::uint64_t stream_id(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

namespace detail {
/// Exponential ziggurat tables (defined and documented in rng.cpp): R, layer edges, densities.
extern const double kZigR;
extern const std::array<double, 257> kZigX;
extern const std::array<double, 257> kZigF;
}  // namespace detail

/// log(k!) for k >= 0: Stirling's series with the exact correction for k <= 9; absolute error
/// below 1e-10 for all k.
double log_factorial(double k);

/// A xoshiro256** generator with sampling helpers. A value type: copying it copies the stream's
/// position. Satisfies std::uniform_random_bit_generator.
class Rng {
 public:
  /// Raw outputs are 64-bit words.
  using result_type = std::uint64_t;

  /// Stream `stream` of `seed`. The four state words are successive splitmix64 outputs from the
  /// start value mix64(seed + 0x9e3779b97f4a7c15) ^ mix64(stream ^ 0xd1b54a32d192ed03), which is
  /// injective in `stream` for a fixed seed; distinct streams are statistically independent.
  Rng(std::uint64_t seed, std::uint64_t stream);

  /// A generator in the given raw xoshiro256** state (not all zero), for tests against the
  /// reference implementation.
  static Rng from_state(const std::array<std::uint64_t, 4>& state);

  /// Least raw output, 0.
  static constexpr result_type min() { return 0; }
  /// Greatest raw output, 2^64 - 1.
  static constexpr result_type max() { return ~result_type{0}; }

  /// The next raw 64-bit output.
  result_type operator()() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform on [0, 1): the top 53 bits of one output times 2^-53.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /// Uniform on (0, 1): (top 53 bits + 1/2) times 2^-53; never 0 or 1.
  double uniform_open() { return (static_cast<double>((*this)() >> 11) + 0.5) * 0x1.0p-53; }

  /// Uniform on [lo, hi), lo < hi.
  double uniform(double lo, double hi);

  /// Uniform integer on [0, n), n >= 1, exactly uniform (rejection of the biased tail).
  std::uint64_t uniform_int(std::uint64_t n);

  /// True with probability p, 0 <= p <= 1.
  bool bernoulli(double p) { return uniform() < p; }

  /// Exponential with mean 1 (ziggurat; the common case inline, the rest in rng.cpp).
  double standard_exponential() {
    const std::uint64_t bits = (*this)();
    const std::size_t layer = bits & 0xff;  // low 8 bits pick the layer, the top 53 the point
    const double x = static_cast<double>(bits >> 11) * 0x1.0p-53 * detail::kZigX[layer];
    if (x < detail::kZigX[layer + 1]) return x;  // inside the layer's core rectangle: 98.9%
    return exponential_rest(x, layer);
  }

  /// Exponential with the given mean (> 0).
  double exponential(double mean);

  /// Exponential duration with the given mean (> 0), rounded up to whole picoseconds.
  Duration exponential(Duration mean) {
    MOESIM_ASSERT(mean > Duration::zero(), "exponential mean must be positive");
    // In picoseconds directly (one rounding); the ceiling of a non-negative double below 2^63 by
    // truncation and correction, which is exact.
    const double ps = static_cast<double>(mean.count()) * standard_exponential();
    MOESIM_ASSERT(ps < 0x1.0p63, "exponential duration overflows int64 picoseconds");
    auto ticks = static_cast<std::int64_t>(ps);
    if (static_cast<double>(ticks) < ps) ++ticks;
    return Duration{ticks};
  }

  /// Normal with the given mean and standard deviation (>= 0).
  double normal(double mean = 0.0, double stddev = 1.0);

  /// Poisson with the given mean (>= 0, at most 2^52).
  std::uint64_t poisson(double mean);

  /// Binomial: successes in n independent trials of probability p (0 <= p <= 1, n <= 2^53).
  std::uint64_t binomial(std::uint64_t n, double p);

  /// Multinomial: distributes n trials over categories with probabilities proportional to
  /// `weights` (finite, >= 0, positive sum), writing the counts to `counts` (same size). The
  /// counts sum to n; a zero-weight category gets 0.
  void multinomial(std::uint64_t n, std::span<const double> weights,
                   std::span<std::uint64_t> counts);

  /// The raw xoshiro256** state.
  const std::array<std::uint64_t, 4>& state() const { return s_; }

 private:
  Rng() = default;
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t binomial_low(std::uint64_t n, double p);  ///< p <= 1/2
  /// The ziggurat's uncommon cases for a draw x in `layer` outside the core rectangle.
  double exponential_rest(double x, std::size_t layer);

  std::array<std::uint64_t, 4> s_{};
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

}  // namespace moesim
