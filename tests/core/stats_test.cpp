#include "sim/core/stats.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "sim/core/error.hpp"

using namespace moesim;

namespace {
TimePoint at_us(std::int64_t us) { return TimePoint{} + microseconds(us); }
// The textbook data set 2, 4, 4, 4, 5, 5, 7, 9: sum 40, mean 5, squared deviations
// 9+1+1+1+0+0+4+16 = 32, population variance 32/8 = 4, sample variance 32/7.
const std::vector<double> kData = {2, 4, 4, 4, 5, 5, 7, 9};
}  // namespace

TEST_CASE("counters add") {
  Counter c;
  CHECK(c.value() == 0);
  c.add();
  c.add(41);
  c.add(-2);
  CHECK(c.value() == 40);
}

TEST_CASE("an accumulator gives count, sum, mean, variance, min and max of hand data") {
  Accumulator a;
  for (double x : {9.0, 2.0, 5.0, 4.0, 7.0, 4.0, 5.0, 4.0}) a.add(x);  // kData, shuffled
  CHECK(a.count() == 8);
  CHECK(a.sum() == doctest::Approx(40.0));
  CHECK(a.mean() == doctest::Approx(5.0));
  CHECK(a.population_variance() == doctest::Approx(4.0));
  CHECK(a.variance() == doctest::Approx(32.0 / 7.0));
  CHECK(a.stddev() == doctest::Approx(std::sqrt(32.0 / 7.0)));
  CHECK(a.min() == 2.0);
  CHECK(a.max() == 9.0);
}

TEST_CASE("an empty or single-valued accumulator has zero variance") {
  Accumulator a;
  CHECK(a.count() == 0);
  CHECK(a.mean() == 0.0);
  CHECK(a.variance() == 0.0);
  CHECK(a.population_variance() == 0.0);
  CHECK(std::isinf(a.min()));
  a.add(3.5);
  CHECK(a.variance() == 0.0);
  CHECK(a.min() == 3.5);
  CHECK(a.max() == 3.5);
  CHECK_THROWS_AS(a.add(std::nan("")), InvariantError);
}

TEST_CASE("Welford's update stays accurate far from zero") {
  // 1e9 + {4, 7, 13, 16}: mean 1e9 + 10, sample variance (36+9+9+36)/3 = 30. The naive
  // sum-of-squares formula loses every digit here in double precision.
  Accumulator a;
  for (double x : {4.0, 7.0, 13.0, 16.0}) a.add(1e9 + x);
  CHECK(a.mean() == doctest::Approx(1e9 + 10.0));
  CHECK(a.variance() == doctest::Approx(30.0));
}

TEST_CASE("sample-set quantiles interpolate linearly between order statistics") {
  SampleSet s;
  for (double x : {9.0, 2.0, 5.0, 4.0, 7.0, 4.0, 5.0, 4.0}) s.add(x);
  // Sorted: 2 4 4 4 5 5 7 9 (n = 8), h = 7 q.
  CHECK(s.quantile(0.0) == 2.0);                    // h = 0
  CHECK(s.quantile(1.0) == 9.0);                    // h = 7
  CHECK(s.p50() == doctest::Approx(4.5));           // h = 3.5: 4 + 0.5 (5 - 4)
  CHECK(s.p90() == doctest::Approx(7.6));           // h = 6.3: 7 + 0.3 (9 - 7)
  CHECK(s.p99() == doctest::Approx(8.86));          // h = 6.93: 7 + 0.93 (9 - 7)
  CHECK(s.quantile(0.25) == doctest::Approx(4.0));  // h = 1.75: 4 + 0.75 (4 - 4)
  CHECK(s.moments().mean() == doctest::Approx(5.0));
  CHECK(s.count() == 8);
  CHECK(s.exact());
  s.add(100.0);           // invalidates the cached sort: sorted 2 4 4 4 5 5 7 9 100, h = 8 q
  CHECK(s.p50() == 5.0);  // h = 4: x[4] = 5
  CHECK(s.quantile(1.0) == 100.0);
  SampleSet one;
  one.add(3.0);
  CHECK(one.p99() == 3.0);
  SampleSet empty;
  CHECK_THROWS_AS(empty.p50(), InvariantError);
  CHECK_THROWS_AS(one.quantile(1.5), InvariantError);
}

