#include "sim/study/pareto.hpp"

#include <algorithm>
#include <cmath>

#include "sim/core/assert.hpp"

namespace moesim::study {

std::vector<std::size_t> pareto_frontier(std::span<const double> x, std::span<const double> y) {
  MOESIM_ASSERT(x.size() == y.size(), "pareto_frontier needs as many y values as x values");
  std::vector<std::size_t> order;
  order.reserve(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isnan(x[i]) && !std::isnan(y[i])) order.push_back(i);
  }
  // x descending, then y descending, then index ascending: the first point of a run of equal x
  // has the largest y of the run and, among exact duplicates, the lowest index.
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (x[a] != x[b]) return x[a] > x[b];
    if (y[a] != y[b]) return y[a] > y[b];
    return a < b;
  });
  std::vector<std::size_t> frontier;
  bool have_best = false;
  double best_y = 0.0;
  for (std::size_t i : order) {
    // Every point seen before has x' >= x; this one survives only with a strictly larger y.
    if (!have_best || y[i] > best_y) {
      frontier.push_back(i);
      best_y = y[i];
      have_best = true;
    }
  }
  std::reverse(frontier.begin(), frontier.end());
  return frontier;
}

std::optional<std::size_t> best_at_least(std::span<const double> x, std::span<const double> y,
                                         double min_x) {
  MOESIM_ASSERT(x.size() == y.size(), "best_at_least needs as many y values as x values");
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(y[i]) || !(x[i] >= min_x)) continue;
    if (!best || y[i] > y[*best]) best = i;
  }
  return best;
}

}  // namespace moesim::study
