#include "sim/serve/analytic_step_model.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace moesim::serve {

AnalyticStepModel::AnalyticStepModel(AnalyticStepParams params) : params_(params) {
  MOESIM_ASSERT(params.fixed >= Duration::zero() && params.per_token >= Duration::zero() &&
                    params.per_kv_token >= Duration::zero(),
                "analytic step model parameters must be >= 0");
}

AnalyticStepModel AnalyticStepModel::from_config(const config::ConfigNode& node) {
  node.check_keys({"impl", "fixed", "per_token", "per_kv_token"});
  if (const auto impl = node.get("impl")) impl->as_choice({"analytic"});
  AnalyticStepParams p;
  p.fixed = node.at("fixed").as_duration();
  p.per_token = node.at("per_token").as_duration();
  p.per_kv_token = node.at("per_kv_token").as_duration();
  if (p.fixed == Duration::zero() && p.per_token == Duration::zero() &&
      p.per_kv_token == Duration::zero()) {
    // Every step would take no time: the clock would stand still while requests complete.
    node.at("fixed").fail(
        "a positive time here or in per_token or per_kv_token (a step that takes no time "
        "leaves the simulated clock standing still)",
        "every time 0");
  }
  return AnalyticStepModel(p);
}

void AnalyticStepModel::price(const StepBatch& batch, const StepContext& /*ctx*/, StepTiming& out) {
  const std::int32_t ranks = batch.attention_dp;
  std::int64_t total_tokens = 0;
  std::int64_t total_context = 0;
  Duration max_work{};
  for (std::int32_t r = 0; r < ranks; ++r) {
    std::int64_t tokens = 0;
    std::int64_t context = 0;
    for (std::int32_t i = batch.rank_begin[r]; i < batch.rank_begin[r + 1]; ++i) {
      tokens += batch.sequences[i].new_tokens;
      context += batch.sequences[i].context_tokens;
    }
    if (!batch.decode_groups.empty()) {
      const DecodeGroupWork& g = batch.decode_groups[static_cast<std::size_t>(r)];
      tokens += static_cast<std::int64_t>(g.sequences) * g.new_tokens;
      context += g.context_tokens;
    }
    total_tokens += tokens;
    total_context += context;
    max_work = std::max(max_work, params_.per_token * tokens + params_.per_kv_token * context);
  }
  const Duration mean_compute = params_.per_token * total_tokens / ranks;
  const Duration mean_kv = params_.per_kv_token * total_context / ranks;
  out.breakdown = StepBreakdown{};
  out.breakdown.compute = mean_compute;
  out.breakdown.memory = params_.fixed + mean_kv;
  out.breakdown.idle = max_work - mean_compute - mean_kv;
  out.duration = params_.fixed + max_work;
  const Duration mean_work = mean_compute + mean_kv;
  out.imbalance = mean_work > Duration::zero() ? static_cast<double>(max_work.count()) /
                                                     static_cast<double>(mean_work.count())
                                               : 1.0;
  out.detail.clear();
}

std::string AnalyticStepModel::describe() const {
  return "analytic: " + std::to_string(to_microseconds(params_.fixed)) + " us + " +
         std::to_string(to_microseconds(params_.per_token)) + " us/token + " +
         std::to_string(to_microseconds(params_.per_kv_token)) + " us/context token";
}

}  // namespace moesim::serve
