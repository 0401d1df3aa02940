#include "sim/llm/sampled_loads.hpp"

#include <memory>
#include <numeric>
#include <utility>

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

/// The model's MoE spec (asserted present).
const MoeSpec& moe_of(const ModelSpec& model) {
  MOESIM_ASSERT(model.moe.has_value(), "sampled loads need an MoE model");
  return *model.moe;
}

}  // namespace

RoutingTables::RoutingTables(const ModelSpec& model, const ExpertPopularity& popularity,
                             std::int64_t ep, std::int64_t redundant_experts,
                             PlacementKind placement)
    : router(popularity, RoutingShape::of(moe_of(model))) {
  std::int32_t next = 0;
  for (const auto& layer : model.layers) moe_index.push_back(layer.moe ? next++ : -1);
  const std::int64_t distinct = popularity.same_for_all_layers() ? 1 : router.num_moe_layers();
  placements.reserve(static_cast<std::size_t>(distinct));
  dispatch.reserve(static_cast<std::size_t>(distinct));
  for (std::int64_t l = 0; l < distinct; ++l) {
    placements.push_back(make_placement(placement, router.layer(l), ep, redundant_experts));
    dispatch.emplace_back(router.layer(l), placements.back());
  }
}

const ExpertPlacement& RoutingTables::placement(std::int64_t moe_layer) const {
  return placements[placements.size() == 1 ? 0 : static_cast<std::size_t>(moe_layer)];
}

SampledLoads::SampledLoads(const ModelSpec& model, const ExpertPopularity& popularity,
                           std::int64_t ep, std::int64_t redundant_experts, PlacementKind placement,
                           Rng& rng)
    : SampledLoads(std::make_shared<const RoutingTables>(model, popularity, ep, redundant_experts,
                                                         placement),
                   rng) {}

SampledLoads::SampledLoads(std::shared_ptr<const RoutingTables> tables, Rng& rng)
    : tables_(std::move(tables)), rng_(rng) {
  MOESIM_ASSERT(tables_ != nullptr, "SampledLoads needs routing tables");
  expert_loads_.resize(static_cast<std::size_t>(tables_->router.shape().num_experts));
}

MoeLayerLoadsPtr SampledLoads::loads(std::int32_t layer, std::int32_t micro_batch,
                                     std::span<const std::int64_t> tokens_per_ep_rank) {
  auto out = std::make_shared<MoeLayerLoads>();
  loads_into(layer, micro_batch, tokens_per_ep_rank, *out);
  return out;
}

void SampledLoads::sample(std::int32_t layer, std::span<const std::int64_t> tokens_per_ep_rank) {
  const RoutingTables& t = *tables_;
  const std::int32_t moe_layer = t.moe_index[static_cast<std::size_t>(layer)];
  MOESIM_ASSERT(moe_layer >= 0, "loads requested for a dense layer");
  const std::size_t which = t.placements.size() == 1 ? 0 : static_cast<std::size_t>(moe_layer);
  const ExpertPlacement& place = t.placements[which];
  const std::int64_t tokens =
      std::accumulate(tokens_per_ep_rank.begin(), tokens_per_ep_rank.end(), std::int64_t{0});
  t.router.layer(moe_layer).sample(tokens, rng_, expert_loads_, scratch_);
  compute_rank_loads(place, expert_loads_, rank_loads_);
  last_imbalance_ = tokens > 0 ? rank_loads_.imbalance() : 1.0;
  MOESIM_ASSERT(tokens_per_ep_rank.size() == static_cast<std::size_t>(place.num_ranks()),
                "one token count per EP rank");
  if (place.num_ranks() > 1) {
    t.dispatch[which].sample(tokens_per_ep_rank, rank_loads_, rng_, counts_);
  } else {
    // One EP rank (experts tensor-sharded): every token stays local, as expected_loads gives.
    counts_.num_ranks = 1;
    counts_.tokens.assign(1, tokens);
  }
}

void SampledLoads::loads_into(std::int32_t layer, std::int32_t /*micro_batch*/,
                              std::span<const std::int64_t> tokens_per_ep_rank,
                              MoeLayerLoads& out) {
  sample(layer, tokens_per_ep_rank);
  const auto ranks = static_cast<std::size_t>(counts_.num_ranks);
  const auto slots = rank_loads_.slot_tokens.size() / ranks;
  out.tokens_per_slot.resize(ranks);
  for (std::size_t r = 0; r < ranks; ++r) {
    out.tokens_per_slot[r].resize(slots);
    for (std::size_t j = 0; j < slots; ++j) {
      out.tokens_per_slot[r][j] = static_cast<std::int32_t>(rank_loads_.slot_tokens[r * slots + j]);
    }
  }
  out.dispatch_tokens.resize(ranks);
  for (std::size_t s = 0; s < ranks; ++s) {
    out.dispatch_tokens[s].resize(ranks);
    for (std::size_t d = 0; d < ranks; ++d) {
      out.dispatch_tokens[s][d] = static_cast<std::int32_t>(counts_.tokens[s * ranks + d]);
    }
  }
}

}  // namespace moesim::llm
