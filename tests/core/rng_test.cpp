#include "sim/core/rng.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "sim/core/error.hpp"

using namespace moesim;

// Tolerances. Every moment check draws kN samples from a fixed seed (so the test is
// deterministic) and allows 5 standard errors: a correct sampler passes with probability
// 1 - 6e-7 per check for a random seed, while a bias of a few percent fails. For a sample of size
// N the standard error of the mean is sigma / sqrt(N) and that of the sample variance is
// sqrt((mu4 - sigma^4) / N), mu4 being the fourth central moment.

namespace {

constexpr int kN = 200'000;
constexpr double kZ = 5.0;

struct Moments {
  double mean = 0.0;
  double variance = 0.0;
};

template <class Draw>
Moments sample_moments(Draw draw, int n = kN) {
  std::vector<double> xs(static_cast<std::size_t>(n));
  for (double& x : xs) x = draw();
  const double mean = std::accumulate(xs.begin(), xs.end(), 0.0) / n;
  double ss = 0.0;
  for (double x : xs) ss += (x - mean) * (x - mean);
  return {mean, ss / (n - 1)};
}

/// Checks the sample mean and variance against mean mu, variance var and fourth central moment
/// mu4, each within kZ standard errors.
void check_moments(const Moments& m, double mu, double var, double mu4, int n = kN) {
  const double se_mean = std::sqrt(var / n);
  const double se_var = std::sqrt((mu4 - var * var) / n);
  CHECK(std::abs(m.mean - mu) < kZ * se_mean);
  CHECK(std::abs(m.variance - var) < kZ * se_var);
}

/// Pearson chi-square statistic of `counts` against `expected` (same length).
double chi_square(const std::vector<double>& counts, const std::vector<double>& expected) {
  double stat = 0.0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    stat += (counts[i] - expected[i]) * (counts[i] - expected[i]) / expected[i];
  }
  return stat;
}

/// Upper limit for a chi-square statistic with `dof` degrees of freedom: mean + 5 standard
/// deviations, dof + 5 sqrt(2 dof).
double chi_square_limit(double dof) { return dof + kZ * std::sqrt(2.0 * dof); }

/// Draws kN values of `draw` and compares their histogram with `pmf` (k = 0..kmax), pooling
/// cells whose expected count is below 20 into their neighbours, tails included.
template <class Draw, class Pmf>
void check_distribution(Draw draw, Pmf pmf, std::uint64_t kmax) {
  std::vector<double> counts(kmax + 2, 0.0);  // the last cell is everything above kmax
  for (int i = 0; i < kN; ++i) {
    const std::uint64_t k = draw();
    counts[std::min<std::uint64_t>(k, kmax + 1)] += 1.0;
  }
  std::vector<double> expected(kmax + 2, 0.0);
  double total = 0.0;
  for (std::uint64_t k = 0; k <= kmax; ++k) {
    expected[k] = kN * pmf(k);
    total += expected[k];
  }
  expected[kmax + 1] = kN - total;
  std::vector<double> pooled_obs;
  std::vector<double> pooled_exp;
  double obs_acc = 0.0;
  double exp_acc = 0.0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    obs_acc += counts[k];
    exp_acc += expected[k];
    if (exp_acc >= 20.0) {
      pooled_obs.push_back(obs_acc);
      pooled_exp.push_back(exp_acc);
      obs_acc = exp_acc = 0.0;
    }
  }
  pooled_obs.back() += obs_acc;
  pooled_exp.back() += exp_acc;
  const double dof = static_cast<double>(pooled_obs.size() - 1);
  CHECK(chi_square(pooled_obs, pooled_exp) < chi_square_limit(dof));
}

double binomial_pmf(std::uint64_t n, double p, std::uint64_t k) {
  const double nn = static_cast<double>(n);
  const double kk = static_cast<double>(k);
  return std::exp(std::lgamma(nn + 1) - std::lgamma(kk + 1) - std::lgamma(nn - kk + 1) +
                  kk * std::log(p) + (nn - kk) * std::log1p(-p));
}

double poisson_pmf(double mean, std::uint64_t k) {
  const double kk = static_cast<double>(k);
  return std::exp(-mean + kk * std::log(mean) - std::lgamma(kk + 1));
}

}  // namespace

