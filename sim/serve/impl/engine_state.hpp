#pragma once
/// \file
/// Internal to sim/serve: the state of the serving engine (requests in flight, ranks, instances,
/// pools) and Engine::Impl, shared by engine.cpp (step completion, hand-off, the public API) and
/// impl/engine_schedule.cpp (batch building, KV blocks, preemption, step start). Not a public
/// header: nothing outside sim/serve includes it.

#include <cstdint>
#include <deque>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/core/simulation.hpp"
#include "sim/serve/engine.hpp"

namespace moesim::serve {

namespace detail {

enum class SeqState : std::uint8_t {
  kWaiting,     ///< in a rank's waiting queue
  kPrefilling,  ///< running, prefill not complete
  kDecoding,    ///< running, generating
  kReceiving,   ///< running on a decode rank, KV transfer in flight
  kHandoff,     ///< prefill done on a prefill rank, holding its KV until transferred
  kDone,        ///< completed: the slot is free
};

/// A request in flight is known inside the engine by its slot: the index of its Seq, SeqCold and
/// RequestRecord, taken when it is submitted and reused once it completes, so that the engine's
/// memory grows with the requests in flight, not with the requests sent. The "id" parameters of
/// Engine::Impl are slots; Engine::Impl::request_ids maps a slot to the request's id.

/// The hot state of a request in flight: what every step reads and writes, in one 64-byte
/// cache line (the engine touches one per sequence per step, in no particular order). While the
/// sequence is in its rank's decode group (group_entry >= 0), kv_tokens, generated, emissions
/// and last_emit are those at its entry; Engine::Impl::materialize brings them up to date.
struct alignas(64) Seq {
  TimePoint last_emit{};       ///< end of the step that last emitted tokens
  std::int32_t kv_tokens = 0;  ///< tokens with KV stored
  std::int32_t blocks = 0;     ///< KV blocks held on the current rank
  std::int32_t isl = 0;
  std::int32_t osl = 0;
  std::int32_t generated = 0;
  std::int32_t emissions = 0;
  std::int32_t prefilled = 0;
  std::int32_t prefill_target = 0;
  std::int32_t rank = 0;
  std::int32_t admission = 0;     ///< the rank's admission count when it last joined `running`
  std::int32_t group_entry = -1;  ///< instance steps ended when it joined the decode group; -1
  std::int32_t group_slot = 0;    ///< its index in DecodeGroup::ids while grouped
  std::uint8_t pool = 0;          ///< 0 primary, 1 decode
  SeqState state = SeqState::kWaiting;
  bool needs_transfer = false;
  bool measured = false;
};
static_assert(sizeof(Seq) == 64, "Seq should fill one cache line");

/// Hints the cache to fetch the hot state of a sequence that will be touched shortly (the
/// per-step loops visit sequences in scheduling order, which is random in memory).
inline void prefetch(const Seq* s) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(s, 1);
#else
  (void)s;
#endif
}

/// How far ahead the per-step loops prefetch.
inline constexpr std::size_t kPrefetchDistance = 8;

/// The cold state of a request in flight: read at prefill and hand-off only.
struct SeqCold {
  Duration itl_max{};              ///< longest gap between emissions so far (grouped: at entry)
  std::int32_t instance = 0;       ///< instance of its current pool
  std::int32_t input_counted = 0;  ///< prompt tokens counted as workload input so far
  std::int32_t src_instance = 0;   ///< disaggregated: the prefill instance holding its KV
  std::int32_t src_rank = 0;
  std::int64_t src_blocks = 0;  ///< disaggregated: blocks still held on the prefill rank
};

/// A rank's steady decodes, advanced together: sequences that decode one token in every step
/// (no speculative decoding) and whose KV growth the rank can serve. Member i with KV for
/// kv_i tokens at its entry after instance step e_i has, after step S, KV for kv_i + (S - e_i)
/// tokens, and generated and emissions grown by S - e_i; its inter-token gaps are the step
/// durations (steps run back to back while it decodes). So a step costs O(1) per rank for the
/// whole group: the context sum is context_base + count x S, and under max_utilization the
/// members needing a new KV block at step S + 1 are those with (kv_i - e_i + S) mod block == 0,
/// counted by residue.
struct DecodeGroup {
  std::vector<std::int64_t> ids;       ///< members, unordered (Seq::group_slot indexes this)
  std::int32_t measured = 0;           ///< members that are measured requests
  std::int64_t context_base = 0;       ///< sum over members of kv_i - e_i
  std::vector<std::int32_t> residues;  ///< max_utilization: members by (kv_i - e_i) mod block
  /// Min-heap of (instance step at whose end the member emits its last token, id).
  std::vector<std::pair<std::int32_t, std::int64_t>> completions;
  std::int32_t size() const { return static_cast<std::int32_t>(ids.size()); }
};

/// One attention-DP rank: its queue, its running sequences (admission order; the decode group's
/// members are kept apart, in `group`) and its KV blocks.
struct Rank {
  std::deque<std::int64_t> waiting;
  std::vector<std::int64_t> running;
  DecodeGroup group;
  std::int64_t free_blocks = 0;
  std::int64_t total_blocks = 0;
  std::int32_t admissions = 0;  ///< sequences that joined `running` so far
  bool leavers = false;         ///< a running sequence finished or left this step
  /// Running sequences, the group included.
  std::int64_t active() const { return static_cast<std::int64_t>(running.size()) + group.size(); }
};

/// A request (by slot) that emitted its last token in the step that just ended, with its place in
/// the canonical completion order: by rank, decodes before prefills, then by admission.
struct Finished {
  std::int64_t id = 0;
  std::int32_t rank = 0;
  bool prefill = false;
  std::int32_t admission = 0;
  bool operator<(const Finished& o) const {
    if (rank != o.rank) return rank < o.rank;
    if (prefill != o.prefill) return !prefill;
    return admission < o.admission;
  }
};

/// One engine instance: its ranks, its step buffers (reused every step) and its busy state.
struct Instance {
  std::int32_t pool = 0;
  std::int32_t index = 0;
  std::vector<Rank> ranks;
  /// Per rank, the sequences it holds (running, the group included, and waiting), kept as they
  /// arrive and leave: least-loaded routing scans this array, not the ranks' queues.
  std::vector<std::int64_t> rank_load;
  bool busy = false;
  bool wake_pending = false;
  bool in_step_end = false;
  std::int64_t outstanding = 0;
  Rng* step_rng = nullptr;
  Rng* mtp_rng = nullptr;
  std::vector<SequenceWork> batch;
  std::vector<std::int64_t> batch_slots;  ///< the slot of each entry of `batch`
  std::vector<std::int32_t> rank_begin;
  std::vector<DecodeGroupWork> groups;  ///< per rank, the decode group's share of the step
  std::vector<Finished> finished;
  std::int32_t steps_done = 0;  ///< steps ended (the decode groups' clock)
  /// Steps (index, duration) with strictly decreasing durations, each longer than every later
  /// step: the longest step after step e is the first entry with index > e.
  std::vector<std::pair<std::int32_t, Duration>> longest_after;
  StepTiming timing;
  TimePoint step_start{};
  Duration step_duration{};
  Duration step_device{};  ///< the model's part of the current step
  Duration host_exposed{};
  TimePoint last_end{};
  Duration last_device{};
  bool has_last = false;
  Duration busy_done{};  ///< durations of finished steps
  // Scheduling (SchedulingConfig):
  std::int32_t next_rank = 0;        ///< round-robin routing: the rank of the next request
  std::int32_t adp_wait = 0;         ///< adp_balance: steps context has waited for every rank
  std::int32_t adp_batching = 0;     ///< adp_balance: steps spent gathering more context
  std::int32_t last_admit_step = 0;  ///< steps_done when a new prompt was last admitted
  // The step in progress, counted when it ends:
  double step_balance = 1.0;          ///< mean / max new tokens over ranks
  std::int64_t step_decodes = 0;      ///< decode sequences
  std::int64_t step_context_sum = 0;  ///< their contexts summed
};

/// Which context work an instance's ranks may schedule in a step (SchedulingConfig).
struct ContextGate {
  bool context = true;  ///< prefill chunks and new prompts at all (adp_balance, mixed_batches)
  bool admit = true;    ///< new prompts (prefill_interval)
  bool decode = true;   ///< decodes (mixed_batches: not in a prefill step)
  /// Whether new prompts may be admitted.
  bool admits() const { return context && admit; }
  /// Whether nothing is held.
  bool open() const { return context && admit && decode; }
};

/// One pool of instances with its counters.
struct Pool {
  PoolConfig config;
  StepTimeModel* model = nullptr;
  std::vector<Instance> instances;
  PoolCounters counters;
  PoolCounters start_counters;
  Duration busy_at_start{};
};

}  // namespace detail

