#include "sim/step/plan_step_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/llm/sampled_loads.hpp"
#include "sim/step/step_timeline.hpp"

namespace moesim::step {
namespace {

/// Key slots.
enum Slot : std::size_t {
  kHasPrefill,
  kHasDecode,
  kDecodeTokens,
  kDecodeSeqs,
  kPrefillTokens,
  kDecodeContext,
  kPrefillPrefix,
};

/// The op time of one rank by bound; their sum is the rank's busy time.
struct RankParts {
  Duration compute{};
  Duration memory{};
  Duration comm{};
  Duration busy() const { return compute + memory + comm; }
};

RankParts parts_of(const StepTimeline& timeline, std::int32_t rank) {
  RankParts p;
  for (const OpTiming& op : timeline.of(rank)) {
    switch (op.cost.bound) {
      case cost::Bound::kCompute: p.compute += op.cost.time; break;
      case cost::Bound::kNetwork: p.comm += op.cost.time; break;
      default: p.memory += op.cost.time; break;
    }
  }
  return p;
}

/// Ops of an expert-parallel MoE layer whose time depends on the tokens of every rank (the
/// all-to-alls and the routed experts), not on the rank's own batch.
bool is_moe_exchange(std::string_view name) {
  return name == "moe.dispatch" || name == "moe.gate_up" || name == "moe.act" ||
         name == "moe.down" || name == "moe.combine" || name == "moe.all_gather_tokens" ||
         name == "moe.shared_reduce_scatter";
}

/// On `rank`'s timeline: the time covered by MoE exchange ops (the union of their intervals)
/// and their op time by bound.
std::pair<Duration, RankParts> moe_exchange_of(const llm::StepPlan& plan,
                                               const StepTimeline& timeline, std::int32_t rank) {
  const auto& ops = plan.plan_of(rank).ops;
  const auto& times = timeline.of(rank);
  std::vector<std::pair<Duration, Duration>> spans;
  RankParts p;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (!is_moe_exchange(ops[i].name)) continue;
    spans.emplace_back(times[i].start, times[i].end);
    switch (times[i].cost.bound) {
      case cost::Bound::kCompute: p.compute += times[i].cost.time; break;
      case cost::Bound::kNetwork: p.comm += times[i].cost.time; break;
      default: p.memory += times[i].cost.time; break;
    }
  }
  std::sort(spans.begin(), spans.end());
  Duration covered{};
  Duration reach{};
  for (const auto& [start, end] : spans) {
    if (end <= reach) continue;
    covered += end - std::max(start, reach);
    reach = end;
  }
  return {covered, p};
}

/// The breakdown of a step of `duration` from its parts (see the header): negative parts are
/// clamped, parts that exceed the step are scaled down in proportion, idle fills the rest.
serve::StepBreakdown breakdown_of(Duration duration, RankParts p) {
  p.compute = std::max(p.compute, Duration{0});
  p.memory = std::max(p.memory, Duration{0});
  p.comm = std::max(p.comm, Duration{0});
  const Duration raw = p.compute + p.memory + p.comm;
  if (raw > duration) {
    const double f = static_cast<double>(duration.count()) / static_cast<double>(raw.count());
    p.compute = Duration{static_cast<std::int64_t>(static_cast<double>(p.compute.count()) * f)};
    p.memory = Duration{static_cast<std::int64_t>(static_cast<double>(p.memory.count()) * f)};
    p.comm = std::max(Duration{0}, duration - p.compute - p.memory);
  }
  serve::StepBreakdown b;
  b.compute = p.compute;
  b.memory = p.memory;
  b.communication = p.comm;
  b.host_overhead = Duration{0};
  b.idle = duration - p.compute - p.memory - p.comm;
  return b;
}

/// Adds the compute model's unhidden host time per step (0 under an overlap scheduler).
void add_host_overhead(const cost::ComputeModel& compute, serve::StepTiming& t) {
  const Duration host = compute.step_host_overhead(t.duration);
  t.duration += host;
  t.breakdown.host_overhead = host;
}

std::int32_t to_i32(std::int64_t v) {
  MOESIM_ASSERT(v >= 0 && v <= 2147483647, "step size out of int32 range");
  return static_cast<std::int32_t>(v);
}

/// The context of the key's decode sequences (at least their new tokens).
std::int32_t decode_context_of(const std::array<std::int64_t, 7>& key) {
  const std::int64_t tokens = std::max<std::int64_t>(key[kDecodeTokens], 1);
  return to_i32(std::max<std::int64_t>(key[kDecodeContext], tokens));
}

}  // namespace

