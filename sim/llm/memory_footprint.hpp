#pragma once
/// \file
/// Memory footprint of one GPU under a parallel plan: weights by tensor class, KV-cache bytes
/// per token, an activation workspace estimate, and how many tokens of KV cache fit in what is
/// left of the engine's share of HBM. This is what decides the batch (MODELING.md, "Memory
/// decides the batch").
///
/// Weights per GPU (stage s holds its layers; embedding on the first stage, final norm and
/// output head on the last): each tensor of weight_tensors() stored as precision.weights says,
/// split as the plan splits it:
///   embedding, output head: vocab rows / tp (vocab-parallel), rounded up;
///   MLA q_a/kv_a projections and their norms: replicated; q_b, kv_b (rows) and o_proj (cols):
///   / tp; GQA q (rows), o (cols): / tp; k, v: kv heads per rank x head_dim rows;
///   q/k norms, norms, router: replicated; sinks, q bias: / tp; k/v biases as k/v;
///   routed experts: (experts + redundant) / ep whole experts per GPU, each split over moe_tp
///   (gate/up rows, down cols);
///   dense FFN and shared experts: replicated, or split over the stage's S GPUs (sharded);
///   the MTP module (options.include_mtp) on the last stage, split like a layer.
/// KV bytes per token per GPU: over the stage's layers, MLA kv_lora + rope values (replicated
/// on every TP rank), GQA 2 x kv heads per rank x head_dim, in the KV-cache type.
/// Activation workspace, an estimate of the live activations of one step of
/// T = options.max_tokens_per_step tokens on one replica:
///   2 B x (T x (4 hidden + A) + max over the FFNs of rows x 3 x intermediate per GPU)
///   + 4 B x T x ceil(vocab / tp)                                   (FP32 logits)
///   + T x min(k, ep) x (dispatch + combine payload per token)      (EP > 1: a2a buffers)
/// where 4 hidden = residual, normed input, attention and FFN outputs; A = the attention
/// widths per GPU (q, k/v or the MLA latents, attention output); an FFN's rows are T, times
/// attention_dp when its tokens are gathered over the stage, times top-k for routed experts
/// (tokens arriving per GPU on average); 3 x intermediate = gate/up output and the activation.
/// The engine may use options.memory_fraction of HBM (vLLM gpu_memory_utilization, default
/// 0.9: vllm-project/vllm engine arguments; SGLang picks mem_fraction_static of about
/// 0.8-0.9 by GPU size; TensorRT-LLM's kv_cache_free_gpu_mem_fraction, e.g. 0.93 in
/// published/cases.yaml trtllm-dsr1-b200x8-maxtput-fp8kv, is a fraction of the memory free
/// after weights instead). The rest covers CUDA context, graphs, NCCL buffers and
/// fragmentation.

#include <array>
#include <cstdint>
#include <vector>

#include "sim/core/units.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/parallel_plan.hpp"
#include "sim/llm/precision.hpp"

namespace moesim::llm {

/// vLLM's default share of HBM an engine takes (gpu_memory_utilization = 0.9). Typical
/// engines use 0.85-0.93 (MODELING.md).
inline constexpr double kVllmDefaultMemoryFraction = 0.9;

/// Engine settings the footprint depends on.
struct MemoryOptions {
  double memory_fraction = kVllmDefaultMemoryFraction;  ///< share of HBM, in (0, 1]
  std::int64_t max_tokens_per_step = 0;  ///< token budget of one step per replica (>= 0)
  std::int64_t min_kv_tokens = 1;        ///< tokens of KV that must fit (check_memory_fit)
  bool include_mtp = false;              ///< the MTP module's weights and KV are loaded
};

/// One GPU's memory under a plan (the GPUs of a stage are alike).
struct MemoryFootprint {
  std::int32_t stage = 0;
  std::array<Bytes, kNumTensorClasses> weights_by_class{};  ///< main model, scales included
  Bytes mtp_weights{0};         ///< MTP module on this GPU (0 unless included and last stage)
  Bytes weights{0};             ///< sum of weights_by_class + mtp_weights
  Bytes kv_bytes_per_token{0};  ///< one token of context in every layer of the stage
  Bytes kv_bytes_per_token_full_span{0};  ///< of which full-attention layers (the growth rate
                                          ///< past the windows of sliding/chunked layers)
  Bytes activations{0};                   ///< workspace estimate (file comment)
  Bytes hbm{0};                           ///< capacity of one GPU
  Bytes usable{0};                        ///< floor(hbm x memory_fraction)
  Bytes kv_budget{0};          ///< usable - weights - activations (negative when they do not fit)
  std::int64_t kv_tokens = 0;  ///< floor(max(kv_budget, 0) / kv_bytes_per_token)

  Bytes weights_of(TensorClass c) const { return weights_by_class[static_cast<std::size_t>(c)]; }
};

/// The footprint of a GPU of each PP stage. The plan must be valid (validate_plan).
std::vector<MemoryFootprint> memory_footprints(const ModelSpec& model, const ParallelPlan& plan,
                                               const Precision& precision, const TargetGpu& gpu,
                                               const MemoryOptions& options);

/// The stage whose GPUs fit the fewest KV tokens (ties: the first).
MemoryFootprint binding_footprint(const ModelSpec& model, const ParallelPlan& plan,
                                  const Precision& precision, const TargetGpu& gpu,
                                  const MemoryOptions& options);

/// Throws a ConfigError at the plan's key when some GPU cannot hold its weights, its
/// activation workspace and options.min_kv_tokens tokens of KV cache within
/// memory_fraction x HBM; the message gives the sizes.
void check_memory_fit(const ModelSpec& model, const ParallelPlan& plan, const Precision& precision,
                      const TargetGpu& gpu, const MemoryOptions& options);

}  // namespace moesim::llm
