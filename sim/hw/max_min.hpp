#pragma once
/// \file
/// Weighted max-min fair sharing of link capacities among flows (progressive filling).
/// A pure leaf: it knows links, flows, routes and weights, nothing of GPUs or time.
/// (Design after SimGrid's linear max-min system, src/kernel/lmm/System.hpp.)
///
/// Definition. Links l = 0..L-1 have a capacity C_l > 0 (B/s, one direction). A link is either
/// shared (its capacity is divided among the flows that cross it) or not shared (a fat pipe or
/// crossbar: its capacity bounds each crossing flow separately). Flows f = 0..F-1 have a route
/// (a list of links), a weight w_f > 0 and optionally a rate cap K_f. A rate vector x is
/// feasible when
///   sum_{f crosses l} x_f <= C_l           for every shared link l,
///   x_f <= C_l                             for every non-shared link l on the route of f,
///   x_f <= K_f.
/// It is weighted max-min fair when no x_f / w_f can grow without lowering some x_g / w_g that
/// is already no larger. Equivalently (the bottleneck property, checked by the tests): every
/// flow f either sits at its effective cap E_f = min(K_f, min over non-shared links on its
/// route of C_l), or crosses a shared link l that is saturated (sum x = C_l) and on which
/// x_f / w_f >= x_g / w_g for every flow g crossing l. The fair vector exists and is unique.
///
/// Algorithm (progressive filling). Non-shared links are folded into the effective cap E_f,
/// which acts as a private link of capacity E_f. Then, with R_l the capacity left on shared
/// link l and W_l the sum of the weights of the not yet frozen flows crossing it:
///   repeat until every flow is frozen:
///     s_link = min over shared links with unfrozen flows of R_l / W_l   (ties: lowest index)
///     s_cap  = min over unfrozen flows of E_f / w_f                      (ties: lowest index)
///     if s_cap <= s_link: freeze every unfrozen flow with E_f / w_f <= s_link at x_f = E_f
///     else: freeze every unfrozen flow on the bottleneck link at x_f = w_f * s_link
///     and for each frozen flow f and shared link l on its route: R_l -= x_f, W_l -= w_f.
/// Freezing a flow at level t <= R_l / W_l never lowers R_l / W_l, so the level rises
/// monotonically; this is what allows all cap-limited flows below s_link to freeze in one round.
///
/// Complexity. With N the total route length (sum of route sizes), L_a the number of shared
/// links that carry flows, F_c the number of flows with a finite effective cap and r the number
/// of rounds (each link round retires at least one link and each cap round is followed by a link
/// round or ends the solve, so r <= 2 L_a + 1; each round freezes a flow, so r <= F):
///   O(N + F_c log F_c + r * L_a) time, and no allocation once the workspace has grown to the
///   problem's size. An all-to-all among 72 GPUs on a star (5,112 flows, 144 links) takes at
///   most 289 rounds over at most 144 links (tests/bench/max_min_bench.cpp).
///
/// Determinism. The result depends only on the problem (link and flow order included), never on
/// the workspace's history: ties are broken by the lowest link or flow index, and every sum is
/// taken in an order fixed by the problem, so repeated solves are bit-identical.
///
/// Contract. Capacities, weights and caps must be finite and > 0 (a zero-capacity link would
/// leave its flows at rate 0 forever), route entries must name existing links, and a flow whose
/// route holds no shared link must have a finite effective cap (else its rate would be
/// infinite). Breaking the contract is a bug in the caller, who validates user input first:
/// it fails MOESIM_ASSERT (moesim::InvariantError).

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "sim/core/units.hpp"

namespace moesim::hw {

/// Index of a link in a MaxMinProblem, in the order links were added (0-based).
using LinkIndex = std::int32_t;
/// Index of a flow in a MaxMinProblem, in the order flows were added (0-based).
using FlowIndex = std::int32_t;

/// Whether a link's capacity is divided among its flows or bounds each flow separately.
enum class LinkSharing : std::uint8_t {
  kShared,     ///< capacity is shared by all crossing flows (a cable, a NIC port).
  kNotShared,  ///< capacity applies to each flow separately (a fat pipe, a non-blocking crossbar).
};

/// A max-min sharing instance: links with capacities, flows with routes, weights and caps.
/// Stored flat (CSR: one offset per flow into one array of link indices). clear() keeps the
/// memory, so a caller that rebuilds the problem on every flow start or end does not allocate
/// once the arrays have grown.
class MaxMinProblem {
 public:
  /// Adds a link of `capacity` (B/s, one direction; finite, > 0) and returns its index.
  LinkIndex add_link(Bandwidth capacity, LinkSharing sharing = LinkSharing::kShared);

  /// Sets the capacity (B/s; finite, > 0) of an existing link, e.g. for a degraded port.
  void set_link_capacity(LinkIndex link, Bandwidth capacity);

