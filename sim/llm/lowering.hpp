#pragma once
/// \file
/// Lowering: a model, a parallel plan, a precision and one step's batch become the StepPlan
/// (step_plan.hpp) -- per GPU, the ordered ops of the step on a compute and a communication
/// stream, with dependencies.
///
/// Per rank and micro-batch, the ops are (names as in Op::name; T = the replica's new tokens,
/// X = the tokens this rank feeds into the FFN: T, or a 1/tp share under token shares, see
/// ParallelPlan::token_shares()):
///   [pp.recv]                        SendRecv of hidden + residual from the previous stage
///   embed.gather, [embed.all_reduce] first stage; vocab-parallel embedding under TP
///   per layer:
///     attn.input_norm                fused residual add + RMSNorm (Memory)
///     GQA/MHA: attn.qkv_proj, [attn.qk_norm], attn.kv_write
///     MLA:     attn.qkv_a_proj (q_a and kv_a fused; replicated under TP), attn.qkv_a_norm,
///              attn.q_b_proj, attn.kv_write (the 576-wide latent + rope key)
///              decode sequences (absorbed): attn.q_absorb (heads x [T x nope] . [nope x
///              kv_lora], W_UK), attn.decode, attn.v_absorb (W_UV)
///              prefill sequences (expanded): attn.kv_b_proj over every visible context
///              token, attn.prefill
///     GQA/MHA: attn.decode / attn.prefill (one AttentionOp each for the decode and the
///              prefill sequences)
///     attn.o_proj, then under TP: attn.all_reduce, or attn.reduce_scatter with token shares
///     ffn.post_attention_norm
///     dense layers: [ffn.all_gather_tokens], ffn.gate_up, ffn.act, ffn.down,
///                   [ffn.all_reduce | ffn.reduce_scatter]
///     MoE layers:   [moe.all_gather_tokens], moe.router (FP32 out), moe.topk,
///                   [moe.dispatch] (AllToAllV, EP), [moe.shared_gate_up, moe.shared_act,
///                   moe.shared_down, [moe.shared_reduce_scatter]], moe.gate_up, moe.act,
///                   moe.down (GroupedGemm), [moe.combine] (AllToAllV, EP),
///                   [moe.all_reduce | moe.reduce_scatter] (experts tensor-sharded, ep 1)
///     [ffn.all_gather] with token shares under TP: rebuild the replica's T tokens
///   last stage: head.final_norm, head.lm_head (vocab-parallel under TP, only the positions
///   that need logits), [head.all_gather_logits], head.sample
///   [pp.send]
///
/// Collectives run on the comm stream, everything else on the compute stream. Payloads:
/// dispatch sends dispatch_tokens[me][j] x payload_bytes_per_token(hidden, dispatch) to EP
/// rank j, combine sends dispatch_tokens[j][me] x payload_bytes_per_token(hidden, combine)
/// back; TP all-reduce / reduce-scatter / all-gather move T x hidden BF16 values, the
/// stage-wide all-gather / reduce-scatter of sharded FFNs under token shares the stage's tokens
/// x hidden (nccl-tests convention: all-gather its output, reduce-scatter its input).
///
/// Memory-op conventions (bytes exact, FLOPs nominal and not expected to bind):
///   RMSNorm with residual: read 2 x rows x width x 2 B + width x 2 B (weight), write 2 x rows
///     x width x 2 B; 5 FLOP per element. Without residual (MLA latent norms): read rows x
///     width x 2 B + width x 2 B, write rows x width x 2 B; 4 FLOP per element.
///   SwiGLU act: read rows x 2I x 2 B, write activation_bytes(rows, I, down's type); 4 FLOP per
///     output.
///   KV write: read the new K/V (BF16), write them in the KV-cache type.
///   Router top-k: read rows x experts x 4 B, write rows x k x 8 B (id + weight); 2 FLOP per
///     logit.
///   Embedding gather: read rows x hidden of the table, write rows x hidden x 2 B.
///   Sampling: read the BF16 logits, write 4 B per sampled position; 4 FLOP per logit.
///
/// Two micro-batches (ParallelPlan::micro_batches == 2): each replica's sequences are split in
/// two halves of (nearly) equal tokens (a single sequence is split by tokens); each half is
/// lowered as above, then the lists interleave by stretches of ops on one stream: within a
/// layer, micro-batch 0's first compute stretch, micro-batch 1's, micro-batch 0's first
/// collective, micro-batch 1's, and so on, so one half's dispatch and combine overlap the
/// other's attention and experts (SGLang two-batch overlap, DeepSeek's dual micro-batch).
///
/// Ranks with identical inputs -- stage and communicators, their replica's sequences and FFN
/// share, their row and column of every MoE layer's loads -- get identical op lists and share
/// one RankPlan: all TP ranks of a replica with equal token shares, attention-DP replicas with
/// equal batches and equal expert loads. Ranks of different TP or PP groups never share (their
/// collectives name different communicators).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/llm/model.hpp"
#include "sim/llm/parallel_plan.hpp"
#include "sim/llm/placement.hpp"
#include "sim/llm/precision.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::llm {

