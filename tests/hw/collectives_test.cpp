// Tests of collectives: the closed forms and the flow model agree on symmetric cases, the flow
// model is slower where the fabric is congested, the latency model is NCCL's, algorithm choice,
// routing across domains, nccl-tests' bandwidth definitions and sweeps.

#include "sim/hw/collectives.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"

namespace moesim::hw {
namespace {

config::Catalog source_catalog() {
  return config::Catalog(std::filesystem::path{MOESIM_SOURCE_DIR});
}

// A cluster, its topology, a model and the Collectives over them.
struct Bench {
  NetworkEfficiency net;
  ClusterSpec cluster;
  Topology topology;
  std::unique_ptr<NetworkModel> model;
  std::unique_ptr<Collectives> coll;

  Bench(const std::string& cluster_yaml, NetworkImpl impl = NetworkImpl::kMaxMin)
      : net(load_network_efficiency(source_catalog())),
        cluster(parse_cluster(source_catalog(), config::ConfigNode::parse(cluster_yaml, "t.yaml"),
                              net)),
        topology(build_topology(cluster, net)),
        model(make_network_model(impl, topology)),
        coll(std::make_unique<Collectives>(cluster, topology, net, *model)) {}
};

std::vector<int> first(int n) {
  std::vector<int> g(static_cast<std::size_t>(n));
  std::iota(g.begin(), g.end(), 0);
  return g;
}

double relative_gap(Duration a, Duration b) {
  return std::abs(to_seconds(a) / to_seconds(b) - 1.0);
}

TEST_CASE("closed forms and the flow model agree within 2% on symmetric single-domain cases") {
  struct Op {
    CollectiveOp op;
    Algorithm algorithm;
  };
  const std::vector<Op> ops = {{CollectiveOp::kAllReduce, Algorithm::kRing},
                               {CollectiveOp::kAllReduce, Algorithm::kTree},
                               {CollectiveOp::kAllReduce, Algorithm::kNvls},
                               {CollectiveOp::kAllGather, Algorithm::kRing},
                               {CollectiveOp::kReduceScatter, Algorithm::kRing},
                               {CollectiveOp::kAllToAllV, Algorithm::kDirect}};
  for (const std::string system : {"hgx-h200", "gb200-nvl72"}) {
    for (const NetworkImpl impl : {NetworkImpl::kMaxMin, NetworkImpl::kAlphaBeta}) {
      Bench b(system, impl);
      const std::vector<int> group = first(b.cluster.gpu_count());
      for (const Op& o : ops) {
        CAPTURE(system);
        CAPTURE(to_string(impl));
        CAPTURE(to_string(o.op));
        CAPTURE(to_string(o.algorithm));
        CollectiveOptions closed;
        closed.algorithm = o.algorithm;
        closed.protocol = Protocol::kSimple;
        CollectiveOptions flows = closed;
        flows.flow_model = true;
        const CollectiveResult c = b.coll->run(o.op, group, gibibytes(1), closed);
        const CollectiveResult f = b.coll->run(o.op, group, gibibytes(1), flows);
        CHECK(c.pricing == Pricing::kClosedForm);
        CHECK(f.pricing == Pricing::kFlowModel);
        // Same latency model, so the totals differ only by the transfer.
        CHECK(c.latency == f.latency);
        CHECK(relative_gap(f.transfer, c.transfer) <= 0.02);
        CHECK(relative_gap(f.time, c.time) <= 0.02);
      }
      // SendRecv between two GPUs of the domain: one flow, n / B either way.
      CollectiveOptions flows;
      flows.flow_model = true;
      const CollectiveResult c = b.coll->send_recv(0, 5, gibibytes(1));
      const CollectiveResult f = b.coll->send_recv(0, 5, gibibytes(1), flows);
      CHECK(relative_gap(f.transfer, c.transfer) <= 0.02);
    }
  }
}

TEST_CASE(
    "the closed form prices a ring all-reduce on HGX H200 as 2(p-1)/p n / B plus NCCL's latency") {
  Bench b("hgx-h200");
  CollectiveOptions ring;
  ring.algorithm = Algorithm::kRing;
  ring.protocol = Protocol::kSimple;
  const CollectiveResult r = b.coll->run(CollectiveOp::kAllReduce, first(8), gibibytes(1), ring);
  // Latency: base 8.4 us + 2(p-1) = 14 NVLink steps x 3.4 us = 56 us (tuning.cc, S42).
  CHECK(r.latency == nanoseconds(56'000));
  // Transfer: 2 x 7/8 x 2^30 B / (450 GB/s x 0.824) = 1.75 x 1073741824 / 370.8e9 s.
  const double expected = 1.75 * 1073741824.0 / 370.8e9;
  CHECK(to_seconds(r.transfer) == doctest::Approx(expected).epsilon(1e-9));
  // nccl-tests: algbw = size / time, busbw = algbw x 2(p-1)/p.
  CHECK(r.algbw.base() == doctest::Approx(1073741824.0 / to_seconds(r.time)).epsilon(1e-12));
  CHECK(r.busbw / r.algbw == doctest::Approx(1.75).epsilon(1e-12));
}

TEST_CASE("NCCL's latency model across domains counts network steps") {
  Bench b("{system: hgx-h200, domains: 2}");
  const std::vector<int> group = first(16);
  // Ring all-reduce, Simple, 16 ranks in 2 domains: 2(p-1) = 30 steps, of which 2D = 4 cross
  // the network: 8.4 + 26 x 3.4 + 4 x 14 = 152.8 us.
  CHECK(b.coll->latency(CollectiveOp::kAllReduce, Algorithm::kRing, Protocol::kSimple, group) ==
        nanoseconds(152'800));
  // Tree, Simple: 8.4 + 2 x ((16/2 - 1) x 4 + ceil(log2 2) x 14) = 8.4 + 2 x 42 = 92.4 us.
  CHECK(b.coll->latency(CollectiveOp::kAllReduce, Algorithm::kTree, Protocol::kSimple, group) ==
        nanoseconds(92'400));
  // AllGather ring, LL: p - 1 = 15 steps, D - 1 = 1 network: 6.6 + 14 x 0.6 + 2.7 = 17.7 us.
  CHECK(b.coll->latency(CollectiveOp::kAllGather, Algorithm::kRing, Protocol::kLL, group) ==
        nanoseconds(17'700));
  // Direct (AllToAllV) across domains: one network step, 8.4 + 14 = 22.4 us.
  CHECK(b.coll->latency(CollectiveOp::kAllToAllV, Algorithm::kDirect, Protocol::kSimple, group) ==
        nanoseconds(22'400));
}

TEST_CASE("the fastest algorithm and protocol win, and NVLS needs one domain with NVLink SHARP") {
  Bench b("{system: hgx-h200, domains: 2}");
  // Large all-reduce inside one node: NVLS (per port 9/8 n at 0.85 x 370.8 GB/s beats ring's
  // 7/4 n at 370.8 GB/s: 1.324 vs 1.75 n per 370.8 GB/s).
  const CollectiveResult big = b.coll->run(CollectiveOp::kAllReduce, first(8), gibibytes(8));
  CHECK(big.algorithm == Algorithm::kNvls);
  CHECK(big.protocol == Protocol::kSimple);
  // 1 KiB: latency decides. Ring LL = 6.6 + 14 x 0.6 = 15 us beats NVLS (25 us) and tree LL
  // (6.8 + 14 x 0.6 = 15.2 us).
  const CollectiveResult small = b.coll->run(CollectiveOp::kAllReduce, first(8), kibibytes(1));
  CHECK(small.algorithm == Algorithm::kRing);
  CHECK(small.protocol == Protocol::kLL);
  // Across the two nodes NVLS is not offered; forcing it is an error.
  CHECK_FALSE(b.coll->available(CollectiveOp::kAllReduce, Algorithm::kNvls, first(16)));
  CollectiveOptions nvls;
  nvls.algorithm = Algorithm::kNvls;
  CHECK_THROWS_AS(b.coll->run(CollectiveOp::kAllReduce, first(16), gibibytes(1), nvls),
                  ConfigError);
  CollectiveOptions tree;
  tree.algorithm = Algorithm::kTree;
  CHECK_THROWS_AS(b.coll->run(CollectiveOp::kAllGather, first(8), gibibytes(1), tree), ConfigError);
}

TEST_CASE("on an oversubscribed fabric the flow model is slower than the per-port bound") {
  // 8 HGX H200 nodes, AllToAll of 256 MiB per rank among all 64 GPUs, routed directly (the
  // source's NIC to the destination's NIC, across rails through the spines). Each rank sends
  // 256 MiB / 64 = 4 MiB to each of the 56 GPUs of other nodes through its NIC (47 GB/s
  // achievable); its 7 node mates are reached over NVLink, 8x faster and on other links. The
  // per-port bound of a non-blocking fabric is therefore
  //   T_port = 56 x 4 MiB / 47 GB/s.
  const double t_port = 56.0 * 4.0 * 1048576.0 / 47e9;
  CollectiveOptions bound;
  bound.routing = CrossDomainRouting::kDirect;
  bound.protocol = Protocol::kSimple;
  CollectiveOptions flows = bound;
  flows.flow_model = true;
  const std::vector<int> group = first(64);

  Bench full("{system: hgx-h200, domains: 8}");
  const CollectiveResult f1 =
      full.coll->run(CollectiveOp::kAllToAllV, group, mebibytes(256), flows);
  const CollectiveResult b1 =
      full.coll->run(CollectiveOp::kAllToAllV, group, mebibytes(256), bound);
  CHECK(b1.pricing == Pricing::kLinkLoad);
  // Non-blocking (1:1, adaptive routing): both reach the per-port bound.
  CHECK(to_seconds(f1.transfer) == doctest::Approx(t_port).epsilon(0.02));
  CHECK(to_seconds(b1.transfer) == doctest::Approx(t_port).epsilon(0.02));

  // 4:1: each rail leaf has 8 NICs and ceil(8 / 4) = 2 uplinks. Cross-rail traffic (49 of the
  // 56 remote peers are on other rails) from 8 NICs shares 2 uplinks: 8 x 49/56 / 2 = 3.5 times
  // the NIC's load, so the transfer takes ~3.5 x T_port, in the flow model as in the link loads.
  Bench over("{system: hgx-h200, domains: 8, oversubscription: 4}");
  const CollectiveResult f4 =
      over.coll->run(CollectiveOp::kAllToAllV, group, mebibytes(256), flows);
  const CollectiveResult b4 =
      over.coll->run(CollectiveOp::kAllToAllV, group, mebibytes(256), bound);
  CHECK(to_seconds(f4.transfer) > 1.5 * t_port);
  CHECK(to_seconds(f4.transfer) == doctest::Approx(3.5 * t_port).epsilon(0.02));
  CHECK(to_seconds(b4.transfer) == doctest::Approx(3.5 * t_port).epsilon(0.02));

  // Static ECMP on the non-blocking fabric: pairs hashed onto the same spine uplink collide,
  // so it is slower than adaptive routing, never faster.
  Bench ecmp("{system: hgx-h200, domains: 8, spine_routing: ecmp}");
  const CollectiveResult fe =
      ecmp.coll->run(CollectiveOp::kAllToAllV, group, mebibytes(256), flows);
  CHECK(fe.transfer >= f1.transfer);
}

TEST_CASE("on MoE dispatch traffic the fluid makespan equals the per-port bound") {
  // Every rank routes T tokens x top-8 (7,392 B each) to ranks drawn from a Zipf(s) expert
  // popularity (shuffled over ranks). Fluid max-min and the closed form agree within 2%, which
  // is why the closed form is the default on one NVLink domain.
  struct Case {
    const char* system;
    double zipf;
    int tokens;
  };
  for (const Case& c : {Case{"hgx-h200", 0.0, 128}, Case{"hgx-h200", 1.0, 4096},
                        Case{"hgx-h200", 1.5, 16}, Case{"gb200-nvl72", 1.5, 16}}) {
    CAPTURE(c.system);
    CAPTURE(c.zipf);
    Bench b(c.system);
    const int p = b.cluster.gpu_count();
    Rng rng(11, 2);
    std::vector<double> w(static_cast<std::size_t>(p));
    for (int d = 0; d < p; ++d) w[static_cast<std::size_t>(d)] = 1.0 / std::pow(1.0 + d, c.zipf);
    for (int d = p - 1; d > 0; --d) {
      std::swap(w[static_cast<std::size_t>(d)],
                w[rng.uniform_int(static_cast<std::uint64_t>(d) + 1)]);
    }
    std::vector<std::uint64_t> counts(static_cast<std::size_t>(p));
    std::vector<Bytes> m(static_cast<std::size_t>(p * p));
    for (int s = 0; s < p; ++s) {
      rng.multinomial(static_cast<std::uint64_t>(c.tokens) * 8, w, counts);
      for (int d = 0; d < p; ++d) {
        m[static_cast<std::size_t>(s * p + d)] =
            Bytes{static_cast<std::int64_t>(counts[static_cast<std::size_t>(d)] * 7392)};
      }
    }
    CollectiveOptions closed;
    closed.protocol = Protocol::kSimple;
    CollectiveOptions flows = closed;
    flows.flow_model = true;
    const CollectiveResult cf = b.coll->all_to_all_v(first(p), m, closed);
    const CollectiveResult fl = b.coll->all_to_all_v(first(p), m, flows);
    CHECK(fl.transfer >= cf.transfer - picoseconds(1));
    CHECK(relative_gap(fl.transfer, cf.transfer) <= 0.02);
  }
}

TEST_CASE("an imbalanced AllToAllV on NVL72: the fluid never beats the per-port bound") {
  // Hot experts: rank d receives in proportion to a Zipf(1) popularity, 0..2x noise per pair.
  Bench b("gb200-nvl72");
  const int p = 72;
  Rng rng(7, 1);
  std::vector<Bytes> m(static_cast<std::size_t>(p * p));
  for (int s = 0; s < p; ++s) {
    for (int d = 0; d < p; ++d) {
      const double w = 1.0 / (1.0 + d);
      m[static_cast<std::size_t>(s * p + d)] =
          Bytes{static_cast<std::int64_t>(4e6 * w * 2.0 * rng.uniform())};
    }
  }
  CollectiveOptions flows;
  flows.flow_model = true;
  flows.protocol = Protocol::kSimple;
  CollectiveOptions closed = flows;
  closed.flow_model = false;
  const CollectiveResult c = b.coll->all_to_all_v(first(p), m, closed);
  const CollectiveResult f = b.coll->all_to_all_v(first(p), m, flows);
  // The per-port bound is a lower bound for any schedule; the fluid max-min schedule does not
  // keep the hottest port busy all the time, so it is slower, but not by much here.
  CHECK(f.transfer >= c.transfer);
  CHECK(to_seconds(f.transfer) <= 1.25 * to_seconds(c.transfer));
  // alpha_beta sums link loads: exactly the per-port bound on a star.
  Bench ab("gb200-nvl72", NetworkImpl::kAlphaBeta);
  const CollectiveResult a = ab.coll->all_to_all_v(first(p), m, flows);
  CHECK(relative_gap(a.transfer, c.transfer) <= 1e-6);
}

TEST_CASE("cross-domain transfers follow the chosen routing") {
  Bench b("{system: hgx-h200, domains: 2}");
  // GPU 1 (node 0, local 1) to GPU 8 (node 1, local 0).
  FlowBatch batch;
  b.coll->add_transfer(1, 8, 1e6, CrossDomainRouting::kDirect, batch);
  b.coll->add_transfer(1, 8, 1e6, CrossDomainRouting::kRailAligned, batch);
  b.coll->add_transfer(1, 8, 1e6, CrossDomainRouting::kRailFirst, batch);
  b.coll->add_transfer(3, 3, 1e6, CrossDomainRouting::kDirect, batch);  // local: no flow
  REQUIRE(batch.size() == 3);
  auto kinds = [&](int i) {
    std::vector<LinkKind> k;
    for (const LinkId l : batch.route(i)) k.push_back(b.topology.link(l).kind);
    return k;
  };
  using K = LinkKind;
  // Direct: rail 1 to rail 0 through the spines.
  CHECK(kinds(0) ==
        std::vector<K>{K::kNicHost, K::kNicPort, K::kFabric, K::kFabric, K::kNicPort, K::kNicHost});
  // Rail-aligned (PXN): NVLink to GPU 0, then rail 0 to GPU 8.
  CHECK(kinds(1) ==
        std::vector<K>{K::kNvlink, K::kNvlink, K::kNicHost, K::kNicPort, K::kNicPort, K::kNicHost});
  CHECK(b.topology.link(batch.route(1)[1]).to == b.topology.gpu_vertex(0));
  // Rail-first (DeepEP): rail 1 to GPU 9, then NVLink to GPU 8.
  CHECK(kinds(2) ==
        std::vector<K>{K::kNicHost, K::kNicPort, K::kNicPort, K::kNicHost, K::kNvlink, K::kNvlink});
  CHECK(b.topology.link(batch.route(2)[3]).to == b.topology.gpu_vertex(9));
}

TEST_CASE("a ring across domains uses one ring per rail, crossing on each rail's NICs") {
  Bench b("{system: hgx-h200, domains: 2}");
  FlowBatch batch;
  b.coll->decompose(CollectiveOp::kAllGather, Algorithm::kRing, first(16), gibibytes(1),
                    CrossDomainRouting::kRailAligned, batch);
  // 8 rings (8 ranks per domain) x 16 edges.
  CHECK(batch.size() == 8 * 16);
  // Each ring edge carries (p-1)/p n / 8 = 15/16 x 2^30 / 8 bytes.
  CHECK(batch.bytes(0) == doctest::Approx(15.0 / 16.0 * 1073741824.0 / 8.0));
  // Every NIC port carries exactly two ring crossings' worth (one ring out, one in, per
  // direction one): sum of bytes over NIC-port links = 8 rails x 2 nodes x 2 directions x edge.
  double nic_bytes = 0.0;
  for (int i = 0; i < batch.size(); ++i) {
    for (const LinkId l : batch.route(i)) {
      if (b.topology.link(l).kind == LinkKind::kNicPort) nic_bytes += batch.bytes(i);
    }
  }
  CHECK(nic_bytes == doctest::Approx(8.0 * 2.0 * 2.0 * batch.bytes(0)));
}

TEST_CASE("nccl-tests sizes: alltoall of 64 MiB on 72 GB200 GPUs") {
  const NetworkEfficiency net = load_network_efficiency(source_catalog());
  const ClusterSpec c = make_cluster(load_system(source_catalog(), "gb200-nvl72"), 1, net);
  const CollectiveResult r = price_collective(c, net, CollectiveOp::kAllToAllV, mebibytes(64), 72);
  CHECK(r.pricing == Pricing::kClosedForm);
  CHECK(r.algorithm == Algorithm::kDirect);
  CHECK(r.protocol == Protocol::kSimple);
  // Each rank sends floor(2^26 / 72) B to each of 71 peers through its port at 900 x 0.802 GB/s,
  // after 8.4 + 3.4 us (one NVLink step, Simple).
  const double per_peer = std::floor(67108864.0 / 72.0);
  const double expected = 11.8e-6 + 71.0 * per_peer / 721.8e9;
  CHECK(to_seconds(r.time) == doctest::Approx(expected).epsilon(1e-6));
  // algbw = the 64 MiB send buffer / time; busbw = algbw x (n-1)/n.
  CHECK(r.algbw.base() == doctest::Approx(67108864.0 / to_seconds(r.time)).epsilon(1e-12));
  CHECK(r.busbw / r.algbw == doctest::Approx(71.0 / 72.0).epsilon(1e-12));
}

TEST_CASE("a sweep covers powers of two like nccl-tests, and time grows with size") {
  const NetworkEfficiency net = load_network_efficiency(source_catalog());
  const ClusterSpec c = make_cluster(load_system(source_catalog(), "hgx-h100"), 1, net);
  const std::vector<CollectiveResult> s = sweep_collective(c, net, CollectiveOp::kAllReduce, 8);
  // 1 KiB .. 8 GiB: 2^10 .. 2^33, 24 sizes.
  REQUIRE(s.size() == 24);
  CHECK(s.front().size == kibibytes(1));
  CHECK(s.back().size == gibibytes(8));
  for (std::size_t i = 1; i < s.size(); ++i) {
    CHECK(s[i].size == s[i - 1].size * 2);
    CHECK(s[i].time > s[i - 1].time);
  }
  CHECK(s.back().busbw > s.front().busbw);
}

TEST_CASE("an AllToAllV of scaled counts prices as the byte matrix it stands for") {
  // Closed form on one NVL72, link loads across two HGX H200 nodes, the fluid flow model: the
  // counts path must give the result of all_to_all_v on payload x counts (or its transpose).
  struct Case {
    const char* cluster;
    int p;
    bool flow_model;
  };
  for (const Case& c :
       {Case{"gb200-nvl72", 72, false}, Case{"{system: hgx-h200, domains: 2}", 16, false},
        Case{"hgx-h200", 8, true}}) {
    CAPTURE(c.cluster);
    Bench b(c.cluster);
    const auto p = static_cast<std::size_t>(c.p);
    Rng rng(11, static_cast<std::uint64_t>(c.p));
    std::vector<std::int64_t> counts(p * p);
    for (std::size_t s = 0; s < p; ++s) {
      for (std::size_t d = 0; d < p; ++d) {
        // Hot destinations (1 / (1 + d)), and one hot sender, so rows and columns differ.
        const double w = (s == 1 ? 6.0 : 1.0) / (1.0 + static_cast<double>(d));
        counts[s * p + d] = static_cast<std::int64_t>(400.0 * w * rng.uniform());
      }
    }
    CollectiveOptions options;
    options.flow_model = c.flow_model;
    const Bytes payload{7168};
    for (const bool transposed : {false, true}) {
      std::vector<Bytes> m(p * p);
      for (std::size_t s = 0; s < p; ++s) {
        for (std::size_t d = 0; d < p; ++d) {
          m[s * p + d] = payload * (transposed ? counts[d * p + s] : counts[s * p + d]);
        }
      }
      const CollectiveResult want = b.coll->all_to_all_v(first(c.p), m, options);
      const CollectiveResult got =
          b.coll->all_to_all_v_counts(first(c.p), counts, payload, transposed, options);
      CHECK(got.time == want.time);
      CHECK(got.transfer == want.transfer);
      CHECK(got.size == want.size);
      CHECK(got.pricing == want.pricing);
      CHECK(got.algbw.base() == want.algbw.base());
    }
    // The transpose moves the same bytes through the same hottest port, but its largest row is
    // the largest column: the sender of 6x is the hottest row, not the hottest column.
    CHECK(b.coll->all_to_all_v_counts(first(c.p), counts, payload, false, options).size !=
          b.coll->all_to_all_v_counts(first(c.p), counts, payload, true, options).size);
  }
  Bench b("gb200-nvl72");
  std::vector<std::int64_t> bad(4, 1);
  bad[1] = -3;
  CHECK_THROWS_AS(b.coll->all_to_all_v_counts(first(2), bad, Bytes{8}, false), ConfigError);
  CHECK_THROWS_AS(b.coll->all_to_all_v_counts(first(3), bad, Bytes{8}, false), ConfigError);
  const std::vector<std::int64_t> zero(4, 0);
  CHECK(b.coll->all_to_all_v_counts(first(2), zero, Bytes{8}, true).time == Duration::zero());
}

TEST_CASE("trivial collectives cost nothing, and bad requests are rejected") {
  Bench b("hgx-h200");
  const std::vector<int> one = {3};
  const CollectiveResult r1 = b.coll->run(CollectiveOp::kAllReduce, one, gibibytes(1));
  CHECK(r1.time == Duration::zero());
  CHECK(r1.busbw.base() == 0.0);
  const CollectiveResult r0 = b.coll->run(CollectiveOp::kAllGather, first(8), Bytes{0});
  CHECK(r0.time == Duration::zero());
  const std::vector<int> dup = {1, 2, 1};
  CHECK_THROWS_AS(b.coll->run(CollectiveOp::kAllReduce, dup, gibibytes(1)), ConfigError);
  const std::vector<int> outside = {0, 8};
  CHECK_THROWS_AS(b.coll->run(CollectiveOp::kAllReduce, outside, gibibytes(1)), ConfigError);
  const std::vector<Bytes> wrong(5, Bytes{1});
  CHECK_THROWS_AS(b.coll->all_to_all_v(first(2), wrong), ConfigError);
  const NetworkEfficiency net = load_network_efficiency(source_catalog());
  CHECK_THROWS_AS(price_collective(b.cluster, net, CollectiveOp::kAllReduce, gibibytes(1), 9),
                  ConfigError);
}

TEST_CASE("op, algorithm and protocol names parse as the CLI writes them") {
  CHECK(parse_collective_op("alltoall") == CollectiveOp::kAllToAllV);
  CHECK(parse_collective_op("all_reduce") == CollectiveOp::kAllReduce);
  CHECK(parse_collective_op("ReduceScatter") == CollectiveOp::kReduceScatter);
  CHECK(parse_algorithm("nvls") == Algorithm::kNvls);
  CHECK(parse_protocol("LL128") == Protocol::kLL128);
  try {
    (void)parse_collective_op("allreduse");
    FAIL("a misspelt op must be rejected");
  } catch (const ConfigError& e) {
    CHECK(e.suggestion() == "allreduce");
    CHECK(e.key_path() == "collective.op");
  }
  CHECK_THROWS_AS((void)parse_protocol("fast"), ConfigError);
}

}  // namespace
}  // namespace moesim::hw
