#include "sim/study/pareto.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "sim/core/error.hpp"

namespace moesim::study {
namespace {

using Indices = std::vector<std::size_t>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST_CASE("dominated points are dropped and the frontier is sorted by x ascending") {
  // (2,2) is dominated by (2,4) and (3,3); (1,1) by everything; (0.5,4) by (2,4) (same y,
  // larger x). What is left, by x: (1,5) #0, (2,4) #1, (3,3) #2.
  const std::vector<double> x = {1, 2, 3, 2, 1, 0.5};
  const std::vector<double> y = {5, 4, 3, 2, 1, 4};
  CHECK(pareto_frontier(x, y) == Indices{0, 1, 2});
}

TEST_CASE("the input order does not matter, only the values") {
  // The points of the test above, reversed: the frontier holds the same points, now numbered
  // #5 (1,5), #4 (2,4), #3 (3,3), still listed by x ascending.
  const std::vector<double> x = {0.5, 1, 2, 3, 2, 1};
  const std::vector<double> y = {4, 1, 2, 3, 4, 5};
  CHECK(pareto_frontier(x, y) == Indices{5, 4, 3});
}

TEST_CASE("exact duplicates keep only the lowest index") {
  // (2,3) appears as #1 and #3, (1,1) as #0 and #2 (dominated by (2,3)), and (4,1) as #4 and #5.
  const std::vector<double> x = {1, 2, 1, 2, 4, 4};
  const std::vector<double> y = {1, 3, 1, 3, 1, 1};
  CHECK(pareto_frontier(x, y) == Indices{1, 4});
}

TEST_CASE("a point with equal x and a smaller y is dominated, and so is one with equal y") {
  // (1,2) #1 dominates (1,1) #0 (same x); (3,2) #2 dominates (1,2) #1 (same y, larger x).
  const std::vector<double> x = {1, 1, 3};
  const std::vector<double> y = {1, 2, 2};
  CHECK(pareto_frontier(x, y) == Indices{2});
}

TEST_CASE("points with a NaN coordinate are ignored") {
  // Without the NaN points (#1 and #3) the frontier is (1,2) #0 and (2,1) #2; were NaN compared,
  // #1 (x = 100) or #3 (y = 100) could have hidden them.
  const std::vector<double> x = {1, 100, 2, kNaN};
  const std::vector<double> y = {2, kNaN, 1, 100};
  CHECK(pareto_frontier(x, y) == Indices{0, 2});
}

TEST_CASE("points on a falling line are all on the frontier") {
  // x + y = 10 and every x distinct: none dominates another. Sorted by x: #3 (1), #0 (2),
  // #2 (5), #1 (9).
  const std::vector<double> x = {2, 9, 5, 1};
  const std::vector<double> y = {8, 1, 5, 9};
  CHECK(pareto_frontier(x, y) == Indices{3, 0, 2, 1});
}

TEST_CASE("a single point is its own frontier and no points give an empty one") {
  const std::vector<double> one = {7};
  CHECK(pareto_frontier(one, one) == Indices{0});
  const std::vector<double> none;
  CHECK(pareto_frontier(none, none).empty());
  const std::vector<double> nan = {kNaN};
  CHECK(pareto_frontier(nan, one).empty());
}

TEST_CASE("pareto_frontier rejects x and y of different lengths") {
  const std::vector<double> x = {1, 2};
  const std::vector<double> y = {1};
  CHECK_THROWS_AS(pareto_frontier(x, y), InvariantError);
}

TEST_CASE("best_at_least picks the largest y among points whose x reaches the floor") {
  // Points (x = tokens/s per user, y = tokens/s per GPU) of a typical frontier.
  const std::vector<double> x = {10, 20, 50, 100, 20};
  const std::vector<double> y = {900, 700, 400, 100, 650};
  // min_x = 20: #1 (700), #2 (400), #3 (100) and #4 (650) qualify (x >= 20 includes 20): #1.
  CHECK(best_at_least(x, y, 20) == std::optional<std::size_t>{1});
  // min_x = 21: #2 and #3 qualify: #2 (400).
  CHECK(best_at_least(x, y, 21) == std::optional<std::size_t>{2});
  // min_x = 0: everything qualifies: #0 (900).
  CHECK(best_at_least(x, y, 0) == std::optional<std::size_t>{0});
  // min_x = 101: nothing reaches it.
  CHECK_FALSE(best_at_least(x, y, 101).has_value());
}

TEST_CASE("best_at_least keeps the lowest index on ties and skips NaN points") {
  // #0 and #2 tie at y = 5 with x >= 1: the lowest index wins. #1 has a NaN y and #3 a NaN x:
  // neither qualifies although their other coordinate is the largest.
  const std::vector<double> x = {1, 100, 3, kNaN};
  const std::vector<double> y = {5, kNaN, 5, 100};
  CHECK(best_at_least(x, y, 1) == std::optional<std::size_t>{0});
  const std::vector<double> none;
  CHECK_FALSE(best_at_least(none, none, 0).has_value());
}

}  // namespace
}  // namespace moesim::study
