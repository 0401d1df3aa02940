#include <algorithm>
#include <limits>

#include "sim/serve/impl/engine_state.hpp"

namespace moesim::serve {

using detail::Instance;
using detail::Pool;
using detail::Rank;
using detail::Seq;
using detail::SeqState;

Instance& Engine::Impl::least_loaded(Pool& pool) {
  Instance* best = &pool.instances.front();
  for (Instance& inst : pool.instances) {
    if (inst.outstanding < best->outstanding) best = &inst;
  }
  return *best;
}

Duration Engine::Impl::busy_at(const Pool& pool, TimePoint t) const {
  Duration sum{};
  for (const Instance& inst : pool.instances) {
    sum += inst.busy_done;
    if (inst.busy && t > inst.step_start) sum += std::min(t - inst.step_start, inst.step_duration);
  }
  return sum;
}

void Engine::Impl::poke(Instance& inst) {
  if (inst.busy || inst.wake_pending || inst.in_step_end) return;
  inst.wake_pending = true;
  Instance* p = &inst;
  e.sim_.schedule_at(
      e.sim_.now(),
      [this, p](Simulation&) {
        p->wake_pending = false;
        if (!p->busy) start_step(*p);
      },
      Priority::kLow);
}

std::int32_t Engine::Impl::chunk_for(const Instance& inst, std::int64_t remaining,
                                     std::int64_t tokens_left, std::int64_t prefill_left,
                                     bool fresh) const {
  const SchedulerLimits& lim = cfg(inst).limits;
  if (lim.chunked_prefill_size > 0) {
    return static_cast<std::int32_t>(
        std::max<std::int64_t>(0, std::min({remaining, tokens_left, prefill_left})));
  }
  if (remaining <= tokens_left) return static_cast<std::int32_t>(remaining);
  if (fresh && remaining > lim.max_num_tokens) return static_cast<std::int32_t>(remaining);
  return 0;
}

void Engine::Impl::preempt(Instance& inst, Rank& rank, std::size_t pos) {
  const std::int64_t id = rank.running[pos];
  Seq& s = seqs[id];
  free_blocks(rank, s);
  rank.running.erase(rank.running.begin() + static_cast<std::ptrdiff_t>(pos));
  s.state = SeqState::kWaiting;
  s.needs_transfer = false;
  s.prefilled = 0;
  s.kv_tokens = 0;
  s.prefill_target = s.isl + s.generated;
  rank.waiting.push_front(id);
  ++e.records_[id].preemptions;
  ++pools[inst.pool].counters.preemptions;
}

bool Engine::Impl::ensure_blocks(Instance& inst, Rank& rank, std::size_t pos, std::int64_t tokens,
                                 bool& preempted, bool prefilling_victims_only) {
  Seq& s = seqs[rank.running[pos]];
  // Fast path without a division: the blocks held already cover `tokens`.
  if (tokens <= static_cast<std::int64_t>(s.blocks) * cfg(inst).kv_block_size) return true;
  const std::int64_t need = blocks_for(inst, tokens) - s.blocks;
  auto victim_ok = [&](std::size_t j) {
    const SeqState st = seqs[rank.running[j]].state;
    return prefilling_victims_only ? st == SeqState::kPrefilling : st != SeqState::kReceiving;
  };
  if (prefilling_victims_only) {
    // Preempt only when the newer prefilling sequences free enough (else none is preempted).
    std::int64_t available = rank.free_blocks;
    for (std::size_t j = pos + 1; j < rank.running.size(); ++j) {
      if (victim_ok(j)) available += seqs[rank.running[j]].blocks;
    }
    if (available < need) return false;
  }
  while (rank.free_blocks < need) {
    MOESIM_ASSERT(cfg(inst).kv_policy == KvPolicy::kMaxUtilization,
                  "a guaranteed_no_evict reservation ran out of blocks");
    std::size_t victim = rank.running.size();
    for (std::size_t j = rank.running.size(); j-- > pos;) {
      if (j == pos || victim_ok(j)) {
        victim = j;
        break;
      }
    }
    MOESIM_ASSERT(victim < rank.running.size(), "no preemption victim");
    preempt(inst, rank, victim);
    preempted = true;
    if (victim == pos) return false;
  }
  rank.free_blocks -= need;
  s.blocks += static_cast<std::int32_t>(need);
  return true;
}

detail::ContextGate Engine::Impl::context_gate(Instance& inst) {
  const SchedulingConfig& sc = e.config_.scheduling;
  const PoolConfig& pc = cfg(inst);
  detail::ContextGate gate;
  const bool balance = sc.adp_balance && pc.attention_dp > 1 && pc.role != PoolRole::kDecode;
  const bool cadence = sc.prefill_interval > 1 && pc.role != PoolRole::kDecode;
  const bool separate = !sc.mixed_batches && pc.role == PoolRole::kAggregated;
  if (!balance && !cadence && !separate) return gate;
  // Per rank: decodes it would run, and whether it has context work (a prompt partly
  // prefilled, or one waiting with a free batch slot), as TensorRT-LLM gathers them.
  bool all_free = true;
  bool all_context = true;
  bool all_decode = true;
  bool any_decode = false;
  bool any_chunk = false;  // a prompt partly prefilled
  bool any_new = false;    // a prompt waiting with a free batch slot
  for (const Rank& rank : inst.ranks) {
    std::int64_t decodes = rank.group.size();
    bool chunk = false;
    for (const std::int64_t id : rank.running) {
      const SeqState st = seqs[id].state;
      decodes += st == SeqState::kDecoding ? 1 : 0;
      chunk = chunk || st == SeqState::kPrefilling;
    }
    const bool fresh = !rank.waiting.empty() && !seqs[rank.waiting.front()].needs_transfer &&
                       rank.active() < pc.limits.max_batch_size;
    const bool context = chunk || fresh;
    any_chunk = any_chunk || chunk;
    any_new = any_new || fresh;
    all_free = all_free && decodes < pc.limits.max_batch_size;
    all_context = all_context && context;
    all_decode = all_decode && decodes > 0;
    any_decode = any_decode || decodes > 0;
  }
  if (cadence && any_decode && inst.steps_done - inst.last_admit_step < sc.prefill_interval) {
    gate.admit = false;
  }
  if (balance) balance_context(inst, gate, all_free, all_context, all_decode);
  if (separate) {
    // SGLang without --enable-mixed-chunk: a step prefills when it can, else decodes.
    const bool prefill = (any_chunk && gate.context) || (any_new && gate.admits());
    gate.decode = !prefill;
    gate.context = prefill;
  }
  return gate;
}

void Engine::Impl::balance_context(Instance& inst, detail::ContextGate& gate, bool all_free,
                                   bool all_context, bool all_decode) {
  const SchedulingConfig& sc = e.config_.scheduling;
  // PyExecutor._balance_adp_requests (TensorRT-LLM), step for step.
  if (all_free && all_context) {
    inst.adp_wait = 0;
    if (all_decode) {
      if (inst.adp_batching < sc.batching_wait_iters) {
        ++inst.adp_batching;
        gate.context = false;
      } else {
        inst.adp_batching = 0;
      }
    }
  } else {
    ++inst.adp_wait;
    gate.context = false;
    if (inst.adp_wait >= sc.timeout_iters || !all_decode) {
      inst.adp_wait = 0;
      gate.context = true;
    }
  }
}

void Engine::Impl::schedule_rank(Instance& inst, std::int32_t r, StepBatch& totals,
                                 detail::ContextGate gate) {
  Rank& rank = inst.ranks[r];
  const PoolConfig& pc = cfg(inst);
  const SchedulerLimits& lim = pc.limits;
  std::int64_t tokens_left = lim.max_num_tokens;
  std::int64_t prefill_left = lim.chunked_prefill_size > 0
                                  ? lim.chunked_prefill_size
                                  : std::numeric_limits<std::int64_t>::max();
  bool preempted = false;
  bool fresh = true;
  const std::int32_t decode_tokens = 1 + k;
  const std::int64_t block_size = pc.kv_block_size;
  // The blocks a sequence holds usually cover its next step: check that here, without a call.
  auto covered = [block_size](const Seq& s, std::int64_t tokens) {
    return tokens <= static_cast<std::int64_t>(s.blocks) * block_size;
  };

  // The decode group runs whole when every decode of the rank fits the token budget and the KV
  // blocks: then every decode runs and none preempts, in whatever order they take their share,
  // exactly as listed decodes would. Otherwise it dissolves into `running` for this step.
  DecodeGroupWork& group = inst.groups[static_cast<std::size_t>(r)];
  group = DecodeGroupWork{};
  // A prefill-only step (mixed_batches off): the group does not decode, so it dissolves (its
  // members' clock is the instance's steps).
  if (!gate.decode && rank.group.size() > 0) dissolve(inst, rank);
  if (rank.group.size() > 0) {
    const std::int64_t group_need = group_blocks_needed(inst, rank);
    std::int64_t decodes = rank.group.size();
    std::int64_t need = group_need;
    for (const std::int64_t id : rank.running) {
      const Seq& s = seqs[id];
      if (s.state != SeqState::kDecoding) continue;
      ++decodes;
      const std::int64_t ctx = std::int64_t{s.kv_tokens} + decode_tokens;
      if (!covered(s, ctx)) need += blocks_for(inst, ctx) - s.blocks;
    }
    if (decodes * decode_tokens <= tokens_left && need <= rank.free_blocks) {
      MOESIM_ASSERT(inst.has_last && inst.last_end == e.sim_.now(),
                    "a decode group's steps run back to back");
      rank.free_blocks -= group_need;
      tokens_left -= std::int64_t{rank.group.size()} * decode_tokens;
      group.sequences = rank.group.size();
      group.new_tokens = decode_tokens;
      group.context_tokens =
          rank.group.context_base +
          std::int64_t{rank.group.size()} * (std::int64_t{inst.steps_done} + decode_tokens);
      fresh = false;
    } else {
      dissolve(inst, rank);
    }
  }

  // Decodes first, in admission order (TensorRT-LLM and SGLang give running decodes their
  // tokens before prefill chunks), each preempting newer sequences when its KV cannot grow.
  std::int32_t decodes = 0;  // decode sequences listed (kept local: totals may alias)
  for (std::size_t i = 0; i < rank.running.size(); ++i) {
    if (i + detail::kPrefetchDistance < rank.running.size()) {
      detail::prefetch(&seqs[rank.running[i + detail::kPrefetchDistance]]);
    }
    const std::int64_t id = rank.running[i];
    Seq& s = seqs[id];
    if (!gate.decode || s.state != SeqState::kDecoding || tokens_left < decode_tokens) continue;
    const std::int64_t ctx = std::int64_t{s.kv_tokens} + decode_tokens;
    if (!covered(s, ctx) && !ensure_blocks(inst, rank, i, ctx, preempted, false)) break;  // newest
    add_work(inst, id, r, decode_tokens, ctx, Phase::kDecode);
    inst.step_context_sum += ctx;
    tokens_left -= decode_tokens;
    ++decodes;
    fresh = false;
  }
  // A prefill chunk of `chunk` tokens for sequence `id`, whose context becomes `ctx`.
  const auto add_prefill = [&](std::int64_t id, std::int32_t chunk, std::int64_t ctx) {
    add_work(inst, id, r, chunk, ctx, Phase::kPrefill);
    tokens_left = std::max<std::int64_t>(0, tokens_left - chunk);
    prefill_left -= chunk;
    totals.prefill_tokens += chunk;
    ++totals.prefill_sequences;
    fresh = false;
  };
  // Then the next chunks of unfinished prefills, in admission order; a chunk preempts only newer
  // prefilling sequences (the decodes have run their share of this step already).
  for (std::size_t i = 0; gate.context && i < rank.running.size(); ++i) {
    const std::int64_t id = rank.running[i];
    Seq& s = seqs[id];
    if (s.state != SeqState::kPrefilling) continue;
    const std::int32_t chunk =
        chunk_for(inst, s.prefill_target - s.prefilled, tokens_left, prefill_left, fresh);
    if (chunk == 0) continue;
    const std::int64_t ctx = static_cast<std::int64_t>(s.prefilled) + chunk;
    if (!covered(s, ctx) && !ensure_blocks(inst, rank, i, ctx, preempted, true)) break;
    add_prefill(id, chunk, ctx);
  }
  decodes += group.sequences;
  inst.step_context_sum += group.context_tokens;
  totals.decode_tokens += static_cast<std::int64_t>(decodes) * decode_tokens;
  totals.decode_sequences += decodes;
  if (preempted) return;

  // Admissions, FCFS, stopping at the first request that does not fit.
  while (!rank.waiting.empty() && rank.active() < lim.max_batch_size) {
    const std::int64_t id = rank.waiting.front();
    Seq& s = seqs[id];
    const bool reserve = pc.kv_policy == KvPolicy::kGuaranteedNoEvict;
    if (s.needs_transfer) {
      const std::int64_t tokens = reserve ? full_need_tokens(pc.role, s) : s.isl + decode_tokens;
      const std::int64_t need = blocks_for(inst, tokens);
      if (rank.free_blocks < need) break;
      rank.waiting.pop_front();
      rank.free_blocks -= need;
      s.blocks = static_cast<std::int32_t>(need);
      s.state = SeqState::kReceiving;
      s.kv_tokens = s.isl;
      s.admission = rank.admissions++;
      rank.running.push_back(id);
      start_transfer(inst, r, id);
      continue;
    }
    if (!gate.admits()) break;
    const std::int32_t chunk =
        chunk_for(inst, s.prefill_target - s.prefilled, tokens_left, prefill_left, fresh);
    if (chunk == 0) break;
    const std::int64_t tokens = reserve ? full_need_tokens(pc.role, s) : chunk;
    const std::int64_t need = blocks_for(inst, tokens);
    if (rank.free_blocks < need) break;
    rank.waiting.pop_front();
    rank.free_blocks -= need;
    s.blocks = static_cast<std::int32_t>(need);
    s.state = SeqState::kPrefilling;
    s.admission = rank.admissions++;
    rank.running.push_back(id);
    inst.last_admit_step = inst.steps_done;
    add_prefill(id, chunk, chunk);
  }
}

void Engine::Impl::schedule_ranks(Instance& inst, StepBatch& batch, detail::ContextGate gate) {
  inst.batch.clear();
  inst.batch_slots.clear();
  inst.rank_begin.clear();
  inst.step_context_sum = 0;
  const auto ranks = static_cast<std::int32_t>(inst.ranks.size());
  std::int64_t max_tokens = 0;
  for (std::int32_t r = 0; r < ranks; ++r) {
    if (r + 1 < ranks) {  // the loop in schedule_rank prefetches from its 9th sequence on
      const std::vector<std::int64_t>& next = inst.ranks[r + 1].running;
      for (std::size_t i = 0; i < std::min(next.size(), detail::kPrefetchDistance); ++i) {
        detail::prefetch(&seqs[next[i]]);
      }
    }
    inst.rank_begin.push_back(static_cast<std::int32_t>(inst.batch.size()));
    const std::int64_t before = batch.prefill_tokens + batch.decode_tokens;
    schedule_rank(inst, r, batch, gate);
    max_tokens = std::max(max_tokens, batch.prefill_tokens + batch.decode_tokens - before);
  }
  inst.rank_begin.push_back(static_cast<std::int32_t>(inst.batch.size()));
  const std::int64_t tokens = batch.prefill_tokens + batch.decode_tokens;
  inst.step_balance = max_tokens > 0 ? static_cast<double>(tokens) /
                                           static_cast<double>(max_tokens * std::int64_t{ranks})
                                     : 1.0;
  inst.step_decodes = batch.decode_sequences;  // their contexts summed as they were listed
}

void Engine::Impl::start_step(Instance& inst) {
  MOESIM_ASSERT(!inst.busy, "instance already stepping");
  Pool& pool = pools[inst.pool];
  StepBatch batch;
  // What the gate holds runs when nothing else would: a prefill step that admits nothing
  // decodes instead, and held context runs when nothing decodes.
  detail::ContextGate gate = context_gate(inst);
  schedule_ranks(inst, batch, gate);
  while (batch.prefill_sequences + batch.decode_sequences == 0 && !gate.open()) {
    gate = gate.decode ? detail::ContextGate{} : detail::ContextGate{false, true, true};
    batch = StepBatch{};
    schedule_ranks(inst, batch, gate);
  }
  if (batch.prefill_sequences + batch.decode_sequences == 0) return;  // idle until poked

  batch.sequences = inst.batch;
  batch.rank_begin = inst.rank_begin;
  if (grouping) batch.decode_groups = inst.groups;
  batch.attention_dp = pool.config.attention_dp;
  const TimePoint now = e.sim_.now();
  const bool record = e.options_.record_steps &&
                      static_cast<std::int64_t>(e.steps_.size()) < e.options_.max_recorded_steps;
  StepContext ctx{pool.config.role, inst.index, pool.config.gpus_per_instance, now,
                  inst.step_rng,    record};
  pool.model->price(batch, ctx, inst.timing);
  MOESIM_ASSERT(inst.timing.duration > Duration::zero(), "a step must take time");

  Duration host = e.config_.host.step_overhead;
  if (e.config_.host.overlap_scheduler && inst.has_last && inst.last_end == now) {
    host = std::max(Duration::zero(), host - inst.last_device);
  }
  inst.step_device = inst.timing.duration;
  inst.host_exposed = host;
  inst.step_duration = inst.timing.duration + host;
  inst.step_start = now;
  inst.busy = true;

  if (record) {
    StepRecord rec;
    rec.start = now;
    rec.duration = inst.step_duration;
    rec.role = pool.config.role;
    rec.instance = inst.index;
    rec.prefill_sequences = batch.prefill_sequences;
    rec.decode_sequences = batch.decode_sequences;
    rec.prefill_tokens = batch.prefill_tokens;
    rec.decode_tokens = batch.decode_tokens;
    std::int64_t waiting = 0;
    for (const Rank& rk : inst.ranks) {
      rec.kv_blocks_used += rk.total_blocks - rk.free_blocks;
      waiting += static_cast<std::int64_t>(rk.waiting.size());
    }
    rec.waiting = static_cast<std::int32_t>(waiting);
    rec.breakdown = inst.timing.breakdown;
    rec.breakdown.host_overhead += host;
    rec.imbalance = inst.timing.imbalance;
    rec.dp_balance = inst.step_balance;
    rec.detail = inst.timing.detail;
    e.steps_.push_back(std::move(rec));
  }

  Instance* p = &inst;
  e.sim_.schedule_after(
      inst.step_duration, [this, p](Simulation&) { end_step(*p); }, Priority::kLow);
}

}  // namespace moesim::serve
