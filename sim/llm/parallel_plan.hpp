#pragma once
/// \file
/// Parallel plans: how one model instance is spread over GPUs. Tensor parallelism (TP),
/// attention data parallelism (attention DP), expert parallelism (EP), pipeline parallelism
/// (PP), and how dense FFNs and shared experts are laid out, as real deployments combine them:
///   TP8                          {tp: 8}
///   attention-DP8 + EP8          {attention_dp: 8, ep: 8}            (SGLang / TRT-LLM "ADP+EP")
///   wide EP over an NVL72        {attention_dp: 72, ep: 72, micro_batches: 2}
///   TP8 attention + EP8 experts  {tp: 8, ep: 8}                      (vLLM
///   --enable-expert-parallel) TP4 x PP2                    {tp: 4, pp: 2}
///
/// Ranks. A PP stage holds S = tp x attention_dp GPUs; the plan uses pp x S. Global rank
/// r = stage x S + dp x tp + t, for attention-DP replica dp in [0, attention_dp) and TP rank t in
/// [0, tp). Within a stage, r mod S is the rank's "stage index", which is also its EP rank.
///
/// Attention: each attention-DP replica serves its own sequences; inside a replica, attention
/// heads are split over tp ranks (MLA: the q/kv latent projections are replicated and the
/// latent KV cache is replicated on every TP rank; GQA: KV heads are split, or replicated when
/// tp exceeds them).
///
/// Routed experts: ep is 1 or S.
///   ep == S: each GPU holds (experts + redundant_experts) / ep whole experts; tokens are
///            dispatched to the GPUs holding their experts and combined back (AllToAllV).
///   ep == 1: every expert is tensor-sharded over the S GPUs of the stage (intermediate / S).
/// Dense FFN (dense layers) and shared experts: `replicated` (every GPU holds the whole FFN and
/// runs its own tokens) or `sharded` (intermediate split over the S GPUs of the stage; under
/// attention DP the tokens of the stage are all-gathered first and reduce-scattered after).
///
/// YAML (`parallel:` of a scenario; every key optional):
///   tp: 1                 attention tensor-parallel ranks per replica        (>= 1)
///   attention_dp: 1       attention data-parallel replicas per stage          (>= 1)
///   ep: 1                 expert-parallel ranks: 1 or tp x attention_dp
///   pp: 1                 pipeline stages (contiguous layer ranges)           (>= 1)
///   redundant_experts: 0  extra expert slots over the EP group (EPLB replicas; needs ep > 1)
///   dense_ffn: sharded    replicated | sharded; default sharded when attention_dp is 1,
///                         replicated under attention DP
///   shared_expert: sharded  replicated | sharded; same default as dense_ffn
///   micro_batches: 1      1, or 2 for two-micro-batch overlap (SGLang TBO, DeepSeek's dual
///                         micro-batch): the step's batch is split in two halves whose ops
///                         interleave so one half's communication overlaps the other's compute

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/precision.hpp"

namespace moesim::llm {

/// Layout of a dense FFN or shared expert.
enum class FfnLayout : std::uint8_t {
  kReplicated,  ///< whole FFN on every GPU, applied to the GPU's own tokens
  kSharded,     ///< intermediate split over the S GPUs of the stage
};

/// YAML spelling ("replicated", "sharded").
std::string_view to_string(FfnLayout v);

/// Position of a global rank in the plan.
struct RankCoord {
  std::int32_t stage = 0;  ///< PP stage
  std::int32_t dp = 0;     ///< attention-DP replica
  std::int32_t tp = 0;     ///< TP rank within the replica
  std::int32_t index = 0;  ///< stage index = dp x tp_size + tp (also the EP rank)
};

/// A parallel plan (see the file comment). Plain data; validate_plan() checks it against a
/// model and a system.
struct ParallelPlan {
  std::int32_t tp = 1;                            ///< attention tensor-parallel GPUs per replica
  std::int32_t attention_dp = 1;                  ///< attention data-parallel replicas per stage
  std::int32_t ep = 1;                            ///< expert-parallel GPUs: 1 or stage_size()
  std::int32_t pp = 1;                            ///< pipeline stages
  std::int32_t redundant_experts = 0;             ///< extra expert slots over the EP group (EPLB)
  FfnLayout dense_ffn = FfnLayout::kSharded;      ///< layout of dense layers' FFN
  FfnLayout shared_expert = FfnLayout::kSharded;  ///< layout of shared experts
  std::int32_t micro_batches = 1;                 ///< 1, or 2 for two-micro-batch overlap
  /// Where the plan was written (for error messages); "<plan>" when built in code.
  SourceLocation location{"<plan>", 0, 0};
  std::string key_path = "parallel";