TEST_CASE("splitmix64 and xoshiro256** match their reference outputs") {
  // splitmix64.c (Vigna) from state 0: the widely published first three outputs.
  std::uint64_t sm = 0;
  CHECK(splitmix64_next(sm) == 0xe220a8397b1dcdafULL);
  CHECK(splitmix64_next(sm) == 0x6e789e6aa1b965f4ULL);
  CHECK(splitmix64_next(sm) == 0x06c45d188009454fULL);
  // xoshiro256starstar.c from state {1, 2, 3, 4}: first output rotl(2 * 5, 7) * 9 = 1280 * 9
  // = 11520; the following ones by running the reference step by hand (and in an independent
  // Python transcription): 0, 1509978240, 1215971899390074240.
  Rng r = Rng::from_state({1, 2, 3, 4});
  CHECK(r() == 11520u);
  CHECK(r() == 0u);
  CHECK(r() == 1509978240u);
  CHECK(r() == 1215971899390074240ULL);
  CHECK_THROWS_AS(Rng::from_state({0, 0, 0, 0}), InvariantError);
}

TEST_CASE("a seeded stream reproduces its golden outputs bit for bit") {
  // Rng(42, 7): state from splitmix64 started at mix64(42 + golden) ^ mix64(7 ^ 0xd1b5...),
  // outputs computed by an independent Python transcription of splitmix64 and xoshiro256**.
  Rng r(42, 7);
  CHECK(r() == 0xe0fe9e3c51d66383ULL);
  CHECK(r() == 0xa193030fdbf2162fULL);
  CHECK(r() == 0xfcadc569f49c7583ULL);
  // uniform() is the top 53 bits times 2^-53: exact, so equal as doubles.
  Rng u(42, 7);
  CHECK(u.uniform() == 0.8788851640000188);
  CHECK(u.uniform() == 0.6311494744986208);
  CHECK(u.uniform() == 0.9870265372925233);
}

