#pragma once
/// \file
/// Kernel families and their features: the link between a StepPlan op and the parameters a
/// calibration fits (sim/cost/calibration.hpp).
///
/// A family is (op kind, data type): gemm.fp8_block, moe.nvfp4, mla_decode.fp8, ... Each op
/// of a family is priced as a sum of physical terms, each linear in one parameter:
///   t = fixed + token_bytes x Q/B + per_row x M + stream x D/B + compute x F/(P u)
///       + k_wave x V k                                                  (gemm, bmm)
///   t = fixed + token_bytes x (D - W)/B + stream x W/B + compute x F/(P u) + k_wave x V k
///       + per_expert x E + per_route x R                                (moe grouped GEMMs)
///   t = fixed + stream x D/B + compute x F/(P u) + per_sequence x S + per_wave x A
///       + k_wave x A L                                                  (attention)
/// where D are the op's minimum HBM bytes and W their weight part, B the GPU's hbm.bandwidth,
/// F the op's FLOPs, P the dense peak of the op's compute type (attention: of BF16, so that
/// families of any compute type share one reference), u the shape utilization of the roofline
/// model (GEMM wave quantization and small-M padding, attention row padding), E the experts
/// with tokens, R the (token, top-k slot) pairs entering the MoE module (GroupedGemmOp::
/// routes_in, routed to this GPU or not) and S the sequences. `stream` is 1 / (the fraction
/// of HBM bandwidth the kernel streams its operands at), `compute` 1 / (its marginal
/// fraction of tensor-core peak); `token_bytes` covers what scales with routed tokens in a
/// fused MoE (activation quantize, permute, finalize); `per_expert` the per-expert tile fill,
/// scale loads and epilogues; `per_route` the routing passes of a fused MoE over every pair
/// that enters it, local or not: TensorRT-LLM's CUTLASS path sorts the expert ids of all
/// tokens x topk pairs, builds the permutation and zero-fills or reduces every token's
/// output in finalize (NVFP4 on B200 at EP 128: from 4,096 to 16,384 tokens the time grows
/// 116 -> 297 us, ~15 ns per token, while the local rows stay a few hundred per expert).
/// Terms of the launch geometry:
///  - Q (gemm, bmm): the bytes of the activation-quantization pass a quantized GEMM runs
///    before its main loop (FP8, FP4 activations: read the BF16 input, write the quantized
///    operand and its scales); 0 for BF16 activations. Never overlapped with the GEMM.
///  - M (gemm, bmm): the activation rows of that pass (m x batch; 0 for BF16 activations).
///    Each row needs its own amax reductions and scale writes (per token, or per 1 x 128
///    group, stored column-major for the GEMM's TMA), work that a kernel giving a row to a
///    block or warp runs serially whatever the bytes: `per_row`, seconds per row. TensorRT-LLM
///    1.2.0rc5's FP8 block GEMM on B200 shows it plainly: with k = 1024, m = 1 takes 8-10 us
///    and m = 1024 27-37 us over n = 1024-16384 (the fit: ~20 ns per row).
///  - V k (gemm, bmm, moe): the waves of output tiles times the reduction length. A GEMM
///    launches T = sum over problems of ceil(rows / tile.m) x ceil(n / tile.n) CTAs on the
///    SMs in V = ceil(T / sms) waves; each CTA walks k serially, so a wave takes at least
///    k x (the main loop's per-element latency): `k_wave`, seconds per reduction element
///    per wave. This is the small-M weight-streaming floor: with fewer tiles than SMs the
///    weights stream through T CTAs only and the time follows k, not the bytes.
///  - A (attention): the waves of query-row blocks, A = ceil(blocks / sms) with one block
///    per mma_m query rows of one K/V head of one sequence (decode: one per sequence and K/V
///    head, split-KV or not; MLA prefill: every head is its own expanded K/V head, so one per
///    sequence, head and mma_m query rows); `per_wave` is a block's fixed cost (Q load, softmax
///    bookkeeping, output write, launch of the CTA) per wave. A block walks the keys its
///    rows see one after the other, so a wave lasts at least L x (per-key latency) with L
///    the most keys a sequence's new tokens see (visible_keys): `k_wave` x A L, the floor
///    of a causal prefill whose few blocks (one sequence, few heads) cannot fill the SMs.
/// In the max (overlap) form, the memory part is the stream term and the compute part the
/// compute and k_wave terms; the other terms are never overlapped.
/// Physics fix the terms, measurements fix the coefficients.

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sim/cost/efficiency.hpp"
#include "sim/cost/measurement.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::cost {

