#pragma once
/// \file
/// One system of the hardware catalog (topologies/systems/*.yaml): an NVLink domain of GPUs
/// (an HGX 8-GPU server, an NVL72 rack), its switches, host CPUs and scale-out NICs, with the
/// domain-level figures derived from the GPU. The YAML schema is in topologies/README.md.

#include <optional>
#include <string>
#include <string_view>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/error.hpp"
#include "sim/core/units.hpp"
#include "sim/hw/gpu.hpp"

namespace moesim::hw {

/// Catalog section (folder below the data directory) that holds the system entries.
inline constexpr std::string_view kSystemSection = "topologies/systems";

/// What one node of a system is. YAML: "server" (an HGX baseboard in its host), "compute-tray"
/// (one tray of an NVL72 rack).
enum class NodeKind { kServer, kComputeTray };

/// Where the NVLink switch chips sit. YAML: "baseboard" (on the HGX GPU board), "switch-tray"
/// (separate NVLink Switch trays of a rack).
enum class SwitchKind { kBaseboard, kSwitchTray };

/// The YAML spelling of `kind` ("compute-tray").
std::string_view to_string(NodeKind kind);
/// The YAML spelling of `kind` ("switch-tray").
std::string_view to_string(SwitchKind kind);

/// Host CPUs of one node.
struct CpuSpec {
  int count = 0;      ///< CPU sockets per node (> 0)
  std::string model;  ///< e.g. "Intel Xeon Platinum 8480C, 56 cores"
};

/// The NVLink switches of one NVLink domain.
struct NvlinkSwitchSpec {
  std::string name;  ///< e.g. "NVSwitch, third generation"
  SwitchKind kind = SwitchKind::kBaseboard;
  int generation = 0;         ///< switch chip generation (3 = Hopper NVSwitch)
  int chips = 0;              ///< switch chips in the whole domain (> 0)
  bool nvlink_sharp = false;  ///< in-switch reductions and multicast (NVLS) available
};

/// The scale-out (inter-domain) network attachment.
struct ScaleOutSpec {
  int nics_per_gpu = 0;     ///< scale-out NICs per GPU (> 0)
  std::string nic_model;    ///< e.g. "ConnectX-8"
  Bandwidth nic_bandwidth;  ///< line rate of one NIC, one direction
  std::string fabric;       ///< e.g. "NVIDIA Quantum-2 InfiniBand NDR, 400 Gb/s ports"
};

/// One system: `domain_size` GPUs joined by NVLink, in `nodes_per_domain` nodes of
/// `gpus_per_node` GPUs. Plain data plus derived figures; copyable.
struct SystemSpec {
  std::string name;         ///< catalog name, e.g. "gb200-nvl72"
  std::string description;  ///< one line for listings
  GpuSpec gpu;              ///< the resolved GPU (presets and overrides applied)
  NodeKind node_kind = NodeKind::kServer;
  int gpus_per_node = 0;     ///< GPUs per server or compute tray
  CpuSpec cpus;              ///< host CPUs per node
  int nodes_per_domain = 0;  ///< nodes (servers, trays) per NVLink domain
  int domain_size = 0;       ///< GPUs per NVLink domain = gpus_per_node * nodes_per_domain
  NvlinkSwitchSpec nvlink_switch;
  ScaleOutSpec scale_out;
  /// The software stack (topologies/stacks/NAME.yaml) that prices this system's kernels unless
  /// a scenario or --stack names another; "roofline" when the file names none.
  std::string stack = "roofline";
  SourceLocation location;  ///< where the definition was read

  /// NVLink bandwidth of the whole domain, one direction: domain_size x per-GPU per-direction.
  Bandwidth domain_nvlink_bandwidth_per_direction() const {
    return gpu.nvlink.bandwidth_per_direction * static_cast<double>(domain_size);
  }
  /// Both directions summed (NVIDIA's "130 TB/s" for NVL72 = 72 x 1.8 TB/s).
  Bandwidth domain_nvlink_bandwidth_bidirectional() const {
    return domain_nvlink_bandwidth_per_direction() * 2.0;
  }
  /// Dense peak of the whole domain for `type` (domain_size x per-GPU peak), or std::nullopt
  /// when the GPU does not run `type`.
  std::optional<FlopRate> domain_peak_dense(DType type) const {
    const std::optional<FlopRate> one = gpu.peak_dense.get(type);
    if (!one) return std::nullopt;
    return *one * static_cast<double>(domain_size);
  }
  /// HBM capacity of the whole domain: domain_size x per-GPU capacity.
  Bytes domain_hbm_capacity() const {
    return gpu.hbm.capacity * static_cast<std::int64_t>(domain_size);
  }
  /// HBM bandwidth of the whole domain: domain_size x per-GPU bandwidth.
  Bandwidth domain_hbm_bandwidth() const {
    return gpu.hbm.bandwidth * static_cast<double>(domain_size);
  }
  /// Scale-out bandwidth of one GPU, one direction: nics_per_gpu x NIC line rate.
  Bandwidth scale_out_bandwidth_per_gpu() const {
    return scale_out.nic_bandwidth * static_cast<double>(scale_out.nics_per_gpu);
  }
};

/// Reads a system definition (a map; see topologies/README.md); its `gpu` is resolved in
/// `catalog` (a name, a path relative to the system's file, `{preset: NAME, overrides: {...}}`
/// or an inline map). Unknown or missing keys, bad quantities, a domain size other than
/// node.gpus x nvlink_domain.nodes, and overrides of keys the preset lacks throw ConfigError.
SystemSpec parse_system(const config::Catalog& catalog, const config::ConfigNode& node);

/// Loads a system from `catalog` section kSystemSection by name ("hgx-h200") or by path to a
/// YAML file.
SystemSpec load_system(const config::Catalog& catalog, std::string_view name_or_path);

}  // namespace moesim::hw
