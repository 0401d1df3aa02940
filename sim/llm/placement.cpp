// Expert placement (contiguous, EPLB), per-rank work and the dispatch token matrix; the models
// are documented in placement.hpp.

#include "sim/llm/placement.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <queue>
#include <string>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/core/floor_divider.hpp"

namespace moesim::llm {

void to_pair_copies(std::span<std::int64_t> tokens, std::span<const std::int64_t> pairs) {
  const std::size_t p = pairs.size();
  MOESIM_ASSERT(tokens.size() == p * p, "a dispatch matrix has one row and column per rank");
  for (std::size_t dst = 0; dst < p; ++dst) {
    std::int64_t received = 0;
    for (std::size_t src = 0; src < p; ++src) received += tokens[src * p + dst];
    if (received == 0) continue;
    const double scale = static_cast<double>(pairs[dst]) / static_cast<double>(received);
    for (std::size_t src = 0; src < p; ++src) {
      std::int64_t& n = tokens[src * p + dst];
      n = std::llround(static_cast<double>(n) * scale);
    }
  }
}
namespace {

[[noreturn]] void bad_placement(std::string expected, std::string found) {
  throw ConfigError({}, "expert_placement", std::move(expected), std::move(found));
}

std::size_t idx(std::int64_t i) { return static_cast<std::size_t>(i); }

template <class T>
double imbalance_of(std::span<const T> loads) {
  MOESIM_ASSERT(!loads.empty(), "imbalance needs at least one rank");
  double sum = 0.0;
  double max = 0.0;
  for (T v : loads) {
    sum += static_cast<double>(v);
    max = std::max(max, static_cast<double>(v));
  }
  if (sum <= 0.0) return 1.0;
  return max / (sum / static_cast<double>(loads.size()));
}

}  // namespace

ExpertPlacement::ExpertPlacement(std::int64_t num_experts, std::int64_t num_ranks,
                                 std::vector<std::int64_t> slot_expert)
    : num_experts_(num_experts), num_ranks_(num_ranks), slot_expert_(std::move(slot_expert)) {
  if (num_experts_ < 1) bad_placement("at least 1 expert", std::to_string(num_experts_));
  if (num_ranks_ < 1) bad_placement("at least 1 EP rank", std::to_string(num_ranks_));
  const auto slots = static_cast<std::int64_t>(slot_expert_.size());
  if (slots % num_ranks_ != 0) {
    bad_placement("a slot count divisible by the " + std::to_string(num_ranks_) + " EP ranks",
                  std::to_string(slots) + " slots");
  }
  slots_per_rank_ = slots / num_ranks_;
  replicas_.assign(idx(num_experts_), 0);
  slot_replica_.resize(slot_expert_.size());
  for (std::size_t s = 0; s < slot_expert_.size(); ++s) {
    const std::int64_t e = slot_expert_[s];
    if (e < 0 || e >= num_experts_) {
      bad_placement("expert ids in 0.." + std::to_string(num_experts_ - 1),
                    std::to_string(e) + " in slot " + std::to_string(s));
    }
    slot_replica_[s] = replicas_[idx(e)]++;
  }
  for (std::int64_t e = 0; e < num_experts_; ++e) {
    if (replicas_[idx(e)] == 0) {
      bad_placement("every expert in some slot", "expert " + std::to_string(e) + " in none");
    }
  }
}

std::int64_t ExpertPlacement::expert_at(std::int64_t rank, std::int64_t slot) const {
  MOESIM_ASSERT(rank >= 0 && rank < num_ranks_ && slot >= 0 && slot < slots_per_rank_,
                "slot out of range");
  return slot_expert_[idx(rank * slots_per_rank_ + slot)];
}

ExpertPlacement contiguous_placement(std::int64_t num_experts, std::int64_t num_ranks) {
  if (num_ranks < 1 || num_experts < 1 || num_experts % num_ranks != 0) {
    bad_placement("an EP size dividing the " + std::to_string(num_experts) + " experts",
                  std::to_string(num_ranks) + " ranks");
  }
  std::vector<std::int64_t> slots(idx(num_experts));
  std::iota(slots.begin(), slots.end(), std::int64_t{0});
  return {num_experts, num_ranks, std::move(slots)};
}

ExpertPlacement eplb_placement(std::span<const double> expert_loads, std::int64_t num_ranks,
                               std::int64_t redundant_slots) {
  const auto num_experts = static_cast<std::int64_t>(expert_loads.size());
  if (num_ranks < 1 || num_experts < 1) {
    bad_placement("experts and at least 1 EP rank", std::to_string(num_ranks) + " ranks");
  }
  if (redundant_slots < 0 || redundant_slots > num_experts * (num_ranks - 1)) {
    bad_placement("0.." + std::to_string(num_experts * (num_ranks - 1)) +
                      " redundant slots (at most one replica of an expert per rank)",
                  std::to_string(redundant_slots));
  }
  const std::int64_t total = num_experts + redundant_slots;
  if (total % num_ranks != 0) {
    bad_placement(
        "experts + redundant slots divisible by the " + std::to_string(num_ranks) + " EP ranks",
        std::to_string(num_experts) + " + " + std::to_string(redundant_slots));
  }
  for (double v : expert_loads) {
    MOESIM_ASSERT(std::isfinite(v) && v >= 0.0, "observed expert loads are finite and >= 0");
  }

  // 1. Replicate the expert with the highest load per replica, R times.
  std::vector<std::int64_t> replicas(idx(num_experts), 1);
  using Entry = std::pair<double, std::int64_t>;  // (load per replica, -expert)
  std::priority_queue<Entry> heap;
  for (std::int64_t e = 0; e < num_experts; ++e) heap.emplace(expert_loads[idx(e)], -e);
  for (std::int64_t added = 0; added < redundant_slots;) {
    MOESIM_ASSERT(!heap.empty(), "redundant slots exceed what the ranks can hold");
    const std::int64_t e = -heap.top().second;
    heap.pop();
    ++replicas[idx(e)];
    ++added;
    if (replicas[idx(e)] < num_ranks) {
      heap.emplace(expert_loads[idx(e)] / static_cast<double>(replicas[idx(e)]), -e);
    }
  }

  // 2. Pack replicas largest first onto the least-loaded rank with room.
  struct Item {
    double share;
    std::int64_t expert;
  };
  std::vector<Item> items;
  items.reserve(idx(total));
  for (std::int64_t e = 0; e < num_experts; ++e) {
    const double share = expert_loads[idx(e)] / static_cast<double>(replicas[idx(e)]);
    for (std::int64_t r = 0; r < replicas[idx(e)]; ++r) items.push_back({share, e});
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.share > b.share || (a.share == b.share && a.expert < b.expert);
  });
  const std::int64_t slots = total / num_ranks;
  std::vector<double> rank_load(idx(num_ranks), 0.0);
  std::vector<std::int64_t> used(idx(num_ranks), 0);
  std::vector<std::uint8_t> holds(idx(num_ranks * num_experts), 0);
  std::vector<std::vector<std::int64_t>> on_rank(idx(num_ranks));
  for (const Item& item : items) {
    std::int64_t best = -1;
    std::int64_t fallback = -1;
    for (std::int64_t r = 0; r < num_ranks; ++r) {
      if (used[idx(r)] == slots) continue;
      if (fallback < 0 || rank_load[idx(r)] < rank_load[idx(fallback)]) fallback = r;
      if (holds[idx(r * num_experts + item.expert)] != 0) continue;
      if (best < 0 || rank_load[idx(r)] < rank_load[idx(best)]) best = r;
    }
    const std::int64_t r = best >= 0 ? best : fallback;
    MOESIM_ASSERT(r >= 0, "packing ran out of slots");
    rank_load[idx(r)] += item.share;
    ++used[idx(r)];
    holds[idx(r * num_experts + item.expert)] = 1;
    on_rank[idx(r)].push_back(item.expert);
  }
  std::vector<std::int64_t> slot_expert;
  slot_expert.reserve(idx(total));
  for (std::vector<std::int64_t>& experts : on_rank) {
    std::sort(experts.begin(), experts.end());
    slot_expert.insert(slot_expert.end(), experts.begin(), experts.end());
  }
  return {num_experts, num_ranks, std::move(slot_expert)};
}

