#include "sim/study/plan_step_model.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/llm/sampled_loads.hpp"
#include "sim/study/step_timeline.hpp"

namespace moesim::study {
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

std::int32_t to_i32(std::int64_t v) {
  MOESIM_ASSERT(v >= 0 && v <= 2147483647, "step size out of int32 range");
  return static_cast<std::int32_t>(v);
}

}  // namespace

std::int64_t geometric_bucket(std::int64_t x) {
  if (x <= 0) return 0;
  for (int k = 0;; ++k) {
    const auto v = static_cast<std::int64_t>(std::ceil(std::exp2(static_cast<double>(k) / 4.0)));
    if (v >= x) return v;
  }
}

PlanStepModel::PlanStepModel(std::shared_ptr<const Deployment> deployment, std::string label)
    : deployment_(std::move(deployment)), label_(std::move(label)) {
  MOESIM_ASSERT(deployment_ != nullptr, "PlanStepModel needs a deployment");
}

void PlanStepModel::price(const serve::StepBatch& batch, const serve::StepContext& ctx,
                          serve::StepTiming& out) {
  MOESIM_ASSERT(ctx.rng != nullptr, "StepContext::rng is null");
  std::int64_t max_decode = 0;
  std::int64_t max_prefill = 0;
  std::int64_t decode_tokens = 0;
  std::int64_t decode_context = 0;
  std::int64_t prefill_prefix = 0;
  std::int64_t prefill_seqs = 0;
  std::int64_t decode_seqs = 0;
  for (std::int32_t r = 0; r < batch.attention_dp; ++r) {
    std::int64_t d = 0;
    std::int64_t p = 0;
    const auto begin = static_cast<std::size_t>(batch.rank_begin[static_cast<std::size_t>(r)]);
    const auto end = static_cast<std::size_t>(batch.rank_begin[static_cast<std::size_t>(r) + 1]);
    for (std::size_t i = begin; i < end; ++i) {
      const serve::SequenceWork& s = batch.sequences[i];
      if (s.phase == serve::Phase::kDecode) {
        ++d;
        decode_tokens = std::max<std::int64_t>(decode_tokens, s.new_tokens);
        decode_context += s.context_tokens;
      } else {
        p += s.new_tokens;
        prefill_prefix += s.context_tokens - s.new_tokens;
        ++prefill_seqs;
      }
    }
    decode_seqs += d;
    max_decode = std::max(max_decode, d);
    max_prefill = std::max(max_prefill, p);
  }
  Key key{};
  key[kHasPrefill] = prefill_seqs > 0 ? 1 : 0;
  key[kHasDecode] = decode_seqs > 0 ? 1 : 0;
  key[kDecodeTokens] = decode_tokens;
  key[kDecodeSeqs] = geometric_bucket(max_decode);
  key[kPrefillTokens] = geometric_bucket(max_prefill);
  key[kDecodeContext] = decode_seqs > 0 ? geometric_bucket(decode_context / decode_seqs) : 0;
  key[kPrefillPrefix] = prefill_seqs > 0 ? geometric_bucket(prefill_prefix / prefill_seqs) : 0;

  auto it = cache_.find(key);
  if (it == cache_.end()) {
    it = cache_.emplace(key, lower_and_time(key, *ctx.rng)).first;
  } else {
    ++hits_;
  }
  const serve::StepTiming& t = it->second;
  out.duration = t.duration;
  out.breakdown = t.breakdown;
  out.imbalance = t.imbalance;
  out.detail.clear();
}

serve::StepTiming PlanStepModel::lower_and_time(const Key& key, Rng& rng) const {
  const Deployment& d = *deployment_;
  std::vector<llm::SequenceWork> seqs;
  if (key[kHasDecode] != 0) {
    const std::int32_t tokens = to_i32(std::max<std::int64_t>(key[kDecodeTokens], 1));
    const std::int32_t context = to_i32(std::max<std::int64_t>(key[kDecodeContext], tokens));
    seqs.assign(static_cast<std::size_t>(key[kDecodeSeqs]),
                llm::SequenceWork::decode(context, tokens));
  }
  if (key[kHasPrefill] != 0 && key[kPrefillTokens] > 0) {
    seqs.push_back(llm::SequenceWork::prefill_chunk(to_i32(key[kPrefillTokens]),
                                                    to_i32(key[kPrefillPrefix]), true));
  }
  MOESIM_ASSERT(!seqs.empty(), "priced an empty step");
  const llm::StepBatch batch = llm::StepBatch::same_on_every_replica(d.plan.attention_dp, seqs);
  llm::StepPlan plan;
  if (d.model.moe) {
    llm::SampledLoads loads(
        d.model, *d.popularity, d.plan.ep, d.plan.redundant_experts,
        d.plan.redundant_experts > 0 ? llm::PlacementKind::kEplb : llm::PlacementKind::kContiguous,
        rng);
    plan = d.lowering->lower(batch, loads);
  } else {
    plan = d.lowering->lower(batch);
  }
  const StepTimeline timeline = time_step(plan, *d.compute, *d.network);

  Duration by_bound[4] = {};
  Duration busy_sum{};
  Duration busy_max{};
  for (std::int32_t r = 0; r < plan.ranks(); ++r) {
    Duration busy{};
    const auto& ops = timeline.ops[static_cast<std::size_t>(r)];
    for (const OpTiming& op : ops) {
      busy += op.cost.time;
      if (r == timeline.slowest_rank)
        by_bound[static_cast<std::size_t>(op.cost.bound)] += op.cost.time;
    }
    busy_sum += busy;
    busy_max = std::max(busy_max, busy);
  }
  serve::StepTiming out;
  out.duration = std::max(timeline.step, Duration{1});
  Duration compute = by_bound[static_cast<std::size_t>(cost::Bound::kCompute)];
  Duration memory = by_bound[static_cast<std::size_t>(cost::Bound::kMemory)] +
                    by_bound[static_cast<std::size_t>(cost::Bound::kOverhead)];
  Duration comm = by_bound[static_cast<std::size_t>(cost::Bound::kNetwork)];
  const Duration raw = compute + memory + comm;
  if (raw > out.duration) {
    const double f = static_cast<double>(out.duration.count()) / static_cast<double>(raw.count());
    compute = Duration{static_cast<std::int64_t>(static_cast<double>(compute.count()) * f)};
    memory = Duration{static_cast<std::int64_t>(static_cast<double>(memory.count()) * f)};
    comm = std::max(Duration{0}, out.duration - compute - memory);
  }
  out.breakdown.compute = compute;
  out.breakdown.memory = memory;
  out.breakdown.communication = comm;
  out.breakdown.host_overhead = Duration{0};
  out.breakdown.idle = out.duration - compute - memory - comm;
  const double mean =
      static_cast<double>(busy_sum.count()) / static_cast<double>(std::max(plan.ranks(), 1));
  out.imbalance = mean > 0.0 ? static_cast<double>(busy_max.count()) / mean : 1.0;
  return out;
}

std::string PlanStepModel::describe() const {
  return "plan-based step model (" + label_ + ": " + deployment_->model.name + " on " +
         deployment_->system.name + ", " + llm::describe(deployment_->plan) +
         ", uniform routing sampled per geometric bucket of 2^(1/4))";
}

}  // namespace moesim::study