TEST_CASE("named streams hash with 64-bit FNV-1a") {
  // FNV-1a test vectors: "" -> offset basis 0xcbf29ce484222325, "a" -> 0xaf63dc4c8601ec8c.
  CHECK(stream_id("") == 0xcbf29ce484222325ULL);
  CHECK(stream_id("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(stream_id("router") != stream_id("arrivals"));
}

TEST_CASE("the same seed and stream give the same sequence for every sampler") {
  Rng a(5, 3);
  Rng b(5, 3);
  for (int i = 0; i < 1000; ++i) {
    CHECK(a.uniform() == b.uniform());
    CHECK(a.normal() == b.normal());
    CHECK(a.exponential(2.0) == b.exponential(2.0));
    CHECK(a.poisson(3.5) == b.poisson(3.5));
    CHECK(a.poisson(250.0) == b.poisson(250.0));
    CHECK(a.binomial(1000, 0.3) == b.binomial(1000, 0.3));
    CHECK(a.uniform_int(17) == b.uniform_int(17));
  }
  Rng c = a;  // a copy continues the same stream
  CHECK(c() == a());
}

TEST_CASE("different streams and different seeds give different, uncorrelated sequences") {
  Rng s0(1, 0);
  Rng s1(1, 1);
  Rng t0(2, 0);
  CHECK(Rng(1, 0)() != Rng(1, 1)());
  CHECK(Rng(1, 0)() != Rng(2, 0)());
  // Sample correlation of paired uniforms: for independent streams it has mean 0 and standard
  // error 1 / sqrt(N); allow 5 of them.
  double sxy01 = 0.0;
  double sxy0t = 0.0;
  for (int i = 0; i < kN; ++i) {
    const double x = s0.uniform() - 0.5;
    const double y = s1.uniform() - 0.5;
    const double z = t0.uniform() - 0.5;
    sxy01 += x * y;
    sxy0t += x * z;
  }
  const double var_u = 1.0 / 12.0;
  CHECK(std::abs(sxy01 / kN / var_u) < kZ / std::sqrt(kN));
  CHECK(std::abs(sxy0t / kN / var_u) < kZ / std::sqrt(kN));
}

TEST_CASE("uniform draws lie in [0, 1) with mean 1/2 and variance 1/12") {
  Rng r(3, 0);
  double lo = 1.0;
  double hi = 0.0;
  const Moments m = sample_moments([&] {
    const double u = r.uniform();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    return u;
  });
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
  // U(0,1): mean 1/2, variance 1/12, fourth central moment 1/80.
  check_moments(m, 0.5, 1.0 / 12.0, 1.0 / 80.0);
  Rng o(3, 1);
  for (int i = 0; i < 1000; ++i) {
    const double u = o.uniform_open();
    CHECK(u > 0.0);
    CHECK(u < 1.0);
  }
  const Moments w = sample_moments([&] { return r.uniform(-2.0, 6.0); });
  // U(-2, 6): mean 2, variance 8^2 / 12, fourth central moment 8^4 / 80.
  check_moments(w, 2.0, 64.0 / 12.0, 4096.0 / 80.0);
}

TEST_CASE("uniform integers are unbiased over [0, n)") {
  Rng r(4, 0);
  // n = 10: every cell expects N/10; chi-square with 9 degrees of freedom.
  std::vector<double> counts(10, 0.0);
  for (int i = 0; i < kN; ++i) {
    const std::uint64_t k = r.uniform_int(10);
    REQUIRE(k < 10);
    counts[k] += 1.0;
  }
  CHECK(chi_square(counts, std::vector<double>(10, kN / 10.0)) < chi_square_limit(9.0));
  CHECK(r.uniform_int(1) == 0);
  CHECK_THROWS_AS(r.uniform_int(0), InvariantError);
}

TEST_CASE("bernoulli draws have mean p") {
  Rng r(4, 1);
  // Bernoulli(0.3): mean 0.3, variance 0.21, fourth central moment pq(1 - 3pq) = 0.21 * 0.37.
  const Moments m = sample_moments([&] { return r.bernoulli(0.3) ? 1.0 : 0.0; });
  check_moments(m, 0.3, 0.21, 0.21 * 0.37);
}

TEST_CASE("exponential draws have mean m and variance m^2") {
  Rng r(5, 0);
  // Exp with mean 2: variance 4, fourth central moment 9 m^4 = 144.
  const Moments m = sample_moments([&] { return r.exponential(2.0); });
  check_moments(m, 2.0, 4.0, 144.0);
  // Durations: mean 1 us = 1e6 ps, rounded up (adds at most 1 ps, far below the tolerance).
  const Moments d =
      sample_moments([&] { return static_cast<double>(r.exponential(microseconds(1)).count()); });
  check_moments(d, 1e6, 1e12, 9e24);
  CHECK_THROWS_AS(r.exponential(0.0), InvariantError);
}

TEST_CASE("exponential draws follow the exponential distribution, tail included") {
  Rng r(5, 1);
  // 20 equiprobable cells of Exp(1), edges -log(1 - k/20): N/20 expected in each; chi-square
  // with 19 degrees of freedom. This checks the ziggurat's layers and wedges, not only moments.
  constexpr int kCells = 20;
  std::vector<double> counts(kCells, 0.0);
  int beyond_r = 0;
  for (int i = 0; i < kN; ++i) {
    const double x = r.standard_exponential();
    REQUIRE(x >= 0.0);
    const double cdf = 1.0 - std::exp(-x);
    counts[std::min(kCells - 1, static_cast<int>(cdf * kCells))] += 1.0;
    if (x > 7.6971174701310497) ++beyond_r;  // the ziggurat's tail path
  }
  CHECK(chi_square(counts, std::vector<double>(kCells, kN / double{kCells})) <
        chi_square_limit(kCells - 1.0));
  // P(X > R) = e^-R = 4.54e-4: 90.8 expected of 200000, Poisson standard error sqrt(90.8) = 9.5.
  const double expected_tail = kN * std::exp(-7.6971174701310497);
  CHECK(std::abs(beyond_r - expected_tail) < kZ * std::sqrt(expected_tail));
}

TEST_CASE("normal draws have the requested mean and standard deviation") {
  Rng r(6, 0);
  // N(10, 3^2): variance 9, fourth central moment 3 sigma^4 = 243.
  const Moments m = sample_moments([&] { return r.normal(10.0, 3.0); });
  check_moments(m, 10.0, 9.0, 243.0);
  // Both variates of each polar pair are used: consecutive draws must be uncorrelated
  // (standard error of the lag-1 correlation 1 / sqrt(N)).
  double s = 0.0;
  double prev = r.normal();
  for (int i = 0; i < kN; ++i) {
    const double x = r.normal();
    s += prev * x;
    prev = x;
  }
  CHECK(std::abs(s / kN) < kZ / std::sqrt(kN));
}

TEST_CASE("poisson draws match the Poisson distribution in both regimes") {
  // Poisson(mean): variance = mean, fourth central moment mean (1 + 3 mean).
  for (double mean : {0.5, 3.5, 9.99, 10.0, 42.0, 1e4}) {
    CAPTURE(mean);
    Rng r(7, static_cast<std::uint64_t>(mean * 100));
    const Moments m = sample_moments([&] { return static_cast<double>(r.poisson(mean)); });
    check_moments(m, mean, mean, mean * (1.0 + 3.0 * mean));
  }
  Rng r(7, 1);
  // Shape, not only moments: chi-square against the pmf, multiplication method and PTRS.
  check_distribution([&] { return r.poisson(4.0); },
                     [](std::uint64_t k) { return poisson_pmf(4.0, k); }, 20);
  check_distribution([&] { return r.poisson(50.0); },
                     [](std::uint64_t k) { return poisson_pmf(50.0, k); }, 100);
  CHECK(r.poisson(0.0) == 0);
}

TEST_CASE("binomial draws match the binomial distribution in every regime") {
  // Binomial(n, p): mean np, variance npq, fourth central moment npq (1 + 3 (n - 2) pq).
  struct Case {
    std::uint64_t n;
    double p;
  };
  // Inversion (np < 10), BTRS (np >= 10), the p > 1/2 reflection of both, and a huge n.
  for (Case c : {Case{20, 0.2}, Case{1000, 0.005}, Case{100, 0.3}, Case{20, 0.9}, Case{1000, 0.7},
                 Case{1'000'000'000, 0.25}, Case{61, 0.5}}) {
    CAPTURE(c.n);
    CAPTURE(c.p);
    Rng r(8, c.n);
    const double n = static_cast<double>(c.n);
    const double pq = c.p * (1.0 - c.p);
    std::uint64_t max_seen = 0;
    const Moments m = sample_moments([&] {
      const std::uint64_t k = r.binomial(c.n, c.p);
      max_seen = std::max(max_seen, k);
      return static_cast<double>(k);
    });
    CHECK(max_seen <= c.n);
    check_moments(m, n * c.p, n * pq, n * pq * (1.0 + 3.0 * (n - 2.0) * pq));
  }
  Rng r(8, 0);
  check_distribution([&] { return r.binomial(20, 0.2); },
                     [](std::uint64_t k) { return binomial_pmf(20, 0.2, k); }, 20);
  check_distribution([&] { return r.binomial(100, 0.3); },
                     [](std::uint64_t k) { return binomial_pmf(100, 0.3, k); }, 100);
  check_distribution([&] { return r.binomial(500, 0.96); },
                     [](std::uint64_t k) { return binomial_pmf(500, 0.96, k); }, 500);
  CHECK(r.binomial(0, 0.5) == 0);
  CHECK(r.binomial(10, 0.0) == 0);
  CHECK(r.binomial(10, 1.0) == 10);
  CHECK_THROWS_AS(r.binomial(10, 1.5), InvariantError);
}

TEST_CASE("multinomial counts sum to n and have means n p_i") {
  Rng r(9, 0);
  const std::array<double, 5> weights = {1.0, 0.0, 3.0, 4.0, 2.0};  // sum 10
  std::array<std::uint64_t, 5> counts{};
  std::array<double, 5> sums{};
  constexpr int kDraws = 20'000;
  constexpr std::uint64_t kTokens = 1000;
  for (int i = 0; i < kDraws; ++i) {
    r.multinomial(kTokens, weights, counts);
    REQUIRE(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0}) == kTokens);
    CHECK(counts[1] == 0);
    for (std::size_t j = 0; j < counts.size(); ++j) sums[j] += static_cast<double>(counts[j]);
  }
  for (std::size_t j = 0; j < counts.size(); ++j) {
    // Each count is Binomial(1000, w_j / 10): mean 1000 p, standard error sqrt(1000 p q / D).
    const double p = weights[j] / 10.0;
    const double mean = sums[j] / kDraws;
    CHECK(std::abs(mean - kTokens * p) <= kZ * std::sqrt(kTokens * p * (1 - p) / kDraws));
  }
  const std::array<double, 3> zero = {0.0, 0.0, 0.0};
  std::array<std::uint64_t, 3> out{};
  CHECK_THROWS_AS(r.multinomial(5, zero, out), InvariantError);
}

TEST_CASE("log_factorial matches lgamma") {
  // The table covers k <= 9; Stirling's series beyond, whose first omitted term is
  // 1 / (1680 (k + 1)^7) <= 3.1e-11 at k = 10. Tolerance 1e-10 relative (scale 1 for k near 0).
  for (double k : {0.0, 1.0, 2.0, 5.0, 9.0, 10.0, 11.0, 30.0, 1000.0, 1e9}) {
    CAPTURE(k);
    CHECK(log_factorial(k) == doctest::Approx(std::lgamma(k + 1.0)).epsilon(1e-10).scale(1.0));
  }
}
