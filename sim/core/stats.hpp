#pragma once
/// \file
/// Statistics of one simulation: named counters, accumulators (count, mean, variance, min, max),
/// sample sets with quantiles (exact, then binned past a bound on memory), and time-weighted
/// averages over simulated time. The registry iterates in lexicographic name order, so reports are
/// deterministic.

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/units.hpp"

namespace moesim {

/// A signed event count.
class Counter {
 public:
  /// Adds `n` (default 1).
  void add(std::int64_t n = 1) { value_ += n; }
  /// The running total.
  std::int64_t value() const { return value_; }

 private:
  std::int64_t value_ = 0;
};

/// Streaming moments of a series of numbers (Welford's update, numerically stable): count, sum,
/// mean, sample variance, min and max. Units are those of the values added.
class Accumulator {
 public:
  /// Adds one finite observation.
  void add(double x);
  /// Number of observations.
  std::uint64_t count() const { return count_; }
  /// Sum of the observations (0 when empty).
  double sum() const { return sum_; }
  /// Arithmetic mean; 0 when empty.
  double mean() const { return mean_; }
  /// Unbiased sample variance, sum (x - mean)^2 / (count - 1); 0 when count < 2.
  double variance() const;
  /// Population variance, sum (x - mean)^2 / count; 0 when empty.
  double population_variance() const;
  /// Square root of variance().
  double stddev() const;
  /// Least observation; +infinity when empty.
  double min() const { return min_; }
  /// Greatest observation; -infinity when empty.
  double max() const { return max_; }

 private:
  std::uint64_t count_ = 0;
  double sum_ = 0.0;
  double mean_ = 0.0;
  double m2_ = 0.0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

/// Quantiles of a stream of observations in bounded memory: exact while at most exact_limit
/// observations have been added (every one is stored), log-binned after that.
///
/// Exact quantiles: linear interpolation between order statistics (Hyndman and Fan type 7,
/// NumPy's default): with the n values sorted x[0] <= ... <= x[n-1] and h = (n - 1) q,
/// quantile(q) = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]). So quantile(0) is the
/// minimum, quantile(1) the maximum, and quantile(0.5) the usual median.
///
/// Binned (past exact_limit): the stored values move into bins and are freed: each power-of-two
/// range of |x| is split into kBinsPerOctave equal bins (width <= 1/256 = 0.4 %
/// of the value), zero has a bin of its own, negative values mirror positive ones. quantile(q) is
/// then the midpoint of the bin holding the value of rank floor((n - 1) q), clamped to [min, max]:
/// within 0.2 % of that order statistic. Memory: the bins between the least and the greatest
/// magnitude seen (a few thousand for values spanning decades), whatever the count. The moments
/// stay exact (streaming). Deterministic: the same adds give the same results. Sorting is cached
/// until the next add(); not safe for concurrent readers.
class SampleSet {
 public:
  /// Observations kept exactly by default: 2^18, 2 MiB of values.
  static constexpr std::size_t kDefaultExactLimit = std::size_t{1} << 18;
  /// Bins per power of two once binned.
  static constexpr std::int32_t kBinsPerOctave = 256;

  explicit SampleSet(std::size_t exact_limit = kDefaultExactLimit) : exact_limit_(exact_limit) {}
  /// Adds one finite observation.
  void add(double x);
  /// Number of observations.
  std::size_t count() const { return static_cast<std::size_t>(moments_.count()); }
  /// Whether quantiles are exact (count() <= the exact limit).
  bool exact() const { return !binned_; }
  /// Moments of the same observations.
  const Accumulator& moments() const { return moments_; }
  /// The q-quantile, 0 <= q <= 1, as defined above. Requires count() > 0 (asserted).
  double quantile(double q) const;
  /// quantile(0.5).
  double p50() const { return quantile(0.5); }
  /// quantile(0.9).
  double p90() const { return quantile(0.9); }
  /// quantile(0.99).
  double p99() const { return quantile(0.99); }

