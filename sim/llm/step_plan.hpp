#pragma once
/// \file
/// The StepPlan IR: the operations one engine step runs on each GPU of a deployment. A model, a
/// parallel plan and a batch are lowered once into a StepPlan (sim/llm/lowering.hpp); the cost
/// models in sim/cost price it and hwval runs it on a real GPU. See DESIGN.md, "The StepPlan IR".
///
/// Per rank: an ordered list of ops on two streams (compute, communication) with explicit
/// dependencies on earlier ops of the same rank. Collectives synchronise the ranks of their
/// group. Ranks that are provably identical share one op list; MoE ranks differ by their expert
/// loads, so they get their own lists.
///
/// Every op reports its FLOPs and its minimum bytes moved to and from HBM, exactly, by the
/// formulas documented on each op type (tests compare them to hand counts).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/core/dtype.hpp"
#include "sim/core/units.hpp"
#include "sim/llm/model.hpp"

namespace moesim::llm {

/// Which engine phase a step serves.
enum class StepPhase : std::uint8_t { kPrefill, kDecode, kMixed };

/// The GPU stream an op runs on. Ops on different streams of a rank may overlap.
enum class StreamKind : std::uint8_t { kCompute, kComm };

/// Element type a weight format stores (bf16 -> kBF16, fp8_* -> kFP8, nvfp4/mxfp4 -> kFP4).
DType element_type(WeightFormat f);

/// HBM bytes of a rows x cols activation operand of type `a` feeding a GEMM whose weights are
/// stored as `paired` (the activation quantization follows the weight recipe):
///   fp8: rows cols + scales; scales = 4 rows ceil(cols/128) (one FP32 per 1 x 128 token group,
///        DeepGEMM / DeepSeek-V3 recipe) when `paired` is fp8_block128, else 4 (one FP32 per
///        tensor);
///   fp4: rows ceil(cols/2) + scales; scales = rows ceil(cols/32) (E8M0 per 32, MX) when
///        `paired` is mxfp4, else rows ceil(cols/16) + 4 (E4M3 per 16 plus one FP32, NVFP4);
///   other types: ceil(rows cols bits(a) / 8).
/// rows == 0 gives 0.
Bytes activation_bytes(std::int64_t rows, std::int64_t cols, DType a, WeightFormat paired);

/// A dense GEMM, `batch` independent instances of out[m x n] = a[m x k] . b[k x n].
/// FLOPs = 2 m n k batch. Bytes = batch x (A + B + Out) where A = activation_bytes(m, k,
/// a_type, b_format) (scale factors included), B = tensor_bytes(n, k, b_format).total() when b
/// is a weight (stored as n output rows of k contiguous inputs, block scales included), else
/// ceil(k n bits(element_type(b_format)) / 8), and Out = ceil(m n bits(out_type) / 8).
/// A GEMM with m == 0 does nothing and moves 0 bytes (a kernel would exit at once).
struct GemmOp {
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
  std::int64_t batch = 1;
  DType a_type = DType::kBF16;                  ///< activation element type
  WeightFormat b_format = WeightFormat::kBF16;  ///< storage of the b operand
  bool b_is_weight = true;                      ///< b is read from HBM as a stored weight
  DType out_type = DType::kBF16;                ///< output element type
  DType compute = DType::kBF16;                 ///< tensor-core rate the kernel runs at

  bool operator==(const GemmOp&) const = default;
};

/// The routed experts of one MoE layer on one rank: for each local expert e, a GEMM of
/// tokens[e] x k by k x n. Experts with zero tokens read no weights. FLOPs = 2 n k sum(tokens).
/// Bytes = sum over experts with tokens > 0 of (activation_bytes(tokens[e], k, a_type,
/// b_format) + tensor_bytes(n, k, b_format).total() + ceil(tokens[e] n bits(out_type) / 8)).
struct GroupedGemmOp {
  std::vector<std::int32_t> tokens_per_expert;  ///< one entry per local expert (replica)
  std::int64_t n = 0;
  std::int64_t k = 0;
  DType a_type = DType::kFP8;
  WeightFormat b_format = WeightFormat::kFP8Block128;
  DType out_type = DType::kBF16;
  DType compute = DType::kFP8;
  /// (token, top-k slot) pairs entering the MoE module on this rank, routed here or not: the
  /// routing passes around the grouped GEMMs (sort by expert, expand/permute, finalize) walk
  /// every one (sim/cost/kernel_family.hpp, per_route). Set on the module's first grouped GEMM
  /// (moe.gate_up) only, 0 on the others; no FLOPs or bytes of the op. The factored EP step
  /// (sim/step/factored_step.cpp) sets each rank's own when it reprices the rank's loads.
  std::int64_t routes_in = 0;