/// The terms of the family equations (file comment), in parameter order.
enum class Term : std::uint8_t {
  kFixed,
  kStream,
  kTokenBytes,
  kCompute,
  kPerExpert,
  kPerSequence,
  kKWave,
  kPerWave,
  kPerRoute,
  kPerRow
};
inline constexpr std::size_t kTerms = 10;
/// Name of a term's parameter in a calibration file ("fixed", "stream", ...).
std::string_view to_string(Term t);

/// The data-type labels of families: weight formats for gemm, bmm and moe; compute or KV
/// types for attention.
inline constexpr std::array<std::string_view, 6> kFamilyDtypes = {
    "bf16", "fp8", "fp8_block", "nvfp4", "w4a16_mxfp4", "w4a8_mxfp4"};

/// A kernel family: an op kind and one of kFamilyDtypes.
struct FamilyKey {
  MeasuredOp op = MeasuredOp::kGemm;
  std::uint8_t dtype = 0;  ///< index into kFamilyDtypes
  bool operator==(const FamilyKey&) const = default;
  /// "gemm.fp8_block"
  std::string name() const;
  /// Dense index in [0, kFamilies).
  std::size_t index() const { return static_cast<std::size_t>(op) * kFamilyDtypes.size() + dtype; }
};
inline constexpr std::size_t kFamilies = std::size(kAllMeasuredOps) * kFamilyDtypes.size();

/// The family named `name` ("moe.nvfp4"), or std::nullopt.
std::optional<FamilyKey> parse_family(std::string_view name);
/// Every family name, for did-you-mean.
std::vector<std::string> family_names();

/// The family of a lowered op: Gemm (batch 1: gemm, else bmm), GroupedGemm (moe) and
/// Attention ops have one; Memory ops and collectives have none (the roofline prices them).
/// MHA/GQA attention is gqa_decode when every sequence adds one token to a cached context
/// (q = 1 < kv), else gqa_prefill (a one-token prompt runs the context kernel).
std::optional<FamilyKey> family_of(const llm::OpBody& body);

/// Values of the terms for one op, seconds (fixed: 1; per_expert, per_sequence, per_wave,
/// per_route, per_row: counts; k_wave: waves x reduction elements).
using Features = std::array<double, kTerms>;

/// The shape quantities whose measured range a calibration records, per op: gemm m, n, k;
/// bmm m, n x k, batch; moe routed rows, rows per active expert, n x k; attention sequences,
/// max context, heads. Unused entries are 0.
using RangeVars = std::array<std::int64_t, 3>;
/// Names of the range quantities of `op` ("m", "n", "k", ...).
std::array<std::string_view, 3> range_names(MeasuredOp op);

/// The time of a family op from its coefficients and features, in parts (seconds).
struct FamilyTime {
  /// fixed + per_expert x E + per_sequence x S + per_wave x A + per_route x R + per_row x M
  double overhead = 0.0;
  double tokens = 0.0;   ///< token_bytes x ((D - W) or Q)/B, never overlapped
  double memory = 0.0;   ///< stream x (D or W)/B
  double compute = 0.0;  ///< compute x F/(P u) + k_wave x V k
  /// The kernel's time without its overhead: tokens + (memory and compute summed, or their
  /// max when they overlap).
  double kernel(bool overlap) const {
    return tokens + (overlap ? std::max(memory, compute) : memory + compute);
  }
  double total(bool overlap) const { return overhead + kernel(overlap); }
};
/// The parts of an op with features `x` under coefficients `coef`.
FamilyTime family_time(const Features& coef, const Features& x);

/// Computes features and range quantities of ops on one GPU.
class Featurizer {
 public:
  Featurizer(const hw::GpuSpec& gpu, const EfficiencyParams& params);
  /// The terms of `body`, an op with a family, whose FLOPs and bytes are `flops` and `bytes`
  /// (Op::flops(), Op::min_bytes()).
  Features features(const llm::OpBody& body, Flops flops, Bytes bytes) const;
  /// The range quantities of `body`.
  static RangeVars range_vars(const llm::OpBody& body);

 private:
  double peak(DType t) const;
  hw::GpuSpec gpu_;
  EfficiencyParams params_;
  double bandwidth_ = 0.0;  ///< B/s
};

}  // namespace moesim::cost
