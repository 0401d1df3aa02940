// Speed of the max-min fair-share solver on the case the DES hits hardest: an AllToAllV among
// 72 GPUs (an NVL72 rack) on a star, each GPU with an uplink and a downlink to a non-blocking
// switch: 72 * 71 = 5,112 flows over 144 links. The flow set is imbalanced so that progressive
// filling needs many rounds: flow weights follow a Zipf popularity of the destination (hot
// experts) and a tenth of the flows carry a rate cap. Rates do not depend on bytes.
// Reports solves per second; the DES re-solves on every flow start or end.

#include <benchmark/benchmark.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "sim/hw/max_min.hpp"

namespace moesim::hw {
namespace {

constexpr int kGpus = 72;  // GB200/GB300 NVL72 (hardware-specs.md S10, S28)
// NVLink5: 900 GB/s per direction per GPU (hardware-specs.md S13, S37).
constexpr double kPortGBps = 900.0;

struct Flow {
  std::array<LinkIndex, 2> route;  // uplink of the source, downlink of the destination
  double weight;
  double cap_gbps;  // 0: uncapped
};

// Links: uplink of GPU g = 2g, downlink = 2g + 1.
std::vector<Flow> all_to_all_flows(bool imbalanced) {
  std::mt19937_64 rng(72);
  std::vector<Flow> flows;
  flows.reserve(kGpus * (kGpus - 1));
  for (int s = 0; s < kGpus; ++s) {
    for (int d = 0; d < kGpus; ++d) {
      if (s == d) continue;
      Flow f{{2 * s, 2 * d + 1}, 1.0, 0.0};
      if (imbalanced) {
        f.weight = 1.0 / std::pow(1.0 + d, 0.8);  // Zipf(0.8) popularity of the destination
        if (rng() % 10 == 0) f.cap_gbps = 1.0 + static_cast<double>(rng() % 50);
      }
      flows.push_back(f);
    }
  }
  return flows;
}

void build(MaxMinProblem& p, const std::vector<Flow>& flows, std::size_t skip) {
  p.clear();
  for (int g = 0; g < kGpus; ++g) {
    p.add_link(gigabytes_per_second(kPortGBps));
    p.add_link(gigabytes_per_second(kPortGBps));
  }
  for (std::size_t i = 0; i < flows.size(); ++i) {
    if (i == skip) continue;
    const Flow& f = flows[i];
    if (f.cap_gbps > 0.0) {
      p.add_flow(f.route, f.weight, gigabytes_per_second(f.cap_gbps));
    } else {
      p.add_flow(f.route, f.weight);
    }
  }
}

void report(benchmark::State& state, const MaxMinSolver& solver, const MaxMinProblem& p) {
  state.counters["solves_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["flows"] = p.flow_count();
  state.counters["links"] = p.link_count();
  state.counters["rounds"] = solver.rounds();
}

// Solve only: the problem is built once, the solver's workspace reused.
void BM_MaxMinSolveAllToAll72(benchmark::State& state) {
  const auto flows = all_to_all_flows(state.range(0) != 0);
  MaxMinProblem p;
  build(p, flows, flows.size());
  MaxMinSolver solver;
  for (auto _ : state) {
    benchmark::DoNotOptimize(solver.solve(p).data());
  }
  report(state, solver, p);
}
BENCHMARK(BM_MaxMinSolveAllToAll72)
    ->ArgName("imbalanced")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond);

// The DES pattern: a flow ended, so the flow set is rebuilt (one flow fewer, a different one
// each time) and solved again. Problem and solver memory are reused.
void BM_MaxMinRebuildAndSolveAllToAll72(benchmark::State& state) {
  const auto flows = all_to_all_flows(true);
  MaxMinProblem p;
  MaxMinSolver solver;
  std::size_t skip = 0;
  for (auto _ : state) {
    build(p, flows, skip);
    benchmark::DoNotOptimize(solver.solve(p).data());
    skip = (skip + 1) % flows.size();
  }
  report(state, solver, p);
}
BENCHMARK(BM_MaxMinRebuildAndSolveAllToAll72)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace moesim::hw

BENCHMARK_MAIN();
