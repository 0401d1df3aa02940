#pragma once
/// \file
/// What a measured op is in StepPlan terms: the ops the lowering (sim/llm/lower_*.cpp) emits
/// for the same work, so that a cost model prices exactly what was timed.
///
///  gemm        one GemmOp [m, k] x [k, n] (BF16 output) with the weight format and activation
///              type of the dtype (fp8_block: FP8 activations, 128x128-block weights; nvfp4:
///              FP4 both; w4a16_mxfp4: BF16 activations, MXFP4 weights; ...)
///  bmm         one GemmOp with batch = heads (the MLA absorb BMMs, attn.q_absorb and
///              attn.v_absorb), weights BF16 or FP8 (128x128 blocks)
///  moe         the routed-expert part of lower_moe on the measured GPU: moe.gate_up
///              (GroupedGemm, n = 2 inter / tp, k = hidden, routes_in = tokens x topk: the
///              collectors feed every token to the module), moe.act (SwiGLU MemoryOp),
///              moe.down (GroupedGemm, n = hidden, k = inter / tp), plus the top-k read of
///              the router logits (moe.topk), since the measured module routes. Balanced
///              routing as the collectors' balanced_logits: stride = ceil(experts / topk),
///              token i sends slot j to expert (i + j stride) mod experts (tokens >= stride)
///              or (floor(i stride / tokens) + j stride) mod experts (fewer tokens); the
///              GPU is EP rank 0 and holds experts 0 .. experts/ep - 1, so with EP it sees
///              only the pairs that land there (one token: one expert per stride block).
///              With a group-limited router (shape groups > 0: SGLang's DeepSeek-V3 rows,
///              measurement.hpp) the balanced logits only mark experts; the router keeps
///              the topk_groups groups with the best sum of their two best scores and takes
///              the topk best experts in them, ties to the lower group and the lower expert
///              (SGLang sgl-kernel moe_fused_gate.cu). DeepSeek-V3's balanced logits mark
///              one expert per group (stride 32 = group size), so every group ties: a token
///              takes its marked experts in groups 0-3 and the lowest unmarked experts
///              (0, 1, 2, ...) for its other four slots. All the work lands on experts
///              0-127 (EP 1 and EP 2 time the same rows, as the tables show).
///              SGLang's DeepEP tables ("uniform", AIConfigurator collector/wideep/sglang/
///              collect_deepep_moe.py) time run_moe_core on `tokens` dispatched rows with
///              loads the collector sets, not draws: every local expert gets
///              floor(tokens topk / experts) rows. No routing is timed (no moe.topk).
///               - moe_generation (low-latency, DeepGEMM masked grouped GEMM): when that
///                 floor is 0 the collector gives one row to each of the first
///                 min(local, tokens / ep x topk) experts. The masked kernel runs
///                 ceil(masked_m / block) row blocks per expert and skips experts with
///                 none, so the grouped GEMMs are over these loads (rows padded to the
///                 tile by the family's utilization and k_wave terms).
///               - moe_context (normal mode, DeepGEMM contiguous grouped GEMM): the loads
///                 lie expert after expert in one [sum, hidden] operand; the kernel runs
///                 ceil(sum / 128) blocks of 128 rows and takes each block's expert from
///                 its first row (DeepGEMM's contiguous layout expects segments aligned to
///                 128; the collector's are not when the load is under 128), so a block's
///                 rows count for the expert that owns its first row and fewer expert
///                 weights are read. Around the GEMMs, ep_scatter (moe.scatter: reads the
///                 top-k ids of every dispatched row, copies the routed FP8 rows) and
///                 ep_gather (moe.gather: reads the routed BF16 rows, writes the BF16
///                 output of every dispatched row, `tokens` x hidden)
///  mla_decode  AttentionOp kMlaAbsorbed, DeepSeek-V3 geometry (kv_lora 512 + rope 64 = 576
///              per key, 512 values), one new token per sequence
///  mla_prefill AttentionOp kMlaExpanded (qk 192, v 128 per head), q = kv = the prompt, one
///              expanded BF16 K/V head per query head (kv_heads = heads, as lower_attention.cpp:
///              the kernel reads heads x keys K/V rows and runs a block per sequence, head and
///              q tile); FP8 KV-cache rows run FP8 context attention (compute FP8)
///  gqa_*       AttentionOp kMha with the row's heads, K/V heads and head_dim
/// Of these ops, the ones of the measurement's family (sim/cost/kernel_family.hpp) are what a
/// calibration fits; the others (SwiGLU, top-k) keep the roofline price.

#include <vector>

#include "sim/cost/kernel_family.hpp"
#include "sim/cost/measurement.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::cost {

/// The ops of one measured op and the family it calibrates.
struct Probe {
  std::vector<llm::Op> ops;
  FamilyKey family;
};

/// The probe of `m` (file comment).
Probe make_probe(const Measurement& m);

}  // namespace moesim::cost
