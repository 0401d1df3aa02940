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
///              (GroupedGemm, n = 2 inter / tp, k = hidden), moe.act (SwiGLU MemoryOp),
///              moe.down (GroupedGemm, n = hidden, k = inter / tp), plus the top-k read of
///              the router logits (moe.topk), since the measured module routes. Balanced
///              routing as the collectors' balanced_logits: stride = ceil(experts / topk),
///              token i sends slot j to expert (i + j stride) mod experts (tokens >= stride)
///              or (floor(i stride / tokens) + j stride) mod experts (fewer tokens); the
///              GPU is EP rank 0 and holds experts 0 .. experts/ep - 1, so with EP it sees
///              only the pairs that land there (one token: one expert per stride block).
///              Uniform routing (SGLang's DeepEP collector, random top-k): the expected
///              loads, round(local (1 - (1 - topk/experts)^tokens)) active experts sharing
///              round(tokens topk local / experts) rows evenly
///  mla_decode  AttentionOp kMlaAbsorbed, DeepSeek-V3 geometry (kv_lora 512 + rope 64 = 576
///              per key, 512 values), one new token per sequence
///  mla_prefill AttentionOp kMlaExpanded (qk 192, v 128 per head), q = kv = the prompt; FP8
///              KV-cache rows run FP8 context attention (compute FP8)
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
