// Validation of the serving simulation (sim/serve on the plan-based step model) against the
// serving cases of data/published/cases.yaml: TensorRT-LLM recipes on B200 and H200
// (trtllm-dsr1-*), the TensorRT-LLM performance overview (trtllm-perfov-*), SGLang on 96 H100
// and on GB200 NVL72, and vLLM on GB200. Each case is a scenario in
// tests/data/validation/serving/<case id>.yaml that states the case's conditions and cites its
// source; the published figures are copied below with their case ids. Every scenario runs
// through the library as `moesim run` does (serve::load_scenario, step::build_step_models,
// serve::run_serving); the test prints a table (case, metric, published, predicted, error,
// bound) and asserts |predicted / published - 1| <= bound. Run with -s to see the table.
//
// Metrics, each in its source's own definition (data/published/README.md):
//  - output tok/s/GPU: trtllm-bench's output tokens/s over every GPU (RunMetrics
//    output_tok_s_per_gpu). The performance overview reports the system's total; the per-GPU
//    figure is that total over the case's GPUs (cases.yaml derived.output_tok_s_per_gpu).
//  - tok/s/user: median over requests of 1 / TPOT (RunMetrics tok_s_per_user).
//  - prefill input tok/s/GPU: SGLang's prefill-only throughput with decode over-provisioned;
//    the scenario is aggregated with OSL 1 (only prefill steps), and the figure is prompt tokens
//    per busy GPU-second of the pool (pool input_tok_s / (busy fraction x GPUs)). SGLang reports
//    per node (8 GPUs); the per-GPU figure is that over 8.
//  - decode output tok/s/GPU: SGLang's and vLLM's decode throughput with the decode pool
//    saturated (SGLang's slow-down API lets prefill fill the batch before measuring). The
//    scenario's prefill pool prefills the whole batch in one step, so every decode step runs
//    the full batch; the figure is decode tokens per busy decode-GPU second (decode pool
//    output_tok_s / (busy fraction x GPUs)), which excludes the prefill ramp.
//
// Cases not run (printed with the reason):
//  - trtllm-perfov-llama31-405b-*: no Llama-3.1-405B model card in models/.
//  - sglang-dsr1-gb200-prefill-part2-nvfp4: two GB200s per instance with NVFP4 MoE do not hold
//    the weights (the footprint model gives 188 GiB per GPU against 186 GiB); SGLang offloads
//    weights to Grace memory with prefetch, which the model does not have.
//  - deepseek-prod-h800-prefill, deepseek-prod-h800-decode, deepseek-prod-cost: no H800 system
//    in the catalog, and the figures are 24-hour averages of production traffic (56.3 % KV-cache
//    hits, variable lengths, a node count that changes over the day) that a fixed workload does
//    not reproduce.
//  - vllm-dsr1-h200-wideep-decode: the case states neither the EP width, the batch nor the
//    lengths.
//  - sglang-dsr1-gb300-longctx-128k8k: a peak over a sweep of 128k/8k deployments with
//    chunked pipeline-parallel prefill and dynamic chunking; outside this table (and minutes of
//    simulation).
//
// What the model misses, case by case, is said at each bound. Common to all: routing is drawn
// from uniform expert popularity (the optimistic bound; real routing is skewed, and SGLang
// measured 1.49x prefill and 2.54x decode from EPLB), host time per step is the sourced 10 %
// of the GPU step (overheads.step_host_fraction) unless a scenario states one, each
// attention-DP rank schedules its own batch and the step lasts as long as the busiest rank's
// own work plus the MoE exchange of all ranks' tokens (one routing draw per cache key), the
// engine schedules as each stack's engine does (topologies/stacks/, engine.scheduler), kernels
// are priced by each scenario's stack (the system's default, TensorRT-LLM, unless the
// scenario names one; calibrated on per-op measurements only, topologies/stacks/), and no
// model constant was fitted to any case here. The roofline-stack figures quoted below are
// those of `moesim run <case> --stack roofline`, 2026-12-07. Skew is not what the max-throughput
// gap is: with --set routing.popularity={kind: zipf, exponent: 0.6, order: shuffled} (about the
// per-expert spread of TensorRT-LLM tech blog 4 Table 1, DeepSeek-R1 at EP32) the EP8 TRT-LLM
// cases drop by 4-8 % only (2026-12-07, roofline stack: b200 fp8kv 10401 -> 9740, h200 2419 ->
// 2324, Qwen3 b200 10082 -> 9254, Maverick b200 14223 -> 13964 output tok/s/GPU), since at EP8
// every rank holds 32 experts, all hit in a large decode step, and reads their weights whatever
// their token counts.
//
// MoE TP x EP hybrids (TensorRT-LLM's min-latency TP4 x EP2) are not expressible: the
// min-latency cases run TP8 attention with EP8 MoE, the conservative bracket (ep 1, the other
// bracket, predicts more still; each scenario gives both figures).
//
// Speed: the TensorRT-LLM max-throughput cases send the case's own request count (all its
// closed-loop waves), the others one wave or a few batches; the whole file runs in about 15 s
// of CPU in Release.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/serve/metrics.hpp"
#include "sim/serve/run.hpp"
#include "sim/serve/scenario.hpp"
#include "sim/step/step_models.hpp"

