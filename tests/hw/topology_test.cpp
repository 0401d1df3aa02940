// Tests of the topology graph and of clusters: the shipped systems become the graphs they are
// (an HGX node, an NVL72 rack, rail-optimised clusters of either), routes are shortest with
// deterministic ECMP over the spines, and bad inputs are rejected. Figures come from the catalog
// (topologies/systems, topologies/network.yaml) whose sources are cited there.

#include "sim/hw/topology.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/network_efficiency.hpp"

namespace moesim::hw {
namespace {

config::Catalog source_catalog() {
  return config::Catalog(std::filesystem::path{MOESIM_SOURCE_DIR});
}

NetworkEfficiency shipped_network() { return load_network_efficiency(source_catalog()); }

ClusterSpec cluster_from_yaml(const std::string& yaml, const NetworkEfficiency& net) {
  return parse_cluster(source_catalog(), config::ConfigNode::parse(yaml, "test.yaml"), net);
}

std::vector<LinkKind> kinds(const Topology& t, RouteView r) {
  std::vector<LinkKind> k;
  for (const LinkId l : r.links) k.push_back(t.link(l).kind);
  return k;
}

doctest::Approx approx(double v) { return doctest::Approx(v).epsilon(1e-9); }

TEST_CASE("an HGX H200 node is 8 GPUs on one NVLink switch joined by two-hop routes") {
  const NetworkEfficiency net = shipped_network();
  const ClusterSpec c = cluster_from_yaml("hgx-h200", net);
  const Topology t = build_topology(c, net);
  CHECK(t.name() == "hgx-h200");
  CHECK(t.gpu_count() == 8);
  CHECK(t.vertex_count() == 9);  // 8 GPUs + the NVSwitch domain; no fabric for one domain
  CHECK(t.link_count() == 16);   // one NVLink cable per GPU, two directions each
  CHECK(t.channel_count() == 16);
  const RouteView r = t.route(0, 5);
  REQUIRE(r.links.size() == 2);
  CHECK(t.vertex(t.link(r.links[0]).from).name == "gpu0");
  CHECK(t.vertex(t.link(r.links[0]).to).kind == VertexKind::kNvSwitch);
  CHECK(t.vertex(t.link(r.links[1]).to).name == "gpu5");
  // Two NVLink hops of 0.3 us (network.yaml: half of NCCL's 0.6 us NVLink step).
  CHECK(r.latency == nanoseconds(600));
  // Capacity: 450 GB/s per direction (h200.yaml) x 0.824 (NVLink4 efficiency) = 370.8 GB/s;
  // the line rate stays the datasheet's.
  CHECK(in_gigabytes_per_second(t.route_capacity(0, 5)) == approx(370.8));
  CHECK(in_gigabytes_per_second(t.link(r.links[0]).line_rate) == approx(450.0));
  CHECK(t.route(3, 3).links.empty());
  CHECK(t.route(3, 3).latency == Duration::zero());
}

TEST_CASE("a GB200 NVL72 rack is one NVLink domain of 72 GPUs") {
  const NetworkEfficiency net = shipped_network();
  const Topology t = build_topology(cluster_from_yaml("gb200-nvl72", net), net);
  CHECK(t.gpu_count() == 72);
  CHECK(t.vertex_count() == 73);
  for (int d = 1; d < 72; d += 7) CHECK(t.route(0, d).links.size() == 2);
  // 900 GB/s per direction x 0.802 (NVLink5) = 721.8 GB/s.
  CHECK(in_gigabytes_per_second(t.route_capacity(71, 0)) == approx(721.8));
  // Placement: GPU 13 is local GPU 1 of tray 3 in rack 0.
  CHECK(t.gpu_placement(13).domain == 0);
  CHECK(t.gpu_placement(13).node == 3);
  CHECK(t.gpu_placement(13).local == 1);
}

TEST_CASE("16 HGX H200 nodes are one line of YAML and form a rail-optimised two-tier fabric") {
  const NetworkEfficiency net = shipped_network();
  const ClusterSpec c = cluster_from_yaml("{system: hgx-h200, domains: 16}", net);
  CHECK(c.name == "hgx-h200 x16");
  CHECK(c.gpu_count() == 128);
  CHECK(c.rails() == 8);
  // Quantum-2 leaf: 64 ports of 400 Gb/s; non-blocking -> 32 down, 32 up (network.yaml).
  CHECK(c.leaf_ports == 64);
  CHECK(c.leaf_downlinks() == 32);
  const Topology t = build_topology(c, net);
  int leaves = 0;
  int spines = 0;
  int nics = 0;
  for (VertexId v = 0; v < t.vertex_count(); ++v) {
    leaves += t.vertex(v).kind == VertexKind::kLeafSwitch ? 1 : 0;
    spines += t.vertex(v).kind == VertexKind::kSpineSwitch ? 1 : 0;
    nics += t.vertex(v).kind == VertexKind::kNic ? 1 : 0;
  }
  CHECK(nics == 128);
  CHECK(leaves == 8);  // 16 nodes fit one leaf per rail
  // Adaptive routing (network.yaml's default): the spines are one core vertex and each leaf's
  // 16 uplinks (16 NICs at 1:1) one trunk of 16 x 50 GB/s line rate, 16 x 47 achievable.
  CHECK(c.spine_routing == SpineRouting::kAdaptive);
  CHECK(spines == 1);
  for (const LinkInfo& l : t.links()) {
    if (l.kind == LinkKind::kFabric) {
      CHECK(in_gigabytes_per_second(l.line_rate) == approx(800.0));
      CHECK(in_gigabytes_per_second(l.capacity) == approx(752.0));
    }
  }

  // Same rail (local GPU 0 of nodes 0 and 1): GPU -> NIC -> leaf -> NIC -> GPU.
  const RouteView same = t.route(0, 8);
  CHECK(kinds(t, same) == std::vector<LinkKind>{LinkKind::kNicHost, LinkKind::kNicPort,
                                                LinkKind::kNicPort, LinkKind::kNicHost});
  CHECK(same.latency == nanoseconds(4 * 675));  // 4 network hops of 0.675 us
  // Across rails (local 0 of node 0 to local 1 of node 1): up to a spine and down.
  const RouteView cross = t.route(0, 9);
  CHECK(kinds(t, cross) == std::vector<LinkKind>{LinkKind::kNicHost, LinkKind::kNicPort,
                                                 LinkKind::kFabric, LinkKind::kFabric,
                                                 LinkKind::kNicPort, LinkKind::kNicHost});
  // Within a node, NVLink stays the shortest path.
  CHECK(kinds(t, t.route(8, 15)) == std::vector<LinkKind>{LinkKind::kNvlink, LinkKind::kNvlink});
  // 400 Gb/s = 50 GB/s x 0.94 (S53) on every network hop.
  CHECK(in_gigabytes_per_second(t.route_capacity(0, 9)) == approx(47.0));
}

TEST_CASE("with static routing, spine paths are spread over the spines deterministically") {
  const NetworkEfficiency net = shipped_network();
  const ClusterSpec c =
      cluster_from_yaml("{system: hgx-h200, domains: 16, spine_routing: ecmp}", net);
  const Topology t = build_topology(c, net);
  int spines = 0;
  for (VertexId v = 0; v < t.vertex_count(); ++v) {
    spines += t.vertex(v).kind == VertexKind::kSpineSwitch ? 1 : 0;
  }
  CHECK(spines == 16);  // each leaf has 16 NICs and, at 1:1, 16 uplinks, uplink u to spine u
  std::set<VertexId> spines_used;
  for (int src = 0; src < 8; ++src) {
    for (int node = 1; node < 16; ++node) {
      const int dst = node * 8 + (src + 1) % 8;  // another rail
      const RouteView r = t.route(src, dst);
      REQUIRE(r.links.size() == 6);
      spines_used.insert(t.link(r.links[2]).to);
    }
  }
  // 120 cross-rail pairs over 16 spines: a hash that ignored the pair would use one spine.
  CHECK(spines_used.size() > 8);
  // A second topology built from the same spec takes the same paths.
  const Topology again = build_topology(c, net);
  for (int dst = 9; dst < 128; dst += 13) {
    const RouteView a = t.route(2, dst);
    const RouteView b = again.route(2, dst);
    CHECK(std::vector<LinkId>(a.links.begin(), a.links.end()) ==
          std::vector<LinkId>(b.links.begin(), b.links.end()));
  }
}

TEST_CASE("oversubscription gives each leaf fewer uplinks than downlinks") {
  const NetworkEfficiency net = shipped_network();
  const ClusterSpec c = cluster_from_yaml(
      "{system: hgx-h200, domains: 16, oversubscription: 4, spine_routing: ecmp}", net);
  // 64 ports at 4:1 -> floor(64 * 4 / 5) = 51 downlinks; 16 NICs per leaf -> ceil(16 / 4) = 4
  // uplinks.
  CHECK(c.leaf_downlinks() == 51);
  const Topology t = build_topology(c, net);
  int spines = 0;
  int fabric_cables = 0;
  for (VertexId v = 0; v < t.vertex_count(); ++v) {
    spines += t.vertex(v).kind == VertexKind::kSpineSwitch ? 1 : 0;
  }
  for (const LinkInfo& l : t.links()) fabric_cables += l.kind == LinkKind::kFabric ? 1 : 0;
  CHECK(spines == 4);
  CHECK(fabric_cables == 2 * 8 * 4);  // 8 leaves x 4 uplinks, two directions
  // Adaptive routing: one trunk per leaf of 4 uplinks = 4 x 50 GB/s line rate.
  const ClusterSpec a =
      cluster_from_yaml("{system: hgx-h200, domains: 16, oversubscription: 4}", net);
  const Topology ta = build_topology(a, net);
  int trunks = 0;
  for (const LinkInfo& l : ta.links()) {
    if (l.kind != LinkKind::kFabric) continue;
    ++trunks;
    CHECK(in_gigabytes_per_second(l.line_rate) == approx(200.0));
  }
  CHECK(trunks == 2 * 8);
}

TEST_CASE("4 GB200 NVL72 racks are one line of YAML; trays fill 32-port leaf groups per rail") {
  const NetworkEfficiency net = shipped_network();
  const ClusterSpec c = cluster_from_yaml("{system: gb200-nvl72, domains: 4}", net);
  CHECK(c.gpu_count() == 288);
  CHECK(c.node_count() == 72);  // 18 compute trays per rack
  CHECK(c.rails() == 4);        // 4 GPUs, one ConnectX-7 each, per tray
  const Topology t = build_topology(c, net);
  // 72 trays at 32 per leaf -> 3 leaves per rail, 12 leaves.
  int leaves = 0;
  for (VertexId v = 0; v < t.vertex_count(); ++v) {
    leaves += t.vertex(v).kind == VertexKind::kLeafSwitch ? 1 : 0;
  }
  CHECK(leaves == 12);
  // Rack-internal traffic stays on NVLink, even between trays.
  CHECK(kinds(t, t.route(0, 71)) == std::vector<LinkKind>{LinkKind::kNvlink, LinkKind::kNvlink});
  // Tray 0 and tray 40 (rack 2) hold local GPU 0 on rail 0 but in leaf groups 0 and 1: spine.
  CHECK(t.route(0, 160).links.size() == 6);
  // Tray 0 and tray 20 (rack 1): same leaf group, one leaf hop.
  CHECK(t.route(0, 80).links.size() == 4);
}

TEST_CASE("to_dot lists every vertex and every cable once") {
  const NetworkEfficiency net = shipped_network();
  const Topology t = build_topology(cluster_from_yaml("{system: hgx-h100, domains: 2}", net), net);
  const std::string dot = t.to_dot();
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(dot.find("nvswitch1") != std::string::npos);
  CHECK(dot.find("leaf7.0") != std::string::npos);
  std::size_t edges = 0;
  for (std::size_t at = dot.find("->"); at != std::string::npos; at = dot.find("->", at + 2)) {
    ++edges;
  }
  CHECK(edges == static_cast<std::size_t>(t.link_count() / 2));
}

TEST_CASE("a hand-built graph maps its cables to channels by sharing policy") {
  TopologyBuilder b("policies");
  const VertexId a = b.add_gpu("a");
  const VertexId s = b.add_vertex(VertexKind::kNvSwitch, "s");
  const VertexId c = b.add_gpu("c");
  const VertexId d = b.add_gpu("d");
  const LinkSpec base{LinkKind::kCustom, gigabytes_per_second(100), gigabytes_per_second(100),
                      microseconds(1), LinkPolicy::kSplitDuplex};
  LinkSpec shared = base;
  shared.policy = LinkPolicy::kSharedDuplex;
  LinkSpec fat = base;
  fat.policy = LinkPolicy::kFatPipe;
  const LinkId l_split = b.add_link(a, s, base);
  const LinkId l_shared = b.add_link(c, s, shared);
  const LinkId l_fat = b.add_link(d, s, fat);
  const Topology t = b.seal();
  // Split duplex: two channels; shared duplex: one for both directions; fat pipe: two, unshared.
  CHECK(t.channel_count() == 5);
  CHECK(t.link(l_split).channel != t.link(l_split + 1).channel);
  CHECK(t.link(l_shared).channel == t.link(l_shared + 1).channel);
  CHECK(t.channel(t.link(l_fat).channel).sharing == LinkSharing::kNotShared);
  CHECK(t.channel(t.link(l_split).channel).sharing == LinkSharing::kShared);
  // GPUs are endpoints: a -> c crosses the switch, 2 hops of 1 us.
  CHECK(t.route(0, 1).links.size() == 2);
  CHECK(t.route(0, 1).latency == microseconds(2));
}

TEST_CASE("GPUs never forward: two GPUs joined only through a third are disconnected") {
  TopologyBuilder b("chain");
  const VertexId a = b.add_gpu("a");
  const VertexId m = b.add_gpu("m");
  const VertexId z = b.add_gpu("z");
  const LinkSpec l{LinkKind::kCustom, gigabytes_per_second(1), gigabytes_per_second(1),
                   Duration::zero(), LinkPolicy::kSplitDuplex};
  b.add_link(a, m, l);
  b.add_link(m, z, l);
  CHECK_THROWS_AS(b.seal(), ConfigError);
}

TEST_CASE("vertex names must be unique") {
  TopologyBuilder b("dup");
  b.add_gpu("x");
  b.add_vertex(VertexKind::kNic, "x");
  CHECK_THROWS_AS(b.seal(), ConfigError);
}

TEST_CASE("cluster YAML errors point at the key, with a did-you-mean") {
  const NetworkEfficiency net = shipped_network();
  try {
    (void)cluster_from_yaml("{system: hgx-h200, domain: 4}", net);
    FAIL("an unknown key must be rejected");
  } catch (const ConfigError& e) {
    CHECK(e.suggestion() == "domains");
  }
  CHECK_THROWS_AS((void)cluster_from_yaml("{system: hgx-h200, domains: 0}", net), ConfigError);
  CHECK_THROWS_AS(
      (void)cluster_from_yaml("{system: hgx-h200, domains: 2, oversubscription: 0.5}", net),
      ConfigError);
  CHECK_THROWS_AS((void)cluster_from_yaml("{system: hgx-h201, domains: 2}", net), ConfigError);
  // A NIC rate with no leaf switch in network.yaml needs leaf_ports.
  CHECK_THROWS_AS(
      (void)cluster_from_yaml("{system: hgx-h200, domains: 2, nic_bandwidth: \"200 Gb/s\"}", net),
      ConfigError);
  const ClusterSpec ok = cluster_from_yaml(
      "{system: hgx-h200, domains: 2, nic_bandwidth: \"200 Gb/s\", leaf_ports: 40}", net);
  CHECK(ok.leaf_ports == 40);
}

TEST_CASE("a cluster of more than 4096 GPUs is rejected at domains before its routes are built") {
  // Found by the fuzz test: routes are kept for every GPU pair, so 100,000 HGX nodes threw
  // std::bad_alloc. 512 nodes x 8 GPUs = 4096 is the largest cluster; 513 is one too many.
  const NetworkEfficiency net = shipped_network();
  const ConfigError e = [&] {
    try {
      (void)cluster_from_yaml("{system: hgx-h200, domains: 513}", net);
    } catch (const ConfigError& err) {
      return err;
    }
    FAIL("513 HGX nodes must be rejected");
    return ConfigError({}, "", "", "");
  }();
  CHECK(e.key_path() == "domains");
  CHECK(e.where().line == 1);
  CHECK(e.found() == "513 (4104 GPUs)");
  CHECK_THROWS_AS((void)make_cluster(load_system(source_catalog(), "gb200-nvl72"), 57, net),
                  ConfigError);
  CHECK(make_cluster(load_system(source_catalog(), "hgx-h200"), 512, net).gpu_count() == 4096);
}

TEST_CASE("the shipped network parameters carry NCCL's figures") {
  const NetworkEfficiency net = shipped_network();
  CHECK(net.impl == NetworkImpl::kMaxMin);
  CHECK(net.nvlink_efficiency_for(4) == approx(0.824));  // 20.6 / 25 GB/s per link (S42)
  CHECK(net.nvlink_efficiency_for(5) == approx(0.802));  // 40.1 / 50 GB/s per link (S42)
  CHECK(net.nvls_efficiency_for(Arch::kHopper) == approx(0.85));
  CHECK(net.base(Algorithm::kRing, Protocol::kSimple) == nanoseconds(8400));
  CHECK(net.step(LatencyClass::kNvlink, Algorithm::kNvls, Protocol::kSimple) == microseconds(25));
  CHECK_FALSE(net.supports(Algorithm::kNvls, Protocol::kLL));
  CHECK_THROWS_AS((void)net.nvlink_efficiency_for(3), ConfigError);
}

}  // namespace
}  // namespace moesim::hw