  /// Pure tensor parallelism over n GPUs (dense FFN and shared experts sharded).
  static ParallelPlan tensor_parallel(std::int32_t n);
  /// Attention DP over n GPUs with EP n (dense FFN and shared experts replicated).
  static ParallelPlan attention_dp_ep(std::int32_t n, std::int32_t micro_batches = 1);

  std::int32_t stage_size() const { return tp * attention_dp; }  ///< S, GPUs per PP stage
  std::int32_t world_size() const { return stage_size() * pp; }  ///< GPUs of the plan
  /// Tensor-parallel width of each routed expert: S when ep == 1, else 1.
  std::int32_t moe_tp() const { return ep == 1 ? stage_size() : 1; }
  /// Expert slots per EP rank: (experts + redundant_experts) / ep.
  std::int64_t slots_per_rank(const MoeSpec& moe) const {
    return (moe.num_experts + redundant_experts) / ep;
  }
  /// Ranks whose tokens leave the attention layout for the FFN: attention DP or EP. Then each
  /// TP rank takes a 1/tp share of its replica's tokens into the FFN (reduce-scatter after
  /// o_proj, all-gather at the end of the layer); otherwise tokens stay replicated in the TP
  /// group (all-reduce after o_proj and after the FFN).
  bool token_shares() const { return attention_dp > 1 || ep > 1; }

  /// Position of global rank `rank` (0 <= rank < world_size()).
  RankCoord coord(std::int32_t rank) const;
  /// Global rank of TP rank `t` of replica `dp` in stage `stage`.
  std::int32_t rank_of(std::int32_t stage, std::int32_t dp, std::int32_t t) const {
    return stage * stage_size() + dp * tp + t;
  }
};

/// Short label, e.g. "TP8", "ADP8+EP8", "TP4xPP2", "ADP72+EP72(+32 redundant)+TBO".
std::string describe(const ParallelPlan& plan);

/// Reads a `parallel:` map (keys in the file comment). Unknown keys, non-positive sizes and
/// unknown layouts are ConfigErrors with a did-you-mean; consistency with a model is checked by
/// validate_plan().
ParallelPlan parse_parallel_plan(const config::ConfigNode& node);

/// Rejects a plan that `model` cannot run on `available_gpus` GPUs, with a ConfigError at the
/// plan's key that names the reason:
///   - plan larger than the system (pp x tp x attention_dp > available_gpus);
///   - tp not dividing the attention heads; for GQA, tp and the KV heads not dividing one
///     another;
///   - ep other than 1 or tp x attention_dp; ep > 1 or redundant experts on a dense model;
///     (experts + redundant_experts) not divisible by ep; redundant experts without EP;
///   - a sharded FFN or expert whose intermediate size the shard count does not divide, or
///     whose shard is not a whole number of 128-wide scale blocks under fp8_block128 weights
///     (e.g. Qwen3-235B FP8 under TP8: 1536 / 8 = 192);
///   - pp larger than the number of layers; micro_batches other than 1 or 2.
/// Memory fit is checked separately (memory_footprint.hpp, check_memory_fit).
void validate_plan(const ModelSpec& model, const ParallelPlan& plan, const Precision& precision,
                   std::int32_t available_gpus);

/// The decoder layers [first, last) of each PP stage: contiguous, as even as possible, the
/// first (num_layers mod pp) stages holding one layer more.
std::vector<std::pair<std::int32_t, std::int32_t>> stage_layers(const ModelSpec& model,
                                                                const ParallelPlan& plan);

/// Query heads per GPU: num_heads / tp.
std::int64_t heads_per_rank(const ModelSpec& model, const ParallelPlan& plan);
/// K/V heads per GPU (MHA/GQA): num_kv_heads / tp, or 1 when tp >= num_kv_heads (replicated).
/// MLA: 1 (one latent shared by all heads).
std::int64_t kv_heads_per_rank(const ModelSpec& model, const ParallelPlan& plan);

}  // namespace moesim::llm
