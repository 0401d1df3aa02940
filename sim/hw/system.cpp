#include "sim/hw/system.hpp"

#include <filesystem>
#include <string>

#include "sim/hw/impl/spec_readers.hpp"

namespace moesim::hw {
namespace {

using config::ConfigNode;
using detail::read_count;
using detail::read_positive_bandwidth;
using detail::read_text;

NodeKind read_node_kind(const ConfigNode& node) {
  const std::string k =
      node.as_choice({to_string(NodeKind::kServer), to_string(NodeKind::kComputeTray)});
  return k == to_string(NodeKind::kServer) ? NodeKind::kServer : NodeKind::kComputeTray;
}

SwitchKind read_switch_kind(const ConfigNode& node) {
  const std::string k =
      node.as_choice({to_string(SwitchKind::kBaseboard), to_string(SwitchKind::kSwitchTray)});
  return k == to_string(SwitchKind::kBaseboard) ? SwitchKind::kBaseboard : SwitchKind::kSwitchTray;
}

CpuSpec read_cpus(const ConfigNode& node) {
  node.check_keys({"count", "model"});
  return CpuSpec{read_count(node.at("count")), read_text(node.at("model"))};
}

NvlinkSwitchSpec read_switch(const ConfigNode& node) {
  node.check_keys({"name", "kind", "generation", "chips", "nvlink_sharp"});
  NvlinkSwitchSpec s;
  s.name = read_text(node.at("name"));
  s.kind = read_switch_kind(node.at("kind"));
  s.generation = read_count(node.at("generation"));
  s.chips = read_count(node.at("chips"));
  s.nvlink_sharp = node.at("nvlink_sharp").as_bool();
  return s;
}

/// Most scale-out NICs per GPU: shipped systems have one; the cluster topology has a vertex per
/// NIC and a rail per NIC of a node. Found by the fuzz test: nics_per_gpu 1000000 made a
/// two-node cluster of 16 million NICs (std::bad_alloc, an internal error).
constexpr int kMaxNicsPerGpu = 16;

ScaleOutSpec read_scale_out(const ConfigNode& node) {
  node.check_keys({"nics_per_gpu", "nic_model", "nic_bandwidth", "fabric"});
  ScaleOutSpec s;
  s.nics_per_gpu = read_count(node.at("nics_per_gpu"));
  if (s.nics_per_gpu > kMaxNicsPerGpu) {
    node.at("nics_per_gpu").fail("a whole number from 1 to " + std::to_string(kMaxNicsPerGpu));
  }
  s.nic_model = read_text(node.at("nic_model"));
  s.nic_bandwidth = read_positive_bandwidth(node.at("nic_bandwidth"));
  s.fabric = read_text(node.at("fabric"));
  return s;
}

}  // namespace

std::string_view to_string(NodeKind kind) {
  switch (kind) {
    case NodeKind::kServer: return "server";
    case NodeKind::kComputeTray: return "compute-tray";
  }
  return "?";
}

std::string_view to_string(SwitchKind kind) {
  switch (kind) {
    case SwitchKind::kBaseboard: return "baseboard";
    case SwitchKind::kSwitchTray: return "switch-tray";
  }
  return "?";
}

SystemSpec parse_system(const config::Catalog& catalog, const ConfigNode& node) {
  if (!node.is_map()) node.fail("a system definition (a map with name, gpu, node, ...)");
  node.check_keys({"name", "description", "gpu", "node", "nvlink_domain", "scale_out", "stack"});
  SystemSpec s;
  s.name = read_text(node.at("name"));
  if (const auto st = node.get("stack")) s.stack = read_text(*st);
  s.description = read_text(node.at("description"));
  s.gpu = resolve_gpu(catalog, node.at("gpu"));

  const ConfigNode n = node.at("node");
  n.check_keys({"kind", "gpus", "cpus"});
  s.node_kind = read_node_kind(n.at("kind"));
  s.gpus_per_node = read_count(n.at("gpus"));
  s.cpus = read_cpus(n.at("cpus"));

  const ConfigNode d = node.at("nvlink_domain");
  d.check_keys({"nodes", "gpus", "switch"});
  s.nodes_per_domain = read_count(d.at("nodes"));
  s.domain_size = read_count(d.at("gpus"));
  if (static_cast<std::int64_t>(s.gpus_per_node) * s.nodes_per_domain != s.domain_size) {
    d.at("gpus").fail(
        "node.gpus x nvlink_domain.nodes = " + std::to_string(s.gpus_per_node) + " x " +
        std::to_string(s.nodes_per_domain) + " = " +
        std::to_string(static_cast<std::int64_t>(s.gpus_per_node) * s.nodes_per_domain));
  }
  s.nvlink_switch = read_switch(d.at("switch"));
  s.scale_out = read_scale_out(node.at("scale_out"));
  s.location = node.location();
  return s;
}

SystemSpec load_system(const config::Catalog& catalog, std::string_view name_or_path) {
  const std::filesystem::path path = catalog.resolve(kSystemSection, name_or_path);
  const ConfigNode node = ConfigNode::load_file(path);
  SystemSpec s = parse_system(catalog, node);
  // A system is priced by its name (PriceSheet::find(name) in `show` and `compare`) and by the
  // name it was asked for in a scenario (Scenario::system_name: the file stem); the two agree
  // only when the file is named after the system.
  const std::string stem = path.stem().string();
  if (s.name != stem) {
    node.at("name").fail("the file stem '" + stem +
                             "': a system file is named after its system (the price sheet is "
                             "keyed by that name)",
                         s.name, stem);
  }
  return s;
}

}  // namespace moesim::hw