std::int64_t geometric_bucket(std::int64_t x) {
  if (x <= 0) return 0;
  // ceil(2^(k/4)) for k = 0 .. 247 (the last exceeds 2^61), computed once, then searched.
  static const std::vector<std::int64_t> kBuckets = [] {
    std::vector<std::int64_t> v;
    for (int k = 0; k < 248; ++k) {
      v.push_back(static_cast<std::int64_t>(std::ceil(std::exp2(static_cast<double>(k) / 4.0))));
    }
    return v;
  }();
  // 2^e <= x < 2^(e+1) with e = floor(log2 x): the answer is among ceil(2^(k/4)), k = 4e .. 4e+4.
  const auto e = static_cast<std::size_t>(63 - std::countl_zero(static_cast<std::uint64_t>(x)));
  MOESIM_ASSERT(4 * e + 4 < kBuckets.size(), "bucketed value out of range");
  const auto first = kBuckets.begin() + static_cast<std::ptrdiff_t>(4 * e);
  return *std::lower_bound(first, first + 5, x);
}

PlanStepModel::PlanStepModel(std::shared_ptr<const Deployment> deployment, std::string label,
                             Pricing pricing)
    : deployment_(std::move(deployment)), label_(std::move(label)) {
  MOESIM_ASSERT(deployment_ != nullptr, "PlanStepModel needs a deployment");
  const Deployment& d = *deployment_;
  factored_ =
      pricing == Pricing::kAuto && d.model.moe.has_value() && d.plan.ep > 1 && d.plan.pp == 1;
}

void PlanStepModel::price(const serve::StepBatch& batch, const serve::StepContext& ctx,
                          serve::StepTiming& out) {
  MOESIM_ASSERT(ctx.rng != nullptr, "StepContext::rng is null");
  const auto ranks = static_cast<std::size_t>(batch.attention_dp);
  ranks_.resize(ranks);
  std::int64_t max_decode = 0;
  std::int64_t max_prefill = 0;
  std::int64_t decode_tokens = 0;
  std::int64_t decode_context = 0;
  std::int64_t prefill_prefix = 0;
  std::int64_t prefill_seqs = 0;
  std::int64_t decode_seqs = 0;
  for (std::size_t r = 0; r < ranks; ++r) {
    RankWork& w = ranks_[r];
    w = RankWork{};
    const auto begin = static_cast<std::size_t>(batch.rank_begin[r]);
    const auto end = static_cast<std::size_t>(batch.rank_begin[r + 1]);
    for (std::size_t i = begin; i < end; ++i) {
      const serve::SequenceWork& s = batch.sequences[i];
      if (s.phase == serve::Phase::kDecode) {
        ++w.decodes;
        w.decode_tokens += s.new_tokens;
        decode_tokens = std::max<std::int64_t>(decode_tokens, s.new_tokens);
        w.context += s.context_tokens;
      } else {
        w.prefill_tokens += s.new_tokens;
        w.prefix += s.context_tokens - s.new_tokens;
        ++w.prefills;
      }
    }
    if (!batch.decode_groups.empty()) {
      const serve::DecodeGroupWork& g = batch.decode_groups[r];
      if (g.sequences > 0) {
        w.decodes += g.sequences;
        w.decode_tokens += std::int64_t{g.sequences} * g.new_tokens;
        decode_tokens = std::max<std::int64_t>(decode_tokens, g.new_tokens);
        w.context += g.context_tokens;
      }
    }
    decode_seqs += w.decodes;
    prefill_seqs += w.prefills;
    decode_context += w.context;
    prefill_prefix += w.prefix;
    max_decode = std::max(max_decode, w.decodes);
    max_prefill = std::max(max_prefill, w.prefill_tokens);
  }
  Key key{};
  key[kHasPrefill] = prefill_seqs > 0 ? 1 : 0;
  key[kHasDecode] = decode_seqs > 0 ? 1 : 0;
  key[kDecodeTokens] = decode_tokens;
  key[kDecodeSeqs] = geometric_bucket(max_decode);
  key[kPrefillTokens] = geometric_bucket(max_prefill);
  key[kDecodeContext] = decode_seqs > 0 ? geometric_bucket(decode_context / decode_seqs) : 0;
  key[kPrefillPrefix] = prefill_seqs > 0 ? geometric_bucket(prefill_prefix / prefill_seqs) : 0;

  // Factored attention-DP steps with prefill work price each rank's own part (see the file
  // comment) unless every rank has the same key.
  if (factored_ && ranks > 1 && prefill_seqs > 0) {
    rank_keys_.resize(ranks);
    bool same = true;
    for (std::size_t r = 0; r < ranks; ++r) {
      const RankWork& w = ranks_[r];
      Key& k = rank_keys_[r];
      k[kHasPrefill] = w.prefills > 0 ? 1 : 0;
      k[kHasDecode] = w.decodes > 0 ? 1 : 0;
      k[kDecodeTokens] = w.decodes > 0 ? decode_tokens : 0;
      k[kDecodeSeqs] = geometric_bucket(w.decodes);
      k[kPrefillTokens] = geometric_bucket(w.prefill_tokens);
      k[kDecodeContext] = w.decodes > 0 ? geometric_bucket(w.context / w.decodes) : 0;
      k[kPrefillPrefix] = w.prefills > 0 ? geometric_bucket(w.prefix / w.prefills) : 0;
      same = same && k == rank_keys_.front();
    }
    if (!same) {
      price_ranks(ctx, out);
      return;
    }
  }
  const Entry& entry = entry_of(key, *ctx.rng);
  const serve::StepTiming& t = entry.timing;
  out.duration = t.duration;
  out.breakdown = t.breakdown;
  out.imbalance = t.imbalance;
  out.extrapolated = t.extrapolated;
  out.detail.clear();
  if (ctx.want_detail) fill_detail(entry, out.detail);
}

