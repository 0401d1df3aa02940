// Validation of moesim's network model against published collective measurements: the
// comm_collective and comm_ep cases of the project's published-measurements file (NCCL
// all-reduce bus bandwidths on NVLink domains, NVIDIA's effective NVLink figures, DeepEP
// dispatch/combine bandwidths and latencies). Each case is predicted with the shipped catalog
// (topologies/, tests/data/network/hgx-h800.yaml for DeepSeek's H800) and compared with the
// published figure, copied below with its case id and source. Nothing is fitted to these cases:
// efficiencies and latencies come from topologies/network.yaml (NCCL's own model, S42; NVIDIA
// engineers, S53), and on HGX B200/H200/H100 and GB200 groups of the GPU counts NVIDIA's
// nccl-tests tables cover, from its `measured:` fit to those tables (not to these cases).
//
// Each row asserts the bound stated with it; the reasons for bounds wider than 10% are given
// where the rows are built. The table is printed to stdout (run the test binary to see it).
//
// Bus bandwidth follows nccl-tests (NVIDIA/nccl-tests doc/PERFORMANCE.md) exactly:
// busbw = algbw x 2(n-1)/n for all-reduce, algbw = size / time, sizes in binary units as
// nccl-tests prints them (8G = 8 x 2^30 B).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/core/rng.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/collective_model.hpp"
#include "sim/hw/collectives.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/network_model.hpp"
#include "sim/hw/system.hpp"

