/// \file
/// Speed of the serving engine itself, priced by the analytic step model (so that the figure is
/// the engine's cost, not the cost model's): the issue-5 benchmark shape, DeepSeek-R1 style
/// serving on one GB200 NVL72 instance (72 GPUs, attention DP 72), 10,000 requests of 1k/1k
/// sent by a closed loop at concurrency 4096. Reports simulated seconds per wall second
/// ("speedup"; the project asks for >= 100, aims at 1000) and sequence-steps per second.

#include <benchmark/benchmark.h>

#include <chrono>

#include "sim/serve/analytic_step_model.hpp"
#include "sim/serve/run.hpp"

namespace {

using namespace moesim;
using namespace moesim::serve;

EngineConfig nvl72_instance() {
  EngineConfig c;
  PoolConfig& p = c.primary;
  p.role = PoolRole::kAggregated;
  p.instances = 1;
  p.gpus_per_instance = 72;
  p.attention_dp = 72;
  p.limits.max_batch_size = 64;  // 4096 / 72 = 57 sequences per rank fit
  p.limits.max_num_tokens = 8192;
  p.limits.chunked_prefill_size = 8192;
  p.kv_capacity_tokens = 72LL * 64 * 2048;  // every rank holds 64 sequences of 2k tokens
  p.kv_block_size = 32;
  p.kv_policy = KvPolicy::kGuaranteedNoEvict;
  return c;
}

WorkloadSpec one_k_one_k(std::int64_t requests, std::int64_t concurrency) {
  WorkloadSpec w;
  RequestClass c;
  c.name = "default";
  c.isl = LengthDist::fixed(1024);
  c.osl = LengthDist::fixed(1024);
  w.classes = {c};
  w.requests = requests;
  w.concurrency = concurrency;
  w.arrival = ArrivalProcess::kClosedLoop;
  return w;
}

void run_bench(benchmark::State& state, const EngineConfig& config, const WorkloadSpec& w) {
  // A decode step of tens of milliseconds at this batch: 20 ms fixed + 5 us per token + 1 ns
  // per context token on the slowest rank (shape only; the real model replaces it).
  AnalyticStepModel model({milliseconds(20), microseconds(5), nanoseconds(1)});
  double simulated_s = 0.0;
  double wall_s = 0.0;
  std::int64_t sequence_steps = 0;
  std::uint64_t seed = 1;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const RunResult r = run_serving(config, w, {&model, nullptr, nullptr}, seed++, std::nullopt);
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    simulated_s += to_seconds(r.end.time_since_epoch());
    for (const PoolMetrics& p : r.metrics.pools) {
      sequence_steps +=
          static_cast<std::int64_t>(p.mean_batch_sequences * static_cast<double>(p.steps));
    }
    benchmark::DoNotOptimize(r.metrics.output_tok_s);
  }
  state.counters["simulated_s"] = simulated_s / static_cast<double>(state.iterations());
  // Simulated seconds per CPU second of this thread (kIsRate divides by the CPU time), and per
  // wall second (lower on a loaded machine).
  state.counters["speedup"] = benchmark::Counter(simulated_s, benchmark::Counter::kIsRate);
  state.counters["speedup_wall"] = simulated_s / wall_s;
  state.counters["seq_steps_per_s"] = static_cast<double>(sequence_steps) / wall_s;
}

void BM_Nvl72_1k1k_10000_requests_concurrency_4096(benchmark::State& state) {
  run_bench(state, nvl72_instance(), one_k_one_k(10000, 4096));
}
BENCHMARK(BM_Nvl72_1k1k_10000_requests_concurrency_4096)->Unit(benchmark::kMillisecond);

void BM_Single_instance_1k1k_1000_requests_concurrency_64(benchmark::State& state) {
  EngineConfig c = nvl72_instance();
  c.primary.gpus_per_instance = 8;
  c.primary.attention_dp = 1;
  c.primary.limits.max_batch_size = 64;
  c.primary.kv_capacity_tokens = 64LL * 2048;
  run_bench(state, c, one_k_one_k(1000, 64));
}
BENCHMARK(BM_Single_instance_1k1k_1000_requests_concurrency_64)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
