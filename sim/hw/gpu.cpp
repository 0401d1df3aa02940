#include "sim/hw/gpu.hpp"

#include <array>

#include "sim/hw/impl/spec_readers.hpp"

namespace moesim::hw {
namespace {

using config::ConfigNode;
using detail::read_count;
using detail::read_positive_bandwidth;
using detail::read_positive_bytes;
using detail::read_positive_flop_rate;
using detail::read_positive_power;
using detail::read_text;

/// Longest chain of presets followed (a GPU file that presets another, and so on); a longer one
/// is taken to be a cycle.
constexpr int kMaxPresetDepth = 8;

constexpr std::array<Arch, 4> kAllArchs = {Arch::kHopper, Arch::kBlackwell, Arch::kBlackwellUltra,
                                           Arch::kRubin};

Arch read_arch(const ConfigNode& node) {
  std::array<std::string_view, kAllArchs.size()> names{};
  for (std::size_t i = 0; i < kAllArchs.size(); ++i) names[i] = to_string(kAllArchs[i]);
  const std::string chosen = node.as_choice(names);
  for (Arch a : kAllArchs) {
    if (to_string(a) == chosen) return a;
  }
  node.fail("a known architecture");
}

PeakRates read_peaks(const ConfigNode& node) {
  if (!node.is_map() || node.keys().empty()) {
    node.fail("a map from data type to dense peak, such as {bf16: \"989.4 TFLOP/s\"}");
  }
  std::array<std::string_view, kAllDTypes.size()> names{};
  for (std::size_t i = 0; i < kAllDTypes.size(); ++i) names[i] = to_string(kAllDTypes[i]);
  node.check_keys(names);
  PeakRates peaks;
  for (const auto& [key, value] : node.entries()) {
    const std::optional<DType> type = parse_dtype(key);
    MOESIM_ASSERT(type.has_value(), "check_keys admits only data type names");
    peaks.set(*type, read_positive_flop_rate(value));
  }
  return peaks;
}

HbmSpec read_hbm(const ConfigNode& node) {
  node.check_keys({"type", "capacity", "bandwidth"});
  return HbmSpec{read_text(node.at("type")), read_positive_bytes(node.at("capacity")),
                 read_positive_bandwidth(node.at("bandwidth"))};
}

NvlinkSpec read_nvlink(const ConfigNode& node) {
  node.check_keys({"generation", "links", "bandwidth_per_direction"});
  NvlinkSpec n;
  n.generation = read_count(node.at("generation"));
  n.links = read_count(node.at("links"));
  n.bandwidth_per_direction = read_positive_bandwidth(node.at("bandwidth_per_direction"));
  return n;
}

NicSpec read_nic(const ConfigNode& node) {
  node.check_keys({"model", "bandwidth_per_direction"});
  return NicSpec{read_text(node.at("model")),
                 read_positive_bandwidth(node.at("bandwidth_per_direction"))};
}

/// `reference` with presets followed and overrides applied, down to a plain GPU map.
ConfigNode resolve_gpu_node(const config::Catalog& catalog, const ConfigNode& reference,
                            int depth) {
  if (depth > kMaxPresetDepth) {
    reference.fail("a chain of at most " + std::to_string(kMaxPresetDepth) +
                   " GPU presets (is there a cycle?)");
  }
  return config::resolve_preset(reference, [&catalog, depth](const ConfigNode& name) {
    return resolve_gpu_node(catalog, catalog.load(kGpuSection, name), depth + 1);
  });
}

}  // namespace

std::string_view to_string(Arch arch) {
  switch (arch) {
    case Arch::kHopper: return "hopper";
    case Arch::kBlackwell: return "blackwell";
    case Arch::kBlackwellUltra: return "blackwell-ultra";
    case Arch::kRubin: return "rubin";
  }
  return "?";
}

GpuSpec parse_gpu(const ConfigNode& node) {
  if (!node.is_map()) node.fail("a GPU definition (a map with name, arch, peak_dense, ...)");
  node.check_keys({"name", "description", "arch", "peak_dense", "sms", "hbm", "l2_cache", "tdp",
                   "nvlink", "nic"});
  GpuSpec g;
  g.name = read_text(node.at("name"));
  g.description = read_text(node.at("description"));
  g.arch = read_arch(node.at("arch"));
  g.peak_dense = read_peaks(node.at("peak_dense"));
  g.sms = read_count(node.at("sms"));
  g.hbm = read_hbm(node.at("hbm"));
  g.l2_cache = read_positive_bytes(node.at("l2_cache"));
  g.tdp = read_positive_power(node.at("tdp"));
  g.nvlink = read_nvlink(node.at("nvlink"));
  g.nic = read_nic(node.at("nic"));
  g.location = node.location();
  return g;
}

GpuSpec resolve_gpu(const config::Catalog& catalog, const ConfigNode& reference) {
  return parse_gpu(resolve_gpu_node(catalog, reference, 0));
}

GpuSpec load_gpu(const config::Catalog& catalog, std::string_view name_or_path) {
  return resolve_gpu(catalog, catalog.load(kGpuSection, name_or_path));
}

}  // namespace moesim::hw
