#pragma once
/// \file
/// Pareto frontier of a two-objective sweep (both objectives maximised), e.g. tokens/s per GPU
/// against tokens/s per user, and the best point above a floor on one objective (an SLA).
///
/// A point i dominates j when x_i >= x_j and y_i >= y_j with at least one strict inequality. The
/// frontier is the set of non-dominated points; it is found in O(n log n) by sorting on x
/// descending (y descending, index ascending on ties) and keeping each point whose y beats every y
/// seen before it (Kung, Luccio, Preparata, "On finding the maxima of a set of vectors",
/// J. ACM 22(4), 1975).

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace moesim::study {

/// Indices of the Pareto-optimal points when both x and y are to be maximised (no other point
/// has x' >= x and y' >= y with one strictly greater), sorted by x ascending; ties (equal x and
/// y) keep the lowest index only. NaN points are ignored. x.size() == y.size() (asserted).
std::vector<std::size_t> pareto_frontier(std::span<const double> x, std::span<const double> y);

/// Among points with x >= min_x, the index of the one with the largest y (lowest index on ties);
/// nullopt when none qualifies. Points with a NaN coordinate never qualify. x.size() == y.size()
/// (asserted).
std::optional<std::size_t> best_at_least(std::span<const double> x, std::span<const double> y,
                                         double min_x);

}  // namespace moesim::study
