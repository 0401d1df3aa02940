#pragma once
/// \file
/// The interfaces through which the serving engine prices its work:
///   - StepTimeModel: how long one engine step of one instance takes, given the step's batch.
///     The real implementation (lowering + routing + cost + network) lives outside sim/serve and
///     is connected by the caller; AnalyticStepModel (analytic_step_model.hpp) is a simple
///     documented model for tests.
///   - KvTransferModel: moving a request's KV cache from a prefill instance to a decode instance
///     (disaggregated serving). FixedRateKvTransferModel is latency + bytes / bandwidth; a
///     network model may run the transfer as flows on the topology and call back on completion.
///
/// One engine instance is one copy of the model on its GPUs (tp x pp GPUs). Inside an instance,
/// attention may be data-parallel: each attention-DP rank holds its own sequences and their KV
/// cache, and all ranks step together (the MoE layers and collectives synchronise them), so the
/// slowest rank sets the pace of the step.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/callable.hpp"
#include "sim/core/rng.hpp"
#include "sim/core/simulation.hpp"
#include "sim/core/units.hpp"

namespace moesim::serve {

/// What a sequence does in a step.
enum class Phase : std::uint8_t {
  kPrefill,  ///< computes KV for (a chunk of) its prompt, or recomputes after a preemption
  kDecode,   ///< generates: verifies its last token plus the speculative draft tokens
};

/// The role of a pool of engine instances.
enum class PoolRole : std::uint8_t {
  kAggregated,  ///< prefill and decode on the same instances
  kPrefill,     ///< disaggregated: prefill only, hands the KV cache to the decode pool
  kDecode,      ///< disaggregated: decode only, receives the KV cache
};

/// "prefill" or "decode".
std::string_view to_string(Phase phase);
/// "aggregated", "prefill" or "decode".
std::string_view to_string(PoolRole role);

/// One sequence's share of a step.
struct SequenceWork {
  std::int64_t request_id = 0;  ///< the request (dense id from 0)
  /// New tokens this step: the prefill chunk length, or 1 + draft tokens for a decode.
  std::int32_t new_tokens = 0;
  std::int32_t dp_rank = 0;         ///< attention-DP rank holding the sequence, 0..attention_dp-1
  std::int64_t context_tokens = 0;  ///< KV length after the step (past context + new_tokens)
  Phase phase = Phase::kDecode;
};

/// The decodes of one rank that the step lists in aggregate rather than one SequenceWork each:
/// `sequences` decodes of `new_tokens` new tokens each, whose context_tokens sum to
/// `context_tokens` (the engine advances steady decodes this way, see engine.hpp).
struct DecodeGroupWork {
  std::int32_t sequences = 0;
  std::int32_t new_tokens = 0;      ///< 1 + draft tokens, as a listed decode
  std::int64_t context_tokens = 0;  ///< sum over the group of KV length after the step
};

/// One step of one instance. `sequences` are grouped by rank in increasing rank order, and in
/// each rank in the scheduler's order; sequences[rank_begin[r] .. rank_begin[r+1]) are rank r's.
/// Rank r also runs decode_groups[r] (when decode_groups is not empty): decodes given by count
/// and context sum only. A model must price a group exactly as the decodes it stands for; the
/// totals below include the groups. Only valid during the StepTimeModel::price() call.
struct StepBatch {
  std::span<const SequenceWork> sequences;
  std::span<const std::int32_t> rank_begin;        ///< attention_dp + 1 offsets into sequences
  std::span<const DecodeGroupWork> decode_groups;  ///< empty, or one per rank
  std::int32_t attention_dp = 1;                   ///< number of attention-DP ranks of the instance
  std::int64_t prefill_tokens = 0;                 ///< sum of new_tokens over prefill sequences
  std::int64_t decode_tokens = 0;                  ///< sum of new_tokens over decode sequences
  std::int32_t prefill_sequences = 0;              ///< number of prefill sequences
  std::int32_t decode_sequences = 0;               ///< number of decode sequences
};

/// Where and when a step runs, and the instance's random stream (for per-step routing draws).
struct StepContext {
  PoolRole role = PoolRole::kAggregated;
  std::int32_t instance = 0;  ///< index of the instance within its pool
  std::int32_t gpus = 1;      ///< GPUs of the instance
  TimePoint now{};            ///< simulated time the step starts
  Rng* rng = nullptr;         ///< this instance's step-model stream (never null)
  bool want_detail = false;   ///< fill StepTiming::detail (a trace is being recorded)
};

/// Where a step's time goes. The five parts sum to the step duration as the model reports it:
/// compute-bound and memory-bound kernel time and exposed communication of the average rank,
/// host-side overhead (launch, scheduling, sampling), and idle = the wait of the average rank
/// for the slowest one (stragglers, load imbalance).
struct StepBreakdown {
  Duration compute{};
  Duration memory{};
  Duration communication{};
  Duration host_overhead{};
  Duration idle{};
  /// compute + memory + communication + host_overhead + idle.
  Duration total() const { return compute + memory + communication + host_overhead + idle; }
  StepBreakdown& operator+=(const StepBreakdown& o);
  StepBreakdown operator-(const StepBreakdown& o) const;
};

/// A timed piece of a step for the trace (a layer, a collective, a straggling rank), relative
/// to the step's start.
struct StepSpan {
  std::string name;        ///< e.g. "layer 3 moe", "all-to-all dispatch"
  std::string category;    ///< e.g. "compute", "communication", "straggler"
  std::int32_t rank = -1;  ///< rank the span belongs to; -1 for the whole instance
  Duration start{};        ///< offset from the step start
  Duration duration{};
};

/// The price of one step.
struct StepTiming {
  Duration duration{};      ///< wall time of the step (> 0)
  StepBreakdown breakdown;  ///< sums to duration
  /// Slowest rank's busy time / mean rank busy time (1 when balanced); reported per run.
  double imbalance = 1.0;
  /// Share in [0, 1] of the step's kernel time (slowest rank, compute stream) priced outside
  /// what the stack's calibration measured: shapes outside a fitted range, or kernel families
  /// it has no fit for. Reported per run, weighted by step time.
  double extrapolated = 0.0;
  /// Optional spans for the trace, filled only when StepContext::want_detail. The engine reuses
  /// one StepTiming per instance, so a model may keep this vector's capacity between calls.
  std::vector<StepSpan> detail;
};

/// Prices one step of one engine instance. Implementations must be deterministic given the
/// batch and the draws from ctx.rng, and must not keep references into the batch.
class StepTimeModel {
 public:
  virtual ~StepTimeModel() = default;
  /// Prices `batch` (never empty) into `out`. `out` holds the previous step's timing of the same
  /// instance; overwrite every field (clear detail when want_detail is false or reuse it).
  virtual void price(const StepBatch& batch, const StepContext& ctx, StepTiming& out) = 0;
  /// One line naming the model and its parameters, for reports.
  virtual std::string describe() const = 0;
  /// Called by run_serving before each run. A model that keeps what it drew from ctx.rng between
  /// steps (a cache of sampled routings) forgets it here, so that a run's result depends on its
  /// own seed only, not on the runs before it with the same model (--replicas, repeated runs).
  virtual void begin_run() {}
};

/// One KV-cache hand-off from a prefill instance to a decode instance.
struct KvTransfer {
  std::int64_t request_id = 0;
  std::int64_t tokens = 0;           ///< prompt tokens whose KV moves
  Bytes bytes{};                     ///< tokens x KV bytes per token
  std::int32_t source_instance = 0;  ///< prefill-pool instance index
  std::int32_t source_rank = 0;      ///< attention-DP rank on the source
  std::int32_t dest_instance = 0;    ///< decode-pool instance index
  std::int32_t dest_rank = 0;        ///< attention-DP rank on the destination
};

/// Called once when a transfer completes. Fits 32 bytes of captures (no allocation).
using KvTransferDone = InplaceFunction<void(Simulation&), 32>;

/// Moves KV caches between pools.
class KvTransferModel {
 public:
  virtual ~KvTransferModel() = default;
  /// Starts `transfer` at sim.now(); must call `done` exactly once, from an event of `sim`, when
  /// the last byte has arrived (never synchronously inside start()).
  virtual void start(Simulation& sim, const KvTransfer& transfer, KvTransferDone done) = 0;
  /// One line naming the model and its parameters, for reports.
  virtual std::string describe() const = 0;
};

/// Each transfer takes latency + bytes / bandwidth, independently of the others (no sharing of
/// links: an optimistic bound when many transfers overlap).
class FixedRateKvTransferModel final : public KvTransferModel {
 public:
  /// `bandwidth` > 0 (asserted), `latency` >= 0.
  FixedRateKvTransferModel(Duration latency, Bandwidth bandwidth);
  /// latency + bytes / bandwidth, rounded up once to whole picoseconds.
  Duration transfer_time(Bytes bytes) const;
  void start(Simulation& sim, const KvTransfer& transfer, KvTransferDone done) override;
  std::string describe() const override;

 private:
  Duration latency_;
  Bandwidth bandwidth_;
};

}  // namespace moesim::serve
