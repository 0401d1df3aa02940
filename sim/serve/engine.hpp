#pragma once
/// \file
/// The serving engine: pools of engine instances on the discrete-event simulation, each
/// instance stepping its batch as one event per step.
///
/// Per instance (one model copy on tp x pp GPUs; attention-DP ranks inside it):
///   - Routing. A new request goes to the instance with the fewest outstanding requests (ties:
///     lowest index), and inside it to an attention-DP rank by SchedulingConfig::dp_routing
///     (default: the rank with the fewest running plus waiting sequences, ties: lowest rank).
///   - Context gating (SchedulingConfig): under adp_balance the instance decides each step
///     whether its ranks run context work at all (TensorRT-LLM's attention-DP balance); with
///     prefill_interval > 1 new prompts are admitted only every prefill_interval steps while
///     the instance has decodes; without mixed_batches a step either prefills (when any rank
///     can) or decodes. A prefill step that admits nothing decodes instead, and held context
///     runs when nothing decodes.
///   - Continuous batching. At every step boundary each rank builds its batch: first its running
///     decodes in admission order (each needs 1 + k tokens of the token budget; TensorRT-LLM and
///     SGLang give running decodes their tokens before prefill chunks), then the next chunk of
///     each unfinished prefill in admission order, then new sequences from its waiting queue in
///     FCFS order while the batch-size, token and KV budgets allow (head-of-line blocking, as
///     vLLM and TensorRT-LLM schedule). Budgets per rank and step: max_num_tokens new tokens,
///     max_batch_size running sequences, chunked_prefill_size prefill tokens.
///   - Chunked prefill. With chunked_prefill_size > 0 a prompt is split into chunks that fit the
///     remaining budgets. Without it a prompt is scheduled whole when it fits the remaining token
///     budget, or alone in a step of its own when it exceeds max_num_tokens (instead of never).
///   - KV cache in blocks of kv_block_size tokens, kv_capacity_tokens / attention_dp tokens per
///     rank. Policy guaranteed_no_evict (TensorRT-LLM's default CapacitySchedulerPolicy)
///     reserves blocks for input + output + k tokens at admission and never preempts.
///     Policy max_utilization allocates blocks as a sequence grows; when a running sequence
///     cannot grow, the newest running sequence of the rank (possibly itself) is preempted,
///     recompute-style (vLLM's default): its blocks are freed, it returns to the front of the
///     waiting queue, and when readmitted it prefills its prompt plus the tokens it had
///     generated; the step that completes that prefill emits its next token. A prefill chunk
///     preempts only newer prefilling sequences (the decodes have their share of the step
///     already), and none when they would not free enough. No admission on a rank in a step in
///     which it preempted.
///   - A sequence's context: after the prefill of n tokens, n tokens of KV; a decode step of a
///     sequence with KV for c tokens has 1 + k new tokens and context c + 1 + k.
///   - Speculative decoding (MTP) with k draft tokens and conditional per-position acceptance
///     rates a_1..a_k: each decode step emits 1 + j tokens, where draft i is accepted with
///     probability a_i if drafts 1..i-1 were (sampled per sequence and step from the instance's
///     MTP stream), capped by the tokens left. Expected tokens per step 1 + sum_i prod_{j<=i} a_j.
///   - Host overhead per step (step_overhead) is added to the model's step time; with the
///     overlap scheduler the host work of step n+1 runs during step n, so only
///     max(0, step_overhead - previous step's device time) is exposed.
///   - The step that completes a prefill emits the first token.
///
/// Disaggregated: new requests go to the prefill pool. When a prefill completes (first token
/// emitted there), the request keeps its KV blocks on the prefill rank and joins the waiting
/// queue of the least-loaded decode instance and rank. The decode rank admits it FCFS when it
/// has a batch slot and KV blocks for it (as for any admission); admission starts the KV
/// transfer (prompt tokens x kv_bytes_per_token). When the transfer completes, the prefill rank
/// frees its blocks and the sequence decodes from the next step boundary of its decode
/// instance. So a request waits in the prefill queue, in prefill, for a decode slot (holding
/// prefill KV), in transfer, and in decode: where it really would.
///
/// Completions of one step reach the listener (closed-loop clients) by rank, decodes before
/// prefills, then in admission order.
///
/// Decode groups (EngineOptions::group_decodes, without speculative decoding): a sequence that
/// has decoded once joins its rank's group, whose members all decode in every step (the group
/// runs only when every decode of the rank fits the token budget and the KV blocks; otherwise it
/// dissolves back into the running list for that step). Their state is kept implicitly (KV,
/// tokens and emissions grow by one per step, every gap is a step), their completions are known
/// in advance, and the model gets the group as one DecodeGroupWork per rank. So a steady decode
/// costs O(1) per rank and step instead of O(1) per sequence, with the same results.
///
/// Memory: the engine holds the requests in flight (a slot each, reused after completion) and
/// per-instance buffers; a request's record goes to the listener when it completes. So a run's
/// memory grows with the requests in flight, not with the requests sent.
///
/// Events: one per step per instance (priority kLow, so requests arriving at the same instant
/// join that step), one wake-up when an idle instance gets work, and the transfer completions.
/// Work per step is O(listed sequences + ranks), plus O(log n) per sequence joining or leaving
/// a group; nothing is allocated per step once the per-instance buffers have grown.

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "sim/core/simulation.hpp"
#include "sim/core/units.hpp"
#include "sim/serve/histogram.hpp"
#include "sim/serve/step_time_model.hpp"
#include "sim/serve/workload.hpp"

