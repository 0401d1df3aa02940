#include "sim/hw/max_min.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sim/core/error.hpp"

namespace moesim::hw {
namespace {

constexpr double kRelTol = 1e-9;

Bandwidth gbps(double v) { return gigabytes_per_second(v); }

double gb(Bandwidth b) { return in_gigabytes_per_second(b); }

doctest::Approx approx(double v) { return doctest::Approx(v).epsilon(1e-12); }

// Checks, independently of the solver, that `rates` is feasible and weighted max-min fair
// (the bottleneck property stated in sim/hw/max_min.hpp):
//  - every rate is > 0, no shared link carries more than its capacity, no flow exceeds its
//    effective cap (its own cap and the capacity of every non-shared link on its route);
//  - every flow sits at its effective cap, or crosses a saturated shared link on which its
//    rate / weight is the largest.
// Returns the first violation found, or an empty string.
std::string max_min_violation(const MaxMinProblem& p, std::span<const Bandwidth> rates) {
  if (rates.size() != static_cast<std::size_t>(p.flow_count())) return "one rate per flow";
  const auto links = static_cast<std::size_t>(p.link_count());
  std::vector<double> load(links, 0.0);
  std::vector<double> max_norm(links, 0.0);  // max rate / weight over the link's flows
  std::vector<double> effective_cap(rates.size());
  for (FlowIndex f = 0; f < p.flow_count(); ++f) {
    const double x = rates[static_cast<std::size_t>(f)].base();
    if (!(x > 0.0)) return "flow " + std::to_string(f) + " has no positive rate";
    double cap = p.rate_cap(f).base();
    for (const LinkIndex l : p.route(f)) {
      const auto li = static_cast<std::size_t>(l);
      if (p.link_sharing(l) == LinkSharing::kShared) {
        load[li] += x;
        max_norm[li] = std::max(max_norm[li], x / p.weight(f));
      } else {
        cap = std::min(cap, p.link_capacity(l).base());
      }
    }
    effective_cap[static_cast<std::size_t>(f)] = cap;
    if (x > cap * (1.0 + kRelTol)) return "flow " + std::to_string(f) + " exceeds its cap";
  }
  for (LinkIndex l = 0; l < p.link_count(); ++l) {
    if (load[static_cast<std::size_t>(l)] > p.link_capacity(l).base() * (1.0 + kRelTol)) {
      return "link " + std::to_string(l) + " is over capacity";
    }
  }
  for (FlowIndex f = 0; f < p.flow_count(); ++f) {
    const double x = rates[static_cast<std::size_t>(f)].base();
    bool has_bottleneck = x >= effective_cap[static_cast<std::size_t>(f)] * (1.0 - kRelTol);
    for (const LinkIndex l : p.route(f)) {
      if (p.link_sharing(l) != LinkSharing::kShared) continue;
      const auto li = static_cast<std::size_t>(l);
      const bool saturated = load[li] >= p.link_capacity(l).base() * (1.0 - kRelTol);
      const bool largest = x / p.weight(f) >= max_norm[li] * (1.0 - kRelTol);
      has_bottleneck = has_bottleneck || (saturated && largest);
    }
    if (!has_bottleneck) return "flow " + std::to_string(f) + " has no bottleneck";
  }
  return {};
}

TEST_CASE("one flow on one link gets the whole capacity") {
  MaxMinProblem p;
  const LinkIndex l = p.add_link(gbps(400));
  p.add_flow(std::array{l});
  // Progressive filling: the only link's share is C / 1 = 400 GB/s.
  const auto rates = solve_max_min(p);
  REQUIRE(rates.size() == 1);
  CHECK(gb(rates[0]) == approx(400.0));
}

TEST_CASE("N equal flows on one shared link get C / N each") {
  MaxMinProblem p;
  const LinkIndex l = p.add_link(gbps(450));
  constexpr int kFlows = 7;
  for (int i = 0; i < kFlows; ++i) p.add_flow(std::array{l});
  MaxMinSolver solver;
  const auto rates = solver.solve(p);
  // C / N = 450 / 7 GB/s, reached in one round.
  for (const Bandwidth r : rates) CHECK(gb(r) == approx(450.0 / 7.0));
  CHECK(solver.rounds() == 1);
}

TEST_CASE("a non-shared link gives every flow its full capacity") {
  MaxMinProblem p;
  const LinkIndex fat = p.add_link(gbps(900), LinkSharing::kNotShared);
  for (int i = 0; i < 5; ++i) p.add_flow(std::array{fat});
  // A crossbar bounds each flow by its capacity separately: 900 GB/s each, not 900 / 5.
  for (const Bandwidth r : solve_max_min(p)) CHECK(gb(r) == approx(900.0));
}

TEST_CASE("unequal routes share a bottleneck and the rest goes to the others") {
  // Links A (cap 10) and B (cap 4); flow 1 on A+B, flow 2 on A, flow 3 on B.
  // Shares: A = 10 / 2 = 5, B = 4 / 2 = 2, so B saturates first: flows 1 and 3 get 2.
  // A then has 10 - 2 = 8 left for flow 2 alone: flow 2 gets 8.
  MaxMinProblem p;
  const LinkIndex a = p.add_link(gbps(10));
  const LinkIndex b = p.add_link(gbps(4));
  p.add_flow(std::array{a, b});
  p.add_flow(std::array{a});
  p.add_flow(std::array{b});
  MaxMinSolver solver;
  const auto rates = solver.solve(p);
  CHECK(gb(rates[0]) == approx(2.0));
  CHECK(gb(rates[1]) == approx(8.0));
  CHECK(gb(rates[2]) == approx(2.0));
  CHECK(solver.bottlenecks()[0] == b);
  CHECK(solver.bottlenecks()[1] == a);
  CHECK(solver.bottlenecks()[2] == b);
  CHECK(max_min_violation(p, rates).empty());
}

TEST_CASE("the fairness check rejects allocations that are not max-min fair") {
  // The unequal-routes instance above (flows 1, 2, 3 are indices 0, 1, 2), fair rates {2, 8, 2}.
  MaxMinProblem p;
  const LinkIndex a = p.add_link(gbps(10));
  const LinkIndex b = p.add_link(gbps(4));
  p.add_flow(std::array{a, b});
  p.add_flow(std::array{a});
  p.add_flow(std::array{b});
  const auto check = [&](std::array<double, 3> x) {
    return max_min_violation(p, std::array{gbps(x[0]), gbps(x[1]), gbps(x[2])});
  };
  CHECK(check({2, 8, 2}).empty());
  // A is left 1 short of saturation: flow 2 (on A only) could grow.
  CHECK(check({2, 7, 2}) == "flow 1 has no bottleneck");
  // A and B are saturated, but on B flow 3 has less than flow 1: it could grow at flow 1's
  // expense, so the allocation is not max-min fair.
  CHECK(check({3, 7, 1}) == "flow 2 has no bottleneck");
  // A carries 2 + 9 = 11 > 10.
  CHECK(check({2, 9, 2}) == "link 0 is over capacity");
}

TEST_CASE("in the parking lot a long flow and each short flow get half a link") {
  // Three links of capacity 1 in a row; one flow crosses all three, one short flow per link.
  // Every link carries two flows, share 1 / 2; all flows get 0.5.
  MaxMinProblem p;
  std::array<LinkIndex, 3> row{};
  for (auto& l : row) l = p.add_link(gbps(1));
  p.add_flow(row);
  for (const LinkIndex l : row) p.add_flow(std::array{l});
  const auto rates = solve_max_min(p);
  for (const Bandwidth r : rates) CHECK(gb(r) == approx(0.5));
  CHECK(max_min_violation(p, rates).empty());
}

TEST_CASE("weights divide a shared link in proportion") {
  // Capacity 9 shared by weights 2 and 1: share = 9 / (2 + 1) = 3; rates 2 * 3 = 6 and 3.
  MaxMinProblem p;
  const LinkIndex l = p.add_link(gbps(9));
  p.add_flow(std::array{l}, 2.0);
  p.add_flow(std::array{l}, 1.0);
  const auto rates = solve_max_min(p);
  CHECK(gb(rates[0]) == approx(6.0));
  CHECK(gb(rates[1]) == approx(3.0));
}

TEST_CASE("a binding rate cap freezes its flow and leaves the rest to the others") {
  MaxMinProblem p;
  const LinkIndex l = p.add_link(gbps(10));
  SUBCASE("cap below the fair share") {
    // Fair share 10 / 3 = 3.33 > cap 1: flow 0 gets 1, the others (10 - 1) / 2 = 4.5.
    p.add_flow(std::array{l}, 1.0, gbps(1));
    p.add_flow(std::array{l});
    p.add_flow(std::array{l});
    MaxMinSolver solver;
    const auto rates = solver.solve(p);
    CHECK(gb(rates[0]) == approx(1.0));
    CHECK(gb(rates[1]) == approx(4.5));
    CHECK(gb(rates[2]) == approx(4.5));
    CHECK(solver.bottlenecks()[0] == MaxMinSolver::kCapLimited);
    CHECK(max_min_violation(p, rates).empty());
  }
  SUBCASE("cap above the fair share does not bind") {
    // Cap 5 > 10 / 3: every flow gets 10 / 3.
    p.add_flow(std::array{l}, 1.0, gbps(5));
    p.add_flow(std::array{l});
    p.add_flow(std::array{l});
    for (const Bandwidth r : solve_max_min(p)) CHECK(gb(r) == approx(10.0 / 3.0));
  }
  SUBCASE("a cap is compared with weight times share") {
    // Weights 2 and 1 on capacity 9 would give 6 and 3; a cap of 5 on the heavy flow binds,
    // leaving 9 - 5 = 4 to the other.
    p.set_link_capacity(l, gbps(9));
    p.add_flow(std::array{l}, 2.0, gbps(5));
    p.add_flow(std::array{l}, 1.0);
    const auto rates = solve_max_min(p);
    CHECK(gb(rates[0]) == approx(5.0));
    CHECK(gb(rates[1]) == approx(4.0));
  }
}

TEST_CASE("a non-shared link on a route acts as a per-flow cap") {
  MaxMinProblem p;
  const LinkIndex fat = p.add_link(gbps(5), LinkSharing::kNotShared);
  const LinkIndex shared = p.add_link(gbps(12));
  for (int i = 0; i < 3; ++i) p.add_flow(std::array{fat, shared});
  // Shared share 12 / 3 = 4 < 5: 4 each.
  for (const Bandwidth r : solve_max_min(p)) CHECK(gb(r) == approx(4.0));
  // Shared share 30 / 3 = 10 > 5: the fat pipe bounds each flow at 5.
  p.set_link_capacity(shared, gbps(30));
  const auto rates = solve_max_min(p);
  for (const Bandwidth r : rates) CHECK(gb(r) == approx(5.0));
  CHECK(max_min_violation(p, rates).empty());
}

TEST_CASE("a flow with an empty route gets exactly its cap") {
  MaxMinProblem p;
  p.add_flow({}, 1.0, gbps(3));
  const auto rates = solve_max_min(p);
  CHECK(gb(rates[0]) == approx(3.0));
}

TEST_CASE("an empty problem has no rates") {
  MaxMinProblem p;
  MaxMinSolver solver;
  CHECK(solver.solve(p).empty());
  p.add_link(gbps(1));  // a link without flows
  CHECK(solver.solve(p).empty());
}

TEST_CASE("equally tight links are taken in index order") {
  // Links 0 and 1 of capacity 4; flows a on 0, b on 1, c on both. Both shares are 4 / 2 = 2:
  // link 0 goes first and freezes a and c at 2; link 1 is left with 2 for b.
  MaxMinProblem p;
  const LinkIndex l0 = p.add_link(gbps(4));
  const LinkIndex l1 = p.add_link(gbps(4));
  p.add_flow(std::array{l0});
  p.add_flow(std::array{l1});
  p.add_flow(std::array{l0, l1});
  MaxMinSolver solver;
  const auto rates = solver.solve(p);
  for (const Bandwidth r : rates) CHECK(gb(r) == approx(2.0));
  CHECK(solver.bottlenecks()[0] == l0);
  CHECK(solver.bottlenecks()[1] == l1);
  CHECK(solver.bottlenecks()[2] == l0);
  CHECK(solver.rounds() == 2);
}

TEST_CASE("contract violations fail the invariant check") {
  MaxMinProblem p;
  CHECK_THROWS_AS(p.add_link(gbps(0)), InvariantError);
  const LinkIndex l = p.add_link(gbps(1));
  CHECK_THROWS_AS(p.set_link_capacity(l, gbps(-1)), InvariantError);
  CHECK_THROWS_AS(p.add_flow(std::array{l}, 0.0), InvariantError);
  CHECK_THROWS_AS(p.add_flow(std::array<LinkIndex, 1>{7}), InvariantError);
  CHECK_THROWS_AS(p.add_flow({}), InvariantError);  // empty route, no cap: infinite rate
  CHECK_THROWS_AS(p.add_flow(std::array{l}, 1.0, gbps(0)), InvariantError);
  CHECK(p.flow_count() == 0);
}

// Fixed-seed generator with a portable mapping (std distributions differ between libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  }
  int below(int n) { return static_cast<int>(engine_() % static_cast<std::uint64_t>(n)); }