  /// Adds a flow crossing `route` (existing links, any order; a link listed twice counts twice)
  /// with `weight` (finite, > 0) and returns its index. The flow's rate is not capped beyond
  /// its links; its route must hold a shared link or a non-shared one.
  FlowIndex add_flow(std::span<const LinkIndex> route, double weight = 1.0);

  /// Adds a flow as above whose rate never exceeds `rate_cap` (B/s; finite, > 0). An empty
  /// route is allowed here: such a flow gets exactly its cap.
  FlowIndex add_flow(std::span<const LinkIndex> route, double weight, Bandwidth rate_cap);

  /// Removes every flow; links stay. Keeps the memory.
  void clear_flows();
  /// Removes every link and flow. Keeps the memory.
  void clear();

  /// Number of links added.
  LinkIndex link_count() const { return static_cast<LinkIndex>(capacity_.size()); }
  /// Number of flows added.
  FlowIndex flow_count() const { return static_cast<FlowIndex>(weight_.size()); }
  /// Capacity of `link` (B/s).
  Bandwidth link_capacity(LinkIndex link) const;
  /// Sharing mode of `link`.
  LinkSharing link_sharing(LinkIndex link) const;
  /// The route of `flow`, as given to add_flow.
  std::span<const LinkIndex> route(FlowIndex flow) const;
  /// The weight of `flow`.
  double weight(FlowIndex flow) const;
  /// The rate cap of `flow` given to add_flow (B/s), or +infinity B/s when it has none.
  Bandwidth rate_cap(FlowIndex flow) const;

 private:
  friend class MaxMinSolver;
  FlowIndex add_flow_impl(std::span<const LinkIndex> route, double weight, double cap);

  std::vector<double> capacity_;               // per link, B/s
  std::vector<LinkSharing> sharing_;           // per link
  std::vector<std::int32_t> route_offset_{0};  // per flow + 1, into route_links_
  std::vector<LinkIndex> route_links_;         // concatenated routes
  std::vector<double> weight_;                 // per flow
  std::vector<double> cap_;                    // per flow, B/s, +inf when uncapped
};

/// Solves MaxMinProblems. Holds the workspace (per-link and per-flow arrays, the link-to-flow
/// incidence); reuse one solver across solves so that solving does not allocate once its arrays
/// have grown. Not thread-safe: one solver per thread.
class MaxMinSolver {
 public:
  /// Marks a flow frozen by its own effective cap (rate cap or a non-shared link), not by a
  /// shared link; see bottlenecks().
  static constexpr LinkIndex kCapLimited = -1;

  /// Computes the weighted max-min fair rates of `problem` (see the file comment). Returns one
  /// rate per flow, in flow order (B/s, > 0); the view stays valid until the next solve or the
  /// solver's destruction.
  std::span<const Bandwidth> solve(const MaxMinProblem& problem);

  /// The rates of the last solve (empty before the first).
  std::span<const Bandwidth> rates() const { return rates_; }
  /// Per flow of the last solve, the shared link whose saturation froze it, or kCapLimited.
  std::span<const LinkIndex> bottlenecks() const { return bottleneck_; }
  /// Number of progressive-filling rounds of the last solve (for benchmarks and tests).
  int rounds() const { return rounds_; }

 private:
  static constexpr LinkIndex kUnfrozen = -2;  // bottleneck_ of a flow not yet frozen
  void prepare(const MaxMinProblem& problem);

  // Per link.
  std::vector<double> remaining_;               // capacity left, B/s
  std::vector<double> link_weight_;             // sum of weights of unfrozen flows
  std::vector<std::int32_t> unfrozen_;          // number of unfrozen flows (exact emptiness)
  std::vector<std::int32_t> incidence_offset_;  // per link + 1, into incidence_flows_
  std::vector<FlowIndex> incidence_flows_;      // flows crossing each shared link, in flow order
  std::vector<LinkIndex> active_links_;         // shared links that still carry unfrozen flows
  // Per flow.
  std::vector<std::int32_t> shared_offset_;  // per flow + 1, into shared_links_
  std::vector<LinkIndex> shared_links_;      // each route's shared links only
  std::vector<double> effective_cap_;        // min(cap, non-shared link capacities), B/s
  std::vector<FlowIndex> capped_order_;      // flows with finite effective cap, by E_f / w_f
  std::vector<Bandwidth> rates_;
  std::vector<LinkIndex> bottleneck_;  // kUnfrozen while solving
  int rounds_ = 0;
};

/// Convenience for one-off use: solves `problem` with a fresh workspace and returns the rates
/// (B/s, in flow order). Simulators that solve repeatedly should keep a MaxMinSolver.
std::vector<Bandwidth> solve_max_min(const MaxMinProblem& problem);

}  // namespace moesim::hw
