#pragma once
/// \file
/// Expert placement over the EP ranks of one MoE layer, the per-rank grouped-GEMM work it
/// implies, and the dispatch token matrix from which the lowering builds the AllToAllV of
/// dispatch (FP8 payload) and combine (BF16).
///
/// Placements. A placement gives each of the `num_ranks` EP ranks `slots_per_rank` expert slots;
/// every expert fills >= 1 slot; an expert in r slots has r replicas.
///   contiguous: no replicas; expert e on rank e / (E / EP) (E divisible by EP).
///   EPLB: E + R slots (R redundant, E + R divisible by EP), after DeepSeek's EPLB
///     (deepseek-ai/EPLB, eplb.py, replicate_experts and balanced_packing):
///     1. replicate: R times, add a replica to the expert with the highest load per replica
///        (ties: lowest expert id; an expert has at most EP replicas);
///     2. pack: the replicas, each carrying load / replicas, largest first (ties: lower expert id),
///        each onto the least-loaded rank that has a free slot and does not yet hold that expert
///        (ties: lowest rank); if every rank with a free slot holds it, the least-loaded rank with
///        a free slot.
///     The observed loads are any per-expert load statistic: a trace's counts, counts summed over
///     sampled steps, or the expectation T pi_e (LayerRouter::inclusion()). DeepSeek's
///     hierarchical mode (groups kept within nodes) is not modelled.
/// Work. An expert's L tokens are split evenly over its r replicas: replica i (0-based, in slot
/// order) gets floor(L / r) + (i < L mod r). A rank's work is the token count of each of its
/// slots (the rows of its grouped GEMM per local expert); its load is their sum. The imbalance
/// factor is max over ranks / mean over ranks of the load (1 when all loads are 0); the slowest
/// rank sets the pace of an expert-parallel layer (MODELING.md, "Load imbalance is first-order").
///
/// Dispatch. A token goes once to each distinct rank that serves one of its experts, not once
/// per expert (MODELING.md, "How MoE decode is laid out"); a token's assignment to an expert
/// with r replicas is served by each replica with probability 1 / r. Per destination rank d:
///   q_d = P(a token reaches d) = LayerRouter::reach_probability(f_d), f_d[e] = (replicas of e on
///         d) / r_e: exact for enumerated routing stages, CPS-approximated for stratified ones;
///   a_d = E[assignments served on d per token] = sum_e pi_e f_d[e].
/// For a sampled step with A_d assignments on d (RankLoads::rank_tokens), the distinct tokens
/// reaching d are U_d = A_d q_d / a_d, stochastically rounded and clamped to [1, min(A_d, T)]
/// when A_d > 0: the realized load scaled by the expected distinct tokens per assignment
/// (exact when every token reaching d brings the same number of assignments, e.g. DeepSeek with
/// a group per rank; otherwise the spread of that number is not sampled). Tokens are exchangeable
/// across the ranks that hold them (routing does not depend on the holder), so U_d is split over
/// source ranks in proportion to their token counts by systematic rounding with a random offset:
/// x_s = floor((U_d C_{s+1} + theta) / T) - floor((U_d C_s + theta) / T), C_s = tokens on ranks
/// before s, theta uniform in [0, T): E[x_s] = U_d T_s / T, sum_s x_s = U_d, x_s <= T_s.
/// Combine returns the same tokens: its token matrix is the transpose. Entries s == d are tokens
/// whose expert is on their own rank (no network transfer). Expected values without sampling:
/// T_s q_d.

#include <cstdint>
#include <span>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/llm/routing.hpp"

namespace moesim::llm {

/// Which expert each slot of each EP rank holds.
class ExpertPlacement {
 public:
  /// From explicit slots: slot_expert[rank * slots_per_rank + slot] = expert, with
  /// slot_expert.size() == num_ranks * slots_per_rank; every expert in 0..num_experts-1 must
  /// appear at least once (ConfigError otherwise).
  ExpertPlacement(std::int64_t num_experts, std::int64_t num_ranks,
                  std::vector<std::int64_t> slot_expert);

  std::int64_t num_experts() const { return num_experts_; }
  std::int64_t num_ranks() const { return num_ranks_; }
  std::int64_t slots_per_rank() const { return slots_per_rank_; }
  /// Slots beyond one per expert: num_ranks * slots_per_rank - num_experts.
  std::int64_t redundant_slots() const { return num_ranks_ * slots_per_rank_ - num_experts_; }
  /// The expert in slot `slot` of rank `rank`.
  std::int64_t expert_at(std::int64_t rank, std::int64_t slot) const;
  /// All slots, rank-major.
  std::span<const std::int64_t> slot_experts() const { return slot_expert_; }
  /// Replica index (0-based, in slot order) of each slot among its expert's replicas.
  std::span<const std::int64_t> slot_replicas() const { return slot_replica_; }
  /// Replicas per expert (>= 1).
  std::span<const std::int64_t> replicas() const { return replicas_; }