double RankLoads::imbalance() const { return imbalance_factor(rank_tokens); }

void compute_rank_loads(const ExpertPlacement& placement,
                        std::span<const std::int64_t> expert_loads, RankLoads& out) {
  MOESIM_ASSERT(static_cast<std::int64_t>(expert_loads.size()) == placement.num_experts(),
                "one load per expert");
  const std::span<const std::int64_t> slot_expert = placement.slot_experts();
  const std::span<const std::int64_t> slot_replica = placement.slot_replicas();
  const std::span<const std::int64_t> replicas = placement.replicas();
  const auto per_rank = idx(placement.slots_per_rank());
  out.slot_tokens.resize(slot_expert.size());
  out.rank_tokens.assign(idx(placement.num_ranks()), 0);
  for (std::size_t s = 0; s < slot_expert.size(); ++s) {
    const auto e = idx(slot_expert[s]);
    const std::int64_t load = expert_loads[e];
    MOESIM_ASSERT(load >= 0, "expert loads are >= 0");
    const std::int64_t r = replicas[e];
    const std::int64_t share = load / r + (slot_replica[s] < load % r ? 1 : 0);
    out.slot_tokens[s] = share;
    out.rank_tokens[s / per_rank] += share;
  }
}

RankLoads rank_loads(const ExpertPlacement& placement, std::span<const std::int64_t> expert_loads) {
  RankLoads out;
  compute_rank_loads(placement, expert_loads, out);
  return out;
}

