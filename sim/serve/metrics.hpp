#pragma once
/// \file
/// Serving metrics: per request and per run, with the definitions published benchmarks use
/// (data/published/README.md of the project notes; compare a prediction with a measurement only
/// in the measurement's own definition).
///
/// Per request (RequestRecord, engine.hpp), times of token emission are the ends of the steps
/// that produced them:
///   TTFT  = first token - arrival.
///   E2E   = last token - arrival.
///   TPOT  = (E2E - TTFT) / (OSL - 1): time per output token after the first (vLLM
///           benchmark_serving, genai-perf, trtllm-bench); undefined for OSL = 1 (excluded).
///   ITL   = the gaps between successive token emissions of a request (with MTP several tokens
///           arrive at once, so ITL >= TPOT); run-level ITL percentiles are over all gaps.
///
/// Per run, over the measurement window W = [arrival of the first measured request, completion
/// of the last measured request] (measured = not warm-up):
///   output_tok_s          output tokens emitted during W (by any request) / |W|.
///   input_tok_s           prompt tokens prefilled for the first time during W / |W|
///                         (recomputation after preemption not counted).
///   total_tok_s           input_tok_s + output_tok_s.
///   output_tok_s_per_gpu  output_tok_s / every GPU of the deployment (prefill and decode pools
///                         together): trtllm-bench's "output tokens/s per GPU".
///   total_tok_s_per_gpu   total_tok_s / every GPU: InferenceMAX's throughput per GPU.
///   output_tok_s_per_decode_gpu  output_tok_s / decode-pool GPUs (disaggregated benchmarks'
///                         decode throughput; = output_tok_s_per_gpu when aggregated).
///   input_tok_s_per_prefill_gpu  input_tok_s / prefill-pool GPUs (disaggregated only).
///   tok_s_per_user        median over measured requests of 1 / TPOT ("interactivity",
///                         1000 / TPOT_ms); absent when no measured request has a TPOT (every
///                         OSL is 1), written null / "n/a" like the TPOT summary then.
///   ttft_ms, tpot_ms, e2e_ms  mean and p50/p90/p99 over measured requests (quantiles by linear
///                         interpolation, NumPy's default, up to 262,144 measured requests;
///                         beyond, within 0.2 %: SampleSet); itl_ms over all measured gaps
///                         (~1 %).
///   goodput_req_s         measured requests that met their class's SLA / |W|; sla_attainment
///                         the fraction of measured requests that met it.
///   gpu_utilization       busy GPU-time / (GPUs x |W|), a GPU being busy while its instance
///                         runs a step.
///   cost_usd_per_mtok     price per GPU-hour / (3600 x output_tok_s_per_gpu / 1e6) (the
///                         published README's definition, on output tokens);
///                         cost_usd_per_mtok_total the same on input + output tokens. Pools
///                         on different systems (mixed hardware): each pool's GPU-hours at
///                         its own system's price, i.e. the price per GPU-hour above is the
///                         GPU-weighted mean (prefill GPUs x prefill price + decode GPUs x
///                         decode price) / all GPUs (price_usd_per_gpu_hour reports it).
///   joules_per_token      energy over W / output tokens in W, energy = sum over pools of
///                         GPUs x |W| x (idle + (load - idle) x pool busy fraction), with the
///                         all-in per-GPU powers of the price sheet (each pool its own
///                         system's, mixed hardware); joules_per_token_total per input +
///                         output token.
///   step time breakdown   per pool, summed over its steps (instance-seconds): compute, memory,
///                         communication, host overhead, idle (straggler wait); imbalance is
///                         the step-time-weighted mean of the slowest-rank / mean-rank factor.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/stats.hpp"
#include "sim/core/units.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/serve/engine.hpp"
#include "sim/serve/workload.hpp"

namespace moesim::serve {

/// Price and power per GPU, from the price sheet.
struct Pricing {
  MoneyRate price_per_gpu{};  ///< rental price of one GPU
  Power load_per_gpu{};       ///< all-in draw of one GPU at full load
  Power idle_per_gpu{};       ///< all-in draw of one GPU while idle
  std::string source;         ///< where the figures come from, for reports
  /// Mixed hardware: the decode pool's figures (its own system's price-sheet entry) when it
  /// runs on another system than the prefill pool; null: the figures above price every pool.
  std::shared_ptr<const Pricing> decode = nullptr;