 private:
  std::int64_t num_experts_ = 0;
  std::int64_t num_ranks_ = 0;
  std::int64_t slots_per_rank_ = 0;
  std::vector<std::int64_t> slot_expert_;
  std::vector<std::int64_t> slot_replica_;
  std::vector<std::int64_t> replicas_;
};

/// Contiguous placement: expert e on rank e / (E / num_ranks), one slot each. ConfigError when
/// num_ranks does not divide num_experts.
ExpertPlacement contiguous_placement(std::int64_t num_experts, std::int64_t num_ranks);

/// EPLB-style placement with `redundant_slots` replicas of hot experts chosen from the observed
/// per-expert loads (finite, >= 0; size E). ConfigError when num_ranks does not divide
/// E + redundant_slots, or redundant_slots < 0 or > E (num_ranks - 1).
ExpertPlacement eplb_placement(std::span<const double> expert_loads, std::int64_t num_ranks,
                               std::int64_t redundant_slots);

/// Per-rank work of one layer and step.
struct RankLoads {
  /// Tokens per slot, rank-major (rank * slots_per_rank + slot): grouped GEMM rows per local
  /// expert.
  std::vector<std::int64_t> slot_tokens;
  /// Tokens per rank: the sum of its slots (token-expert assignments served there).
  std::vector<std::int64_t> rank_tokens;

  /// max / mean of rank_tokens (1 when all are 0).
  double imbalance() const;
};

/// Fills `out` from per-expert loads (size E, >= 0), splitting each expert's tokens evenly over
/// its replicas. Reuses out's storage.
void compute_rank_loads(const ExpertPlacement& placement,
                        std::span<const std::int64_t> expert_loads, RankLoads& out);
/// As above, returning a new RankLoads.
RankLoads rank_loads(const ExpertPlacement& placement, std::span<const std::int64_t> expert_loads);
/// Expected per-rank loads from fractional per-expert loads (e.g. T pi_e): replicas share
/// equally.
std::vector<double> expected_rank_loads(const ExpertPlacement& placement,
                                        std::span<const double> expert_loads);

/// max / mean over ranks (1 when all are 0; ranks non-empty).
double imbalance_factor(std::span<const std::int64_t> rank_tokens);
/// max / mean over ranks (1 when all are 0; ranks non-empty).
double imbalance_factor(std::span<const double> rank_loads);

/// How an MoE all-to-all lays out its traffic.
enum class DispatchLayout : std::uint8_t {
  /// One copy of a token per destination rank that holds any of its experts (TensorRT-LLM's
  /// NVLink one-sided all-to-all, DeepEP normal mode).
  kPerRank,
  /// One copy per (token, expert) pair (DeepEP low-latency mode).
  kPerTokenExpert,
};

/// The all-to-all layouts of a stack by step phase (DeepEP: normal mode for prefill batches,
/// low-latency mode for decode batches, SGLang's --deepep-mode auto).
struct DispatchLayouts {
  DispatchLayout prefill = DispatchLayout::kPerRank;  ///< steps with prompt tokens
  DispatchLayout decode = DispatchLayout::kPerRank;   ///< decode-only steps
};

/// Turns per-rank dispatch counts (tokens[src * p + dst], p = pairs.size()) into (token,
/// expert) copies: each column dst is scaled by pairs[dst] / (the tokens dst receives, the
/// diagonal included), rounded to the nearest token, where pairs[dst] are the token-expert
/// assignments computed on dst. A column that receives nothing stays 0.
void to_pair_copies(std::span<std::int64_t> tokens, std::span<const std::int64_t> pairs);

/// Tokens of one layer's dispatch: tokens[src * num_ranks + dst] = tokens held by rank src sent
/// to rank dst, each token at most once per destination. Combine is the transpose.
struct DispatchCounts {
  std::int64_t num_ranks = 0;
  std::vector<std::int64_t> tokens;

  std::int64_t at(std::int64_t src, std::int64_t dst) const {
    return tokens[static_cast<std::size_t>(src * num_ranks + dst)];
  }
};

/// Dispatch of one layer under one placement (see the file comment for the model).
class DispatchModel {
 public:
  /// Precomputes q_d and a_d for every rank; the router and placement must have the same E.
  DispatchModel(const LayerRouter& router, const ExpertPlacement& placement);

  std::int64_t num_ranks() const { return static_cast<std::int64_t>(reach_.size()); }
  /// q_d: probability that a token reaches rank d.
  double reach_probability(std::int64_t rank) const;
  /// a_d: expected token-expert assignments served on rank d per token.
  double expected_assignments(std::int64_t rank) const;

  /// Dispatch counts of a step: `source_tokens[s]` tokens are held by rank s (their sum T) and
  /// `loads` are that step's rank loads (sum of rank_tokens == T k). Reuses out's storage.
  void sample(std::span<const std::int64_t> source_tokens, const RankLoads& loads, Rng& rng,
              DispatchCounts& out) const;

 private:
  std::int64_t experts_per_token_ = 0;
  std::vector<double> reach_;
  std::vector<double> assignments_;
};

}  // namespace moesim::llm