const PlanStepModel::Entry& PlanStepModel::entry_of(const Key& key, Rng& rng) {
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    ++hits_;
    return it->second;
  }
  Entry entry = factored_ ? price_factored(key, rng) : price_exact(batch_of(key), rng);
  return cache_.emplace(key, std::move(entry)).first->second;
}

void PlanStepModel::price_ranks(const serve::StepContext& ctx, serve::StepTiming& out) {
  const Deployment& d = *deployment_;
  const auto ranks = static_cast<std::int64_t>(rank_keys_.size());
  // Each rank's own part of the step (attention, dense projections, shared experts, norms):
  // its symmetric step without the MoE exchange. The slowest sets the pace.
  distinct_.clear();
  const OwnPart* slowest = nullptr;
  std::size_t slowest_rank = 0;
  Duration own_sum{};
  serve::StepBreakdown own_parts;
  std::int64_t tokens = 0;
  for (std::size_t r = 0; r < rank_keys_.size(); ++r) {
    tokens += ranks_[r].tokens();
    const Key& k = rank_keys_[r];
    if (k[kHasPrefill] == 0 && k[kHasDecode] == 0) continue;  // an idle rank waits
    // Ranks mostly share a few keys: look each up once per step.
    auto seen = std::find_if(distinct_.begin(), distinct_.end(),
                             [&k](const auto& entry) { return entry.first == k; });
    if (seen == distinct_.end()) {
      distinct_.emplace_back(k, &own_of(k));
      seen = distinct_.end() - 1;
    }
    const OwnPart& own = *seen->second;
    own_sum += own.own;
    own_parts += own.parts;
    if (slowest == nullptr || own.own > slowest->own) {
      slowest = &own;
      slowest_rank = r;
    }
  }
  MOESIM_ASSERT(slowest != nullptr, "priced an empty step");
  // The MoE exchange of every layer carries the tokens of all ranks. It depends on the tokens
  // only, so it is priced as the symmetric step of one prompt chunk of the mean rank's tokens:
  // a single sequence per rank to lower, and the all-to-all layout of the step, which has
  // prefill work (llm::Lowering::dispatch_layout).
  Key mean{};
  mean[kHasPrefill] = 1;
  mean[kPrefillTokens] = geometric_bucket((tokens + ranks - 1) / ranks);
  const Entry& exchange = entry_of(mean, *ctx.rng);

  const Duration device = std::max(slowest->own + exchange.exchange, Duration{1});
  const auto scale = [ranks](Duration v) { return Duration{v.count() / ranks}; };
  serve::StepBreakdown parts;
  parts.compute = scale(own_parts.compute) + exchange.exchange_parts.compute;
  parts.memory = scale(own_parts.memory) + exchange.exchange_parts.memory;
  parts.communication = scale(own_parts.communication) + exchange.exchange_parts.communication;
  out.duration = device;
  out.breakdown = breakdown_of(device, {parts.compute, parts.memory, parts.communication});
  add_host_overhead(*d.compute, out);
  const Duration mean_busy = scale(own_sum) + exchange.exchange;
  out.imbalance = exchange.timing.imbalance * (mean_busy > Duration{0}
                                                   ? static_cast<double>(device.count()) /
                                                         static_cast<double>(mean_busy.count())
                                                   : 1.0);
  out.extrapolated = slowest->extrapolated;
  out.detail.clear();
  if (ctx.want_detail) {
    // The layers and all-to-alls of the exchange's step (priced already: the trace must not
    // draw, or a traced run would differ from an untraced one), and the rank that set the pace.
    fill_detail(exchange, out.detail);
    out.detail.push_back({"attention-DP rank " + std::to_string(slowest_rank) + " sets the pace (" +
                              std::to_string(ranks_[slowest_rank].tokens()) + " tokens; mean " +
                              std::to_string(tokens / ranks) + ")",
                          "straggler", static_cast<std::int32_t>(slowest_rank), Duration{0},
                          slowest->own});
  }
}

