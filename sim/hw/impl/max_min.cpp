// Weighted max-min fair sharing by progressive filling; the definition, the algorithm, its
// complexity and contract are in sim/hw/max_min.hpp. Source of the method: D. Bertsekas and
// R. Gallager, "Data Networks" (2nd ed., 1992), section 6.5.2 (max-min flow control, the
// progressive filling algorithm). SimGrid's lmm solver (src/kernel/lmm/System.cpp) weighs flows
// the same way through a "sharing penalty", the inverse of our weight.

#include "sim/hw/max_min.hpp"

#include <algorithm>
#include <cmath>

#include "sim/core/assert.hpp"

namespace moesim::hw {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

bool positive_finite(double v) { return std::isfinite(v) && v > 0.0; }

}  // namespace

// ---- MaxMinProblem ----

LinkIndex MaxMinProblem::add_link(Bandwidth capacity, LinkSharing sharing) {
  MOESIM_ASSERT(positive_finite(capacity.base()), "link capacity must be finite and > 0");
  MOESIM_ASSERT(capacity_.size() < static_cast<std::size_t>(std::numeric_limits<LinkIndex>::max()),
                "too many links");
  capacity_.push_back(capacity.base());
  sharing_.push_back(sharing);
  return static_cast<LinkIndex>(capacity_.size() - 1);
}

void MaxMinProblem::set_link_capacity(LinkIndex link, Bandwidth capacity) {
  MOESIM_ASSERT(link >= 0 && link < link_count(), "link index out of range");
  MOESIM_ASSERT(positive_finite(capacity.base()), "link capacity must be finite and > 0");
  capacity_[static_cast<std::size_t>(link)] = capacity.base();
}

FlowIndex MaxMinProblem::add_flow(std::span<const LinkIndex> route, double weight) {
  return add_flow_impl(route, weight, kInfinity);
}

FlowIndex MaxMinProblem::add_flow(std::span<const LinkIndex> route, double weight,
                                  Bandwidth rate_cap) {
  MOESIM_ASSERT(positive_finite(rate_cap.base()), "flow rate cap must be finite and > 0");
  return add_flow_impl(route, weight, rate_cap.base());
}

FlowIndex MaxMinProblem::add_flow_impl(std::span<const LinkIndex> route, double weight,
                                       double cap) {
  MOESIM_ASSERT(positive_finite(weight), "flow weight must be finite and > 0");
  MOESIM_ASSERT(route_links_.size() + route.size() <
                    static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                "total route length overflows int32");
  const LinkIndex links = link_count();
  for (const LinkIndex l : route) {
    MOESIM_ASSERT(l >= 0 && l < links, "flow route names a link that does not exist");
  }
  // Any link, shared or not, bounds the rate; without links only the cap does.
  MOESIM_ASSERT(!route.empty() || std::isfinite(cap),
                "a flow with an empty route needs a rate cap (its rate would be infinite)");
  route_links_.insert(route_links_.end(), route.begin(), route.end());
  route_offset_.push_back(static_cast<std::int32_t>(route_links_.size()));
  weight_.push_back(weight);
  cap_.push_back(cap);
  return static_cast<FlowIndex>(weight_.size() - 1);
}

void MaxMinProblem::clear_flows() {
  route_offset_.resize(1);
  route_links_.clear();
  weight_.clear();
  cap_.clear();
}

void MaxMinProblem::clear() {
  clear_flows();
  capacity_.clear();
  sharing_.clear();
}

Bandwidth MaxMinProblem::link_capacity(LinkIndex link) const {
  MOESIM_ASSERT(link >= 0 && link < link_count(), "link index out of range");
  return Bandwidth{capacity_[static_cast<std::size_t>(link)]};
}

LinkSharing MaxMinProblem::link_sharing(LinkIndex link) const {
  MOESIM_ASSERT(link >= 0 && link < link_count(), "link index out of range");
  return sharing_[static_cast<std::size_t>(link)];
}

std::span<const LinkIndex> MaxMinProblem::route(FlowIndex flow) const {
  MOESIM_ASSERT(flow >= 0 && flow < flow_count(), "flow index out of range");
  const auto f = static_cast<std::size_t>(flow);
  return std::span<const LinkIndex>(route_links_)
      .subspan(static_cast<std::size_t>(route_offset_[f]),
               static_cast<std::size_t>(route_offset_[f + 1] - route_offset_[f]));
}