namespace moesim::serve {
namespace {

namespace fs = std::filesystem;

/// The published metric a case reports (see the file comment).
enum class Metric {
  kOutputPerGpu,   ///< output tok/s over every GPU
  kTokPerUser,     ///< median 1 / TPOT
  kPrefillPerGpu,  ///< prompt tokens per busy GPU-second (prefill only)
  kDecodePerGpu,   ///< decode tokens per busy decode-GPU second (saturated decode)
  kDpBalance,      ///< mean over steps of mean / busiest attention-DP rank's tokens
};

std::string_view metric_name(Metric m) {
  switch (m) {
    case Metric::kOutputPerGpu: return "output tok/s/GPU";
    case Metric::kTokPerUser: return "tok/s/user";
    case Metric::kPrefillPerGpu: return "prefill input tok/s/GPU";
    case Metric::kDecodePerGpu: return "decode output tok/s/GPU";
    case Metric::kDpBalance: return "attention-DP balance";
  }
  return "?";
}

/// One published figure: the scenario is tests/data/validation/serving/<id>.yaml.
struct ServingCase {
  std::string id;    ///< cases.yaml id
  Metric metric;     ///< what `published` measures
  double published;  ///< the source's figure, in the metric's unit
  double bound;      ///< asserted bound on |predicted / published - 1|
};

std::vector<ServingCase> published_cases() {
  // TensorRT-LLM "How to get best performance on DeepSeek-R1" (trtllm-bench),
  // https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md
  // and tech blog 1,
  // https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/blogs/tech_blog/blog1_Pushing_Latency_Boundaries_Optimizing_DeepSeek-R1_Performance_on_NVIDIA_B200_GPUs.md
  // TensorRT-LLM performance overview,
  // https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/performance/perf-overview.md
  // LMSYS blogs: https://lmsys.org/blog/2025-05-05-large-scale-ep/ ,
  // https://lmsys.org/blog/2025-06-16-gb200-part-1/ ,
  // https://lmsys.org/blog/2025-09-25-gb200-part-2/ vLLM:
  // https://blog.vllm.ai/2026/02/03/dsr1-gb200-part1.html
  return {
      // DeepSeek-R1 max throughput, ADP8 + EP8, ISL 1024 / OSL 2048, batches of 128-896 per
      // rank. With the systems' default stack (TensorRT-LLM 1.3.0rc20 kernels calibrated on
      // NVIDIA's per-op tables, topologies/stacks/trtllm.yaml) predicted 32-49 % (B200) and 37 %
      // (H200) above the published figure; the roofline stack gave 68-93 %. What is left: the
      // measured engine runs mixed prefill/decode steps whose attention-DP ranks differ in load,
      // skewed routing without EPLB, and per-step scheduling in Python. Bound 80%, so that a
      // return to the roofline's gap fails.
      {"trtllm-dsr1-b200x8-maxtput-fp8kv", Metric::kOutputPerGpu, 5393.3, 0.80},
      {"trtllm-dsr1-b200x8-maxtput-bf16kv", Metric::kOutputPerGpu, 4548.0, 0.80},
      {"trtllm-dsr1-h200x8-maxtput", Metric::kOutputPerGpu, 1436.2, 0.80},
      // Batch-1 latency with MTP3 / without MTP: with the calibrated kernels predicted 17-19 %
      // slower to 19 % faster (the roofline stack: 21-51 % faster). A batch-1 step is weight
      // reads plus per-layer all-reduce latency floors, a few milliseconds, where the fixed
      // per-kernel costs the calibration measured now count; left out: host time per step, the
      // MTP draft layers' own launches, and the published TP x EP hybrids (EP8 here, see the
      // scenarios). MTP acceptance comes from tech blog 1's dataset, not the case's. Bound 80%.
      {"trtllm-dsr1-b200x8-minlat-mtp3", Metric::kTokPerUser, 274.7, 0.80},
      {"trtllm-dsr1-h200x8-minlat-mtp3", Metric::kTokPerUser, 158.1, 0.80},
      {"trtllm-dsr1-b200x8-minlat-nomtp", Metric::kTokPerUser, 111.0, 0.80},
      // Dense Llama-3.3-70B, one or two GPUs, KV-bound batch. The batch and token limits of
      // trtllm-bench and the KV precision are not stated (TensorRT-LLM defaults and FP8
      // chosen). With the calibrated kernels predicted 8-23 % slow (the roofline: 12 % slow to
      // 16 % fast): the fused gate_up GEMM (n = 57,344) lies outside the measured shapes
      // (n <= 16,384) and is priced by extrapolation, and the per-tensor FP8 GEMM family
      // includes the dynamic activation-scale pass that a static-scale checkpoint skips.
      // Bound 35%.
      {"trtllm-perfov-llama33-70b-h200-tp1-1k1k", Metric::kOutputPerGpu, 2909.0, 0.35},
      {"trtllm-perfov-llama33-70b-h100-tp2-1k1k", Metric::kOutputPerGpu, 2102.5, 0.35},
      {"trtllm-perfov-llama33-70b-b200-tp1-1k1k", Metric::kOutputPerGpu, 7007.0, 0.35},
      {"trtllm-perfov-llama33-70b-gb200-tp1-1k1k", Metric::kOutputPerGpu, 7326.0, 0.35},
      // MoE models with ADP8 + EP8: the same optimism as the DeepSeek max-throughput cases
      // (uniform routing over 128 experts, no per-step host cost, no DP-rank imbalance), and
      // the source's own parallel settings per model are not stated. Calibrated kernels: 12-27 %
      // above (the roofline: 24-90 %). Bound 60%.
      {"trtllm-perfov-qwen3-235b-h200-tp8-1k1k", Metric::kOutputPerGpu, 2973.6, 0.60},
      {"trtllm-perfov-qwen3-235b-b200-tp8-1k1k", Metric::kOutputPerGpu, 5298.9, 0.60},
      {"trtllm-perfov-maverick-h200-tp8-1k1k", Metric::kOutputPerGpu, 3972.8, 0.60},
      {"trtllm-perfov-maverick-b200-tp8-1k1k", Metric::kOutputPerGpu, 9952.1, 0.60},
      // SGLang on H100 (54,543 input tok/s per node; 22,282 output tok/s per node), per GPU.
      // Prefill: TBO, EP32 over 4 nodes, DeepEP normal mode over the NICs; decode: EP72 over 9
      // nodes, 256 sequences per GPU. SGLang ran with EPLB on skewed real routing; the model's
      // uniform routing is the perfect-EPLB bound (the blog's own perfect-EPLB prefill run was
      // 18 % faster than the measured one). The stack is sglang-wideep (DeepEP + DeepGEMM MoE,
      // SGLang's other kernels): prefill is predicted 55 % slow, because NVIDIA's measurement of
      // SGLang's Hopper MLA context kernel (flash_attention backend) is 2.8x slower than
      // TensorRT-LLM's at 2k tokens (1.05 ms vs 0.38 ms, 128 heads); whether the published run's
      // attention was that slow is not known. Decode: 15 % slow. Bound 60%.
      {"sglang-dsv3-h100-96gpu-prefill-2k", Metric::kPrefillPerGpu, 54543.0 / 8.0, 0.60},
      {"sglang-dsv3-h100-96gpu-decode-2k", Metric::kDecodePerGpu, 22282.0 / 8.0, 0.60},
      // SGLang on GB200 NVL72, decode EP48 over NVLink, stack sglang-wideep. Part I (June 2025
      // software, "kernels not yet saturating memory bandwidth or compute" in the blog) was
      // predicted 56 % fast by the roofline and is 4 % slow with the calibrated SGLang kernels
      // (measured in 2026, newer than Part I's); its batch is not stated (704 per GPU, estimated
      // from Part II's KV-full rule). Part II's o_proj in NVFP4 is not expressible: 15 % slow.
      // Bounds 100% (Part I) and 60% (Part II).
      {"sglang-dsr1-gb200-decode-part1", Metric::kDecodePerGpu, 7583.0, 1.00},
      {"sglang-dsr1-gb200-decode-part2-nvfp4", Metric::kDecodePerGpu, 13386.0, 0.60},
      // vLLM on GB200, decode DEP8, batch at the model's KV capacity. No vLLM per-op tables:
      // the system's default stack (TensorRT-LLM kernels), 14 % fast. Bound 60%.
      {"vllm-dsr1-gb200-decode-2k2k", Metric::kDecodePerGpu, 10100.0, 0.60},
      // TensorRT-LLM tech blog 10 (ADP balance), 8x GB200, DeepSeek-V3 DP8 + EP8, in-flight
      // batching of long-tailed lengths (mean ISL 803, OSL 3,653): without and with the
      // attention-DP balance gate. Output tokens/s over 8 GPUs, and the blog's average balance
      // ratio (mean / busiest rank's tokens per iteration). Not in cases.yaml; concurrency,
      // length spreads and precision are not stated (the scenarios derive or assume them and
      // say how). Throughput bound 25%, issue 13's aim for MoE max-throughput cases; balance
      // ratio 35%, since it follows the assumed length spreads. Predicted (2026-12-07): +14 %
      // and -10 % throughput, balance 62 % and 78 % (published 54 % and 88 %): the gate's gain
      // is a fifth of the published one (1.06x against 1.33x), checked on its own below.
      {"trtllm-dsv3-gb200x8-adp-baseline", Metric::kOutputPerGpu, 25664.0 / 8.0, 0.25},
      {"trtllm-dsv3-gb200x8-adp-baseline", Metric::kDpBalance, 0.5411, 0.35},
      {"trtllm-dsv3-gb200x8-adp-balance", Metric::kOutputPerGpu, 34140.0 / 8.0, 0.25},
      {"trtllm-dsv3-gb200x8-adp-balance", Metric::kDpBalance, 0.8770, 0.35},
  };
}

/// Cases of the families above that are not run, with the reason (see the file comment).
struct SkippedCase {
  std::string_view id;
  std::string_view reason;
};

constexpr SkippedCase kSkipped[] = {
    {"trtllm-perfov-llama31-405b-h200-tp8-1k1k", "no Llama-3.1-405B model card in models/"},
    {"trtllm-perfov-llama31-405b-b200-tp4-1k1k", "no Llama-3.1-405B model card in models/"},
    {"sglang-dsr1-gb200-prefill-part2-nvfp4",
     "DEP2 NVFP4 does not fit 186 GiB per GPU; SGLang offloads weights to Grace (not modelled)"},
    {"deepseek-prod-h800-prefill", "no H800 system in the catalog; 24-h production averages"},
    {"deepseek-prod-h800-decode", "no H800 system in the catalog; 24-h production averages"},
    {"deepseek-prod-cost", "no H800 system in the catalog; a day's cost over varying node counts"},
    {"vllm-dsr1-h200-wideep-decode", "the case states no EP width, batch or lengths"},
    {"sglang-dsr1-gb300-longctx-128k8k", "peak over a 128k/8k sweep with PP4 dynamic chunking"},
};

/// Tokens per busy GPU-second of the pool with `role` (see the file comment).
double busy_rate(const RunMetrics& m, PoolRole role, bool input) {
  for (const PoolMetrics& p : m.pools) {
    if (p.role != role) continue;
    REQUIRE(p.busy_fraction > 0.0);
    const double tokens = input ? p.input_tok_s : p.output_tok_s;
    return tokens / (p.busy_fraction * static_cast<double>(p.gpus));
  }
  FAIL("no pool with the requested role");
  return 0.0;
}

double predicted(const RunMetrics& m, Metric metric) {
  switch (metric) {
    case Metric::kOutputPerGpu: return m.output_tok_s_per_gpu;
    case Metric::kTokPerUser: return m.tok_s_per_user.value();
    case Metric::kPrefillPerGpu: return busy_rate(m, PoolRole::kAggregated, true);
    case Metric::kDecodePerGpu: return busy_rate(m, PoolRole::kDecode, false);
    case Metric::kDpBalance: return m.pools.front().dp_balance;
  }
  return 0.0;
}

/// The metrics of tests/data/validation/serving/<id>.yaml, run as `moesim run` does.
RunMetrics run_case(const std::string& id) {
  static const config::Catalog catalog(fs::path{MOESIM_SOURCE_DIR});
  const fs::path dir = fs::path{MOESIM_TEST_DATA_DIR} / "validation" / "serving";
  Scenario scenario = load_scenario(dir / (id + ".yaml"), {}, catalog);
  const step::BuiltModels built = step::build_step_models(scenario, catalog);
  return run_serving(scenario.engine_config(), scenario.workload, built.models.view(),
                     scenario.seed, std::nullopt)
      .metrics;
}

TEST_CASE("serving predictions stay within the stated bounds of every published serving case") {
  std::printf(
      "\nServing validation: moesim vs published serving cases (data/published/cases.yaml)\n");
  std::printf("%-42s %-24s %10s %10s %8s %6s\n", "case", "metric", "published", "predicted",
              "error", "bound");
  int asserted = 0;
  std::string last_id;  // a case with two metrics is listed twice in a row: run it once
  RunMetrics last;
  for (const ServingCase& c : published_cases()) {
    CAPTURE(c.id);
    if (c.id != last_id) {
      last = run_case(c.id);
      last_id = c.id;
    }
    const double p = predicted(last, c.metric);
    const double error = p / c.published - 1.0;
    // Ratios (the balance) with three decimals, rates with one.
    const char* row = c.published < 10.0 ? "%-42s %-24s %10.3f %10.3f %+7.1f%% %5.0f%%\n"
                                         : "%-42s %-24s %10.1f %10.1f %+7.1f%% %5.0f%%\n";
    std::printf(row, c.id.c_str(), std::string(metric_name(c.metric)).c_str(), c.published, p,
                error * 100.0, c.bound * 100.0);
    CAPTURE(p);
    CHECK(std::abs(error) <= c.bound);
    ++asserted;
  }
  for (const SkippedCase& s : kSkipped) {
    std::printf("%-42s skipped: %s\n", std::string(s.id).c_str(), std::string(s.reason).c_str());
  }
  // 19 cases run and asserted, 8 skipped: the 27 serving cases of cases.yaml; and the four
  // figures of tech blog 10.
  CHECK(asserted == 23);
}

TEST_CASE("TensorRT-LLM's attention-DP balance gate raises throughput and balance (tech blog 10)") {
  // Published: 25,664 -> 34,140 tokens/s (1.33x), balance ratio 54.11 % -> 87.70 %. The model
  // must show the direction: the gate holds context until every rank has some, so the ranks
  // stop waiting for one rank's prefill at every MoE all-to-all.
  const RunMetrics base = run_case("trtllm-dsv3-gb200x8-adp-baseline");
  const RunMetrics balanced = run_case("trtllm-dsv3-gb200x8-adp-balance");
  const double speedup = balanced.output_tok_s_per_gpu / base.output_tok_s_per_gpu;
  std::printf(
      "\nADP balance (tech blog 10): speed-up %.3fx (published 1.33x), balance %.1f%% -> "
      "%.1f%% (published 54.1%% -> 87.7%%)\n",
      speedup, 100.0 * base.pools.front().dp_balance, 100.0 * balanced.pools.front().dp_balance);
  CHECK(speedup > 1.0);
  CHECK(balanced.pools.front().dp_balance > base.pools.front().dp_balance);
}

}  // namespace
}  // namespace moesim::serve