namespace moesim::hw {
namespace {

namespace fs = std::filesystem;

config::Catalog catalog() { return config::Catalog(fs::path{MOESIM_SOURCE_DIR}); }

SystemSpec system_named(const std::string& name) {
  if (name == "hgx-h800") {
    return load_system(catalog(),
                       (fs::path{MOESIM_TEST_DATA_DIR} / "network" / "hgx-h800.yaml").string());
  }
  return load_system(catalog(), name);
}

// One line of the validation table. error = predicted / published - 1; the row passes when
// lo <= error <= hi. `asserted` false: printed for information, only the sign is checked
// (error >= lo).
struct Row {
  std::string id;
  std::string metric;
  double published = 0.0;
  double predicted = 0.0;
  double lo = 0.0;
  double hi = 0.0;
  bool asserted = true;
  std::string note;
  double error() const { return predicted / published - 1.0; }
};

void print_and_check(const std::string& title, const std::vector<Row>& rows) {
  std::printf("\n%s\n", title.c_str());
  std::printf("%-38s %-34s %10s %10s %8s %15s  %s\n", "case", "metric", "published", "predicted",
              "error", "bound", "note");
  for (const Row& r : rows) {
    char bound[32];
    if (r.asserted) {
      std::snprintf(bound, sizeof bound, "[%+.0f%%, %+.0f%%]", 100 * r.lo, 100 * r.hi);
    } else {
      std::snprintf(bound, sizeof bound, "not asserted");
    }
    std::printf("%-38s %-34s %10.2f %10.2f %+7.1f%% %15s  %s\n", r.id.c_str(), r.metric.c_str(),
                r.published, r.predicted, 100 * r.error(), bound, r.note.c_str());
  }
  std::fflush(stdout);
  for (const Row& r : rows) {
    CAPTURE(r.id);
    CAPTURE(r.metric);
    CAPTURE(r.published);
    CAPTURE(r.predicted);
    REQUIRE(std::isfinite(r.predicted));
    CHECK(r.error() >= r.lo);
    if (r.asserted) CHECK(r.error() <= r.hi);
  }
}

Bytes gib(double g) {
  return Bytes{static_cast<std::int64_t>(g * static_cast<double>(scale::kGibi))};
}

double busbw_gbps(const SystemSpec& system, int ranks, CollectiveOp op, Bytes size,
                  const CollectiveOptions& options = {}) {
  const NetworkEfficiency net = load_network_efficiency(catalog());
  const ClusterSpec cluster = make_cluster(system, 1, net);
  return in_gigabytes_per_second(price_collective(cluster, net, op, size, ranks, options).busbw);
}

// ---- NCCL ------------------------------------------------------------------------------------

// Bounds. Large messages (the headline of each case, >= 1 GiB): the model is latency + bytes at
// NCCL's own achievable link rate, which is what nccl-tests reaches at its largest sizes:
// +-10%. Below 1 GiB NCCL's bandwidth ramps up with size (channels and chunks fill a pipeline,
// NCCL applies size-dependent corrections to its own model, S42), which NCCL's latency +
// bandwidth form does not have (the measured fits' ramp term has it, on the systems and GPU
// counts they cover): the model is optimistic there, asserted in [-10%, +60%].
constexpr double kHeadline = 0.10;
constexpr double kRampLo = -0.10;
constexpr double kRampHi = 0.60;
// The 8-GPU Hopper all-reduce (NVLS) headlines are priced with the measured fit of
// topologies/network.yaml (`measured:`, fitted on NVIDIA's nccl-tests 2.29.2 tables of
// AIConfigurator, sim/cost/comm_validation.hpp): its large-message rate is what those tables
// reach at 256-512 MiB (transfer scale 1.14 on H200, 1.17 on H100; e.g. H200 512 MiB: 2.04 ms,
// busbw 460 GB/s), below the 468-480 GB/s these sources quote at 1-8 GiB. The two sources
// disagree by about that much, so these rows are asserted in [-15%, +10%].
constexpr double kMeasuredHeadlineLo = -0.15;

TEST_CASE("NCCL all-reduce bus bandwidth on NVLink domains, predicted from the catalog") {
  std::vector<Row> rows;
  // nccl-allreduce-h200x8-nvls: Azure ND H200 v5, NCCL 2.20.5, NVLS, in-place (trust B).
  // source: Azure/AI-benchmarking-guide Azure_Results/ND_H200_v5_results.md
  {
    const SystemSpec h200 = system_named("hgx-h200");
    const std::string id = "nccl-allreduce-h200x8-nvls";
    const CollectiveOp ar = CollectiveOp::kAllReduce;
    rows.push_back({id, "busbw 8G (GB/s)", 479.98, busbw_gbps(h200, 8, ar, gib(8)),
                    kMeasuredHeadlineLo, kHeadline, true, "NVLS, measured fit"});
    rows.push_back({id, "busbw 1G", 467.58, busbw_gbps(h200, 8, ar, gib(1)), kMeasuredHeadlineLo,
                    kHeadline, true, ""});
    const std::vector<std::pair<double, double>> ramp = {
        {0.25, 432.24}, {1.0 / 16, 368.11}, {1.0 / 64, 240.41}, {1.0 / 1024, 52.96}};
    for (const auto& [g, published] : ramp) {
      rows.push_back({id, "busbw " + std::to_string(static_cast<int>(g * 1024)) + "M", published,
                      busbw_gbps(h200, 8, ar, gib(g)), kRampLo, kRampHi, true, "size ramp"});
    }
  }
  // nccl-allreduce-gb200x4-ring: Azure ND GB200 v6, NCCL 2.25.1, Ring, in-place, one tray
  // (trust B). source: Azure/AI-benchmarking-guide Azure_Results/ND_GB200_v6_results.md
  {
    const SystemSpec gb200 = system_named("gb200-nvl72");
    const std::string id = "nccl-allreduce-gb200x4-ring";
    CollectiveOptions ring;
    ring.algorithm = Algorithm::kRing;  // the published run forced Ring
    const CollectiveOp ar = CollectiveOp::kAllReduce;
    rows.push_back({id, "busbw 8G (GB/s)", 679.61, busbw_gbps(gb200, 4, ar, gib(8), ring),
                    -kHeadline, kHeadline, true, "ring; NVLink5 0.802"});
    // 1G: +10%: the ramp reaches 1 GiB on this system (646.87 is 5% under the 8G figure).
    rows.push_back({id, "busbw 1G", 646.87, busbw_gbps(gb200, 4, ar, gib(1), ring), kRampLo,
                    kRampHi, true, "size ramp"});
    const std::vector<std::pair<double, double>> ramp = {
        {0.25, 593.53}, {1.0 / 16, 550.73}, {1.0 / 64, 331.09}, {1.0 / 1024, 80.48}};
    for (const auto& [g, published] : ramp) {
      rows.push_back({id, "busbw " + std::to_string(static_cast<int>(g * 1024)) + "M", published,
                      busbw_gbps(gb200, 4, ar, gib(g), ring), kRampLo, kRampHi, true, "size ramp"});
    }
  }
  // nccl-allreduce-gb200-nvl72-full-rack: coreweave/nccl-tests PR #43 example output, 72 GPUs,
  // MNNVL, out-of-place (trust B). source: github.com/coreweave/nccl-tests/pull/43
  //
  // Bound +-30%, not 10%. moesim's NVLS cost is per-port: each GPU moves (p+1)/p n each way, so
  // busbw = 2(p-1)/(p+1) x B grows from 1.56 B at p = 8 to 1.95 B at p = 72. With B from NCCL's
  // NVLink5 (0.802) and NVLS (0.74) efficiencies this matches 8 GPUs of the same rack (S64 row
  // below, +3%) but over-predicts 72. The published busbw is flat from 8 GPUs (811, S64) to 72
  // (839); NCCL's own tuning model (S42) also holds NVLS bus bandwidth independent of p. The
  // cause (switch multicast/reduction throughput across 18 NVLink Switch chips, or NCCL's
  // channel count) has no source, so no correction is made. The smaller sizes of this run carry
  // a fixed ~0.5 ms overhead (t(1G) - t(4G) scaled) that the model does not have: informational.
  {
    const SystemSpec gb200 = system_named("gb200-nvl72");
    const std::string id = "nccl-allreduce-gb200-nvl72-full-rack";
    const CollectiveOp ar = CollectiveOp::kAllReduce;
    rows.push_back({id, "busbw 4G (GB/s)", 839.16, busbw_gbps(gb200, 72, ar, gib(4)), -0.30, 0.30,
                    true, "NVLS p=72, see comment"});
    const std::vector<std::pair<double, double>> more = {
        {8, 834.57}, {2, 757.78}, {1, 681.17}, {0.5, 586.06}};
    for (const auto& [g, published] : more) {
      rows.push_back({id, "busbw " + std::to_string(static_cast<int>(g * 1024)) + "M", published,
                      busbw_gbps(gb200, 72, ar, gib(g)), 0.0, 0.0, false, "informational"});
    }
    // hardware-specs 6.3: GB200 MNNVL, 2 trays x 4 GPUs, NVLS all-reduce busBw 811 GB/s [C].
    // source: S64 https://www.lixueduan.com/posts/ai/13-gb200-mnnvl-nccl-test (size not given in
    // the notes; the model's busbw is within 1% of its asymptote from 1 GiB up).
    rows.push_back({"S64 gb200 mnnvl 2x4 (supplementary)", "busbw large (GB/s)", 811.0,
                    busbw_gbps(gb200, 8, ar, gib(8)), -kHeadline, kHeadline, true,
                    "8 GPUs of one rack, NVLS"});
  }
  print_and_check("NCCL all-reduce, nccl-tests bus bandwidth", rows);
}

TEST_CASE("NVIDIA's effective NVLink figures on H100 and nccl-tests' bus bandwidth definition") {
  // nccl-h100-nvlink-effective: NVIDIA/nccl-tests issue #212, maintainer reply (trust B):
  // peak all-reduce busBw with NVLS 480 GB/s (algbw 275); ~370 GB/s for ring / non-allreduce.
  // source: github.com/NVIDIA/nccl-tests/issues/212
  const SystemSpec h100 = system_named("hgx-h100");
  const NetworkEfficiency net = load_network_efficiency(catalog());
  const ClusterSpec cluster = make_cluster(h100, 1, net);
  const CollectiveResult ar = price_collective(cluster, net, CollectiveOp::kAllReduce, gib(8), 8);
  const CollectiveResult ag = price_collective(cluster, net, CollectiveOp::kAllGather, gib(8), 8);
  std::vector<Row> rows;
  const std::string id = "nccl-h100-nvlink-effective";
  rows.push_back({id, "allreduce NVLS busbw (GB/s)", 480.0, in_gigabytes_per_second(ar.busbw),
                  kMeasuredHeadlineLo, kHeadline, true, "8G, NVLS, measured fit"});
  rows.push_back({id, "allreduce NVLS algbw (GB/s)", 275.0, in_gigabytes_per_second(ar.algbw),
                  kMeasuredHeadlineLo, kHeadline, true, ""});
  rows.push_back({id, "non-allreduce busbw (GB/s)", 370.0, in_gigabytes_per_second(ag.busbw),
                  -kHeadline, kHeadline, true, "allgather 8G ring"});
  print_and_check("Effective NVLink bandwidth, H100", rows);
  CHECK(ar.algorithm == Algorithm::kNvls);

  // The published pair obeys nccl-tests' definition busbw = algbw x 2(n-1)/n for n = 8:
  // 275 x 14 / 8 = 481.25, within the maintainer's rounding of 480.
  CHECK(275.0 * bus_bandwidth_factor(CollectiveOp::kAllReduce, 8) ==
        doctest::Approx(480.0).epsilon(0.01));
  // And moesim's figures obey it exactly: busbw / algbw = 1.75.
  CHECK(ar.busbw / ar.algbw == doctest::Approx(1.75).epsilon(1e-12));
  // AllGather: (n-1)/n; algbw = the whole 8 GiB output over the time.
  CHECK(ag.busbw / ag.algbw == doctest::Approx(7.0 / 8.0).epsilon(1e-12));
  CHECK(in_bytes(ag.size) / to_seconds(ag.time) == doctest::Approx(ag.algbw.base()).epsilon(1e-9));
}

// ---- DeepEP ------------------------------------------------------------------------------------

// The chance that one token of DeepEP's benchmark reaches a given node and a given rank.
// DeepEP's tests draw i.i.d. random scores per expert (deepseek-ai/DeepEP tests/test_intranode.py,
// tests/legacy/test_internode.py): with `groups` < nodes, the `groups` nodes with the highest
// best expert are kept, then the top `topk` experts among them; a token is sent once per node
// (RDMA) and once per rank (NVLink) it reaches. By symmetry every node and every rank has the
// same chance; it is estimated by sampling (fixed seed, 40,000 tokens: standard error < 0.3%).
struct Odds {
  double node = 0.0;  ///< P(a given node, own included, receives the token)
  double rank = 0.0;  ///< P(a given rank, own included, receives the token)
};

Odds deepep_odds(int nodes, int ranks, int experts, int topk, int groups) {
  Rng rng(20250225, 3);
  const int samples = 40'000;
  const int per_node = experts / nodes;
  const int per_rank = experts / ranks;
  std::vector<double> score(static_cast<std::size_t>(experts));
  std::vector<int> order(static_cast<std::size_t>(experts));
  std::vector<int> node_order(static_cast<std::size_t>(nodes));
  std::vector<double> node_best(static_cast<std::size_t>(nodes));
  std::vector<char> node_kept(static_cast<std::size_t>(nodes));
  std::vector<char> node_hit(static_cast<std::size_t>(nodes));
  std::vector<char> rank_hit(static_cast<std::size_t>(ranks));
  double node_hits = 0.0;
  double rank_hits = 0.0;
  for (int s = 0; s < samples; ++s) {
    for (double& x : score) x = rng.uniform();
    for (int n = 0; n < nodes; ++n) {
      node_best[static_cast<std::size_t>(n)] =
          *std::max_element(score.begin() + n * per_node, score.begin() + (n + 1) * per_node);
    }
    std::iota(node_order.begin(), node_order.end(), 0);
    std::partial_sort(
        node_order.begin(), node_order.begin() + groups, node_order.end(), [&](int a, int b) {
          return node_best[static_cast<std::size_t>(a)] > node_best[static_cast<std::size_t>(b)];
        });
    std::fill(node_kept.begin(), node_kept.end(), 0);
    for (int g = 0; g < groups; ++g)
      node_kept[static_cast<std::size_t>(node_order[static_cast<std::size_t>(g)])] = 1;
    order.clear();
    for (int e = 0; e < experts; ++e) {
      if (node_kept[static_cast<std::size_t>(e / per_node)] != 0) order.push_back(e);
    }
    std::partial_sort(order.begin(), order.begin() + topk, order.end(), [&](int a, int b) {
      return score[static_cast<std::size_t>(a)] > score[static_cast<std::size_t>(b)];
    });
    std::fill(node_hit.begin(), node_hit.end(), 0);
    std::fill(rank_hit.begin(), rank_hit.end(), 0);
    for (int k = 0; k < topk; ++k) {
      const int e = order[static_cast<std::size_t>(k)];
      node_hit[static_cast<std::size_t>(e / per_node)] = 1;
      rank_hit[static_cast<std::size_t>(e / per_rank)] = 1;
    }
    node_hits += std::accumulate(node_hit.begin(), node_hit.end(), 0.0);
    rank_hits += std::accumulate(rank_hit.begin(), rank_hit.end(), 0.0);
  }
  return Odds{node_hits / (static_cast<double>(samples) * nodes),
              rank_hits / (static_cast<double>(samples) * ranks)};
}

// DeepEP V1 message sizes (deepseek-ai/DeepEP tests): FP8 dispatch carries hidden bytes plus one
// float scale per 128 values; BF16 combine 2 bytes per value. Low-latency dispatch also carries
// 16 bytes of metadata per token (tests/test_low_latency.py: hidden + hidden / 128 * 4 + 16).
constexpr double kHidden = 7168.0;
constexpr double kFp8Token = kHidden + kHidden / 128.0 * 4.0;  // 7,392 B
constexpr double kFp8TokenLowLatency = kFp8Token + 16.0;       // 7,408 B
constexpr double kBf16Token = 2.0 * kHidden;                   // 14,336 B

// Logical bandwidth of an intranode EP dispatch or combine (DeepEP's "NVL" figure): the bytes
// each rank receives, its own tokens included, over the time of an AllToAllV of the expected
// per-pair traffic.
double intranode_logical_gbps(const SystemSpec& system, int tokens, double token_bytes,
                              double rank_odds) {
  const NetworkEfficiency net = load_network_efficiency(catalog());
  const ClusterSpec cluster = make_cluster(system, 1, net);
  const Topology topology = build_topology(cluster, net);
  const auto model = make_network_model(net.impl, topology);
  Collectives coll(cluster, topology, net, *model);
  const int p = system.domain_size;
  std::vector<int> group(static_cast<std::size_t>(p));
  std::iota(group.begin(), group.end(), 0);
  const auto per_pair = static_cast<std::int64_t>(std::llround(tokens * rank_odds * token_bytes));
  const std::vector<Bytes> matrix(static_cast<std::size_t>(p * p), Bytes{per_pair});
  const CollectiveResult r = coll.all_to_all_v(group, matrix);
  return static_cast<double>(per_pair) * p / to_seconds(r.time) / scale::kGiga;
}

// DeepEP V1 internode normal kernels (EP = 8 x nodes on H800): a token goes once by RDMA to each
// other node it reaches, to the GPU with the sender's local index (same rail), which forwards it
// over NVLink to each rank of that node it reaches; tokens for the sender's own node go over
// NVLink directly. All of it is pipelined, so the flows run together. The published "RDMA"
// figure counts the tokens x nodes reached, own node included (tests/legacy/test_internode.py:
// num_rdma_token_sent), over the kernel time. Combine runs the same flows backwards.
double internode_rdma_gbps(int nodes, double token_bytes, bool combine) {
  const NetworkEfficiency net = load_network_efficiency(catalog());
  const SystemSpec h800 = system_named("hgx-h800");
  const ClusterSpec cluster = make_cluster(h800, nodes, net);
  const Topology topology = build_topology(cluster, net);
  const auto model = make_network_model(net.impl, topology);
  Collectives coll(cluster, topology, net, *model);
  const int tokens = 4096;
  const int ranks = 8 * nodes;
  const Odds odds = deepep_odds(nodes, ranks, 256, 8, std::min(nodes, 4));
  FlowBatch batch;
  auto add = [&](int from, int to, double bytes) {
    if (combine) std::swap(from, to);
    batch.add(topology.route(from, to).links, bytes);
  };
  for (int s = 0; s < ranks; ++s) {
    for (int b = 0; b < nodes; ++b) {
      if (b != s / 8) add(s, b * 8 + s % 8, tokens * odds.node * token_bytes);
    }
  }
  // Forwarder f = (node b, local i) -> rank d of node b: the tokens of the `nodes` senders with
  // local index i (one per node, own node included) that reach d.
  for (int f = 0; f < ranks; ++f) {
    for (int j = 0; j < 8; ++j) {
      const int d = (f / 8) * 8 + j;
      if (d != f) add(f, d, nodes * tokens * odds.rank * token_bytes);
    }
  }
  BatchTiming timing;
  model->evaluate(batch, timing);
  std::vector<int> group(static_cast<std::size_t>(ranks));
  std::iota(group.begin(), group.end(), 0);
  const Duration latency =
      coll.latency(CollectiveOp::kAllToAllV, Algorithm::kDirect, Protocol::kSimple, group);
  const double rdma_bytes = tokens * nodes * odds.node * token_bytes;
  return rdma_bytes / to_seconds(timing.makespan + latency) / scale::kGiga;
}

// DeepEP V1 low-latency kernels: each token is sent once per selected expert (no merging per
// rank or node), straight from the sender to the expert's GPU (NVLink inside a node, the GPU's
// own NIC across nodes: kDirect routing). Experts are spread evenly, so each rank sends
// tokens x topk / EP copies to every rank, itself included. Predicted: the AllToAllV's time.
double low_latency_us(int ep, double token_bytes) {
  const NetworkEfficiency net = load_network_efficiency(catalog());
  const SystemSpec h800 = system_named("hgx-h800");
  const ClusterSpec cluster = make_cluster(h800, std::max(1, ep / 8), net);
  const Topology topology = build_topology(cluster, net);
  const auto model = make_network_model(net.impl, topology);
  Collectives coll(cluster, topology, net, *model);
  std::vector<int> group(static_cast<std::size_t>(ep));
  std::iota(group.begin(), group.end(), 0);
  const double per_pair = 128.0 * 8.0 / ep * token_bytes;
  const std::vector<Bytes> matrix(static_cast<std::size_t>(ep * ep),
                                  Bytes{static_cast<std::int64_t>(std::llround(per_pair))});
  CollectiveOptions direct;
  direct.routing = CrossDomainRouting::kDirect;
  return to_microseconds(coll.all_to_all_v(group, matrix, direct).time);
}

TEST_CASE("DeepEP V1 normal kernels on H800: intranode NVLink and internode RDMA bandwidth") {
  // deepep-v1-normal-h800 (trust B). source: deepseek-ai/DeepEP docs/legacy.md (S67).
  // 4096 tokens per rank, hidden 7168, top-8 of 256 experts (4 groups), FP8 dispatch, BF16
  // combine, 24 SMs.
  //
  // Bounds. Where the kernel is bound by the NICs (EP32, EP64: the RDMA flows take longest)
  // +-10%. Where it is bound by NVLink (EP8; EP16, whose NVLink forwarding of 2 nodes' tokens
  // outweighs its RDMA) the model is optimistic by up to 40%: it moves NVLink bytes at NCCL's
  // achievable rate (0.824 of the line, S42), while DeepEP's copy kernels on 24 SMs reach less:
  // the published 153 GB/s with 7/8 of the received bytes crossing the port is 134 GB/s on the
  // wire, 0.67 of H800's 200 GB/s. That is one measurement, so no DeepEP-specific factor is
  // introduced; asserted in [0, +40%].
  const SystemSpec h800 = system_named("hgx-h800");
  const Odds intra = deepep_odds(1, 8, 256, 8, 1);
  std::vector<Row> rows;
  const std::string id = "deepep-v1-normal-h800";
  rows.push_back({id, "EP8 dispatch NVL (GB/s)", 153.0,
                  intranode_logical_gbps(h800, 4096, kFp8Token, intra.rank), 0.0, 0.40, true,
                  "NVLink-bound"});
  rows.push_back({id, "EP8 combine NVL (GB/s)", 158.0,
                  intranode_logical_gbps(h800, 4096, kBf16Token, intra.rank), 0.0, 0.40, true,
                  "NVLink-bound"});
  rows.push_back({id, "EP16 dispatch RDMA (GB/s)", 43.0, internode_rdma_gbps(2, kFp8Token, false),
                  0.0, 0.40, true, "NVLink-bound"});
  rows.push_back({id, "EP16 combine RDMA (GB/s)", 43.0, internode_rdma_gbps(2, kBf16Token, true),
                  0.0, 0.40, true, "NVLink-bound"});
  rows.push_back({id, "EP32 dispatch RDMA (GB/s)", 58.0, internode_rdma_gbps(4, kFp8Token, false),
                  -kHeadline, kHeadline, true, "NIC-bound"});
  rows.push_back({id, "EP32 combine RDMA (GB/s)", 57.0, internode_rdma_gbps(4, kBf16Token, true),
                  -kHeadline, kHeadline, true, "NIC-bound"});
  rows.push_back({id, "EP64 dispatch RDMA (GB/s)", 51.0, internode_rdma_gbps(8, kFp8Token, false),
                  -kHeadline, kHeadline, true, "NIC-bound"});
  rows.push_back({id, "EP64 combine RDMA (GB/s)", 50.0, internode_rdma_gbps(8, kBf16Token, true),
                  -kHeadline, kHeadline, true, "NIC-bound"});
  print_and_check("DeepEP V1 normal kernels (H800, CX-7 400G)", rows);
}

TEST_CASE("DeepEP V1 low-latency kernels on H800: dispatch and combine latency") {
  // deepep-v1-lowlatency-h800-ep{8,16,32,64,128,256} (trust B). source: deepseek-ai/DeepEP
  // docs/legacy.md (S67). 128 tokens, hidden 7168, top-8, FP8 dispatch, BF16 combine.
  //
  // Bounds. The model is a lower bound here: it prices bytes through links plus NCCL's
  // per-step latency (one network step, S42), while the low-latency kernels post one RDMA write
  // per token and expert (IBGDA) and signal per expert, a per-message software cost of tens of
  // microseconds that moesim does not model (hardware-specs 6.3 lists these as latency figures).
  // Asserted: predicted <= published, and within 20% of it where the NICs carry the traffic
  // (EP >= 16: the NIC-bound transfer is 60-90% of the kernel time, the unmodelled per-message
  // cost the rest); within 40% for EP8, where everything moves over NVLink in ~40 us and the
  // per-message cost weighs more.
  struct Case {
    int ep;
    double dispatch_us;
    double combine_us;
  };
  const std::vector<Case> cases = {{8, 77, 114},   {16, 118, 195},  {32, 155, 273},
                                   {64, 173, 314}, {128, 192, 369}, {256, 194, 360}};
  std::vector<Row> rows;
  for (const Case& c : cases) {
    const std::string id = "deepep-v1-lowlatency-h800-ep" + std::to_string(c.ep);
    const double lo = c.ep == 8 ? -0.40 : -0.20;
    rows.push_back({id, "dispatch latency (us)", c.dispatch_us,
                    low_latency_us(c.ep, kFp8TokenLowLatency), lo, 0.0, true, "lower bound"});
    rows.push_back({id, "combine latency (us)", c.combine_us, low_latency_us(c.ep, kBf16Token), lo,
                    0.0, true, "lower bound"});
  }
  print_and_check("DeepEP V1 low-latency kernels (H800, CX-7 400G)", rows);
}

TEST_CASE("DeepEP V2 on SM100 (HGX B200): EP8 NVLink logical bandwidth") {
  // deepep-v2-sm100-nvlink-ep8 (trust B). source: deepseek-ai/DeepEP README.md (V2, S68).
  // 8192 tokens, hidden 7168, top-8, FP8 dispatch, BF16 combine; "logical" bandwidth includes the
  // local rank's share, as intranode_logical_gbps computes. Bound [0, +20%]: as for V1, the model
  // moves NVLink bytes at NCCL's achievable rate (0.802 of NVLink5, S42) and the copy kernels
  // reach less (726 GB/s logical = 635 GB/s on the wire = 0.71 of 900 with 64 SMs). The 24-SM
  // figures and the SM90 internode figures of the README are informational: moesim has no SM
  // count in its network model, and the README does not define its internode metric.
  const SystemSpec b200 = system_named("hgx-b200");
  const Odds intra = deepep_odds(1, 8, 256, 8, 1);
  const double dispatch = intranode_logical_gbps(b200, 8192, kFp8Token, intra.rank);
  const double combine = intranode_logical_gbps(b200, 8192, kBf16Token, intra.rank);
  std::vector<Row> rows;
  const std::string id = "deepep-v2-sm100-nvlink-ep8";
  rows.push_back({id, "dispatch 64 SMs (GB/s)", 726.0, dispatch, 0.0, 0.20, true, "NVLink-bound"});
  rows.push_back({id, "combine 64 SMs (GB/s)", 740.0, combine, 0.0, 0.20, true, "NVLink-bound"});
  rows.push_back({id, "dispatch 24 SMs (GB/s)", 643.0, dispatch, 0.0, 0.0, false, "SM-bound"});
  rows.push_back({id, "combine 24 SMs (GB/s)", 675.0, combine, 0.0, 0.0, false, "SM-bound"});
  print_and_check("DeepEP V2 (SM100)", rows);
}

}  // namespace
}  // namespace moesim::hw
