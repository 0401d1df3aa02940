#include "sim/serve/engine.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "sim/core/error.hpp"
#include "sim/serve/impl/engine_state.hpp"

namespace moesim::serve {

using detail::Instance;
using detail::Pool;
using detail::Rank;
using detail::Seq;
using detail::SeqCold;
using detail::SeqState;

void Engine::Impl::emit(std::int64_t id, Seq& s, std::int32_t n, TimePoint t) {
  RequestRecord& rec = e.records_[id];
  if (s.generated == 0) {
    rec.first_token = t;
  } else {
    const Duration gap = t - s.last_emit;
    cold[id].itl_max = std::max(cold[id].itl_max, gap);
    if (s.measured) e.itl_.add(gap);
  }
  s.generated += n;
  s.last_emit = t;
  ++s.emissions;
}

void Engine::Impl::complete(Instance& inst, std::int64_t id, Seq& s, TimePoint t, bool prefill) {
  free_blocks(inst.ranks[s.rank], s);
  inst.ranks[s.rank].leavers = true;
  --inst.rank_load[s.rank];
  s.state = SeqState::kDone;
  --inst.outstanding;
  RequestRecord& rec = e.records_[id];
  rec.completion = t;
  rec.completed = true;
  rec.itl_max = cold[id].itl_max;
  rec.emissions = s.emissions;
  inst.finished.push_back({id, s.rank, prefill, s.admission});
}

void Engine::Impl::hand_off(Instance& inst, std::int64_t id, Seq& s, TimePoint t) {
  s.state = SeqState::kHandoff;
  inst.ranks[s.rank].leavers = true;
  --inst.rank_load[s.rank];
  SeqCold& sc = cold[id];
  sc.src_instance = inst.index;
  sc.src_rank = s.rank;
  sc.src_blocks = s.blocks;
  s.blocks = 0;
  --inst.outstanding;
  e.records_[id].prefill_done = t;
  Pool& dpool = pools[1];
  Instance& dst = least_loaded(dpool);
  const std::int32_t r = route_rank(dst);
  s.pool = 1;
  sc.instance = dst.index;
  s.rank = r;
  s.needs_transfer = true;
  ++dst.outstanding;
  e.records_[id].decode_instance = dst.index;
  dst.ranks[r].waiting.push_back(id);
  ++dst.rank_load[r];
  poke(dst);
}

void Engine::Impl::start_transfer(Instance& dst, std::int32_t dst_rank, std::int64_t id) {
  Seq& s = seqs[id];
  KvTransfer t;
  t.request_id = request_ids[id];
  t.tokens = s.isl;
  t.bytes = e.config_.kv_bytes_per_token * static_cast<std::int64_t>(s.isl);
  t.source_instance = cold[id].src_instance;
  t.source_rank = cold[id].src_rank;
  t.dest_instance = dst.index;
  t.dest_rank = dst_rank;
  e.records_[id].decode_admit = e.sim_.now();
  models.kv_transfer->start(e.sim_, t, [this, id](Simulation&) { transfer_done(id); });
}

void Engine::Impl::transfer_done(std::int64_t id) {
  Seq& s = seqs[id];
  MOESIM_ASSERT(s.state == SeqState::kReceiving, "transfer completed for a sequence not receiving");
  SeqCold& sc = cold[id];
  Instance& src = pools[0].instances[sc.src_instance];
  src.ranks[sc.src_rank].free_blocks += sc.src_blocks;
  sc.src_blocks = 0;
  s.state = SeqState::kDecoding;
  e.records_[id].decode_ready = e.sim_.now();
  poke(src);
  poke(pools[1].instances[sc.instance]);
}

void Engine::Impl::end_step(Instance& inst) {
  Pool& pool = pools[inst.pool];
  const TimePoint t = e.sim_.now();
  inst.busy = false;
  inst.in_step_end = true;
  inst.busy_done += inst.step_duration;
  inst.has_last = true;
  inst.last_end = t;
  inst.last_device = inst.step_device;
  MOESIM_ASSERT(inst.steps_done < std::numeric_limits<std::int32_t>::max(),
                "instance step count out of range");
  ++inst.steps_done;
  note_step(inst, inst.step_duration);

  PoolCounters& c = pool.counters;
  ++c.steps;
  c.busy += inst.step_duration;
  c.breakdown += inst.timing.breakdown;
  c.breakdown.host_overhead += inst.host_exposed;
  c.imbalance_weighted_s += inst.timing.imbalance * to_seconds(inst.step_duration);
  c.extrapolated_weighted_s += inst.timing.extrapolated * to_seconds(inst.step_duration);
  c.sequences_stepped += static_cast<std::int64_t>(inst.batch.size());
  c.balance_sum += inst.step_balance;
  if (inst.step_decodes > 0) {
    c.decode_context_tokens += inst.step_context_sum;
    c.context_steps[context_bin(static_cast<double>(inst.step_context_sum) /
                                static_cast<double>(inst.step_decodes))] += inst.step_decodes;
  }
  // The decode groups first: their members are those scheduled (joiners below join after).
  for (std::size_t r = 0; r < inst.groups.size(); ++r) {
    if (inst.groups[r].sequences == 0) continue;
    MOESIM_ASSERT(inst.groups[r].sequences == inst.ranks[r].group.size(),
                  "a decode group changed during its step");
    advance_group(inst, inst.ranks[r], c, t);
  }

  const std::vector<double>& acceptance = e.config_.spec.acceptance;
  const std::size_t batch_size = inst.batch.size();
  // Decode counters kept local in the loop (the counters may alias what the loop writes).
  std::int64_t decode_tokens = 0;
  std::int64_t decode_steps = 0;
  std::int64_t decode_output = 0;
  std::int64_t output = 0;  // every token emitted (prefill's first tokens and decodes)
  for (std::size_t j = 0; j < batch_size; ++j) {
    if (j + detail::kPrefetchDistance < batch_size) {
      detail::prefetch(&seqs[inst.batch_slots[j + detail::kPrefetchDistance]]);
    }
    const SequenceWork& w = inst.batch[j];
    const std::int64_t id = inst.batch_slots[j];
    Seq& s = seqs[id];
    if (w.phase == Phase::kPrefill) {
      c.prefill_tokens += w.new_tokens;
      s.prefilled += w.new_tokens;
      const std::int32_t upto = std::min(s.prefilled, s.isl);
      SeqCold& sc = cold[id];
      if (upto > sc.input_counted) {
        c.input_tokens += upto - sc.input_counted;
        sc.input_counted = upto;
      }
      if (s.prefilled < s.prefill_target) continue;
      s.kv_tokens = s.prefilled;
      emit(id, s, 1, t);
      ++output;
      if (s.generated >= s.osl) {
        complete(inst, id, s, t, true);
      } else if (pool.config.role == PoolRole::kPrefill) {
        hand_off(inst, id, s, t);
      } else {
        s.state = SeqState::kDecoding;
      }
    } else {
      decode_tokens += w.new_tokens;
      ++decode_steps;
      std::int32_t accepted = 0;
      for (double a : acceptance) {
        if (!inst.mtp_rng->bernoulli(a)) break;
        ++accepted;
      }
      const std::int32_t n = std::min(1 + accepted, s.osl - s.generated);
      s.kv_tokens += n;
      decode_output += n;
      emit(id, s, n, t);
      if (s.generated >= s.osl) {
        complete(inst, id, s, t, false);
      } else if (grouping) {
        join_group(inst, inst.ranks[s.rank], id);
      }
    }
  }
  c.decode_tokens += decode_tokens;
  c.decode_sequence_steps += decode_steps;
  c.decode_output_tokens += decode_output;
  c.output_tokens += output + decode_output;
  for (Rank& rank : inst.ranks) {
    if (!rank.leavers) continue;
    rank.leavers = false;
    std::erase_if(rank.running, [this](std::int64_t id) {
      const Seq& s = seqs[id];
      return s.state == SeqState::kDone || s.state == SeqState::kHandoff || s.group_entry >= 0;
    });
  }

  // Completions last, so that closed-loop clients see the freed capacity; requests they send
  // to this instance join the step started below (no separate wake-up). In the canonical order
  // (detail::Finished), whether or not decodes ran in groups.
  std::sort(inst.finished.begin(), inst.finished.end());
  for (const detail::Finished& f : inst.finished) {
    const std::int64_t id = f.id;
    if (seqs[id].measured) {
      ++measured_done;
      if (measured_done == measured_total) {
        e.window_end_ = t;
        e.sim_.stop();
        // Requests still in flight (warm-up stragglers) keep their counters so far.
        for (std::size_t j = 0; j < seqs.size(); ++j) {
          if (seqs[j].state == SeqState::kDone) continue;
          current_progress(static_cast<std::int64_t>(j), e.records_[j].emissions,
                           e.records_[j].itl_max);
        }
      }
    }
    // The slot is free before the listener sends the next request, which may take it.
    const RequestRecord record = e.records_[id];
    free_slots.push_back(id);
    if (e.listener_ != nullptr) e.listener_->on_request_complete(e.sim_, record);
  }
  inst.finished.clear();
  inst.in_step_end = false;
  start_step(inst);
}

std::int64_t Engine::Impl::take_slot() {
  if (!free_slots.empty()) {
    const std::int64_t slot = free_slots.back();
    free_slots.pop_back();
    return slot;
  }
  seqs.emplace_back();
  cold.emplace_back();
  request_ids.push_back(0);
  e.records_.emplace_back();
  return static_cast<std::int64_t>(seqs.size()) - 1;
}

// ---- Engine ----

Engine::Engine(Simulation& sim, EngineConfig config, EngineModels models, EngineOptions options)
    : sim_(sim), config_(std::move(config)) {
  config_.validate();
  options_ = options;
  MOESIM_ASSERT(options.total_requests >= 1, "total_requests must be set");
  MOESIM_ASSERT(options.first_measured >= 0 && options.first_measured < options.total_requests,
                "first_measured out of range");
  MOESIM_ASSERT(models.primary != nullptr, "the primary pool needs a step-time model");
  if (config_.disaggregated) {
    MOESIM_ASSERT(models.decode != nullptr && models.kv_transfer != nullptr,
                  "disaggregation needs a decode model and a KV transfer model");
  }
  impl_ = std::make_unique<Impl>(*this, models);
  Impl& im = *impl_;
  im.k = config_.spec.draft_tokens();
  im.grouping = options.group_decodes && im.k == 0;
  im.measured_total = options.total_requests - options.first_measured;

  auto build_pool = [&](const PoolConfig& pc, StepTimeModel* model, std::int32_t pool_index) {
    Pool pool;
    pool.config = pc;
    pool.model = model;
    pool.instances.resize(static_cast<std::size_t>(pc.instances));
    for (std::int32_t i = 0; i < pc.instances; ++i) {
      Instance& inst = pool.instances[i];
      inst.pool = pool_index;
      inst.index = i;
      inst.ranks.resize(static_cast<std::size_t>(pc.attention_dp));
      inst.rank_load.assign(static_cast<std::size_t>(pc.attention_dp), 0);
      inst.groups.resize(static_cast<std::size_t>(pc.attention_dp));
      for (Rank& rank : inst.ranks) {
        rank.total_blocks = pc.blocks_per_rank();
        rank.free_blocks = rank.total_blocks;
      }
      const std::string tag = std::string(to_string(pc.role)) + "." + std::to_string(i);
      inst.step_rng = &sim_.rng("serve.step_model." + tag);
      inst.mtp_rng = &sim_.rng("serve.mtp." + tag);
    }
    return pool;
  };
  im.pools.push_back(build_pool(config_.primary, models.primary, 0));
  if (config_.disaggregated) im.pools.push_back(build_pool(config_.decode, models.decode, 1));
}

Engine::~Engine() = default;

void Engine::submit(const RequestSpec& request) {
  Impl& im = *impl_;
  MOESIM_ASSERT(request.id >= 0 && request.id < options_.total_requests, "request id out of range");
  MOESIM_ASSERT(request.input_tokens >= 1 && request.output_tokens >= 1, "empty request");
  const TimePoint now = sim_.now();
  // Checked before a slot is taken: a request that cannot fit leaves no trace.
  Seq probe;
  probe.isl = request.input_tokens;
  probe.osl = request.output_tokens;
  for (const Pool& pool : im.pools) {
    const std::int64_t need =
        Impl::ceil_div(im.full_need_tokens(pool.config.role, probe), pool.config.kv_block_size);
    if (need > pool.config.blocks_per_rank()) {
      throw ConfigError(
          {"<engine config>", 0, 0},
          "deployment." + std::string(to_string(pool.config.role)) + ".kv_capacity_tokens",
          "room for one request of " + std::to_string(probe.isl) + " input + " +
              std::to_string(probe.osl) + " output tokens per attention-DP rank (" +
              std::to_string(need * pool.config.kv_block_size) + " tokens)",
          std::to_string(pool.config.blocks_per_rank() * pool.config.kv_block_size) +
              " tokens per rank");
    }
  }
  const std::int64_t id = im.take_slot();  // the engine's handle of the request
  im.request_ids[id] = request.id;
  Seq& s = im.seqs[id];
  s = Seq{};
  im.cold[id] = SeqCold{};
  s.isl = request.input_tokens;
  s.osl = request.output_tokens;
  s.prefill_target = s.isl;
  s.measured = request.id >= options_.first_measured;
  RequestRecord& rec = records_[id];
  rec = RequestRecord{};
  rec.id = request.id;
  rec.class_index = request.class_index;
  rec.input_tokens = request.input_tokens;
  rec.output_tokens = request.output_tokens;
  rec.arrival = now;

  if (request.id == options_.first_measured && !window_start_) {
    window_start_ = now;
    for (Pool& pool : im.pools) {
      pool.start_counters = pool.counters;
      pool.busy_at_start = im.busy_at(pool, now);
    }
  }

  Instance& inst = im.least_loaded(im.pools[0]);
  const std::int32_t r = im.route_rank(inst);
  s.pool = 0;
  im.cold[id].instance = inst.index;
  s.rank = r;
  s.state = SeqState::kWaiting;
  rec.instance = inst.index;
  ++inst.outstanding;
  inst.ranks[r].waiting.push_back(id);
  ++inst.rank_load[r];
  im.poke(inst);
}

std::vector<RequestRecord> Engine::in_flight() const {
  std::vector<RequestRecord> out;
  for (std::size_t j = 0; j < impl_->seqs.size(); ++j) {
    if (impl_->seqs[j].state == SeqState::kDone) continue;
    out.push_back(records_[j]);
    if (!window_end_) {
      impl_->current_progress(static_cast<std::int64_t>(j), out.back().emissions,
                              out.back().itl_max);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const RequestRecord& a, const RequestRecord& b) { return a.id < b.id; });
  return out;
}

const PoolCounters& Engine::counters(PoolRole role) const {
  const bool decode = role == PoolRole::kDecode;
  MOESIM_ASSERT(!decode || config_.disaggregated, "no decode pool");
  return impl_->pools[decode ? 1 : 0].counters;
}

const PoolCounters& Engine::window_start_counters(PoolRole role) const {
  const bool decode = role == PoolRole::kDecode;
  MOESIM_ASSERT(!decode || config_.disaggregated, "no decode pool");
  return impl_->pools[decode ? 1 : 0].start_counters;
}

Duration Engine::window_busy(PoolRole role) const {
  const bool decode = role == PoolRole::kDecode;
  MOESIM_ASSERT(!decode || config_.disaggregated, "no decode pool");
  const Pool& pool = impl_->pools[decode ? 1 : 0];
  const TimePoint end = window_end_.value_or(sim_.now());
  return impl_->busy_at(pool, end) - pool.busy_at_start;
}

}  // namespace moesim::serve