/// One sequence's work in a step.
struct SequenceWork {
  std::int32_t q_len = 0;   ///< new tokens this step (1 for plain decode, a chunk for prefill)
  std::int32_t kv_len = 0;  ///< context after this step, new tokens included (>= q_len)
  bool prefill = false;     ///< a prompt chunk (MLA runs it expanded) rather than decode
  std::int32_t logits = 0;  ///< positions that need logits (<= q_len)

  /// A decode step of `tokens` new tokens (1, or 1 + drafts when verifying speculation) that
  /// ends a context of `context` tokens; every new position needs logits.
  static SequenceWork decode(std::int32_t context, std::int32_t tokens = 1);
  /// A prompt chunk of `chunk` tokens after `prefix` cached tokens; the last chunk needs the
  /// logits of its last position.
  static SequenceWork prefill_chunk(std::int32_t chunk, std::int32_t prefix, bool last_chunk);

  bool operator==(const SequenceWork&) const = default;
};

/// The sequences of one step, per attention-DP replica (the same batch runs through every PP
/// stage).
struct StepBatch {
  std::vector<std::vector<SequenceWork>> replicas;  ///< one entry per attention-DP replica

  /// `replicas` copies of `sequences`.
  static StepBatch same_on_every_replica(std::int32_t replicas,
                                         const std::vector<SequenceWork>& sequences);
  /// kPrefill when every sequence is a prompt chunk, kDecode when none is (or when empty),
  /// kMixed otherwise.
  StepPhase phase() const;
  /// New tokens over all replicas.
  std::int64_t tokens() const;
};

/// Expert loads of one MoE layer in one micro-batch, over the EP ranks of a stage (one "rank"
/// when ep == 1: every expert, tensor-sharded).
struct MoeLayerLoads {
  /// tokens_per_slot[r][j]: tokens EP rank r computes with its j-th local expert slot;
  /// (experts + redundant) / ep slots per rank. Sums to k x the tokens of the layer.
  std::vector<std::vector<std::int32_t>> tokens_per_slot;
  /// dispatch_tokens[src][dst]: tokens EP rank src sends to EP rank dst (a token goes once to
  /// each distinct rank holding one of its experts; the diagonal stays local).
  std::vector<std::vector<std::int32_t>> dispatch_tokens;
};

/// The copies each pair of EP ranks exchanges in `loads`, row-major ([src * ep + dst]): its
/// dispatch_tokens under kPerRank, turned into (token, expert) copies by to_pair_copies (with
/// each rank's computed pairs, the sums of its tokens_per_slot) under kPerTokenExpert.
std::vector<std::int64_t> dispatch_copies(const MoeLayerLoads& loads, DispatchLayout layout);