 private:
  /// Counts of |x| by bin, for the values of one sign: bin (e - e_lo) * kBinsPerOctave + m for
  /// |x| = f 2^e with f in [0.5, 1) and m = floor((2 f - 1) kBinsPerOctave).
  struct Bins {
    std::int32_t e_lo = 0;
    std::vector<std::int64_t> counts;
    void add(double magnitude);
    /// The midpoint of bin `i`.
    double midpoint(std::size_t i) const;
  };
  void bin(double x);

  std::size_t exact_limit_;
  Accumulator moments_;
  std::vector<double> values_;  ///< while exact
  bool binned_ = false;
  Bins positive_;
  Bins negative_;  ///< by magnitude
  std::int64_t zeros_ = 0;
  mutable std::vector<double> sorted_;
  mutable bool sorted_valid_ = false;
};

/// A piecewise-constant signal of simulated time (a queue length, a utilisation, a memory level)
/// and its time integral. The first set() starts the record; the value then holds until the next
/// set(). average(t) = integral over [start, t] / (t - start).
class TimeWeighted {
 public:
  /// Records that the signal takes `value` from `now` on. `now` must not precede the previous
  /// set() (asserted); several sets at one time keep the last value.
  void set(TimePoint now, double value);
  /// Adds `delta` to the current value from `now` on (the record must have started).
  void add(TimePoint now, double delta);
  /// True once set() has been called.
  bool started() const { return started_; }
  /// The value now in force (0 before the first set()).
  double current() const { return value_; }
  /// Integral of the signal over [start, now], in value-seconds. `now` must not precede the last
  /// set(); 0 before the record starts.
  double integral(TimePoint now) const;
  /// Time average over [start, now]; the current value when now == start; 0 before the record
  /// starts.
  double average(TimePoint now) const;
  /// Least value taken (+infinity before the record starts).
  double min() const { return min_; }
  /// Greatest value taken (-infinity before the record starts).
  double max() const { return max_; }
  /// When the record started (the epoch before the first set()).
  TimePoint start() const { return start_; }

 private:
  TimePoint start_{};
  TimePoint last_{};
  double value_ = 0.0;
  double area_ps_ = 0.0;  ///< integral up to last_, in value-picoseconds
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  bool started_ = false;
};

/// Named statistics of one simulation. Accessors create on first use and return a reference that
/// stays valid for the registry's lifetime; look a statistic up once and keep the reference on hot
/// paths. A name belongs to one kind only (asserted). Iteration is in lexicographic name order.
class StatsRegistry {
 public:
  /// Statistics of one kind by name, in lexicographic order.
  template <class T>
  using Table = std::map<std::string, T, std::less<>>;

  /// The counter `name`, created at zero if absent.
  Counter& counter(std::string_view name);
  /// The accumulator `name`, created empty if absent.
  Accumulator& accumulator(std::string_view name);
  /// The sample set `name`, created empty if absent.
  SampleSet& samples(std::string_view name);
  /// The time-weighted signal `name`, created unstarted if absent.
  TimeWeighted& time_weighted(std::string_view name);

  /// The counter `name`, or nullptr if absent.
  const Counter* find_counter(std::string_view name) const;
  /// The accumulator `name`, or nullptr if absent.
  const Accumulator* find_accumulator(std::string_view name) const;
  /// The sample set `name`, or nullptr if absent.
  const SampleSet* find_samples(std::string_view name) const;
  /// The time-weighted signal `name`, or nullptr if absent.
  const TimeWeighted* find_time_weighted(std::string_view name) const;

  /// All counters, by name.
  const Table<Counter>& counters() const { return counters_; }
  /// All accumulators, by name.
  const Table<Accumulator>& accumulators() const { return accumulators_; }
  /// All sample sets, by name.
  const Table<SampleSet>& sample_sets() const { return samples_; }
  /// All time-weighted signals, by name.
  const Table<TimeWeighted>& time_weighted_signals() const { return time_weighted_; }

 private:
  /// True when `name` is registered under any kind.
  bool known(std::string_view name) const;
  template <class T>
  T& get_or_create(Table<T>& table, std::string_view name);

  Table<Counter> counters_;
  Table<Accumulator> accumulators_;
  Table<SampleSet> samples_;
  Table<TimeWeighted> time_weighted_;
};

}  // namespace moesim