void PlanStepModel::begin_run() {
  cache_.clear();
  corrections_.clear();
  hits_ = 0;
}

llm::StepBatch PlanStepModel::batch_of(const Key& key) const {
  const Deployment& d = *deployment_;
  std::vector<llm::SequenceWork> seqs;
  if (key[kHasDecode] != 0) {
    const std::int32_t tokens = to_i32(std::max<std::int64_t>(key[kDecodeTokens], 1));
    const std::int32_t context = decode_context_of(key);
    seqs.assign(static_cast<std::size_t>(key[kDecodeSeqs]),
                llm::SequenceWork::decode(context, tokens));
  }
  if (key[kHasPrefill] != 0 && key[kPrefillTokens] > 0) {
    seqs.push_back(llm::SequenceWork::prefill_chunk(to_i32(key[kPrefillTokens]),
                                                    to_i32(key[kPrefillPrefix]), true));
  }
  MOESIM_ASSERT(!seqs.empty(), "priced an empty step");
  return llm::StepBatch::same_on_every_replica(d.plan.attention_dp, seqs);
}

PlanStepModel::Entry PlanStepModel::price_exact(const llm::StepBatch& batch, Rng& rng) {
  const Deployment& d = *deployment_;
  llm::StepPlan plan;
  if (d.model.moe) {
    llm::SampledLoads loads(d.routing, rng);
    plan = d.lowering->lower(batch, loads);
  } else {
    plan = d.lowering->lower(batch);
  }
  const StepTimeline timeline = time_step(plan, *d.compute, *d.network);

  Duration busy_sum{};
  Duration busy_max{};
  for (std::int32_t r = 0; r < plan.ranks(); ++r) {
    const Duration busy = parts_of(timeline, r).busy();
    busy_sum += busy;
    busy_max = std::max(busy_max, busy);
  }
  Entry e;
  e.timing.duration = std::max(timeline.step, Duration{1});
  e.timing.breakdown = breakdown_of(e.timing.duration, parts_of(timeline, timeline.slowest_rank));
  add_host_overhead(*d.compute, e.timing);
  const double mean =
      static_cast<double>(busy_sum.count()) / static_cast<double>(std::max(plan.ranks(), 1));
  e.timing.imbalance = mean > 0.0 ? static_cast<double>(busy_max.count()) / mean : 1.0;
  e.timing.extrapolated = timeline.extrapolated_share();
  e.layers = layer_spans(plan, timeline, timeline.slowest_rank);
  return e;
}

