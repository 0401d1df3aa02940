/// \file
/// Speed of `moesim run` on the plan-based step model, the issue-5 benchmark: DeepSeek-R1 on a
/// GB200 NVL72 (NVFP4, attention-DP 72 + EP 72, 32 redundant slots, per-layer routing), 10,000
/// requests of 1k/1k at concurrency 4096 (tests/data/serve/bench_nvl72.yaml). One iteration
/// loads the scenario, builds the deployment (lowering, compute model, network) and runs it on
/// one thread. Reports simulated seconds per wall second ("speedup"; the project asks for >= 100
/// on one core, aims at 1000), plus the step cache's misses and routing draws.

#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/core/rng.hpp"
#include "sim/llm/lowering.hpp"
#include "sim/serve/run.hpp"
#include "sim/serve/scenario.hpp"
#include "sim/step/factored_step.hpp"
#include "sim/step/plan_step_model.hpp"
#include "sim/step/step_models.hpp"

namespace {

using namespace moesim;

void BM_PlanServeNvl72(benchmark::State& state) {
  const std::filesystem::path root{MOESIM_SOURCE_DIR};
  const config::Catalog catalog(root);
  double simulated_s = 0.0;
  double wall_s = 0.0;
  std::int64_t misses = 0;
  std::int64_t lowerings = 0;
  std::int64_t draws = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    serve::Scenario sc = serve::load_scenario(root / "tests/data/serve/bench_nvl72.yaml",
                                              std::vector<std::string>{}, catalog);
    step::BuiltModels built = step::build_step_models(sc, catalog);
    const serve::RunResult r = serve::run_serving(sc.engine_config(), sc.workload,
                                                  built.models.view(), sc.seed, std::nullopt);
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    simulated_s += to_seconds(r.end - TimePoint{});
    if (const auto* m = dynamic_cast<const step::PlanStepModel*>(built.models.primary.get())) {
      misses = m->lowered_steps();
      lowerings = m->lowerings();
      draws = m->routing_draws();
    }
    benchmark::DoNotOptimize(r.metrics);
  }
  state.counters["speedup"] = simulated_s / wall_s;
  state.counters["simulated_s"] = simulated_s / static_cast<double>(state.iterations());
  state.counters["step_misses"] = static_cast<double>(misses);
  state.counters["lowerings"] = static_cast<double>(lowerings);
  state.counters["routing_draws"] = static_cast<double>(draws);
}
BENCHMARK(BM_PlanServeNvl72)->Unit(benchmark::kMillisecond)->Iterations(3);

/// The two costs of a cache miss on the same deployment, separately: lowering and timing the
/// symmetric step (64 decode sequences of 2k context on every rank plus a 2048-token prefill
/// chunk), and one routing draw over its 58 MoE layers.
void BM_PlanStepMissNvl72(benchmark::State& state) {
  const std::filesystem::path root{MOESIM_SOURCE_DIR};
  const config::Catalog catalog(root);
  serve::Scenario sc = serve::load_scenario(root / "tests/data/serve/bench_nvl72.yaml",
                                            std::vector<std::string>{}, catalog);
  step::BuiltModels built = step::build_step_models(sc, catalog);
  const auto* model = dynamic_cast<const step::PlanStepModel*>(built.models.primary.get());
  if (model == nullptr) {
    state.SkipWithError("not a plan-based model");
    return;
  }
  const step::Deployment& d = model->deployment();
  std::vector<llm::SequenceWork> seqs(64, llm::SequenceWork::decode(2048));
  seqs.push_back(llm::SequenceWork::prefill_chunk(2048, 0, true));
  const llm::StepBatch batch = llm::StepBatch::same_on_every_replica(d.plan.attention_dp, seqs);
  Rng rng(1, stream_id("bench"));
  const bool draw = state.range(0) != 0;
  const step::SymmetricStep base = step::lower_symmetric(d, batch, *d.network);
  for (auto _ : state) {
    if (draw) {
      benchmark::DoNotOptimize(step::sample_corrections(d, base, base.calls, rng, *d.network));
    } else {
      benchmark::DoNotOptimize(step::lower_symmetric(d, batch, *d.network));
    }
  }
}
BENCHMARK(BM_PlanStepMissNvl72)->Arg(0)->Arg(1)->ArgNames({"draw"})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
