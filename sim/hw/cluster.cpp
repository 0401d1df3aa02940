// Cluster specs and their topologies (see sim/hw/cluster.hpp for the fabric's layout).

#include "sim/hw/cluster.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/hw/impl/spec_readers.hpp"

namespace moesim::hw {
namespace {

using config::ConfigNode;

std::string cluster_name(const SystemSpec& system, int domains) {
  return domains == 1 ? system.name : system.name + " x" + std::to_string(domains);
}

void check_fabric(const ClusterSpec& c, const ConfigNode* where) {
  auto fail = [&](const std::string& key, const std::string& expected, const std::string& found) {
    if (where != nullptr) {
      const std::optional<ConfigNode> node = where->is_map() ? where->get(key) : std::nullopt;
      (node ? *node : *where).fail(expected, found);
    }
    throw ConfigError({}, "cluster." + key, expected, found);
  };
  if (c.domains < 1) fail("domains", "at least 1 domain", std::to_string(c.domains));
  const std::int64_t gpus = std::int64_t{c.domains} * c.system.domain_size;
  if (gpus > kMaxClusterGpus) {
    fail("domains",
         "at most " + std::to_string(std::max(kMaxClusterGpus / c.system.domain_size, 1)) +
             " domains of " + c.system.name + " (" + std::to_string(c.system.domain_size) +
             " GPUs each): a cluster holds at most " + std::to_string(kMaxClusterGpus) +
             " GPUs, as the routes between every pair of GPUs are stored",
         std::to_string(c.domains) + " (" + std::to_string(gpus) + " GPUs)");
  }
  if (c.domains == 1) return;
  if (!(c.oversubscription >= 1.0 && std::isfinite(c.oversubscription))) {
    fail("oversubscription", "a ratio >= 1 (1 = non-blocking)", std::to_string(c.oversubscription));
  }
  if (c.leaf_ports < 2) {
    fail("leaf_ports", "a leaf switch radix of at least 2 ports", std::to_string(c.leaf_ports));
  }
  if (c.leaf_downlinks() < 1) {
    fail("leaf_ports", "enough ports for one downlink at this oversubscription",
         std::to_string(c.leaf_ports));
  }
  if (!(c.nic_bandwidth.base() > 0.0)) fail("nic_bandwidth", "a rate above zero", "0");
}

}  // namespace

int ClusterSpec::leaf_downlinks() const {
  const double r = oversubscription;
  return static_cast<int>(std::floor(leaf_ports * r / (r + 1.0) + 1e-9));
}

ClusterSpec make_cluster(const SystemSpec& system, int domains, const NetworkEfficiency& network) {
  ClusterSpec c;
  c.name = cluster_name(system, domains);
  c.system = system;
  c.domains = domains;
  c.nic_bandwidth = system.scale_out.nic_bandwidth;
  c.oversubscription = network.fabric_defaults.oversubscription;
  c.spine_routing = network.fabric_defaults.spine_routing;
  if (const LeafSwitchSpec* leaf = network.fabric_defaults.leaf_for(c.nic_bandwidth)) {
    c.leaf_ports = leaf->ports;
  } else if (domains > 1) {
    throw ConfigError(network.location, "fabric.leaf_switches",
                      "a leaf switch for the NIC rate of " + system.name + " (" +
                          std::to_string(in_gigabytes_per_second(c.nic_bandwidth)) +
                          " GB/s), or leaf_ports in the cluster",
                      "none");
  }
  check_fabric(c, nullptr);
  return c;
}

ClusterSpec parse_cluster(const config::Catalog& catalog, const ConfigNode& node,
                          const NetworkEfficiency& network) {
  if (node.is_scalar()) {
    return make_cluster(parse_system(catalog, catalog.load(kSystemSection, node)), 1, network);
  }
  if (!node.is_map()) node.fail("a system name, or a map with system and domains");
  node.check_keys(
      {"system", "domains", "oversubscription", "leaf_ports", "nic_bandwidth", "spine_routing"});
  const SystemSpec system = parse_system(catalog, catalog.load(kSystemSection, node.at("system")));
  const int domains = node.has("domains") ? detail::read_count(node.at("domains")) : 1;
  ClusterSpec c;
  c.name = cluster_name(system, domains);
  c.system = system;
  c.domains = domains;
  c.nic_bandwidth = node.has("nic_bandwidth")
                        ? detail::read_positive_bandwidth(node.at("nic_bandwidth"))
                        : system.scale_out.nic_bandwidth;
  c.oversubscription = node.has("oversubscription") ? node.at("oversubscription").as_double()
                                                    : network.fabric_defaults.oversubscription;
  c.spine_routing = network.fabric_defaults.spine_routing;
  if (node.has("spine_routing")) {
    const std::string r =
        node.at("spine_routing")
            .as_choice({to_string(SpineRouting::kEcmp), to_string(SpineRouting::kAdaptive)});
    c.spine_routing =
        r == to_string(SpineRouting::kEcmp) ? SpineRouting::kEcmp : SpineRouting::kAdaptive;
  }
  if (node.has("leaf_ports")) {
    c.leaf_ports = detail::read_count(node.at("leaf_ports"), 2);
  } else if (const LeafSwitchSpec* leaf = network.fabric_defaults.leaf_for(c.nic_bandwidth)) {
    c.leaf_ports = leaf->ports;
  } else if (domains > 1) {
    node.fail("leaf_ports (network parameters have no leaf switch for " +
              std::to_string(in_gigabytes_per_second(c.nic_bandwidth)) + " GB/s ports)");
  }
  check_fabric(c, &node);
  return c;
}

Topology build_topology(const ClusterSpec& c, const NetworkEfficiency& network) {
  check_fabric(c, nullptr);
  const SystemSpec& s = c.system;
  TopologyBuilder b(c.name);

  const LinkClassParams nvl = network.link_params(LinkKind::kNvlink, s.gpu.nvlink.generation);
  const Bandwidth nvl_rate = s.gpu.nvlink.bandwidth_per_direction;
  const LinkSpec nvlink{LinkKind::kNvlink, nvl_rate, nvl_rate * nvl.efficiency, nvl.hop_latency,
                        LinkPolicy::kSplitDuplex};

  const int gpus = c.gpu_count();
  std::vector<VertexId> gpu_vertices;
  gpu_vertices.reserve(static_cast<std::size_t>(gpus));
  for (int d = 0; d < c.domains; ++d) {
    std::vector<VertexId> domain_gpus;
    for (int n = 0; n < s.nodes_per_domain; ++n) {
      const int node = d * s.nodes_per_domain + n;
      for (int i = 0; i < s.gpus_per_node; ++i) {
        const int g = node * s.gpus_per_node + i;
        domain_gpus.push_back(b.add_gpu("gpu" + std::to_string(g), Placement{d, node, i, -1}));
      }
    }
    gpu_vertices.insert(gpu_vertices.end(), domain_gpus.begin(), domain_gpus.end());
    if (s.domain_size > 1) {
      const VertexId sw = b.add_vertex(VertexKind::kNvSwitch, "nvswitch" + std::to_string(d),
                                       Placement{d, -1, -1, -1});
      for (const VertexId g : domain_gpus) b.add_link(g, sw, nvlink);
    }
  }
  if (c.domains == 1) return b.seal();

  const LinkClassParams host = network.link_params(LinkKind::kNicHost, 0);
  const LinkClassParams port = network.link_params(LinkKind::kNicPort, 0);
  const LinkClassParams fab = network.link_params(LinkKind::kFabric, 0);
  const Bandwidth rate = c.nic_bandwidth;
  const LinkSpec host_link{LinkKind::kNicHost, rate, rate * host.efficiency, host.hop_latency,
                           LinkPolicy::kSplitDuplex};
  const LinkSpec port_link{LinkKind::kNicPort, rate, rate * port.efficiency, port.hop_latency,
                           LinkPolicy::kSplitDuplex};
  const LinkSpec fabric_link{LinkKind::kFabric, rate, rate * fab.efficiency, fab.hop_latency,
                             LinkPolicy::kSplitDuplex};

  const int nodes = c.node_count();
  const int rails = c.rails();
  const int down = c.leaf_downlinks();
  const int leaves_per_rail = (nodes + down - 1) / down;
  std::vector<VertexId> leaves(static_cast<std::size_t>(rails * leaves_per_rail));
  std::vector<int> attached(leaves.size(), 0);
  for (int r = 0; r < rails; ++r) {
    for (int k = 0; k < leaves_per_rail; ++k) {
      leaves[static_cast<std::size_t>(r * leaves_per_rail + k)] = b.add_vertex(
          VertexKind::kLeafSwitch, "leaf" + std::to_string(r) + "." + std::to_string(k),
          Placement{-1, -1, -1, r});
    }
  }
  const int nics = s.scale_out.nics_per_gpu;
  for (int g = 0; g < gpus; ++g) {
    const int node = g / s.gpus_per_node;
    const int local = g % s.gpus_per_node;
    for (int j = 0; j < nics; ++j) {
      const int rail = local * nics + j;
      const std::string name = nics == 1 ? "nic" + std::to_string(g)
                                         : "nic" + std::to_string(g) + "." + std::to_string(j);
      const VertexId nic = b.add_vertex(VertexKind::kNic, name,
                                        Placement{node / s.nodes_per_domain, node, local, rail});
      b.add_link(gpu_vertices[static_cast<std::size_t>(g)], nic, host_link);
      const std::size_t leaf = static_cast<std::size_t>(rail * leaves_per_rail + node / down);
      b.add_link(nic, leaves[leaf], port_link);
      ++attached[leaf];
    }
  }
  // Spines only where traffic can leave a leaf for another leaf.
  if (leaves.size() > 1) {
    int spines = 0;
    std::vector<int> uplinks(leaves.size());
    for (std::size_t l = 0; l < leaves.size(); ++l) {
      uplinks[l] = static_cast<int>(std::ceil(attached[l] / c.oversubscription - 1e-9));
      uplinks[l] = std::max(uplinks[l], 1);
      spines = std::max(spines, uplinks[l]);
    }
    if (c.spine_routing == SpineRouting::kAdaptive) {
      const VertexId core = b.add_vertex(VertexKind::kSpineSwitch, "spines");
      for (std::size_t l = 0; l < leaves.size(); ++l) {
        LinkSpec trunk = fabric_link;
        trunk.line_rate = fabric_link.line_rate * static_cast<double>(uplinks[l]);
        trunk.capacity = fabric_link.capacity * static_cast<double>(uplinks[l]);
        b.add_link(leaves[l], core, trunk);
      }
    } else {
      std::vector<VertexId> spine(static_cast<std::size_t>(spines));
      for (int u = 0; u < spines; ++u) {
        spine[static_cast<std::size_t>(u)] =
            b.add_vertex(VertexKind::kSpineSwitch, "spine" + std::to_string(u));
      }
      for (std::size_t l = 0; l < leaves.size(); ++l) {
        for (int u = 0; u < uplinks[l]; ++u) {
          b.add_link(leaves[l], spine[static_cast<std::size_t>(u)], fabric_link);
        }
      }
    }
  }
  return b.seal();
}

}  // namespace moesim::hw