const SymmetricStep& PlanStepModel::symmetric_step(const Key& key) {
  const Deployment& d = *deployment_;
  // Keys that differ only in the decode context share one lowered plan: of all the ops, only
  // the decode attention reads the context (its kv_lens), so those are set to this key's
  // context (as batch_of would give them) and the plan is timed again.
  Key shape = key;
  shape[kDecodeContext] = 0;
  std::unique_ptr<SymmetricStep>& lowered = shapes_[shape];
  if (lowered == nullptr) {
    lowered = std::make_unique<SymmetricStep>(lower_symmetric(d, batch_of(key), *d.network));
  } else {
    const std::int32_t context = decode_context_of(key);
    for (llm::RankPlan& list : lowered->plan.plans) {
      for (llm::Op& op : list.ops) {
        if (op.name != "attn.decode") continue;
        auto& attention = std::get<llm::AttentionOp>(op.body);
        std::fill(attention.kv_lens.begin(), attention.kv_lens.end(), context);
      }
    }
    lowered->timeline = time_step(lowered->plan, *d.compute, *d.network);
  }
  return *lowered;
}

const PlanStepModel::OwnPart& PlanStepModel::own_of(const Key& key) {
  auto it = own_.find(key);
  if (it != own_.end()) return it->second;
  const SymmetricStep& base = symmetric_step(key);
  const std::int32_t rank = base.timeline.slowest_rank;
  const auto [exchange, exchange_parts] = moe_exchange_of(base.plan, base.timeline, rank);
  const RankParts all = parts_of(base.timeline, rank);
  OwnPart own;
  own.own = std::max(base.timeline.step - exchange, Duration{0});
  own.parts.compute = all.compute - exchange_parts.compute;
  own.parts.memory = all.memory - exchange_parts.memory;
  own.parts.communication = all.comm - exchange_parts.comm;
  own.extrapolated = base.timeline.extrapolated_share();
  return own_.emplace(key, own).first->second;
}

PlanStepModel::Entry PlanStepModel::price_factored(const Key& key, Rng& rng) {
  const Deployment& d = *deployment_;
  const SymmetricStep& base = symmetric_step(key);

  // Corrections are sampled at the geometric bucket of the tokens each EP rank routes (rounded
  // up, so the sampled imbalance is that of slightly more tokens) and keyed by those buckets.
  std::vector<MoeLoadCall> calls = base.calls;
  std::vector<std::int64_t> signature;
  for (MoeLoadCall& call : calls) {
    for (std::int64_t& t : call.tokens_per_ep_rank) t = geometric_bucket(t);
    if (call.layer != calls.front().layer) continue;
    signature.push_back(call.micro_batch);
    signature.insert(signature.end(), call.tokens_per_ep_rank.begin(),
                     call.tokens_per_ep_rank.end());
  }
  Corrections& corrections = corrections_[signature];
  if (corrections == nullptr) {
    corrections = std::make_shared<const StepCorrections>(
        sample_corrections(d, base, calls, rng, *d.network));
  }

  const std::int32_t rank = base.timeline.slowest_rank;
  RankParts parts = parts_of(base.timeline, rank);
  const Duration busy = parts.busy();
  Duration extra{};
  Duration max_busy = busy;
  Duration mean_busy = busy;
  const Duration rank_max =
      corrections->rank_excess.empty()
          ? Duration{0}
          : *std::max_element(corrections->rank_excess.begin(), corrections->rank_excess.end());
  max_busy += rank_max;
  for (const MoeCallCorrection& c : corrections->calls) {
    extra += c.max_excess + c.comm_excess;
    max_busy += c.comm_excess;
    mean_busy += c.mean_excess + c.comm_excess;
    (c.bound == cost::Bound::kCompute ? parts.compute : parts.memory) += c.mean_excess;
    parts.comm += c.comm_excess;
  }
  Entry e;
  e.timing.duration = std::max(base.timeline.step + extra, Duration{1});
  e.timing.breakdown = breakdown_of(e.timing.duration, parts);
  // The MoE exchange: its span on the timeline plus the corrections' excess (all of it on the
  // exchange's critical path); its parts: the exchange ops' plus the mean rank's excess.
  auto [exchange, exchange_parts] = moe_exchange_of(base.plan, base.timeline, rank);
  e.exchange = std::min(exchange + extra, e.timing.duration);
  for (const MoeCallCorrection& c : corrections->calls) {
    (c.bound == cost::Bound::kCompute ? exchange_parts.compute : exchange_parts.memory) +=
        c.mean_excess;
    exchange_parts.comm += c.comm_excess;
  }
  e.exchange_parts = {exchange_parts.compute, exchange_parts.memory, exchange_parts.comm,
                      Duration{0}, Duration{0}};
  add_host_overhead(*d.compute, e.timing);
  e.timing.imbalance = mean_busy > Duration{0}
                           ? std::max(1.0, static_cast<double>(max_busy.count()) /
                                               static_cast<double>(mean_busy.count()))
                           : 1.0;
  e.timing.extrapolated = base.timeline.extrapolated_share();
  e.layers = layer_spans(base.plan, base.timeline, rank);
  e.corrections = corrections;
  return e;
}