/// The engine's state and behaviour; see engine.hpp for the policies.
struct Engine::Impl {
  using Seq = detail::Seq;
  using SeqCold = detail::SeqCold;
  using Rank = detail::Rank;
  using Instance = detail::Instance;
  using Pool = detail::Pool;
  using SeqState = detail::SeqState;

  Engine& e;
  EngineModels models;
  std::vector<Pool> pools;                ///< [0] primary, [1] decode when disaggregated
  std::vector<Seq> seqs;                  ///< by slot
  std::vector<SeqCold> cold;              ///< by slot
  std::vector<std::int64_t> request_ids;  ///< by slot: the request's id
  std::vector<std::int64_t> free_slots;   ///< slots of completed requests, reused last-in first
  std::int32_t k = 0;                     ///< draft tokens
  bool grouping = false;  ///< steady decodes advance in decode groups (no MTP, option on)
  std::int64_t measured_total = 0;
  std::int64_t measured_done = 0;

  Impl(Engine& engine, EngineModels m) : e(engine), models(m) {}

  const PoolConfig& cfg(const Instance& inst) const { return pools[inst.pool].config; }
  static std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

  std::int64_t blocks_for(const Instance& inst, std::int64_t tokens) const {
    return ceil_div(tokens, cfg(inst).kv_block_size);
  }