namespace moesim::serve {

/// How a rank's KV cache admits and grows sequences.
enum class KvPolicy : std::uint8_t {
  kGuaranteedNoEvict,  ///< reserve input + output + k tokens at admission; never preempt
  kMaxUtilization,     ///< allocate on growth; preempt the newest sequence when out of blocks
};

/// Per-rank scheduling budgets (per attention-DP rank, as TensorRT-LLM applies max_batch_size
/// and max_num_tokens per rank under attention DP; with attention_dp = 1, per instance).
struct SchedulerLimits {
  std::int32_t max_batch_size = 1;        ///< running sequences (admitted, not finished)
  std::int32_t max_num_tokens = 1;        ///< new tokens per step
  std::int32_t chunked_prefill_size = 0;  ///< prefill tokens per step; 0 = no chunking
};

/// One pool of identical instances.
struct PoolConfig {
  PoolRole role = PoolRole::kAggregated;
  std::int32_t instances = 1;
  std::int32_t gpus_per_instance = 1;
  std::int32_t attention_dp = 1;  ///< ranks per instance, each with its own batch and KV
  SchedulerLimits limits;
  std::int64_t kv_capacity_tokens = 0;  ///< KV tokens per instance (all ranks), > 0
  std::int32_t kv_block_size = 32;      ///< tokens per KV block
  KvPolicy kv_policy = KvPolicy::kGuaranteedNoEvict;
  /// Total GPUs of the pool.
  std::int32_t gpus() const { return instances * gpus_per_instance; }
  /// KV blocks per rank: floor(kv_capacity_tokens / attention_dp / kv_block_size).
  std::int64_t blocks_per_rank() const;
};

/// Speculative decoding (MTP): k = acceptance.size() draft tokens per decode step.
struct SpecDecodeConfig {
  /// Conditional acceptance rate of draft position i given drafts before it were accepted,
  /// each in [0, 1]. Empty: no speculative decoding.
  std::vector<double> acceptance;
  /// k.
  std::int32_t draft_tokens() const { return static_cast<std::int32_t>(acceptance.size()); }
  /// Expected tokens per decode step: 1 + sum_i prod_{j<=i} a_j.
  double expected_tokens_per_step() const;
};

/// Host-side time per step added by the engine.
struct HostOverheadConfig {
  Duration step_overhead{};        ///< scheduling, sampling, launch not priced by the model
  bool overlap_scheduler = false;  ///< hide the overhead under the previous step
};

/// How an instance hands requests to its attention-DP ranks and when ranks start context
/// (prefill) work. Engines differ here, and with attention DP it decides how long the ranks
/// wait for each other: the MoE all-to-all of every layer waits for the slowest rank, so a
/// prefill chunk on one rank stalls all the others (TensorRT-LLM tech blog 10, "ADP Balance
/// Strategy",
/// https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/blogs/tech_blog/blog10_ADP_Balance_Strategy.md).
struct SchedulingConfig {
  enum class DpRouting : std::uint8_t {
    /// To the rank with the fewest running + waiting sequences (ties: lowest rank), as
    /// TensorRT-LLM's capacity-aware attention-DP assignment gives a request to a rank with room.
    kLeastLoaded,
    /// To ranks in turn, whatever their load (SGLang's data-parallel controller,
    /// --load-balance-method round_robin, its default).
    kRoundRobin,
  };
  DpRouting dp_routing = DpRouting::kLeastLoaded;
  /// TensorRT-LLM's attention-DP balance (attention_dp_config: enable_balance, timeout_iters,
  /// batching_wait_iters; PyExecutor._balance_adp_requests). Each step, context work (new
  /// prompts and further chunks) runs only when every rank has context work and a free batch
  /// slot; then, while every rank also decodes, it waits batching_wait_iters more steps to
  /// gather more. Otherwise it is held, at most timeout_iters steps (or until some rank has no
  /// decode left). Held context waits on every rank alike: the decision is the instance's.
  bool adp_balance = false;
  std::int32_t timeout_iters = 0;        ///< adp_balance: steps context waits for every rank
  std::int32_t batching_wait_iters = 0;  ///< adp_balance: further steps to gather context
  /// New prompts are admitted at most every prefill_interval steps of an instance (1: every
  /// step), while it has decodes to run: the prefill cadence of an engine (vLLM-like prefill
  /// scheduling interval; SGLang's --num-continuous-decode-steps). Chunks of admitted prompts
  /// continue every step.
  std::int32_t prefill_interval = 1;
  /// Prefill chunks and decodes share a step (TensorRT-LLM, vLLM; SGLang with
  /// --enable-mixed-chunk). Off (SGLang's default): a step of an aggregated instance prefills
  /// when it can (every rank alike, as SGLang's attention-DP ranks share one forward mode) and
  /// decodes only otherwise, so decodes pause for every prefill step.
  bool mixed_batches = true;
};

/// "least_loaded" or "round_robin".
std::string_view to_string(SchedulingConfig::DpRouting routing);

/// The whole deployment.
struct EngineConfig {
  bool disaggregated = false;
  PoolConfig primary;  ///< the aggregated pool, or the prefill pool when disaggregated
  PoolConfig decode;   ///< the decode pool (disaggregated only)
  SpecDecodeConfig spec;
  HostOverheadConfig host;
  SchedulingConfig scheduling;
  Bytes kv_bytes_per_token{};  ///< KV bytes moved per prompt token (disaggregated only)
  /// Throws ConfigError (key path "deployment...") when a value is out of range.
  void validate() const;
  /// Total GPUs of the deployment, all pools together.
  std::int32_t gpus() const { return primary.gpus() + (disaggregated ? decode.gpus() : 0); }
};

/// The models the engine calls; not owned, must outlive the engine.
struct EngineModels {
  StepTimeModel* primary = nullptr;        ///< prices the aggregated or prefill pool's steps
  StepTimeModel* decode = nullptr;         ///< prices the decode pool's steps (disaggregated)
  KvTransferModel* kv_transfer = nullptr;  ///< moves KV caches (disaggregated)
};

/// What happened to one request.
struct RequestRecord {
  std::int64_t id = 0;
  std::int32_t class_index = 0;
  std::int32_t input_tokens = 0;
  std::int32_t output_tokens = 0;
  TimePoint arrival{};
  TimePoint first_token{};     ///< end of the step that emitted the first token
  TimePoint completion{};      ///< end of the step that emitted the last token
  TimePoint prefill_done{};    ///< disaggregated: when the prefill completed (== first_token)
  TimePoint decode_admit{};    ///< disaggregated: when the decode rank admitted it (transfer start)
  TimePoint decode_ready{};    ///< disaggregated: when the KV transfer completed
  Duration itl_max{};          ///< longest gap between two token emissions
  std::int32_t emissions = 0;  ///< steps that emitted tokens (MTP emits several per step)
  std::int32_t preemptions = 0;
  std::int32_t instance = -1;         ///< aggregated or prefill instance
  std::int32_t decode_instance = -1;  ///< disaggregated only
  bool completed = false;
};

/// Bins of PoolCounters::context_steps: 2^(1/8) wide, up to 2^30 tokens.
inline constexpr std::size_t kContextBins = 240;
/// The bin of a mean context of `tokens` (>= 1; larger than the last bin: the last bin).
std::size_t context_bin(double tokens);
/// The lower edge of bin `b`: 2^(b/8) tokens.
double context_bin_floor(std::size_t b);

/// Counters of one pool, cumulative from the start of the run (steps counted when they end).
struct PoolCounters {
  std::int64_t steps = 0;
  Duration busy{};                       ///< summed step durations (per instance, not per GPU)
  StepBreakdown breakdown;               ///< summed over steps; host_overhead includes the engine's
  double imbalance_weighted_s = 0.0;     ///< sum of imbalance x step seconds
  double extrapolated_weighted_s = 0.0;  ///< sum of extrapolated share x step seconds
  std::int64_t sequences_stepped = 0;    ///< sum over steps of sequences in the batch
  std::int64_t prefill_tokens = 0;       ///< prefill tokens computed (recomputation included)
  std::int64_t decode_tokens = 0;        ///< decode tokens computed (1 + k per decode)
  std::int64_t decode_sequence_steps = 0;  ///< decodes (sequence-steps)
  std::int64_t decode_output_tokens = 0;   ///< tokens emitted by decodes (MTP: > steps)
  std::int64_t input_tokens = 0;           ///< first-time prefill of prompt tokens (workload input)
  std::int64_t output_tokens = 0;          ///< tokens emitted
  std::int64_t preemptions = 0;
  /// Sum over steps of the attention-DP balance ratio: mean over ranks of the step's new tokens
  /// / the most any rank has (tech blog 10's balance_ratio; 1 without attention DP).
  double balance_sum = 0.0;
  /// Sum over decode sequence-steps of their context (KV tokens after the step).
  std::int64_t decode_context_tokens = 0;
  /// Decode sequence-steps by the mean context of their step's decodes: bin b holds means in
  /// [2^(b/8), 2^((b+1)/8)) tokens (context_bin), so a quantile is known within 9 %. Weighted
  /// by decodes, a run's last steps with a few long sequences left count as little as they
  /// weigh in the batch.
  std::array<std::int64_t, kContextBins> context_steps{};
  /// Field-wise difference.
  PoolCounters operator-(const PoolCounters& o) const;
};

/// One step, recorded for the trace when EngineOptions::record_steps.
struct StepRecord {
  TimePoint start{};
  Duration duration{};
  PoolRole role = PoolRole::kAggregated;
  std::int32_t instance = 0;
  std::int32_t prefill_sequences = 0;
  std::int32_t decode_sequences = 0;
  std::int64_t prefill_tokens = 0;
  std::int64_t decode_tokens = 0;
  std::int64_t kv_blocks_used = 0;  ///< after scheduling, all ranks of the instance
  std::int32_t waiting = 0;         ///< queued on the instance after scheduling
  StepBreakdown breakdown;
  double imbalance = 1.0;
  double dp_balance = 1.0;  ///< mean / busiest attention-DP rank's new tokens
  std::vector<StepSpan> detail;
};

/// Engine options that do not change the simulated behaviour.
struct EngineOptions {
  bool record_steps = false;  ///< keep a StepRecord per step (and ask models for detail)
  /// record_steps: only the first this many steps (a trace's memory grows with its steps).
  std::int64_t max_recorded_steps = std::numeric_limits<std::int64_t>::max();
  /// Advance steady decodes in decode groups (see the file comment): O(1) per rank and step
  /// instead of O(sequences). The results are the same either way (tests compare them, bit for
  /// bit); off, every decode is listed in StepBatch::sequences.
  bool group_decodes = true;
  /// Requests with id >= this are measured; the engine stops the simulation when the last of
  /// them completes and snapshots its counters when the first of them arrives.
  std::int64_t first_measured = 0;
  std::int64_t total_requests = 0;  ///< ids are 0..total_requests-1
};

/// Notified when a request completes: its record goes to the metrics (the engine keeps records
/// of the requests in flight only), and closed-loop clients send the next request.
class CompletionListener {
 public:
  virtual ~CompletionListener() = default;
  /// Called from the step-end event that emitted the request's last token, with its final
  /// record. The engine has forgotten the request: a request submitted from here may take its
  /// place.
  virtual void on_request_complete(Simulation& sim, const RequestRecord& record) = 0;
};

/// The serving engine. Not copyable or movable (events hold its address).
class Engine {
 public:
  /// `sim` and the models must outlive the engine. Throws ConfigError when config.validate()
  /// does; the models a disaggregated deployment needs must be non-null (asserted).
  Engine(Simulation& sim, EngineConfig config, EngineModels models, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Sets the listener for completions (may be null).
  void set_listener(CompletionListener* listener) { listener_ = listener; }

  /// Hands `request` to the deployment at sim.now() (its arrival time). Throws ConfigError when
  /// the request can never fit one rank's KV cache.
  void submit(const RequestSpec& request);

  /// Records of the requests submitted and not completed, by id, with their progress so far
  /// (emissions, longest gap). Completed requests' records went to the listener.
  std::vector<RequestRecord> in_flight() const;
  /// The most requests in flight at once so far: the slots the engine has allocated.
  std::int64_t peak_in_flight() const { return static_cast<std::int64_t>(records_.size()); }
  /// Cumulative counters of the primary pool (aggregated or prefill) and the decode pool.
  const PoolCounters& counters(PoolRole role) const;
  /// Counters when the first measured request arrived (zero before that).
  const PoolCounters& window_start_counters(PoolRole role) const;
  /// Start of the measurement window (arrival of the first measured request), if reached.
  std::optional<TimePoint> window_start() const { return window_start_; }
  /// End of the window (completion of the last measured request), if reached.
  std::optional<TimePoint> window_end() const { return window_end_; }
  /// Busy time of all instances of a pool within [window start, window end] (or now), in
  /// instance-seconds, straddling steps prorated.
  Duration window_busy(PoolRole role) const;
  /// Inter-token gaps of measured requests.
  const DurationHistogram& itl() const { return itl_; }
  /// Steps recorded (record_steps only), in order of their start.
  const std::vector<StepRecord>& steps() const { return steps_; }
  /// The recorded steps, moved out (a trace's steps are hundreds of MB: not copied).
  std::vector<StepRecord> take_steps() { return std::move(steps_); }
  const EngineConfig& config() const { return config_; }

 private:
  struct Impl;
  Simulation& sim_;
  EngineConfig config_;
  CompletionListener* listener_ = nullptr;
  EngineOptions options_;
  std::vector<RequestRecord> records_;  ///< of the requests in flight, by slot (engine_state.hpp)
  DurationHistogram itl_;
  std::vector<StepRecord> steps_;
  std::optional<TimePoint> window_start_;
  std::optional<TimePoint> window_end_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moesim::serve