double MaxMinProblem::weight(FlowIndex flow) const {
  MOESIM_ASSERT(flow >= 0 && flow < flow_count(), "flow index out of range");
  return weight_[static_cast<std::size_t>(flow)];
}

Bandwidth MaxMinProblem::rate_cap(FlowIndex flow) const {
  MOESIM_ASSERT(flow >= 0 && flow < flow_count(), "flow index out of range");
  return Bandwidth{cap_[static_cast<std::size_t>(flow)]};
}

// ---- MaxMinSolver ----
// The loops below work on raw pointers held in locals: the arrays do not overlap, and locals
// spare the compiler reloading each vector's data pointer after every store.

void MaxMinSolver::prepare(const MaxMinProblem& p) {
  const auto links = static_cast<std::size_t>(p.link_count());
  const auto flows = static_cast<std::size_t>(p.flow_count());

  // assign() and resize() reuse capacity: no allocation once the vectors have grown.
  remaining_.assign(links, 0.0);
  link_weight_.assign(links, 0.0);
  unfrozen_.assign(links, 0);
  incidence_offset_.assign(links + 1, 0);
  shared_offset_.resize(flows + 1);
  shared_links_.resize(p.route_links_.size());
  effective_cap_.resize(flows);
  rates_.assign(flows, Bandwidth{0.0});
  bottleneck_.assign(flows, kUnfrozen);
  capped_order_.clear();
  active_links_.clear();

  const double* capacity = p.capacity_.data();
  const LinkSharing* sharing = p.sharing_.data();
  const std::int32_t* route_offset = p.route_offset_.data();
  const LinkIndex* route_links = p.route_links_.data();
  const double* weight = p.weight_.data();
  double* remaining = remaining_.data();
  double* link_weight = link_weight_.data();
  std::int32_t* count = unfrozen_.data();
  std::int32_t* shared_offset = shared_offset_.data();
  LinkIndex* shared_links = shared_links_.data();

  for (std::size_t l = 0; l < links; ++l) {
    if (sharing[l] == LinkSharing::kShared) remaining[l] = capacity[l];
  }

  // Pass 1: per-link weight sums and flow counts, each route's shared links, and effective
  // caps from the non-shared links.
  std::int32_t n_shared = 0;
  shared_offset[0] = 0;
  for (std::size_t f = 0; f < flows; ++f) {
    double cap = p.cap_[f];
    const double w = weight[f];
    for (auto i = route_offset[f]; i < route_offset[f + 1]; ++i) {
      const LinkIndex l = route_links[i];
      if (sharing[l] == LinkSharing::kShared) {
        link_weight[l] += w;
        ++count[l];
        shared_links[n_shared++] = l;
      } else {
        cap = std::min(cap, capacity[l]);
      }
    }
    shared_offset[f + 1] = n_shared;
    MOESIM_ASSERT(n_shared > shared_offset[f] || std::isfinite(cap),
                  "flow without any bound on its rate");
    effective_cap_[f] = cap;
    if (std::isfinite(cap)) capped_order_.push_back(static_cast<FlowIndex>(f));
  }

  // Pass 2: link-to-flow incidence (CSR) by counting sort. Each link's slice is filled from its
  // end, flows in decreasing index order, with count as the cursor; this needs no extra array
  // and leaves each slice in flow order. count is restored afterwards.
  std::int32_t* offset = incidence_offset_.data();
  for (std::size_t l = 0; l < links; ++l) {
    offset[l + 1] = offset[l] + count[l];
    if (count[l] > 0) active_links_.push_back(static_cast<LinkIndex>(l));
  }
  incidence_flows_.resize(static_cast<std::size_t>(offset[links]));
  FlowIndex* incidence = incidence_flows_.data();
  for (std::size_t f = flows; f-- > 0;) {
    for (auto i = shared_offset[f + 1]; i-- > shared_offset[f];) {
      const LinkIndex l = shared_links[i];
      incidence[offset[l] + --count[l]] = static_cast<FlowIndex>(f);
    }
  }
  for (std::size_t l = 0; l < links; ++l) count[l] = offset[l + 1] - offset[l];

  // Cap-limited candidates by level E_f / w_f, ties by flow index.
  const double* cap = effective_cap_.data();
  std::sort(capped_order_.begin(), capped_order_.end(), [&](FlowIndex a, FlowIndex b) {
    const double la = cap[a] / weight[a];
    const double lb = cap[b] / weight[b];
    return la < lb || (la == lb && a < b);
  });
}

