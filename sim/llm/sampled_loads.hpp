#pragma once
/// \file
/// SampledLoads: the MoE load source that connects the router to the lowering. For each MoE
/// layer of a step it samples the expert loads of the step's tokens (routing.hpp), maps them to
/// EP ranks through the layer's expert placement (placement.hpp: contiguous, or EPLB with
/// redundant replicas chosen from the popularity's expected loads), and samples how many
/// distinct tokens each rank dispatches to each other rank.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/llm/expert_popularity.hpp"
#include "sim/llm/lowering.hpp"
#include "sim/llm/placement.hpp"
#include "sim/llm/routing.hpp"

namespace moesim::llm {

/// How experts are laid out on EP ranks.
enum class PlacementKind : std::uint8_t {
  kContiguous,  ///< expert e on rank e / (E / EP); needs no redundant slots
  kEplb,        ///< EPLB-style: replicas of hot experts, balanced packing (per MoE layer)
};

/// What a sampler draws from, fixed for a deployment: the router of every MoE layer, the
/// expert placements and the dispatch models. Built once (EPLB placement and the routing
/// designs cost milliseconds) and shared by every draw.
struct RoutingTables {
  /// `ep` ranks with `redundant_experts` extra slots in total; `model` must be MoE. EPLB
  /// placement uses the popularity's inclusion probabilities as the observed loads.
  RoutingTables(const ModelSpec& model, const ExpertPopularity& popularity, std::int64_t ep,
                std::int64_t redundant_experts, PlacementKind placement);

  std::vector<std::int32_t> moe_index;  ///< decoder layer -> MoE layer index, -1 if dense
  Router router;
  std::vector<ExpertPlacement> placements;  ///< one per MoE layer (or one shared)
  std::vector<DispatchModel> dispatch;      ///< one per placement
  /// The placement of MoE layer `moe_layer`.
  const ExpertPlacement& placement(std::int64_t moe_layer) const;
};

/// Samples per-layer MoE loads for the lowering. Holds a reference to `rng`, which must outlive
/// it; draws are deterministic for a given Rng state.
class SampledLoads final : public MoeLoadSource {
 public:
  /// Builds its own tables (see RoutingTables).
  SampledLoads(const ModelSpec& model, const ExpertPopularity& popularity, std::int64_t ep,
               std::int64_t redundant_experts, PlacementKind placement, Rng& rng);
  /// Draws from shared tables (non-null).
  SampledLoads(std::shared_ptr<const RoutingTables> tables, Rng& rng);

  MoeLayerLoadsPtr loads(std::int32_t layer, std::int32_t micro_batch,
                         std::span<const std::int64_t> tokens_per_ep_rank) override;
  /// As loads(), into `out`, reusing its storage (the same draws as loads()).
  void loads_into(std::int32_t layer, std::int32_t micro_batch,
                  std::span<const std::int64_t> tokens_per_ep_rank, MoeLayerLoads& out);
  /// The same draws as loads_into(), left in the sampler (no copy): rank_loads().slot_tokens
  /// holds rank r's slot j at r * slots_per_rank + j, dispatch() the tokens from each EP rank
  /// to each (row = source); valid until the next draw.
  void sample(std::int32_t layer, std::span<const std::int64_t> tokens_per_ep_rank);
  const RankLoads& rank_loads() const { return rank_loads_; }
  const DispatchCounts& dispatch() const { return counts_; }

  /// max / mean of the per-rank routed token-expert assignments of the last sampled layer.
  double last_imbalance() const { return last_imbalance_; }
  /// The placement of MoE layer `moe_layer`.
  const ExpertPlacement& placement(std::int64_t moe_layer) const {
    return tables_->placement(moe_layer);
  }

 private:
  std::shared_ptr<const RoutingTables> tables_;
  Rng& rng_;
  RoutingScratch scratch_;
  std::vector<std::int64_t> expert_loads_;
  RankLoads rank_loads_;
  DispatchCounts counts_;
  double last_imbalance_ = 1.0;
};

}  // namespace moesim::llm
