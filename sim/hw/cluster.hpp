#pragma once
/// \file
/// A cluster: N NVLink domains of one catalog system (HGX nodes, NVL72 racks) joined by a
/// rail-optimised two-tier scale-out fabric, and its Topology. YAML schema and examples are in
/// topologies/README-network.md; the one-line forms are
///   cluster: hgx-h200                                  # one domain
///   cluster: {system: hgx-h200, domains: 16}           # 16 HGX H200 nodes
///   cluster: {system: gb200-nvl72, domains: 4, oversubscription: 2}
///
/// Fabric. Every GPU has nics_per_gpu NICs; NIC j of the GPU with local index i in its node is on
/// rail i * nics_per_gpu + j (so a node's NICs are on distinct rails, and NIC i of every node is
/// on rail i). Each rail has ceil(nodes / D) leaf switches, leaf k taking nodes kD .. kD + D - 1,
/// where D = floor(leaf_ports * r / (r + 1)) downlinks for oversubscription r (downlinks :
/// uplinks); a leaf with d NICs attached has U = ceil(d / r) uplinks. All fabric ports run at
/// the NIC's line rate. Spines (only when there is more than one leaf) depend on spine_routing:
///   - ecmp: U spines at most, uplink u of every leaf going to spine u; routes pick a spine per
///     (source, destination) pair by hash (sim/hw/topology.hpp);
///   - adaptive: one core vertex "spines" and one trunk per leaf of U x the port rate: the fluid
///     limit of spreading every flow evenly over all spines.
/// With one domain there is no fabric (no NIC, leaf or spine vertex): everything stays inside
/// the NVLink domain.
///
/// Topology vertices and links (sim/hw/topology.hpp): per domain one kNvSwitch vertex (the
/// domain's NVLink switch chips as one non-blocking switch) with one kNvlink cable per GPU of
/// the GPU's NVLink bandwidth per direction; per NIC a kNicHost cable GPU-NIC and a kNicPort
/// cable NIC-leaf; kFabric cables leaf-spine. Capacities are line rate x efficiency and hop
/// latencies come from the NetworkEfficiency (topologies/network.yaml).

#include <string>
#include <string_view>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/units.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/system.hpp"
#include "sim/hw/topology.hpp"

namespace moesim::hw {

/// Most GPUs a cluster may hold: 4096 (56 NVL72 racks, 512 HGX servers), far above the
/// deployments a step or a run simulates (wide EP over 4 racks is 288 GPUs). build_topology
/// computes and stores the route between every pair of GPUs: N^2 routes of a few links each
/// (`moesim collective` over 32 NVL72 racks, 2304 GPUs, took 0.33 GB and 10 s on two cores;
/// 4096 GPUs about three times that), so a typo such as `--domains 1000000` exhausted memory.
inline constexpr int kMaxClusterGpus = 4096;

/// N NVLink domains of one system and the fabric that joins them. Plain data; copyable.
struct ClusterSpec {
  std::string name;  ///< "hgx-h200" for one domain, "hgx-h200 x16" for several
  SystemSpec system;
  int domains = 1;                ///< NVLink domains (HGX nodes, NVL72 racks), >= 1
  Bandwidth nic_bandwidth;        ///< line rate of every NIC and fabric port, one direction
  double oversubscription = 1.0;  ///< leaf downlinks : uplinks, >= 1 (1 = non-blocking)
  int leaf_ports = 0;             ///< ports of one leaf switch, >= 2
  SpineRouting spine_routing = SpineRouting::kAdaptive;  ///< how leaves use the spines

  /// GPUs in the cluster: domains x domain size.
  int gpu_count() const { return domains * system.domain_size; }
  /// Nodes (servers, compute trays) in the cluster.
  int node_count() const { return domains * system.nodes_per_domain; }
  /// Scale-out rails: NICs per node.
  int rails() const { return system.gpus_per_node * system.scale_out.nics_per_gpu; }
  /// Leaf downlinks D = floor(leaf_ports x r / (r + 1)) for oversubscription r (>= 1).
  int leaf_downlinks() const;
};

/// A cluster of `domains` domains of `system` with the fabric defaults of `network` (its
/// oversubscription and the leaf switch that matches the system's NIC rate). A NIC rate with no
/// leaf switch in `network` is a ConfigError when domains > 1, and so are more than
/// kMaxClusterGpus GPUs.
ClusterSpec make_cluster(const SystemSpec& system, int domains, const NetworkEfficiency& network);

/// Reads a cluster: a system name or path (one domain), or a map with `system` (a name or path)
/// and optional `domains` (default 1), `oversubscription`, `leaf_ports`, `nic_bandwidth`,
/// `spine_routing` (defaults from `network` and the system). Unknown keys, bad values and a fabric
/// that cannot be built throw ConfigError at the offending key.
ClusterSpec parse_cluster(const config::Catalog& catalog, const config::ConfigNode& node,
                          const NetworkEfficiency& network);

/// The topology of `cluster` (see the file comment) with link capacities and hop latencies from
/// `network`. Routes between all GPUs are computed here (TopologyBuilder::seal).
Topology build_topology(const ClusterSpec& cluster, const NetworkEfficiency& network);

}  // namespace moesim::hw