  std::int64_t total_tokens() const;    ///< sum of tokens_per_expert
  std::int32_t active_experts() const;  ///< experts with tokens > 0 (their weights are read)
  bool operator==(const GroupedGemmOp&) const = default;
};

/// Attention kernel forms.
enum class AttentionKernel : std::uint8_t {
  kMha,          ///< MHA/GQA: q heads attend to K/V heads (heads / kv_heads share one)
  kMlaExpanded,  ///< MLA prefill: K/V decompressed from the latent, qk_dim = nope + rope dims
  kMlaAbsorbed,  ///< MLA decode: queries absorbed into the latent, qk_dim = kv_lora + rope,
                 ///< v_dim = kv_lora; one shared latent "KV head"
};

/// Core attention (softmax(q k^T) v) over a batch of sequences on one rank, projections
/// excluded (they are GemmOps). For sequence s with q = q_lens[s] new tokens and L = kv_lens[s]
/// total context (including the new tokens), the new tokens sit at positions L-q .. L-1 and
/// position p sees the keys: full: 0..p (p+1 keys); sliding window W: max(0, p-W+1)..p
/// (min(p+1, W) keys, the window includes the query itself, as Hugging Face's sliding masks);
/// chunked W: floor(p/W) W .. p ((p mod W) + 1 keys). P_s = sum of those over the new tokens
/// (visible_pairs()) and K_s = the distinct keys any of them sees (visible_keys(): full L,
/// sliding min(L, q+W-1), chunked L - floor((L-q)/W) W).
/// FLOPs = 2 heads (qk_dim + v_dim) sum_s P_s.
/// Bytes = KV read + q read + output written, each rounded up once to whole bytes:
///   KV read = kv_heads x sum_s K_s x width x bits(kv_type) / 8, width = qk_dim + v_dim (MHA,
///             MLA expanded) or qk_dim (MLA absorbed: V is the first v_dim values of the
///             latent K, read once);
///   q read  = heads x sum_s q_s x qk_dim x bits(compute) / 8;
///   output  = heads x sum_s q_s x v_dim x bits(out_type) / 8.
struct AttentionOp {
  AttentionKernel kernel = AttentionKernel::kMha;
  std::vector<std::int32_t> q_lens;   ///< new tokens per sequence
  std::vector<std::int32_t> kv_lens;  ///< context length per sequence, new tokens included
  std::int32_t heads = 0;             ///< query heads on this rank
  std::int32_t kv_heads = 0;          ///< K/V heads on this rank (1 for MLA absorbed)
  std::int32_t qk_dim = 0;            ///< per-head q/k width
  std::int32_t v_dim = 0;             ///< per-head v width
  std::int32_t window = 0;            ///< sliding/chunked window in tokens; 0 = full
  DType compute = DType::kBF16;
  DType kv_type = DType::kBF16;
  bool chunked = false;           ///< window > 0: aligned chunks of `window` (Llama-4), not sliding
  DType out_type = DType::kBF16;  ///< output element type

  std::int64_t total_q() const;      ///< sum of q_lens
  std::int64_t total_pairs() const;  ///< sum_s P_s
  std::int64_t total_keys() const;   ///< sum_s K_s
  bool operator==(const AttentionOp&) const = default;
};

/// (query, key) pairs that `q_len` new tokens ending a context of `kv_len` tokens see, under a
/// full (window 0), sliding or chunked (window > 0) mask; see AttentionOp. 0 <= q_len <= kv_len.
std::int64_t visible_pairs(std::int64_t q_len, std::int64_t kv_len, std::int64_t window,
                           bool chunked);
/// Distinct keys those new tokens see together (the KV a kernel must read); see AttentionOp.
std::int64_t visible_keys(std::int64_t q_len, std::int64_t kv_len, std::int64_t window,
                          bool chunked);

/// Memory-bound work priced by bytes alone: norms, activations, router, sampling, KV writes.
struct MemoryOp {
  Bytes read{0};
  Bytes written{0};
  Flops flops{0.0};  ///< elementwise FLOPs, reported but not expected to bind