TEST_CASE("past its exact limit a sample set bins its values and keeps quantiles within 0.2 %") {
  SampleSet s(1000);
  // -100..-1, 0 (x 50), then 1..10000: the order statistics are known.
  std::vector<double> all;
  for (int i = 1; i <= 10000; ++i) all.push_back(i);
  for (int i = 1; i <= 100; ++i) all.push_back(-i);
  for (int i = 0; i < 50; ++i) all.push_back(0.0);
  for (const double x : all) s.add(x);
  CHECK_FALSE(s.exact());
  CHECK(s.count() == all.size());
  std::sort(all.begin(), all.end());
  for (const double q : {0.0, 0.001, 0.005, 0.0092, 0.3, 0.5, 0.9, 0.99, 1.0}) {
    const double want = all[static_cast<std::size_t>(q * static_cast<double>(all.size() - 1))];
    CAPTURE(q);
    if (want == 0.0) {
      CHECK(s.quantile(q) == 0.0);
    } else {
      CHECK(std::abs(s.quantile(q) - want) <= 0.002 * std::abs(want));
    }
  }
  CHECK(s.quantile(0.0) == -100.0);  // clamped to the least value
  CHECK(s.quantile(1.0) == 10000.0);
  CHECK(s.moments().mean() == doctest::Approx(std::accumulate(all.begin(), all.end(), 0.0) /
                                              static_cast<double>(all.size())));
  // Exactly at the limit it is still exact.
  SampleSet at(3);
  for (double x : {1.0, 2.0, 4.0}) at.add(x);
  CHECK(at.exact());
  CHECK(at.p50() == 2.0);
  at.add(8.0);
  CHECK_FALSE(at.exact());
}

TEST_CASE("a time-weighted signal integrates its value over simulated time") {
  TimeWeighted w;
  CHECK_FALSE(w.started());
  CHECK(w.average(at_us(5)) == 0.0);
  // Value 2 on [10 us, 20 us), 5 on [20 us, 50 us), then 1 from 50 us on.
  w.set(at_us(10), 2.0);
  w.set(at_us(20), 5.0);
  w.add(at_us(50), -4.0);
  CHECK(w.current() == 1.0);
  CHECK(w.start() == at_us(10));
  // Integral to 50 us: 2 * 10 us + 5 * 30 us = 170 us = 1.7e-4 value-seconds; average over
  // 40 us: 170 / 40 = 4.25.
  CHECK(w.integral(at_us(50)) == doctest::Approx(1.7e-4));
  CHECK(w.average(at_us(50)) == doctest::Approx(4.25));
  // To 60 us: (170 + 1 * 10) / 50 = 3.6.
  CHECK(w.average(at_us(60)) == doctest::Approx(3.6));
  CHECK(w.min() == 1.0);
  CHECK(w.max() == 5.0);
  CHECK_THROWS_AS(w.set(at_us(40), 0.0), InvariantError);  // out of time order
  TimeWeighted fresh;
  fresh.set(at_us(3), 7.0);
  CHECK(fresh.average(at_us(3)) == 7.0);  // zero elapsed time: the current value
  TimeWeighted unstarted;
  CHECK_THROWS_AS(unstarted.add(at_us(1), 1.0), InvariantError);
}

TEST_CASE("the registry creates on first use, keeps references and iterates by name") {
  StatsRegistry r;
  Counter& c = r.counter("zeta.requests");
  c.add(3);
  r.counter("alpha.requests").add();
  r.counter("mid.requests");
  CHECK(&r.counter("zeta.requests") == &c);  // same object on every lookup
  CHECK(r.counter("zeta.requests").value() == 3);
  std::vector<std::string> names;
  for (const auto& [name, counter] : r.counters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"alpha.requests", "mid.requests", "zeta.requests"});
  r.accumulator("ttft").add(1.0);
  r.samples("tpot").add(2.0);
  r.time_weighted("kv_used").set(TimePoint{}, 0.5);
  REQUIRE(r.find_accumulator("ttft") != nullptr);
  CHECK(r.find_accumulator("ttft")->count() == 1);
  CHECK(r.find_samples("tpot")->count() == 1);
  CHECK(r.find_time_weighted("kv_used")->current() == 0.5);
  CHECK(r.find_counter("missing") == nullptr);
  CHECK(r.find_samples("ttft") == nullptr);
  CHECK(r.accumulators().size() == 1);
  CHECK(r.sample_sets().size() == 1);
  CHECK(r.time_weighted_signals().size() == 1);
}

TEST_CASE("one name cannot name statistics of two kinds") {
  StatsRegistry r;
  r.counter("x");
  CHECK_THROWS_AS(r.accumulator("x"), InvariantError);
  CHECK_THROWS_AS(r.samples("x"), InvariantError);
  CHECK_THROWS_AS(r.time_weighted("x"), InvariantError);
  CHECK_NOTHROW(r.counter("x"));
}
