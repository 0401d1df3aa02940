// Speed of MoE routing on the DeepSeek-R1 shape (models/deepseek-r1.yaml: 256 routed experts,
// top-8, 8 groups of which a token uses 4; 58 MoE layers, decoder layers 3-60): sampling one
// layer's expert loads (the engine does this per MoE layer per step), a whole step, and the
// per-rank work plus dispatch matrix of one layer on wide EP. Batches: T = 64 tokens (a decode
// batch per GPU) and T = 4096 (a prefill chunk). The target is a few microseconds per layer:
// O(experts) random variates, independent of T.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/llm/expert_popularity.hpp"
#include "sim/llm/placement.hpp"
#include "sim/llm/routing.hpp"

namespace moesim::llm {
namespace {

constexpr std::int64_t kExperts = 256;     // config.json n_routed_experts
constexpr std::int64_t kTopK = 8;          // num_experts_per_tok
constexpr std::int64_t kGroups = 8;        // n_group
constexpr std::int64_t kGroupsChosen = 4;  // topk_group
constexpr std::int64_t kMoeLayers = 58;    // 61 layers, first_k_dense_replace = 3
/// Zipf exponent of the skewed case: a plausible skew, not a measured one.
constexpr double kZipf = 1.0;

const RoutingShape kShape{kExperts, kTopK, kGroups, kGroupsChosen};

ExpertPopularity popularity(bool skewed, std::int64_t layers) {
  return skewed ? ExpertPopularity::zipf(kExperts, layers, kZipf, ZipfOrder::kShuffled, 1)
                : ExpertPopularity::uniform(kExperts, layers);
}

/// Args: tokens, skewed (0 uniform, 1 Zipf).
void BM_RouteLayer(benchmark::State& state) {
  const LayerRouter router(kShape, popularity(state.range(1) != 0, 1).weights(0));
  Rng rng(1, 0);
  RoutingScratch scratch;
  std::vector<std::int64_t> loads(kExperts);
  for (auto _ : state) {
    router.sample(state.range(0), rng, loads, scratch);
    benchmark::DoNotOptimize(loads.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteLayer)
    ->ArgNames({"tokens", "zipf"})
    ->Args({64, 0})
    ->Args({4096, 0})
    ->Args({64, 1})
    ->Args({4096, 1})
    ->Unit(benchmark::kMicrosecond);

/// The same layer without the group limit (plain top-8 of 256, one stratified stage).
void BM_RouteLayerUngrouped(benchmark::State& state) {
  const LayerRouter router({kExperts, kTopK, 1, 1}, popularity(true, 1).weights(0));
  Rng rng(1, 0);
  RoutingScratch scratch;
  std::vector<std::int64_t> loads(kExperts);
  for (auto _ : state) {
    router.sample(state.range(0), rng, loads, scratch);
    benchmark::DoNotOptimize(loads.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteLayerUngrouped)->Arg(64)->Arg(4096)->Unit(benchmark::kMicrosecond);

/// One engine step: all 58 MoE layers, each with its own Zipf order. Args: tokens.
void BM_RouteStep(benchmark::State& state) {
  const Router router(popularity(true, kMoeLayers), kShape);
  Rng rng(2, 0);
  RoutingScratch scratch;
  std::vector<std::int64_t> loads(kMoeLayers * kExperts);
  for (auto _ : state) {
    router.sample_step(state.range(0), rng, loads, scratch);
    benchmark::DoNotOptimize(loads.data());
  }
  state.SetItemsProcessed(state.iterations() * kMoeLayers);
}
BENCHMARK(BM_RouteStep)->Arg(64)->Arg(4096)->Unit(benchmark::kMicrosecond);

/// Per-rank work and the dispatch matrix of one layer on EP 32 with 32 redundant experts (EPLB),
/// 64 tokens per rank; excludes the routing itself.
void BM_RankWorkAndDispatch(benchmark::State& state) {
  constexpr std::int64_t kRanks = 32;
  constexpr std::int64_t kTokensPerRank = 64;
  const LayerRouter router(kShape, popularity(true, 1).weights(0));
  std::vector<double> expected;
  for (double p : router.inclusion()) expected.push_back(p);
  const ExpertPlacement placement = eplb_placement(expected, kRanks, 32);
  const DispatchModel dispatch(router, placement);
  Rng rng(3, 0);
  std::vector<std::int64_t> loads(kExperts);
  router.sample(kRanks * kTokensPerRank, rng, loads);
  const std::vector<std::int64_t> sources(kRanks, kTokensPerRank);
  RankLoads work;
  DispatchCounts counts;
  for (auto _ : state) {
    compute_rank_loads(placement, loads, work);
    dispatch.sample(sources, work, rng, counts);
    benchmark::DoNotOptimize(counts.tokens.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RankWorkAndDispatch)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace moesim::llm

BENCHMARK_MAIN();