std::vector<double> expected_rank_loads(const ExpertPlacement& placement,
                                        std::span<const double> expert_loads) {
  MOESIM_ASSERT(static_cast<std::int64_t>(expert_loads.size()) == placement.num_experts(),
                "one load per expert");
  const std::span<const std::int64_t> slot_expert = placement.slot_experts();
  const auto per_rank = idx(placement.slots_per_rank());
  std::vector<double> out(idx(placement.num_ranks()), 0.0);
  for (std::size_t s = 0; s < slot_expert.size(); ++s) {
    const auto e = idx(slot_expert[s]);
    out[s / per_rank] += expert_loads[e] / static_cast<double>(placement.replicas()[e]);
  }
  return out;
}

double imbalance_factor(std::span<const std::int64_t> rank_tokens) {
  return imbalance_of(rank_tokens);
}

double imbalance_factor(std::span<const double> rank_loads) { return imbalance_of(rank_loads); }

DispatchModel::DispatchModel(const LayerRouter& router, const ExpertPlacement& placement)
    : experts_per_token_(router.shape().experts_per_token) {
  MOESIM_ASSERT(router.shape().num_experts == placement.num_experts(),
                "router and placement disagree on the number of experts");
  const auto num_experts = idx(placement.num_experts());
  const auto num_ranks = idx(placement.num_ranks());
  const auto per_rank = idx(placement.slots_per_rank());
  const std::span<const std::int64_t> slot_expert = placement.slot_experts();
  const std::span<const std::int64_t> replicas = placement.replicas();
  const std::span<const double> pi = router.inclusion();
  reach_.resize(num_ranks);
  assignments_.resize(num_ranks);
  std::vector<double> hit(num_experts, 0.0);
  RoutingScratch scratch;
  for (std::size_t r = 0; r < num_ranks; ++r) {
    std::fill(hit.begin(), hit.end(), 0.0);
    for (std::size_t s = r * per_rank; s < (r + 1) * per_rank; ++s) {
      const auto e = idx(slot_expert[s]);
      hit[e] += 1.0 / static_cast<double>(replicas[e]);
    }
    double a = 0.0;
    for (std::size_t e = 0; e < num_experts; ++e) a += pi[e] * hit[e];
    assignments_[r] = a;
    reach_[r] = router.reach_probability(hit, scratch);
  }
}

double DispatchModel::reach_probability(std::int64_t rank) const {
  MOESIM_ASSERT(rank >= 0 && rank < num_ranks(), "rank out of range");
  return reach_[idx(rank)];
}

double DispatchModel::expected_assignments(std::int64_t rank) const {
  MOESIM_ASSERT(rank >= 0 && rank < num_ranks(), "rank out of range");
  return assignments_[idx(rank)];
}

void DispatchModel::sample(std::span<const std::int64_t> source_tokens, const RankLoads& loads,
                           Rng& rng, DispatchCounts& out) const {
  const auto num_ranks = idx(this->num_ranks());
  MOESIM_ASSERT(source_tokens.size() == num_ranks && loads.rank_tokens.size() == num_ranks,
                "one token count and one load per rank");
  std::int64_t total = 0;
  for (std::int64_t t : source_tokens) {
    MOESIM_ASSERT(t >= 0, "source token counts are >= 0");
    total += t;
  }
  MOESIM_ASSERT(std::accumulate(loads.rank_tokens.begin(), loads.rank_tokens.end(),
                                std::int64_t{0}) == total * experts_per_token_,
                "rank loads must come from the same step's tokens");
  MOESIM_ASSERT(total < (std::int64_t{1} << 31), "dispatch supports under 2^31 tokens a step");
  out.num_ranks = this->num_ranks();
  out.tokens.assign(num_ranks * num_ranks, 0);
  if (total == 0) return;
  // reached * after + theta < total^2 + total: quotients below 2^31, exact without a division
  // per entry.
  const FloorDivider over_total(total);
  for (std::size_t d = 0; d < num_ranks; ++d) {
    const std::int64_t assigned = loads.rank_tokens[d];
    if (assigned == 0) continue;
    const double expected = static_cast<double>(assigned) * reach_[d] / assignments_[d];
    auto reached = static_cast<std::int64_t>(std::floor(expected));
    if (rng.uniform() < expected - static_cast<double>(reached)) ++reached;
    reached = std::clamp<std::int64_t>(reached, 1, std::min(assigned, total));
    const auto theta =
        static_cast<std::int64_t>(rng.uniform_int(static_cast<std::uint64_t>(total)));
    std::int64_t before = 0;        // tokens on ranks before s
    std::int64_t floor_before = 0;  // theta < total
    for (std::size_t s = 0; s < num_ranks; ++s) {
      const std::int64_t after = before + source_tokens[s];
      const std::int64_t floor_after = over_total(reached * after + theta);
      out.tokens[s * num_ranks + d] = floor_after - floor_before;
      floor_before = floor_after;
      before = after;
    }
  }
}

}  // namespace moesim::llm