  /// Blocks a request needs at most on a pool of `role`.
  std::int64_t full_need_tokens(PoolRole role, const Seq& s) const {
    if (role == PoolRole::kPrefill) return s.isl;
    return static_cast<std::int64_t>(s.isl) + s.osl + k;
  }

  /// The instance of `pool` with the fewest outstanding requests (ties: lowest index).
  Instance& least_loaded(Pool& pool);

  /// The rank of `inst` that gets the next request, by SchedulingConfig::dp_routing: the rank
  /// with the fewest running + waiting sequences (ties: lowest rank), or the next in turn.
  std::int32_t route_rank(Instance& inst) const {
    const auto ranks = static_cast<std::int32_t>(inst.ranks.size());
    if (e.config_.scheduling.dp_routing == SchedulingConfig::DpRouting::kRoundRobin) {
      const std::int32_t r = inst.next_rank;
      inst.next_rank = (r + 1) % ranks;
      return r;
    }
    const std::int64_t* load = inst.rank_load.data();
    std::int32_t best = 0;
    for (std::int32_t r = 1; r < ranks; ++r) {
      if (load[r] < load[best]) best = r;
    }
    return best;
  }

  /// Decides which context work the ranks of `inst` may schedule in its next step, advancing
  /// the instance's adp_balance counters (see SchedulingConfig).
  detail::ContextGate context_gate(Instance& inst);
  /// TensorRT-LLM's attention-DP balance: holds context (gate.context) by the instance's
  /// counters, given what every rank has.
  void balance_context(Instance& inst, detail::ContextGate& gate, bool all_free, bool all_context,
                       bool all_decode);

  /// Busy instance-time of `pool` up to `t`, a step in progress counted up to `t`.
  Duration busy_at(const Pool& pool, TimePoint t) const;

  /// Schedules a wake-up of an idle instance at now (priority kLow), once.
  void poke(Instance& inst);

  /// Tokens of the next prefill chunk of a sequence with `remaining` prefill tokens; 0 when none
  /// fits. `fresh` says the rank has scheduled nothing yet this step.
  std::int32_t chunk_for(const Instance& inst, std::int64_t remaining, std::int64_t tokens_left,
                         std::int64_t prefill_left, bool fresh) const;

  /// Appends the work of the sequence in slot `id` to the step being built.
  void add_work(Instance& inst, std::int64_t id, std::int32_t rank, std::int32_t tokens,
                std::int64_t context, Phase phase) {
    inst.batch.push_back(SequenceWork{request_ids[id], tokens, rank, context, phase});
    inst.batch_slots.push_back(id);
  }

  /// A slot for a new request: a free one, or a new one.
  std::int64_t take_slot();

