#include "sim/core/stats.hpp"

#include <algorithm>
#include <cmath>

#include "sim/core/assert.hpp"

namespace moesim {

void Accumulator::add(double x) {
  MOESIM_ASSERT(std::isfinite(x), "statistic observations must be finite");
  ++count_;
  sum_ += x;
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (x - mean_);
  min_ = std::min(min_, x);
  max_ = std::max(max_, x);
}

double Accumulator::variance() const {
  return count_ < 2 ? 0.0 : m2_ / static_cast<double>(count_ - 1);
}

double Accumulator::population_variance() const {
  return count_ == 0 ? 0.0 : m2_ / static_cast<double>(count_);
}

double Accumulator::stddev() const { return std::sqrt(variance()); }

void SampleSet::Bins::add(double magnitude) {
  int e = 0;
  const double f = std::frexp(magnitude, &e);  // magnitude = f 2^e, f in [0.5, 1)
  const auto m =
      std::min(static_cast<std::int32_t>((2.0 * f - 1.0) * kBinsPerOctave), kBinsPerOctave - 1);
  if (counts.empty()) e_lo = e;
  if (e < e_lo) {  // grow downwards: the new octaves go in front
    counts.insert(counts.begin(), static_cast<std::size_t>(e_lo - e) * kBinsPerOctave, 0);
    e_lo = e;
  }
  const auto i = static_cast<std::size_t>(e - e_lo) * kBinsPerOctave + static_cast<std::size_t>(m);
  if (i >= counts.size()) counts.resize((i / kBinsPerOctave + 1) * kBinsPerOctave, 0);
  ++counts[i];
}

double SampleSet::Bins::midpoint(std::size_t i) const {
  const auto e = e_lo + static_cast<std::int32_t>(i / kBinsPerOctave);
  const auto m = static_cast<double>(i % kBinsPerOctave);
  return std::ldexp(0.5 + (m + 0.5) / (2.0 * kBinsPerOctave), e);
}

void SampleSet::bin(double x) {
  if (x > 0.0) {
    positive_.add(x);
  } else if (x < 0.0) {
    negative_.add(-x);
  } else {
    ++zeros_;
  }
}

void SampleSet::add(double x) {
  moments_.add(x);
  if (binned_) {
    bin(x);
    return;
  }
  sorted_valid_ = false;
  if (values_.size() < exact_limit_) {
    values_.push_back(x);
    return;
  }
  binned_ = true;
  for (const double v : values_) bin(v);
  bin(x);
  std::vector<double>().swap(values_);
  std::vector<double>().swap(sorted_);
}

double SampleSet::quantile(double q) const {
  MOESIM_ASSERT(count() > 0, "quantile of an empty sample set");
  MOESIM_ASSERT(q >= 0.0 && q <= 1.0, "quantile level must be in [0, 1]");
  if (binned_) {
    // The bin holding the value of rank floor((n - 1) q), in increasing order of value: the
    // negative bins from the largest magnitude down, zero, then the positive bins.
    const auto rank = static_cast<std::int64_t>(std::floor(static_cast<double>(count() - 1) * q));
    auto clamp = [&](double v) { return std::clamp(v, moments_.min(), moments_.max()); };
    std::int64_t seen = 0;
    for (std::size_t i = negative_.counts.size(); i-- > 0;) {
      seen += negative_.counts[i];
      if (seen > rank) return clamp(-negative_.midpoint(i));
    }
    seen += zeros_;
    if (seen > rank) return 0.0;
    for (std::size_t i = 0; i < positive_.counts.size(); ++i) {
      seen += positive_.counts[i];
      if (seen > rank) return clamp(positive_.midpoint(i));
    }
    return moments_.max();
  }
  if (!sorted_valid_) {
    sorted_ = values_;
    std::sort(sorted_.begin(), sorted_.end());
    sorted_valid_ = true;
  }
  const double h = static_cast<double>(sorted_.size() - 1) * q;
  const double lo = std::floor(h);
  const auto i = static_cast<std::size_t>(lo);
  if (i + 1 >= sorted_.size()) return sorted_.back();
  return sorted_[i] + (h - lo) * (sorted_[i + 1] - sorted_[i]);
}

void TimeWeighted::set(TimePoint now, double value) {
  MOESIM_ASSERT(std::isfinite(value), "time-weighted values must be finite");
  if (!started_) {
    started_ = true;
    start_ = now;
    last_ = now;
  }
  MOESIM_ASSERT(now >= last_, "time-weighted signal set out of time order");
  area_ps_ += value_ * static_cast<double>((now - last_).count());
  last_ = now;
  value_ = value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void TimeWeighted::add(TimePoint now, double delta) {
  MOESIM_ASSERT(started_, "add() on a time-weighted signal before its first set()");
  set(now, value_ + delta);
}

double TimeWeighted::integral(TimePoint now) const {
  if (!started_) return 0.0;
  MOESIM_ASSERT(now >= last_, "time-weighted integral asked before the last update");
  const double ps = area_ps_ + value_ * static_cast<double>((now - last_).count());
  return ps / scale::kPicosecondsPerSecond;
}

double TimeWeighted::average(TimePoint now) const {
  if (!started_) return 0.0;
  if (now == start_) return value_;
  return integral(now) / to_seconds(now - start_);
}

bool StatsRegistry::known(std::string_view name) const {
  return counters_.find(name) != counters_.end() ||
         accumulators_.find(name) != accumulators_.end() || samples_.find(name) != samples_.end() ||
         time_weighted_.find(name) != time_weighted_.end();
}

template <class T>
T& StatsRegistry::get_or_create(Table<T>& table, std::string_view name) {
  const auto it = table.find(name);
  if (it != table.end()) return it->second;
  MOESIM_ASSERT(!known(name), "statistic name already used by a statistic of another kind");
  return table.emplace(std::string{name}, T{}).first->second;
}

Counter& StatsRegistry::counter(std::string_view name) { return get_or_create(counters_, name); }
Accumulator& StatsRegistry::accumulator(std::string_view name) {
  return get_or_create(accumulators_, name);
}
SampleSet& StatsRegistry::samples(std::string_view name) { return get_or_create(samples_, name); }
TimeWeighted& StatsRegistry::time_weighted(std::string_view name) {
  return get_or_create(time_weighted_, name);
}

namespace {
template <class T>
const T* find_in(const StatsRegistry::Table<T>& table, std::string_view name) {
  const auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}
}  // namespace

const Counter* StatsRegistry::find_counter(std::string_view name) const {
  return find_in(counters_, name);
}
const Accumulator* StatsRegistry::find_accumulator(std::string_view name) const {
  return find_in(accumulators_, name);
}
const SampleSet* StatsRegistry::find_samples(std::string_view name) const {
  return find_in(samples_, name);
}
const TimeWeighted* StatsRegistry::find_time_weighted(std::string_view name) const {
  return find_in(time_weighted_, name);
}

}  // namespace moesim
