// Decode groups: a rank's steady decodes advanced together in O(1) per step (see
// detail::DecodeGroup in engine_state.hpp and the engine's policies in engine.hpp).

#include <algorithm>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "sim/serve/impl/engine_state.hpp"

namespace moesim::serve {

using detail::DecodeGroup;
using detail::Instance;
using detail::Rank;
using detail::Seq;
using detail::SeqState;

namespace {

using Completion = std::pair<std::int32_t, std::int64_t>;
/// Orders the completion heap as a min-heap on (step, id).
constexpr std::greater<Completion> kLater{};

/// x mod b in [0, b).
std::size_t residue_of(std::int64_t x, std::int64_t b) {
  const std::int64_t r = x % b;
  return static_cast<std::size_t>(r < 0 ? r + b : r);
}

}  // namespace

Duration Engine::Impl::longest_after(const Instance& inst, std::int32_t entry) {
  const auto& steps = inst.longest_after;
  const auto it = std::upper_bound(
      steps.begin(), steps.end(), entry,
      [](std::int32_t e, const std::pair<std::int32_t, Duration>& p) { return e < p.first; });
  return it == steps.end() ? Duration{0} : it->second;
}

void Engine::Impl::note_step(Instance& inst, Duration duration) {
  auto& steps = inst.longest_after;
  while (!steps.empty() && steps.back().second <= duration) steps.pop_back();
  steps.emplace_back(inst.steps_done, duration);
}

void Engine::Impl::join_group(Instance& inst, Rank& rank, std::int64_t id) {
  Seq& s = seqs[id];
  MOESIM_ASSERT(s.state == SeqState::kDecoding && s.group_entry < 0 && s.generated < s.osl,
                "only an unfinished, ungrouped decode joins a group");
  DecodeGroup& g = rank.group;
  const PoolConfig& pc = cfg(inst);
  s.group_entry = inst.steps_done;
  s.group_slot = g.size();
  g.ids.push_back(id);
  if (s.measured) ++g.measured;
  const std::int64_t base = std::int64_t{s.kv_tokens} - s.group_entry;
  g.context_base += base;
  if (pc.kv_policy == KvPolicy::kMaxUtilization) {
    MOESIM_ASSERT(s.blocks == blocks_for(inst, s.kv_tokens),
                  "a growing sequence holds exactly the blocks of its KV");
    if (g.residues.empty()) g.residues.assign(static_cast<std::size_t>(pc.kv_block_size), 0);
    ++g.residues[residue_of(base, pc.kv_block_size)];
  }
  MOESIM_ASSERT(std::int64_t{s.group_entry} + (s.osl - s.generated) <
                    std::numeric_limits<std::int32_t>::max(),
                "instance step count out of range");
  g.completions.emplace_back(s.group_entry + (s.osl - s.generated), id);
  std::push_heap(g.completions.begin(), g.completions.end(), kLater);
  rank.leavers = true;  // it leaves `running`
}

void Engine::Impl::materialize(Instance& inst, Rank& rank, std::int64_t id) {
  Seq& s = seqs[id];
  MOESIM_ASSERT(s.group_entry >= 0, "materialize of an ungrouped sequence");
  DecodeGroup& g = rank.group;
  const PoolConfig& pc = cfg(inst);
  const std::int64_t base = std::int64_t{s.kv_tokens} - s.group_entry;
  g.context_base -= base;
  if (!g.residues.empty()) --g.residues[residue_of(base, pc.kv_block_size)];
  if (s.measured) --g.measured;
  const std::int64_t last = g.ids.back();
  g.ids[static_cast<std::size_t>(s.group_slot)] = last;
  seqs[last].group_slot = s.group_slot;
  g.ids.pop_back();

  const std::int32_t n = group_steps(inst, s);
  if (n > 0) {
    s.kv_tokens += n;
    s.generated += n;
    s.emissions += n;
    cold[id].itl_max = std::max(cold[id].itl_max, longest_after(inst, s.group_entry));
    s.last_emit = inst.last_end;
    if (pc.kv_policy == KvPolicy::kMaxUtilization) {
      s.blocks = static_cast<std::int32_t>(blocks_for(inst, s.kv_tokens));
    }
  }
  s.group_entry = -1;
}

void Engine::Impl::dissolve(Instance& inst, Rank& rank) {
  DecodeGroup& g = rank.group;
  if (g.ids.empty()) return;
  std::vector<std::int64_t> members = g.ids;
  for (const std::int64_t id : members) materialize(inst, rank, id);
  g.completions.clear();
  auto by_admission = [this](std::int64_t a, std::int64_t b) {
    return seqs[a].admission < seqs[b].admission;
  };
  std::sort(members.begin(), members.end(), by_admission);
  const auto middle = static_cast<std::ptrdiff_t>(rank.running.size());
  rank.running.insert(rank.running.end(), members.begin(), members.end());
  std::inplace_merge(rank.running.begin(), rank.running.begin() + middle, rank.running.end(),
                     by_admission);
}

std::int64_t Engine::Impl::group_blocks_needed(const Instance& inst, const Rank& rank) const {
  const DecodeGroup& g = rank.group;
  if (g.residues.empty()) return 0;  // guaranteed_no_evict: reserved at admission
  // Member i needs a block when its KV, base_i + steps_done, is a multiple of the block size.
  const std::int64_t b = cfg(inst).kv_block_size;
  return g.residues[residue_of(-std::int64_t{inst.steps_done}, b)];
}

void Engine::Impl::advance_group(Instance& inst, Rank& rank, PoolCounters& c, TimePoint t) {
  DecodeGroup& g = rank.group;
  const std::int64_t n = g.size();
  c.decode_tokens += n * (1 + k);
  c.decode_sequence_steps += n;
  c.decode_output_tokens += n;
  c.output_tokens += n;
  c.sequences_stepped += n;
  // Each member's gap since its last emission, at the end of the previous step, is this step.
  if (g.measured > 0) e.itl_.add(inst.step_duration, g.measured);
  while (!g.completions.empty() && g.completions.front().first == inst.steps_done) {
    std::pop_heap(g.completions.begin(), g.completions.end(), kLater);
    const std::int64_t id = g.completions.back().second;
    g.completions.pop_back();
    materialize(inst, rank, id);
    Seq& s = seqs[id];
    MOESIM_ASSERT(s.generated == s.osl, "a group member completes with its last token");
    complete(inst, id, s, t, false);
  }
}

void Engine::Impl::current_progress(std::int64_t id, std::int32_t& emissions,
                                    Duration& itl_max) const {
  const Seq& s = seqs[id];
  emissions = s.emissions;
  itl_max = cold[id].itl_max;
  if (s.group_entry < 0) return;
  const Instance& inst = pools[s.pool].instances[cold[id].instance];
  const std::int32_t n = group_steps(inst, s);
  emissions += n;
  if (n > 0) itl_max = std::max(itl_max, longest_after(inst, s.group_entry));
}

}  // namespace moesim::serve
