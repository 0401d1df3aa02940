// Wall time of pricing one MoE dispatch: an AllToAllV with an imbalanced byte matrix, as a
// serving run issues hundreds of thousands of them. The matrix is DeepSeek-V3-like decode
// traffic: every rank routes 128 tokens x top-8 experts (7,392 B each, FP8 + scales) to ranks
// drawn from a Zipf(1.0) expert popularity, so a few ranks receive far more than the rest.
//
//   BM_AllToAllV72/mode:0  GB200 NVL72, 72 ranks, default pricing: the per-port closed form
//                          (one NVLink domain; the fluid makespan equals it on such traffic)
//   BM_AllToAllV72/mode:1  the same through the max_min flow model (5,000 flows, one max-min
//                          solve per distinct completion time)
//   BM_AllToAllV72/mode:2  the same through the alpha_beta flow model (link loads via flows)
//   BM_AllToAllV256/mode:0 32 HGX H200 nodes, 256 ranks, default pricing: the link-load bound
//                          over NVLink and a rail-optimised fabric (65,280 rail-aligned routes)
//   BM_AllToAllV256/mode:1 the same through the alpha_beta flow model. (max_min on 65,280 flows
//                          takes tens of seconds and is left out.)
//   BM_DesTransfers        the DES network model: 1,000 point-to-point transfers on NVL72 with
//                          staggered starts (one re-solve per start or end)

#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/core/rng.hpp"
#include "sim/core/simulation.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/collectives.hpp"
#include "sim/hw/network_model.hpp"

namespace moesim::hw {
namespace {

struct Setup {
  NetworkEfficiency net;
  ClusterSpec cluster;
  Topology topology;
  std::unique_ptr<NetworkModel> model;
  std::unique_ptr<Collectives> coll;
  std::vector<int> group;
  std::vector<Bytes> matrix;

  Setup(const std::string& system, int domains, NetworkImpl impl) {
    const config::Catalog catalog(std::filesystem::path{MOESIM_SOURCE_DIR});
    net = load_network_efficiency(catalog);
    cluster = make_cluster(load_system(catalog, system), domains, net);
    topology = build_topology(cluster, net);
    model = make_network_model(impl, topology);
    coll = std::make_unique<Collectives>(cluster, topology, net, *model);
    const int p = cluster.gpu_count();
    group.resize(static_cast<std::size_t>(p));
    std::iota(group.begin(), group.end(), 0);
    // Zipf(1.0) popularity over destination ranks, shuffled so that hot ranks are spread.
    Rng rng(2025, 1);
    std::vector<double> weight(static_cast<std::size_t>(p));
    for (int d = 0; d < p; ++d) weight[static_cast<std::size_t>(d)] = 1.0 / (1.0 + d);
    for (int d = p - 1; d > 0; --d) {
      std::swap(weight[static_cast<std::size_t>(d)],
                weight[rng.uniform_int(static_cast<std::uint64_t>(d) + 1)]);
    }
    std::vector<std::uint64_t> counts(static_cast<std::size_t>(p));
    matrix.assign(static_cast<std::size_t>(p * p), Bytes{0});
    for (int s = 0; s < p; ++s) {
      rng.multinomial(128 * 8, weight, counts);
      for (int d = 0; d < p; ++d) {
        matrix[static_cast<std::size_t>(s * p + d)] =
            Bytes{static_cast<std::int64_t>(counts[static_cast<std::size_t>(d)] * 7392)};
      }
    }
  }
};

void run_all_to_all(benchmark::State& state, Setup& s, bool flow_model) {
  CollectiveOptions options;
  options.flow_model = flow_model;
  options.protocol = Protocol::kSimple;
  CollectiveResult r;
  for (auto _ : state) {
    r = s.coll->all_to_all_v(s.group, s.matrix, options);
    benchmark::DoNotOptimize(r.time);
  }
  state.counters["ranks"] = static_cast<double>(s.group.size());
  state.counters["sim_time_us"] = to_microseconds(r.time);
  state.counters["pricing"] = static_cast<double>(r.pricing);
}

void BM_AllToAllV72(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  Setup s("gb200-nvl72", 1, mode == 2 ? NetworkImpl::kAlphaBeta : NetworkImpl::kMaxMin);
  run_all_to_all(state, s, mode != 0);
  if (mode == 1) {
    BatchTiming t;
    FlowBatch b;
    s.coll->decompose_all_to_all_v(s.group, s.matrix, CrossDomainRouting::kRailAligned, b);
    s.model->evaluate(b, t);
    state.counters["flows"] = b.size();
    state.counters["solves"] = t.solves;
  }
}
BENCHMARK(BM_AllToAllV72)->ArgName("mode")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

void BM_AllToAllV256(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  Setup s("hgx-h200", 32, mode == 1 ? NetworkImpl::kAlphaBeta : NetworkImpl::kMaxMin);
  run_all_to_all(state, s, mode == 1);
}
BENCHMARK(BM_AllToAllV256)->ArgName("mode")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_DesTransfers(benchmark::State& state) {
  Setup s("gb200-nvl72", 1, NetworkImpl::kMaxMin);
  Rng rng(3, 3);
  for (auto _ : state) {
    Simulation sim(1);
    int done = 0;
    for (int i = 0; i < 1000; ++i) {
      const auto src = static_cast<int>(rng.uniform_int(72));
      const auto dst = static_cast<int>((src + 1 + rng.uniform_int(71)) % 72);
      sim.schedule_at(TimePoint{microseconds(static_cast<std::int64_t>(rng.uniform_int(200)))},
                      [&s, &done, src, dst](Simulation& x) {
                        s.model->transfer(x, src, dst, mebibytes(8),
                                          [&done](Simulation&) { ++done; });
                      });
    }
    sim.run();
    benchmark::DoNotOptimize(done);
  }
  state.counters["transfers_per_s"] = benchmark::Counter(
      1000.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DesTransfers)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace moesim::hw

BENCHMARK_MAIN();