std::vector<PlanStepModel::LayerSpan> PlanStepModel::layer_spans(const llm::StepPlan& plan,
                                                                 const StepTimeline& timeline,
                                                                 std::int32_t rank) {
  std::map<std::int32_t, LayerSpan> by_layer;
  const auto& ops = plan.plan_of(rank).ops;
  const auto& times = timeline.of(rank);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].layer < 0) continue;
    auto [it, fresh] =
        by_layer.try_emplace(ops[i].layer, LayerSpan{ops[i].layer, times[i].start, times[i].end});
    if (!fresh) {
      it->second.start = std::min(it->second.start, times[i].start);
      it->second.end = std::max(it->second.end, times[i].end);
    }
  }
  std::vector<LayerSpan> out;
  out.reserve(by_layer.size());
  for (const auto& [layer, span] : by_layer) out.push_back(span);
  return out;
}

void PlanStepModel::fill_detail(const Entry& entry, std::vector<serve::StepSpan>& detail) const {
  const Deployment& d = *deployment_;
  const std::int32_t attention_tp = std::max(d.plan.tp / std::max(d.plan.attention_dp, 1), 1);
  Duration shift{};
  std::size_t next = 0;
  const std::vector<MoeCallCorrection>* calls =
      entry.corrections != nullptr ? &entry.corrections->calls : nullptr;
  for (const LayerSpan& layer : entry.layers) {
    Duration excess{};
    const std::size_t first = next;
    while (calls != nullptr && next < calls->size() && (*calls)[next].layer == layer.layer) {
      excess += (*calls)[next].max_excess + (*calls)[next].comm_excess;
      ++next;
    }
    const Duration start = layer.start + shift;
    const Duration end = layer.end + shift + excess;
    detail.push_back({"layer " + std::to_string(layer.layer), "layer", -1, start, end - start});
    for (std::size_t i = first; i < next; ++i) {
      const MoeCallCorrection& c = (*calls)[i];
      const std::string mb = d.plan.micro_batches > 1 ? " mb" + std::to_string(c.micro_batch) : "";
      const Duration combine_start = end - c.combine;
      const Duration experts_start = combine_start - c.slowest_experts;
      detail.push_back({"layer " + std::to_string(c.layer) + mb + " all-to-all dispatch",
                        "communication", -1, experts_start - c.dispatch, c.dispatch});
      detail.push_back({"layer " + std::to_string(c.layer) + mb + " experts, slowest EP rank " +
                            std::to_string(c.slowest_rank),
                        "straggler", c.slowest_rank / attention_tp, experts_start,
                        c.slowest_experts});
      detail.push_back({"layer " + std::to_string(c.layer) + mb + " all-to-all combine",
                        "communication", -1, combine_start, c.combine});
    }
    shift += excess;
  }
}

std::string PlanStepModel::describe() const {
  return "plan-based step model (" + label_ + ": " + deployment_->model.name + " on " +
         deployment_->system.name + ", stack " + deployment_->stack + ", " +
         llm::describe(deployment_->plan) +
         (factored_ ? ", factored: symmetric lowering + per-layer routing draws"
                    : ", every rank lowered with its routing draw") +
         ", steps cached per geometric bucket of 2^(1/4))";
}

}  // namespace moesim::step
