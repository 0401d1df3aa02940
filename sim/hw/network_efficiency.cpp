// Reads topologies/network.yaml (schema: topologies/README-network.md).

#include "sim/hw/network_efficiency.hpp"

#include <array>
#include <cmath>
#include <string>

#include "sim/hw/impl/spec_readers.hpp"

namespace moesim::hw {
namespace {

using config::ConfigNode;

constexpr std::array<Protocol, 3> kProtocols = {Protocol::kLL, Protocol::kLL128, Protocol::kSimple};
constexpr std::array<Algorithm, 4> kAlgorithms = {Algorithm::kRing, Algorithm::kTree,
                                                  Algorithm::kNvls, Algorithm::kDirect};
constexpr std::array<SpineRouting, 2> kSpineRoutings = {SpineRouting::kEcmp,
                                                        SpineRouting::kAdaptive};
constexpr std::array<Arch, 4> kArchs = {Arch::kHopper, Arch::kBlackwell, Arch::kBlackwellUltra,
                                        Arch::kRubin};

double read_fraction(const ConfigNode& node) {
  const double v = node.as_double();
  if (!(v > 0.0 && v <= 1.0)) node.fail("a fraction in (0, 1], such as 0.82");
  return v;
}

Duration read_latency(const ConfigNode& node) {
  const Duration d = node.as_duration();
  if (d < Duration::zero()) node.fail("a latency >= 0, such as \"0.6 us\"");
  return d;
}

LinkClassParams read_link_class(const ConfigNode& node) {
  node.check_keys({"efficiency", "hop_latency"});
  return LinkClassParams{read_fraction(node.at("efficiency")),
                         read_latency(node.at("hop_latency"))};
}

template <class E, std::size_t N>
E read_enum(const ConfigNode& node, const std::array<E, N>& values) {
  std::array<std::string_view, N> names{};
  for (std::size_t i = 0; i < N; ++i) names[i] = to_string(values[i]);
  const std::string chosen = node.as_choice(names);
  for (E v : values) {
    if (to_string(v) == chosen) return v;
  }
  node.fail("a known name");
}

// A map whose keys are enum names; calls f(value, node) per entry, rejecting unknown keys.
template <class E, std::size_t N, class F>
void for_each_named(const ConfigNode& map, const std::array<E, N>& values, F&& f) {
  std::array<std::string_view, N> names{};
  for (std::size_t i = 0; i < N; ++i) names[i] = to_string(values[i]);
  map.check_keys(std::span<const std::string_view>(names));
  for (const auto& [key, value] : map.entries()) {
    for (E v : values) {
      if (to_string(v) == key) f(v, value);
    }
  }
}

FabricDefaults read_fabric(const ConfigNode& node) {
  node.check_keys({"oversubscription", "spine_routing", "leaf_switches"});
  FabricDefaults f;
  f.spine_routing = read_enum(node.at("spine_routing"), kSpineRoutings);
  f.oversubscription = node.at("oversubscription").as_double();
  if (!(f.oversubscription >= 1.0 && std::isfinite(f.oversubscription))) {
    node.at("oversubscription").fail("a ratio >= 1 (1 = non-blocking)");
  }
  for (const ConfigNode& item : node.at("leaf_switches").items()) {
    item.check_keys({"port_rate", "ports", "model"});
    LeafSwitchSpec leaf;
    leaf.port_rate = detail::read_positive_bandwidth(item.at("port_rate"));
    leaf.ports = detail::read_count(item.at("ports"), 2);
    leaf.model = detail::read_text(item.at("model"));
    f.leaf_switches.push_back(leaf);
  }
  return f;
}

}  // namespace

std::string_view to_string(NetworkImpl impl) {
  switch (impl) {
    case NetworkImpl::kMaxMin: return "max_min";
    case NetworkImpl::kAlphaBeta: return "alpha_beta";
  }
  return "?";
}

std::string_view to_string(Protocol protocol) {
  switch (protocol) {
    case Protocol::kLL: return "ll";
    case Protocol::kLL128: return "ll128";
    case Protocol::kSimple: return "simple";
  }
  return "?";
}

std::string_view to_string(SpineRouting routing) {
  switch (routing) {
    case SpineRouting::kEcmp: return "ecmp";
    case SpineRouting::kAdaptive: return "adaptive";
  }
  return "?";
}

std::string_view to_string(LatencyClass latency_class) {
  switch (latency_class) {
    case LatencyClass::kNvlink: return "nvlink";
    case LatencyClass::kNetwork: return "network";
  }
  return "?";
}

const LeafSwitchSpec* FabricDefaults::leaf_for(Bandwidth port_rate) const {
  for (const LeafSwitchSpec& leaf : leaf_switches) {
    if (std::abs(leaf.port_rate / port_rate - 1.0) < 1e-3) return &leaf;
  }
  return nullptr;
}

double NetworkEfficiency::nvlink_efficiency_for(int generation) const {
  const auto it = nvlink_efficiency.find(generation);
  if (it == nvlink_efficiency.end()) {
    throw ConfigError(location, "links.nvlink.efficiency",
                      "an efficiency for NVLink generation " + std::to_string(generation), "none");
  }
  return it->second;
}

double NetworkEfficiency::nvls_efficiency_for(Arch arch) const {
  const auto it = nvls_efficiency.find(arch);
  if (it == nvls_efficiency.end()) {
    throw ConfigError(location, "nvls.efficiency",
                      "an NVLS efficiency for " + std::string{to_string(arch)}, "none");
  }
  return it->second;
}

LinkClassParams NetworkEfficiency::link_params(LinkKind kind, int nvlink_generation) const {
  switch (kind) {
    case LinkKind::kNvlink:
      return LinkClassParams{nvlink_efficiency_for(nvlink_generation), nvlink_hop_latency};
    case LinkKind::kNicHost: return nic_host;
    case LinkKind::kNicPort: return nic_port;
    case LinkKind::kFabric: return fabric;
    case LinkKind::kCustom: break;
  }
  throw ConfigError(location, "links", "a link kind with network parameters", "custom");
}

bool NetworkEfficiency::supports(Algorithm algorithm, Protocol protocol) const {
  return base_latency.contains({algorithm, protocol});
}

Duration NetworkEfficiency::base(Algorithm algorithm, Protocol protocol) const {
  const auto it = base_latency.find({algorithm, protocol});
  if (it == base_latency.end()) {
    throw ConfigError(location,
                      "collectives.base_latency." + std::string{to_string(algorithm)} + "." +
                          std::string{to_string(protocol)},
                      "a latency", "none");
  }
  return it->second;
}

Duration NetworkEfficiency::step(LatencyClass latency_class, Algorithm algorithm,
                                 Protocol protocol) const {
  const auto it = step_latency.find({latency_class, {algorithm, protocol}});
  if (it == step_latency.end()) {
    throw ConfigError(location,
                      "collectives.step_latency." + std::string{to_string(latency_class)} + "." +
                          std::string{to_string(algorithm)} + "." +
                          std::string{to_string(protocol)},
                      "a latency", "none");
  }
  return it->second;
}

double NetworkEfficiency::fraction(Protocol protocol) const {
  const auto it = bandwidth_fraction.find(protocol);
  if (it == bandwidth_fraction.end()) {
    throw ConfigError(location,
                      "collectives.bandwidth_fraction." + std::string{to_string(protocol)},
                      "a fraction", "none");
  }
  return it->second;
}

const MeasuredCollective* NetworkEfficiency::measured_for(std::string_view system, CollectiveOp op,
                                                          int ranks) const {
  const auto it = measured.find(system);
  if (it == measured.end()) return nullptr;
  const auto m = it->second.find(op);
  if (m == it->second.end() || !m->second.transfer_scale.contains(ranks)) return nullptr;
  return &m->second;
}

std::pair<Duration, Duration> MeasuredCollective::price(Bytes size, int ranks,
                                                        Duration latency_term,
                                                        Duration transfer_term) const {
  const double h = static_cast<double>(ramp_size.base());
  const double n = static_cast<double>(std::max<std::int64_t>(size.base(), 0));
  const double scale = transfer_scale.at(ranks) + ramp_scale * h / (h + n);
  return {latency + ceil_duration(to_seconds(latency_term) * latency_scale),
          ceil_duration(to_seconds(transfer_term) * scale)};
}

namespace {

/// One `measured:` entry: {latency, latency_scale, transfer_scale: {<GPUs>: scale, ...},
/// ramp_scale, ramp_size, source}.
MeasuredCollective read_measured(const ConfigNode& node) {
  node.check_keys(
      {"latency", "latency_scale", "transfer_scale", "ramp_scale", "ramp_size", "source"});
  MeasuredCollective m;
  m.latency = read_latency(node.at("latency"));
  m.latency_scale = node.at("latency_scale").as_double();
  if (!(m.latency_scale >= 0.0)) node.at("latency_scale").fail("a multiplier >= 0");
  const ConfigNode scales = node.at("transfer_scale");
  if (!scales.is_map() || scales.entries().empty()) scales.fail("a map of GPU count to multiplier");
  for (const auto& [key, value] : scales.entries()) {
    int ranks = 0;
    try {
      ranks = std::stoi(key);
    } catch (const std::exception&) {
    }
    if (ranks < 2 || std::to_string(ranks) != key) {
      value.fail("a GPU count >= 2 as key (\"2\", \"8\")", "key '" + key + "'");
    }
    const double v = value.as_double();
    if (!(v > 0.0)) value.fail("a multiplier > 0");
    m.transfer_scale[ranks] = v;
  }
  m.ramp_scale = node.at("ramp_scale").as_double();
  if (!(m.ramp_scale >= 0.0)) node.at("ramp_scale").fail("a multiplier >= 0");
  m.ramp_size = node.at("ramp_size").as_bytes();
  if (m.ramp_size <= Bytes{0}) node.at("ramp_size").fail("a size > 0");
  m.source = detail::read_text(node.at("source"));
  return m;
}

}  // namespace

NetworkEfficiency parse_network_efficiency(const ConfigNode& node) {
  if (!node.is_map()) node.fail("network parameters (a map with name, impl, links, ...)");
  node.check_keys(
      {"name", "description", "impl", "links", "nvls", "fabric", "collectives", "measured"});
  NetworkEfficiency n;
  n.name = detail::read_text(node.at("name"));
  n.description = detail::read_text(node.at("description"));
  n.impl = read_enum(node.at("impl"),
                     std::array<NetworkImpl, 2>{NetworkImpl::kMaxMin, NetworkImpl::kAlphaBeta});
  n.location = node.location();

  const ConfigNode links = node.at("links");
  links.check_keys({"nvlink", "nic_host", "nic_port", "fabric"});
  const ConfigNode nvlink = links.at("nvlink");
  nvlink.check_keys({"efficiency", "hop_latency"});
  for (const auto& [key, value] : nvlink.at("efficiency").entries()) {
    int generation = 0;
    try {
      generation = std::stoi(key);
    } catch (const std::exception&) {
      value.fail("an NVLink generation number as key (\"4\", \"5\")", "key '" + key + "'");
    }
    if (generation < 1 || std::to_string(generation) != key) {
      value.fail("an NVLink generation number as key (\"4\", \"5\")", "key '" + key + "'");
    }
    n.nvlink_efficiency[generation] = read_fraction(value);
  }
  n.nvlink_hop_latency = read_latency(nvlink.at("hop_latency"));
  n.nic_host = read_link_class(links.at("nic_host"));
  n.nic_port = read_link_class(links.at("nic_port"));
  n.fabric = read_link_class(links.at("fabric"));

  const ConfigNode nvls = node.at("nvls");
  nvls.check_keys({"efficiency"});
  for_each_named(nvls.at("efficiency"), kArchs, [&](Arch arch, const ConfigNode& value) {
    n.nvls_efficiency[arch] = read_fraction(value);
  });

  n.fabric_defaults = read_fabric(node.at("fabric"));

  const ConfigNode coll = node.at("collectives");
  coll.check_keys({"bandwidth_fraction", "base_latency", "step_latency"});
  for_each_named(
      coll.at("bandwidth_fraction"), kProtocols,
      [&](Protocol p, const ConfigNode& value) { n.bandwidth_fraction[p] = read_fraction(value); });
  for_each_named(coll.at("base_latency"), kAlgorithms, [&](Algorithm a, const ConfigNode& per) {
    for_each_named(per, kProtocols, [&](Protocol p, const ConfigNode& value) {
      n.base_latency[{a, p}] = read_latency(value);
    });
  });
  const std::array<LatencyClass, 2> classes = {LatencyClass::kNvlink, LatencyClass::kNetwork};
  for_each_named(coll.at("step_latency"), classes,
                 [&](LatencyClass c, const ConfigNode& per_class) {
                   for_each_named(per_class, kAlgorithms, [&](Algorithm a, const ConfigNode& per) {
                     for_each_named(per, kProtocols, [&](Protocol p, const ConfigNode& value) {
                       n.step_latency[{c, {a, p}}] = read_latency(value);
                     });
                   });
                 });
  if (const auto measured = node.get("measured")) {
    constexpr std::array<CollectiveOp, 4> kMeasuredOps = {
        CollectiveOp::kAllReduce, CollectiveOp::kAllGather, CollectiveOp::kReduceScatter,
        CollectiveOp::kAllToAllV};
    for (const auto& [system, per_op] : measured->entries()) {
      auto& ops = n.measured[system];
      for_each_named(per_op, kMeasuredOps, [&](CollectiveOp op, const ConfigNode& value) {
        ops[op] = read_measured(value);
      });
    }
  }
  return n;
}

NetworkEfficiency load_network_efficiency(const config::Catalog& catalog,
                                          std::string_view name_or_path) {
  return parse_network_efficiency(catalog.load(kNetworkSection, name_or_path));
}

}  // namespace moesim::hw