  /// The figures that price the GPUs of pool `role`.
  const Pricing& of(PoolRole role) const {
    return role == PoolRole::kDecode && decode ? *decode : *this;
  }
};

/// The pricing of a price-sheet entry.
Pricing pricing_from(const hw::PriceEntry& entry);

/// The pricing of a deployment whose prefill (or only) pool runs on `primary_system` and whose
/// decode pool runs on `decode_system` (the same name unless the hardware is mixed), from
/// `sheet`; absent when the sheet lacks either system. Mixed: the prefill entry's figures with
/// the decode entry's as `decode`.
std::optional<Pricing> pricing_for(const hw::PriceSheet& sheet, std::string_view primary_system,
                                   std::string_view decode_system);

/// Summary of a set of values: count, mean and quantiles (0 when empty; reports write an empty
/// summary's mean and quantiles as null / "n/a", e.g. TPOT when every OSL is 1).
struct Summary {
  std::int64_t count = 0;
  double mean = 0.0;
  double p50 = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
};

/// Metrics of one pool over the window.
struct PoolMetrics {
  PoolRole role = PoolRole::kAggregated;
  std::int32_t instances = 0;
  std::int32_t gpus = 0;
  std::int64_t steps = 0;
  double busy_fraction = 0.0;         ///< busy instance-time / (instances x |W|)
  double mean_step_ms = 0.0;          ///< mean step duration
  double mean_batch_sequences = 0.0;  ///< mean sequences per step (all ranks)
  double compute_s = 0.0;             ///< breakdown, summed instance-seconds
  double memory_s = 0.0;
  double communication_s = 0.0;
  double host_overhead_s = 0.0;
  double idle_s = 0.0;
  double imbalance = 1.0;  ///< step-time-weighted mean imbalance factor
  /// Step-time-weighted share of kernel time priced outside the measured shapes of the stack's
  /// calibration (StepTiming::extrapolated); 0 when every price is backed by a measurement.
  double extrapolated_share = 0.0;
  double input_tok_s = 0.0;   ///< first-time prompt tokens prefilled / |W|
  double output_tok_s = 0.0;  ///< tokens emitted / |W|
  std::int64_t preemptions = 0;
  /// Mean over steps of the attention-DP balance ratio: mean over ranks of a step's new tokens
  /// / the most any rank had (TensorRT-LLM tech blog 10's balance_ratio; 1 without attention
  /// DP, and when every rank has the same work).
  double dp_balance = 1.0;
  /// Context (KV tokens) of the running decodes: mean over decode sequence-steps, and the 90th
  /// percentile over decode sequence-steps of their step's mean decode context (within 9 %:
  /// 2^(1/8) bins). 0 when the pool ran no decode.
  double decode_context_mean = 0.0;
  double decode_context_p90 = 0.0;
  /// Tokens emitted per sequence per decode step (1 + accepted drafts, capped by the tokens a
  /// request had left); compare with expected_tokens_per_decode_step.
  double tokens_per_decode_step = 0.0;
};

/// Metrics of one request class over its measured requests.
struct ClassMetrics {
  std::string name;
  std::int64_t requests = 0;
  Summary ttft_ms;
  Summary tpot_ms;
  Summary e2e_ms;
  std::optional<double> tok_s_per_user;  ///< absent: no request with a TPOT (OSL 1)
  double sla_attainment = 0.0;
  double goodput_req_s = 0.0;
};

/// Metrics of one run (see the file comment for each definition).
struct RunMetrics {
  std::int64_t requests = 0;           ///< sent, warm-up included
  std::int64_t measured_requests = 0;  ///< completed and measured
  std::int64_t warmup_requests = 0;
  std::int32_t gpus = 0;
  std::int32_t prefill_gpus = 0;  ///< disaggregated only
  std::int32_t decode_gpus = 0;   ///< disaggregated only
  double window_s = 0.0;
  double input_tok_s = 0.0;
  double output_tok_s = 0.0;
  double total_tok_s = 0.0;
  double request_throughput_req_s = 0.0;
  double output_tok_s_per_gpu = 0.0;
  double total_tok_s_per_gpu = 0.0;
  double output_tok_s_per_decode_gpu = 0.0;
  std::optional<double> input_tok_s_per_prefill_gpu;
  std::optional<double> tok_s_per_user;  ///< absent: no request with a TPOT (OSL 1)
  Summary ttft_ms;
  Summary tpot_ms;
  Summary itl_ms;
  Summary e2e_ms;
  double goodput_req_s = 0.0;
  double sla_attainment = 0.0;
  double gpu_utilization = 0.0;
  std::optional<double> cost_usd_per_mtok;
  std::optional<double> cost_usd_per_mtok_total;
  std::optional<double> joules_per_token;
  std::optional<double> joules_per_token_total;
  std::optional<double> price_usd_per_gpu_hour;
  std::int64_t preemptions = 0;
  double expected_tokens_per_decode_step = 1.0;  ///< from the MTP acceptance rates
  std::optional<Summary> kv_transfer_ms;         ///< disaggregated: transfer durations
  std::optional<Summary> decode_wait_ms;         ///< disaggregated: prefill done -> decode admit
  std::vector<PoolMetrics> pools;
  std::vector<ClassMetrics> classes;
};

/// The per-request statistics of a run, gathered as its requests complete: streaming, so its
/// memory does not grow with the requests (SampleSet: quantiles exact up to its limit of
/// values, within 0.2 % beyond).
struct RequestStats {
  /// Samples of one group of requests (the whole run or one class).
  struct Group {
    SampleSet ttft_ms;
    SampleSet tpot_ms;
    SampleSet e2e_ms;
    SampleSet user_tok_s;  ///< 1 / TPOT
    std::int64_t requests = 0;
    std::int64_t sla_met = 0;
    void add(const RequestRecord& r, const Sla& sla);
  };

  /// Statistics of `workload`'s measured requests (`workload` must outlive this).
  explicit RequestStats(const WorkloadSpec& workload);
  /// Adds a completed request; warm-up requests are not measured and ignored.
  void add(const RequestRecord& r);

  const WorkloadSpec& workload;
  Group all;
  std::vector<Group> classes;  ///< by class index
  SampleSet transfer_ms;       ///< disaggregated: KV transfer durations (OSL > 1)
  SampleSet decode_wait_ms;    ///< disaggregated: prefill done -> decode admit (OSL > 1)
};

/// Computes the run's metrics from a finished engine and the statistics of its completed
/// requests (the window must have ended, i.e. every measured request completed; asserted).
/// `pricing` absent: cost and energy are absent.
RunMetrics compute_metrics(const Engine& engine, const RequestStats& stats,
                           const std::optional<Pricing>& pricing);

/// One metric as a dotted key with its unit in the name ("ttft_ms.p50") and a value (absent:
/// not defined for this run, written as null).
struct MetricValue {
  std::string key;
  std::optional<double> value;
};

/// Every metric of `m` in report order. The key set depends only on the configuration (pools,
/// classes), so replicas of one scenario give the same keys.
std::vector<MetricValue> flatten(const RunMetrics& m);

}  // namespace moesim::serve
