#include "sim/llm/sampled_loads.hpp"

#include <numeric>

#include "sim/core/assert.hpp"

namespace moesim::llm {
namespace {

ExpertPlacement make_placement(PlacementKind kind, const LayerRouter& router, std::int64_t ep,
                               std::int64_t redundant) {
  const std::int64_t experts = router.shape().num_experts;
  if (kind == PlacementKind::kContiguous || ep == 1) {
    MOESIM_ASSERT(redundant == 0 || ep == 1, "contiguous placement has no redundant slots");
    return contiguous_placement(experts, ep);
  }
  const std::span<const double> pi = router.inclusion();
  return eplb_placement(pi, ep, redundant);
}

}  // namespace

SampledLoads::SampledLoads(const ModelSpec& model, const ExpertPopularity& popularity,
                           std::int64_t ep, std::int64_t redundant_experts, PlacementKind placement,
                           Rng& rng)
    : router_(popularity, RoutingShape::of(*model.moe)), rng_(rng) {
  MOESIM_ASSERT(model.moe.has_value(), "sampled loads need an MoE model");
  std::int32_t next = 0;
  for (const auto& layer : model.layers) moe_index_.push_back(layer.moe ? next++ : -1);
  const std::int64_t distinct = popularity.same_for_all_layers() ? 1 : router_.num_moe_layers();
  placements_.reserve(static_cast<std::size_t>(distinct));
  dispatch_.reserve(static_cast<std::size_t>(distinct));
  for (std::int64_t l = 0; l < distinct; ++l) {
    placements_.push_back(make_placement(placement, router_.layer(l), ep, redundant_experts));
    dispatch_.emplace_back(router_.layer(l), placements_.back());
  }
  expert_loads_.resize(static_cast<std::size_t>(router_.shape().num_experts));
}

const ExpertPlacement& SampledLoads::placement(std::int64_t moe_layer) const {
  return placements_[placements_.size() == 1 ? 0 : static_cast<std::size_t>(moe_layer)];
}

MoeLayerLoadsPtr SampledLoads::loads(std::int32_t layer, std::int32_t micro_batch,
                                     std::span<const std::int64_t> tokens_per_ep_rank) {
  auto out = std::make_shared<MoeLayerLoads>();
  loads_into(layer, micro_batch, tokens_per_ep_rank, *out);
  return out;
}

void SampledLoads::loads_into(std::int32_t layer, std::int32_t /*micro_batch*/,
                              std::span<const std::int64_t> tokens_per_ep_rank,
                              MoeLayerLoads& out) {
  const std::int32_t moe_layer = moe_index_[static_cast<std::size_t>(layer)];
  MOESIM_ASSERT(moe_layer >= 0, "loads requested for a dense layer");
  const std::size_t which = placements_.size() == 1 ? 0 : static_cast<std::size_t>(moe_layer);
  const ExpertPlacement& place = placements_[which];
  const std::int64_t tokens =
      std::accumulate(tokens_per_ep_rank.begin(), tokens_per_ep_rank.end(), std::int64_t{0});
  router_.layer(moe_layer).sample(tokens, rng_, expert_loads_, scratch_);
  compute_rank_loads(place, expert_loads_, rank_loads_);
  last_imbalance_ = tokens > 0 ? rank_loads_.imbalance() : 1.0;

  const auto ranks = static_cast<std::size_t>(place.num_ranks());
  const auto slots = static_cast<std::size_t>(place.slots_per_rank());
  out.tokens_per_slot.resize(ranks);
  for (std::size_t r = 0; r < ranks; ++r) {
    out.tokens_per_slot[r].resize(slots);
    for (std::size_t j = 0; j < slots; ++j) {
      out.tokens_per_slot[r][j] = static_cast<std::int32_t>(rank_loads_.slot_tokens[r * slots + j]);
    }
  }
  MOESIM_ASSERT(tokens_per_ep_rank.size() == ranks, "one token count per EP rank");
  if (ranks > 1) {
    dispatch_[which].sample(tokens_per_ep_rank, rank_loads_, rng_, counts_);
    out.dispatch_tokens.resize(ranks);
    for (std::size_t s = 0; s < ranks; ++s) {
      out.dispatch_tokens[s].resize(ranks);
      for (std::size_t d = 0; d < ranks; ++d) {
        out.dispatch_tokens[s][d] = static_cast<std::int32_t>(
            counts_.at(static_cast<std::int64_t>(s), static_cast<std::int64_t>(d)));
      }
    }
  } else {
    // One EP rank (experts tensor-sharded): every token stays local, as expected_loads gives.
    out.dispatch_tokens.assign(1, std::vector<std::int32_t>(1, static_cast<std::int32_t>(tokens)));
  }
}

}  // namespace moesim::llm