std::span<const Bandwidth> MaxMinSolver::solve(const MaxMinProblem& p) {
  prepare(p);
  rounds_ = 0;

  const double* weight = p.weight_.data();
  const double* cap = effective_cap_.data();
  const std::int32_t* shared_offset = shared_offset_.data();
  const LinkIndex* shared_links = shared_links_.data();
  const std::int32_t* incidence_offset = incidence_offset_.data();
  const FlowIndex* incidence = incidence_flows_.data();
  double* remaining = remaining_.data();
  double* link_weight = link_weight_.data();
  std::int32_t* count = unfrozen_.data();
  Bandwidth* rates = rates_.data();
  LinkIndex* bottleneck_of = bottleneck_.data();

  // Freezes `f` at `rate`: takes its rate and weight off every shared link of its route.
  const auto freeze = [&](FlowIndex f, double rate, LinkIndex bottleneck) {
    rates[f] = Bandwidth{rate};
    bottleneck_of[f] = bottleneck;
    const double w = weight[f];
    for (auto i = shared_offset[f]; i < shared_offset[f + 1]; ++i) {
      const LinkIndex l = shared_links[i];
      remaining[l] = std::max(0.0, remaining[l] - rate);
      link_weight[l] -= w;
      --count[l];
    }
  };

  const FlowIndex flows = p.flow_count();
  FlowIndex frozen_count = 0;
  std::size_t next_capped = 0;
  while (frozen_count < flows) {
    ++rounds_;
    // The tightest shared link, R_l / W_l minimal, lowest index on ties (strict comparison in
    // index order). Compared as R_l < level * W_l to divide only on improvement. Links without
    // unfrozen flows leave the active list (stable compaction keeps the index order).
    double link_level = std::numeric_limits<double>::infinity();
    LinkIndex bottleneck = kCapLimited;
    std::size_t kept = 0;
    LinkIndex* active = active_links_.data();
    const std::size_t n_active = active_links_.size();
    for (std::size_t k = 0; k < n_active; ++k) {
      const LinkIndex l = active[k];
      if (count[l] == 0) continue;
      active[kept++] = l;
      if (remaining[l] < link_level * link_weight[l]) {
        link_level = remaining[l] / link_weight[l];
        bottleneck = l;
      }
    }
    active_links_.resize(kept);

    while (next_capped < capped_order_.size() &&
           bottleneck_of[capped_order_[next_capped]] != kUnfrozen) {
      ++next_capped;
    }
    const auto cap_level = [&](std::size_t k) {
      const FlowIndex f = capped_order_[k];
      return cap[f] / weight[f];
    };

    if (next_capped < capped_order_.size() && cap_level(next_capped) <= link_level) {
      // Every cap at or below the link level freezes now: freezing at a level no higher than a
      // link's R/W never lowers that link's R/W, so link_level stays a lower bound.
      for (; next_capped < capped_order_.size() && cap_level(next_capped) <= link_level;
           ++next_capped) {
        const FlowIndex f = capped_order_[next_capped];
        if (bottleneck_of[f] != kUnfrozen) continue;
        freeze(f, cap[f], kCapLimited);
        ++frozen_count;
      }
      continue;
    }

    MOESIM_ASSERT(bottleneck != kCapLimited, "unfrozen flows but no bounding link or cap");
    for (auto i = incidence_offset[bottleneck]; i < incidence_offset[bottleneck + 1]; ++i) {
      const FlowIndex f = incidence[i];
      if (bottleneck_of[f] != kUnfrozen) continue;
      freeze(f, weight[f] * link_level, bottleneck);
      ++frozen_count;
    }
    remaining[bottleneck] = 0.0;  // saturated exactly, whatever the rounding of the subtractions
  }
  return rates_;
}

std::vector<Bandwidth> solve_max_min(const MaxMinProblem& problem) {
  MaxMinSolver solver;
  const auto rates = solver.solve(problem);
  return {rates.begin(), rates.end()};
}

}  // namespace moesim::hw