 private:
  std::mt19937_64 engine_;
};

MaxMinProblem random_problem(Rng& rng) {
  MaxMinProblem p;
  const int links = 1 + rng.below(30);
  for (int l = 0; l < links; ++l) {
    const auto sharing = rng.below(5) == 0 ? LinkSharing::kNotShared : LinkSharing::kShared;
    p.add_link(gbps(rng.uniform(1.0, 100.0)), sharing);
  }
  const int flows = rng.below(60);
  std::vector<LinkIndex> route;
  for (int f = 0; f < flows; ++f) {
    route.clear();
    const int hops = rng.below(5);
    for (int h = 0; h < hops; ++h) route.push_back(rng.below(links));
    const double weight = rng.below(2) == 0 ? 1.0 : rng.uniform(0.25, 4.0);
    if (route.empty() || rng.below(5) == 0) {
      p.add_flow(route, weight, gbps(rng.uniform(0.5, 50.0)));
    } else {
      p.add_flow(route, weight);
    }
  }
  return p;
}

TEST_CASE("random instances are solved feasibly and max-min fairly") {
  Rng rng(20240611);
  MaxMinSolver solver;  // reused across instances of varying size
  for (int instance = 0; instance < 300; ++instance) {
    CAPTURE(instance);
    const MaxMinProblem p = random_problem(rng);
    const auto rates = solver.solve(p);
    CHECK(max_min_violation(p, rates).empty());
    // The solver's own bottleneck report agrees: a saturated shared link on the route, or the
    // flow's effective cap.
    for (FlowIndex f = 0; f < p.flow_count(); ++f) {
      const LinkIndex b = solver.bottlenecks()[static_cast<std::size_t>(f)];
      if (b == MaxMinSolver::kCapLimited) continue;
      const auto route = p.route(f);
      CHECK(std::find(route.begin(), route.end(), b) != route.end());
      CHECK(p.link_sharing(b) == LinkSharing::kShared);
    }
  }
}

TEST_CASE("solving is deterministic and independent of the workspace's history") {
  Rng rng(7);
  const MaxMinProblem target = random_problem(rng);
  const std::vector<Bandwidth> fresh = solve_max_min(target);
  MaxMinSolver used;
  for (int i = 0; i < 20; ++i) used.solve(random_problem(rng));
  const auto again = used.solve(target);
  REQUIRE(again.size() == fresh.size());
  for (std::size_t f = 0; f < fresh.size(); ++f) CHECK(again[f] == fresh[f]);  // bit-identical
}

TEST_CASE("a problem rebuilt after clear_flows solves like a new one") {
  MaxMinProblem p;
  const LinkIndex l = p.add_link(gbps(6));
  for (int i = 0; i < 3; ++i) p.add_flow(std::array{l});
  MaxMinSolver solver;
  CHECK(gb(solver.solve(p)[0]) == approx(2.0));  // 6 / 3
  p.clear_flows();
  CHECK(p.link_count() == 1);
  p.add_flow(std::array{l});
  p.add_flow(std::array{l});
  const auto rates = solver.solve(p);
  REQUIRE(rates.size() == 2);
  CHECK(gb(rates[1]) == approx(3.0));  // 6 / 2
}

}  // namespace
}  // namespace moesim::hw
