#pragma once
/// \file
/// Factored pricing of an expert-parallel step: the step is lowered once with IDENTICAL expert
/// loads on every EP rank (so every attention-DP replica shares one op list and the plan prices
/// in O(ops of one rank)), then each MoE layer is corrected with a sampled routing draw.
///
/// Why it is exact under the lockstep model of time_step (sim/step/step_timeline.hpp) with one
/// micro-batch: every replica runs the same batch (PlanStepModel's key), so ranks differ only in
/// their routed experts and their all-to-all rows. The dispatch and combine all-to-alls of a
/// layer start when the last member is ready, so the layer's expert phase lasts
///   max over ranks r of (gate_up_r + act_r + down_r)
/// and its two collectives last what the network prices for the real byte matrices. Replacing
/// the symmetric base's expert time and collective times by these adds, per layer,
///   compute excess = max_r(expert_r) - expert_base,  comm excess = real - base collectives,
/// to the base step. With two micro-batches one half's collectives overlap the other's compute;
/// adding the excess in series is then an upper bound (conservative).
///
/// Expert time per rank is the compute model's price of the base's GroupedGemmOps with that
/// rank's tokens per local slot; the SwiGLU between them scales with the rank's routed rows.
/// The symmetric base takes rank 0's row of llm::expected_loads for every rank, and a constant
/// dispatch matrix of round(rank 0's dispatched tokens / ep) per entry (the base collectives
/// are replaced by the real ones, so their values cancel).

#include <cstdint>
#include <memory>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/cost/compute_model.hpp"
#include "sim/llm/lowering.hpp"
#include "sim/step/deployment.hpp"
#include "sim/step/step_timeline.hpp"

namespace moesim::step {

/// One request of the lowering for a MoE layer's loads.
struct MoeLoadCall {
  std::int32_t layer = 0;
  std::int32_t micro_batch = 0;
  std::vector<std::int64_t> tokens_per_ep_rank;
};

/// The symmetric base of a step: its plan, its timeline and the loads the lowering asked for.
struct SymmetricStep {
  llm::StepPlan plan;
  StepTimeline timeline;
  std::vector<MoeLoadCall> calls;
};

/// Lowers `batch` on `d` with identical expert loads on every EP rank (see the file comment) and
/// times it. `d` must be an MoE model with ep > 1 and one pipeline stage (asserted).
SymmetricStep lower_symmetric(const Deployment& d, const llm::StepBatch& batch,
                              StepNetwork& network);

/// The correction of one MoE layer call (layer, micro-batch) for a sampled routing draw.
struct MoeCallCorrection {
  std::int32_t layer = 0;
  std::int32_t micro_batch = 0;
  Duration max_excess{};          ///< slowest rank's expert time - the base's (may be < 0)
  Duration mean_excess{};         ///< mean over ranks of expert time - the base's (may be < 0)
  Duration comm_excess{};         ///< real dispatch + combine - the base's (may be < 0)
  std::int32_t slowest_rank = 0;  ///< EP rank (global rank of the EP group) with the most time
  Duration slowest_experts{};     ///< its gate_up + act + down time
  Duration dispatch{};            ///< real dispatch time
  Duration combine{};             ///< real combine time
  cost::Bound bound = cost::Bound::kMemory;  ///< bound of the slowest rank's gate_up
};

/// Samples the routing of every call of `calls` (in order, from `rng`) and prices the
/// corrections against the symmetric loads of the same tokens (see the file comment). `calls`
/// name the (layer, micro-batch) of `base`'s calls in the same order but may route other token
/// counts (PlanStepModel rounds them to buckets); `base` supplies the op shapes: its GroupedGemm
/// ops are re-priced with the symmetric and with each rank's sampled slots, its SwiGLU time is
/// scaled by routed rows.
/// The corrections of a step's MoE calls.
struct StepCorrections {
  std::vector<MoeCallCorrection> calls;  ///< in call order
  /// Per EP rank (index in the EP group), summed over calls: its expert time - the reference.
  std::vector<Duration> rank_excess;
};

StepCorrections sample_corrections(const Deployment& d, const SymmetricStep& base,
                                   std::span<const MoeLoadCall> calls, Rng& rng,
                                   StepNetwork& network);

}  // namespace moesim::step