/// Shared, immutable loads: a source may hand the same loads to several layers (the lowering
/// then compares them once).
using MoeLayerLoadsPtr = std::shared_ptr<const MoeLayerLoads>;

/// Supplies expert loads to the lowering (a routing sampler, a trace, or expected values).
class MoeLoadSource {
 public:
  virtual ~MoeLoadSource() = default;
  /// Loads of MoE decoder layer `layer` in micro-batch `micro_batch`, given the tokens each EP
  /// rank feeds into it (size ep; one entry, all the tokens, when ep == 1). Called once per
  /// (stage, layer, micro-batch) in that order. Never null.
  virtual MoeLayerLoadsPtr loads(std::int32_t layer, std::int32_t micro_batch,
                                 std::span<const std::int64_t> tokens_per_ep_rank) = 0;
};

/// Expected loads under uniform routing and contiguous placement, rounded so totals are exact:
///   - slot s of the (experts + redundant) slots holds expert s mod experts, rank r holds
///     slots [r m, (r+1) m), m = slots / ep;
///   - the N k assignments (N = sum of tokens) spread evenly: every expert gets floor(N k / E),
///     and the remaining (N k mod E) experts one more, taken in order of local slot then rank
///     so ranks stay balanced; an expert's tokens split evenly over its replicas (lower slots
///     first);
///   - dispatch_tokens[src][dst] = n_src x P(a token has an expert on dst), with P = 1 - prod_{i
///     < k} (E - f - i) / (E - i) for f experts' worth of slots on dst (uniform top-k without
///     replacement; group limits ignored), rounded to the nearest token (so equal ranks get
///     equal rows), then adjusted so each rank receives no more tokens than it computes and at
///     least 1/min(k, m) of them.
MoeLayerLoads expected_loads(const MoeSpec& moe, std::int32_t redundant_experts,
                             std::span<const std::int64_t> tokens_per_ep_rank);

/// A MoeLoadSource of expected_loads() (redundant slots used only when ep > 1).
class ExpectedLoads final : public MoeLoadSource {
 public:
  ExpectedLoads(const MoeSpec& moe, std::int32_t redundant_experts)
      : moe_(moe), redundant_(redundant_experts) {}
  MoeLayerLoadsPtr loads(std::int32_t layer, std::int32_t micro_batch,
                         std::span<const std::int64_t> tokens_per_ep_rank) override;

 private:
  MoeSpec moe_;
  std::int32_t redundant_;
};

/// Lowers steps of one deployment. Construction validates the plan (validate_plan) and
/// resolves the precision on the GPU; both are ConfigErrors when they fail.
class Lowering {
 public:
  Lowering(ModelSpec model, ParallelPlan plan, Precision precision, TargetGpu gpu,
           std::int32_t available_gpus, DispatchLayouts layouts = {});

  /// The StepPlan of one step. `batch.replicas` must hold attention_dp entries; sequences need
  /// 0 <= logits <= q_len <= kv_len (ConfigError otherwise). Loads come from `loads`.
  StepPlan lower(const StepBatch& batch, MoeLoadSource& loads) const;
  /// As above with ExpectedLoads.
  StepPlan lower(const StepBatch& batch) const;

  const ModelSpec& model() const { return model_; }
  const ParallelPlan& plan() const { return plan_; }
  const ResolvedPrecision& precision() const { return resolved_; }
  /// The all-to-all layout of a step of `phase` (kDecode: the decode layout, else prefill's).
  DispatchLayout dispatch_layout(StepPhase phase) const {
    return phase == StepPhase::kDecode ? layouts_.decode : layouts_.prefill;
  }
  /// Notes of the precision resolution and the plan (also copied into every StepPlan).
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  ModelSpec model_;
  ParallelPlan plan_;
  Precision precision_;
  TargetGpu gpu_;
  ResolvedPrecision resolved_;
  DispatchLayouts layouts_;
  std::vector<std::string> notes_;
};

}  // namespace moesim::llm
