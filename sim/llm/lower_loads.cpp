// Expected MoE loads (uniform routing, contiguous placement); see lowering.hpp.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/llm/lowering.hpp"

namespace moesim::llm {

std::vector<std::int64_t> dispatch_copies(const MoeLayerLoads& loads, DispatchLayout layout) {
  std::vector<std::int64_t> copies;
  for (const auto& row : loads.dispatch_tokens) copies.insert(copies.end(), row.begin(), row.end());
  if (layout == DispatchLayout::kPerTokenExpert) {
    std::vector<std::int64_t> pairs;
    for (const auto& slots : loads.tokens_per_slot) {
      pairs.push_back(std::accumulate(slots.begin(), slots.end(), std::int64_t{0}));
    }
    to_pair_copies(copies, pairs);
  }
  return copies;
}

namespace {

/// P(a uniform top-k choice without replacement among `experts` hits a set worth `f` experts):
/// 1 - prod_{i < k} (E - f - i) / (E - i).
double hit_probability(double f, std::int64_t experts, std::int64_t k) {
  double miss = 1.0;
  for (std::int64_t i = 0; i < k; ++i) {
    const double e = static_cast<double>(experts - i);
    miss *= std::max(0.0, (e - f) / e);
  }
  return 1.0 - miss;
}

}  // namespace

MoeLayerLoads expected_loads(const MoeSpec& moe, std::int32_t redundant_experts,
                             std::span<const std::int64_t> tokens_per_ep_rank) {
  const std::int64_t ep = static_cast<std::int64_t>(tokens_per_ep_rank.size());
  const std::int64_t experts = moe.num_experts;
  const std::int64_t k = moe.experts_per_token;
  const std::int64_t slots = experts + redundant_experts;
  MOESIM_ASSERT(ep >= 1 && slots % ep == 0, "EP ranks divide the expert slots");
  MOESIM_ASSERT(redundant_experts == 0 || ep > 1, "redundant slots need EP");
  const std::int64_t per_rank = slots / ep;
  const std::int64_t tokens =
      std::accumulate(tokens_per_ep_rank.begin(), tokens_per_ep_rank.end(), std::int64_t{0});
  const std::int64_t assignments = tokens * k;

  // Per-expert loads: floor(N k / E), the remainder to experts in (local slot, rank) order.
  std::vector<std::int64_t> expert_load(static_cast<std::size_t>(experts), assignments / experts);
  std::int64_t remainder = assignments % experts;
  for (std::int64_t j = 0; j < per_rank && remainder > 0; ++j) {
    for (std::int64_t r = 0; r < ep && remainder > 0; ++r) {
      const std::int64_t slot = r * per_rank + j;
      if (slot >= experts) continue;  // a redundant slot: its expert is counted at its primary
      ++expert_load[static_cast<std::size_t>(slot)];
      --remainder;
    }
  }
  // Replicas: slot s holds expert s mod E; an expert's load splits evenly, lower slots first.
  std::vector<std::int64_t> replicas(static_cast<std::size_t>(experts), 0);
  for (std::int64_t s = 0; s < slots; ++s) ++replicas[static_cast<std::size_t>(s % experts)];
  std::vector<std::int64_t> seen(static_cast<std::size_t>(experts), 0);
  MoeLayerLoads out;
  out.tokens_per_slot.assign(static_cast<std::size_t>(ep),
                             std::vector<std::int32_t>(static_cast<std::size_t>(per_rank), 0));
  std::vector<double> mass(static_cast<std::size_t>(ep), 0.0);  // experts' worth per rank
  std::vector<std::int64_t> rank_load(static_cast<std::size_t>(ep), 0);
  for (std::int64_t s = 0; s < slots; ++s) {
    const auto e = static_cast<std::size_t>(s % experts);
    const std::int64_t c = replicas[e];
    const std::int64_t load = expert_load[e] / c + (seen[e] < expert_load[e] % c ? 1 : 0);
    ++seen[e];
    const auto r = static_cast<std::size_t>(s / per_rank);
    out.tokens_per_slot[r][static_cast<std::size_t>(s % per_rank)] =
        static_cast<std::int32_t>(load);
    rank_load[r] += load;
    mass[r] += 1.0 / static_cast<double>(c);
  }

  // Dispatch: expected distinct (token, rank) pairs, rounded to the nearest token.
  std::vector<double> hit(static_cast<std::size_t>(ep));
  for (std::size_t dst = 0; dst < hit.size(); ++dst) {
    hit[dst] = hit_probability(mass[dst], experts, k);
  }
  std::vector<std::vector<std::int64_t>> d(static_cast<std::size_t>(ep));
  for (std::size_t src = 0; src < d.size(); ++src) {
    d[src].reserve(d.size());
    for (std::size_t dst = 0; dst < d.size(); ++dst) {
      // Each entry rounds on its own, so equal ranks get equal rows.
      d[src].push_back(std::llround(static_cast<double>(tokens_per_ep_rank[src]) * hit[dst]));
    }
  }
  // Consistency per destination: received <= computed <= received x min(k, slots per rank).
  const std::int64_t per_token_cap = std::min(k, per_rank);
  for (std::size_t dst = 0; dst < d.size(); ++dst) {
    const auto column = [&] {
      std::int64_t n = 0;
      for (const auto& row : d) n += row[dst];
      return n;
    };
    std::int64_t received = column();
    while (received > rank_load[dst]) {
      std::size_t best = 0;
      for (std::size_t src = 1; src < d.size(); ++src) {
        if (d[src][dst] > d[best][dst]) best = src;
      }
      --d[best][dst];
      --received;
    }
    while (rank_load[dst] > received * per_token_cap) {
      std::size_t best = d.size();
      std::int64_t slack = 0;
      for (std::size_t src = 0; src < d.size(); ++src) {
        const std::int64_t s = tokens_per_ep_rank[src] - d[src][dst];
        if (s > slack) {
          slack = s;
          best = src;
        }
      }
      MOESIM_ASSERT(best < d.size(), "enough tokens to carry the expected load");
      ++d[best][dst];
      ++received;
    }
  }
  out.dispatch_tokens.resize(d.size());
  for (std::size_t src = 0; src < d.size(); ++src) {
    for (const std::int64_t n : d[src]) {
      out.dispatch_tokens[src].push_back(static_cast<std::int32_t>(n));
    }
  }
  return out;
}

MoeLayerLoadsPtr ExpectedLoads::loads(std::int32_t /*layer*/, std::int32_t /*micro_batch*/,
                                      std::span<const std::int64_t> tokens_per_ep_rank) {
  return std::make_shared<const MoeLayerLoads>(
      expected_loads(moe_, tokens_per_ep_rank.size() > 1 ? redundant_ : 0, tokens_per_ep_rank));
}

}  // namespace moesim::llm
