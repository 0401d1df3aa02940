#include <algorithm>
#include <cmath>
#include <string>

#include "sim/core/error.hpp"
#include "sim/serve/engine.hpp"

namespace moesim::serve {

// ---- small value types ----

std::int64_t PoolConfig::blocks_per_rank() const {
  return kv_capacity_tokens / attention_dp / kv_block_size;
}

double SpecDecodeConfig::expected_tokens_per_step() const {
  double expected = 1.0;
  double product = 1.0;
  for (double a : acceptance) {
    product *= a;
    expected += product;
  }
  return expected;
}

std::string_view to_string(SchedulingConfig::DpRouting routing) {
  return routing == SchedulingConfig::DpRouting::kRoundRobin ? "round_robin" : "least_loaded";
}

std::size_t context_bin(double tokens) {
  if (!(tokens >= 1.0)) return 0;
  const auto b = static_cast<std::size_t>(std::floor(std::log2(tokens) * 8.0));
  return std::min(b, kContextBins - 1);
}

double context_bin_floor(std::size_t b) { return std::exp2(static_cast<double>(b) / 8.0); }

namespace {

ConfigError config_error(const std::string& key, const std::string& expected,
                         const std::string& found) {
  return ConfigError({"<engine config>", 0, 0}, key, expected, found);
}

void validate_pool(const PoolConfig& p, const std::string& key, std::int32_t draft_tokens) {
  auto positive = [&](std::int64_t v, const char* name) {
    if (v < 1) throw config_error(key + "." + name, "a value >= 1", std::to_string(v));
  };
  positive(p.instances, "instances");
  positive(p.gpus_per_instance, "gpus_per_instance");
  positive(p.attention_dp, "attention_dp");
  positive(p.limits.max_batch_size, "max_batch_size");
  positive(p.limits.max_num_tokens, "max_num_tokens");
  positive(p.kv_block_size, "kv_block_size");
  if (p.limits.chunked_prefill_size < 0) {
    throw config_error(key + ".chunked_prefill_size", "0 (off) or a token count",
                       std::to_string(p.limits.chunked_prefill_size));
  }
  if (p.role != PoolRole::kPrefill && p.limits.max_num_tokens < 1 + draft_tokens) {
    throw config_error(key + ".max_num_tokens",
                       "at least 1 + draft tokens (" + std::to_string(1 + draft_tokens) +
                           ") so that a decode fits a step",
                       std::to_string(p.limits.max_num_tokens));
  }
  if (p.kv_capacity_tokens < 1 || p.blocks_per_rank() < 1) {
    throw config_error(
        key + ".kv_capacity_tokens",
        "at least one KV block per attention-DP rank (" +
            std::to_string(static_cast<std::int64_t>(p.attention_dp) * p.kv_block_size) +
            " tokens)",
        std::to_string(p.kv_capacity_tokens));
  }
}

}  // namespace

void EngineConfig::validate() const {
  const std::int32_t k = spec.draft_tokens();
  for (std::size_t i = 0; i < spec.acceptance.size(); ++i) {
    const double a = spec.acceptance[i];
    if (!(a >= 0.0 && a <= 1.0)) {
      throw config_error("speculative.acceptance[" + std::to_string(i) + "]",
                         "a probability in [0, 1]", std::to_string(a));
    }
  }
  if (host.step_overhead < Duration::zero()) {
    throw config_error("runtime.step_overhead", "a duration >= 0", "a negative duration");
  }
  if (scheduling.timeout_iters < 0 || scheduling.batching_wait_iters < 0) {
    throw config_error(
        "runtime.scheduler.adp_balance", "iteration counts >= 0",
        std::to_string(std::min(scheduling.timeout_iters, scheduling.batching_wait_iters)));
  }
  if (scheduling.prefill_interval < 1) {
    throw config_error("runtime.scheduler.prefill_interval", "a step count >= 1",
                       std::to_string(scheduling.prefill_interval));
  }
  if (!disaggregated) {
    if (primary.role != PoolRole::kAggregated) {
      throw config_error("deployment.aggregated", "an aggregated pool", "another role");
    }
    validate_pool(primary, "deployment.aggregated", k);
    return;
  }
  if (primary.role != PoolRole::kPrefill || decode.role != PoolRole::kDecode) {
    throw config_error("deployment", "a prefill pool and a decode pool", "other roles");
  }
  validate_pool(primary, "deployment.prefill", k);
  validate_pool(decode, "deployment.decode", k);
  if (kv_bytes_per_token.base() < 1) {
    throw config_error("deployment.kv_bytes_per_token", "a positive size for disaggregation",
                       std::to_string(kv_bytes_per_token.base()) + " B");
  }
}

PoolCounters PoolCounters::operator-(const PoolCounters& o) const {
  PoolCounters d;
  d.steps = steps - o.steps;
  d.busy = busy - o.busy;
  d.breakdown = breakdown - o.breakdown;
  d.imbalance_weighted_s = imbalance_weighted_s - o.imbalance_weighted_s;
  d.extrapolated_weighted_s = extrapolated_weighted_s - o.extrapolated_weighted_s;
  d.sequences_stepped = sequences_stepped - o.sequences_stepped;
  d.prefill_tokens = prefill_tokens - o.prefill_tokens;
  d.decode_tokens = decode_tokens - o.decode_tokens;
  d.decode_sequence_steps = decode_sequence_steps - o.decode_sequence_steps;
  d.decode_output_tokens = decode_output_tokens - o.decode_output_tokens;
  d.input_tokens = input_tokens - o.input_tokens;
  d.output_tokens = output_tokens - o.output_tokens;
  d.preemptions = preemptions - o.preemptions;
  d.balance_sum = balance_sum - o.balance_sum;
  d.decode_context_tokens = decode_context_tokens - o.decode_context_tokens;
  for (std::size_t b = 0; b < kContextBins; ++b) {
    d.context_steps[b] = context_steps[b] - o.context_steps[b];
  }
  return d;
}

}  // namespace moesim::serve