  bool operator==(const MemoryOp&) const = default;
};

/// Collective kinds.
enum class CollectiveKind : std::uint8_t {
  kAllReduce,
  kAllGather,
  kReduceScatter,
  kAllToAllV,
  kSendRecv
};

/// A collective over one communicator group of the plan. AllReduce/AllGather/ReduceScatter:
/// `bytes` is the message size per rank in nccl-tests' convention (AllReduce: the buffer;
/// AllGather: the gathered output; ReduceScatter: the input). AllToAllV: `send_bytes[i]` is
/// what this rank sends to the i-th member of the group (its own entry included, not moved).
/// SendRecv: `bytes` to member `peer` (or, with `recv`, from member `peer`). FLOPs 0; bytes
/// moved over HBM are not counted here.
struct CollectiveOp {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  std::int32_t group = 0;  ///< index into StepPlan::groups
  Bytes bytes{0};
  std::vector<Bytes> send_bytes;  ///< AllToAllV only
  std::int32_t peer = -1;         ///< SendRecv only
  bool recv = false;              ///< SendRecv only: this side receives `bytes` from `peer`

  bool operator==(const CollectiveOp&) const = default;
};

/// The body of an op.
using OpBody = std::variant<GemmOp, GroupedGemmOp, AttentionOp, MemoryOp, CollectiveOp>;

/// One operation of a rank's step.
struct Op {
  std::string_view name;    ///< static label, e.g. "attn.q_a_proj", "moe.dispatch"
  std::int32_t layer = -1;  ///< decoder layer, or -1 (embedding, head, sampling)
  std::int32_t micro_batch = 0;
  StreamKind stream = StreamKind::kCompute;
  OpBody body;
  std::vector<std::int32_t> deps;  ///< indices of earlier ops of this rank that must finish first

  /// Exact floating-point operations of the op (formulas on each body type).
  Flops flops() const;
  /// Exact minimum bytes read from plus written to HBM (formulas on each body type).
  Bytes min_bytes() const;
  /// Of min_bytes(), the stored weights read: B of a GemmOp with b_is_weight and m > 0 (times
  /// batch), the weights of each GroupedGemmOp expert with tokens; 0 for other ops.
  Bytes weight_bytes() const;

  bool operator==(const Op&) const = default;
};

/// The ops of one rank (or of several identical ranks). Ops on one stream run in list order;
/// an op starts when its stream predecessor and every op in its deps have finished.
struct RankPlan {
  std::vector<Op> ops;

  Flops flops() const;         ///< sum over ops
  Bytes min_bytes() const;     ///< sum over ops
  Bytes weight_bytes() const;  ///< sum over ops of Op::weight_bytes()
  bool operator==(const RankPlan&) const = default;
};

/// A communicator: the global ranks taking part, in group order.
struct CommGroup {
  std::string_view name;  ///< "tp", "ep", "stage", "pp" (see lowering.hpp)
  std::vector<std::int32_t> ranks;

  /// Position of global rank `rank` in the group, or -1 when it is not a member.
  std::int32_t index_of(std::int32_t rank) const;
};

/// One engine step of one deployment instance.
struct StepPlan {
  StepPhase phase = StepPhase::kDecode;
  std::vector<RankPlan> plans;          ///< distinct op lists
  std::vector<std::int32_t> rank_plan;  ///< global rank -> index into plans
  std::vector<CommGroup> groups;
  /// What the lowering chose that a reader should know: precision fallbacks (e.g. FP4 weights
  /// on a GPU without FP4 tensor cores), replicated MLA caches, ...
  std::vector<std::string> notes;

  std::int32_t ranks() const { return static_cast<std::int32_t>(rank_plan.size()); }
  const RankPlan& plan_of(std::int32_t rank) const {
    return plans[static_cast<std::size_t>(rank_plan[static_cast<std::size_t>(rank)])];
  }
};

}  // namespace moesim::llm