  /// Returns the blocks `s` holds on `rank`.
  void free_blocks(Rank& rank, Seq& s) {
    rank.free_blocks += s.blocks;
    s.blocks = 0;
  }

  /// Preempts `id` (recompute-style) on `rank`: frees its blocks, removes it from the running
  /// list and puts it at the front of the waiting queue.
  void preempt(Instance& inst, Rank& rank, std::size_t pos);

  /// Makes sequence running[pos] hold blocks for `tokens` tokens, preempting the newest running
  /// sequences of the rank (after pos, not receiving; only prefilling ones when
  /// `prefilling_victims_only`) as needed. False when it could not: the sequence itself was
  /// preempted, or no victim was left.
  bool ensure_blocks(Instance& inst, Rank& rank, std::size_t pos, std::int64_t tokens,
                     bool& preempted, bool prefilling_victims_only);

  // ---- decode groups (impl/engine_groups.cpp; see detail::DecodeGroup) ----

  /// Steps a grouped sequence has advanced with its group since it joined.
  static std::int32_t group_steps(const Instance& inst, const Seq& s) {
    return inst.steps_done - s.group_entry;
  }
  /// The longest step of `inst` after step `entry` (0 when none ended since).
  static Duration longest_after(const Instance& inst, std::int32_t entry);
  /// Records the step that just ended (steps_done already counts it) for longest_after.
  static void note_step(Instance& inst, Duration duration);
  /// Moves decoding sequence `id` of `rank` (which just emitted in the step that ended) out of
  /// `running` (the caller erases it with the leavers) into the rank's group.
  void join_group(Instance& inst, Rank& rank, std::int64_t id);
  /// Brings grouped `s` up to date (KV, tokens, emissions, longest gap, blocks) and takes it out
  /// of the group, leaving it decoding and in no list; its completion entry is not removed.
  void materialize(Instance& inst, Rank& rank, std::int64_t id);
  /// Returns every member of the rank's group to `running`, in admission order.
  void dissolve(Instance& inst, Rank& rank);
  /// KV blocks the group's members need to decode in the next step (max_utilization).
  std::int64_t group_blocks_needed(const Instance& inst, const Rank& rank) const;
  /// The group's share of the step: counts its tokens in the pool counters and the ITL
  /// histogram, and completes the members whose last token it emitted.
  void advance_group(Instance& inst, Rank& rank, PoolCounters& c, TimePoint t);
  /// Generated tokens, emissions and longest gap of request `id` as of now, grouped or not.
  void current_progress(std::int64_t id, std::int32_t& emissions, Duration& itl_max) const;

  /// Builds rank r's share of the next step (see engine.hpp), adding its totals to `totals`;
  /// context work only as far as `gate` allows.
  void schedule_rank(Instance& inst, std::int32_t r, StepBatch& totals, detail::ContextGate gate);

  /// Builds every rank's share of the next step of `inst` into inst.batch (and `batch`'s
  /// totals), recording the step's balance and decode context on `inst`.
  void schedule_ranks(Instance& inst, StepBatch& batch, detail::ContextGate gate);

  /// Builds and prices the next step of an idle instance and schedules its end; stays idle when
  /// there is nothing to run.
  void start_step(Instance& inst);

  /// Records `n` tokens of `s` emitted at `t` (first-token time, inter-token gap); the caller
  /// counts them in the pool counters.
  void emit(std::int64_t id, Seq& s, std::int32_t n, TimePoint t);

  /// Finishes a request whose last token was emitted at `t` by a decode, or by a prefill
  /// (`prefill`: its completion order, see detail::Finished).
  void complete(Instance& inst, std::int64_t id, Seq& s, TimePoint t, bool prefill);

  /// Disaggregated: moves a prefilled request to a decode rank's queue, keeping its prefill KV.
  void hand_off(Instance& inst, std::int64_t id, Seq& s, TimePoint t);

  /// Disaggregated: starts the KV transfer of a request the decode rank has just admitted.
  void start_transfer(Instance& dst, std::int32_t dst_rank, std::int64_t id);

  /// Disaggregated: frees the prefill KV and lets the sequence decode.
  void transfer_done(std::int64_t id);

  /// Applies a finished step: tokens, completions, hand-offs, counters; then starts the next.
  void end_step(Instance& inst);
};

}  // namespace moesim::serve
