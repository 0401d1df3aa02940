#pragma once
/// \file
/// One GPU model of the hardware catalog (topologies/gpus/*.yaml): dense tensor peaks per data
/// type, HBM, caches, power and its NVLink and NIC ports. The YAML schema is documented in
/// topologies/README.md; every figure there carries its source.

#include <string>
#include <string_view>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/error.hpp"
#include "sim/core/units.hpp"

namespace moesim::hw {

/// Catalog section (folder below the data directory) that holds the GPU entries.
inline constexpr std::string_view kGpuSection = "topologies/gpus";

/// GPU architecture generation. Written in YAML as "hopper", "blackwell", "blackwell-ultra",
/// "rubin".
enum class Arch { kHopper, kBlackwell, kBlackwellUltra, kRubin };

/// The YAML spelling of `arch` ("blackwell-ultra").
std::string_view to_string(Arch arch);

/// High-bandwidth memory of one GPU.
struct HbmSpec {
  std::string type;     ///< memory technology, e.g. "HBM3e"
  Bytes capacity;       ///< capacity of one GPU (NVIDIA's "141 GB" are GiB: see the README)
  Bandwidth bandwidth;  ///< peak interface bandwidth, reads and writes together
};

/// The NVLink ports of one GPU.
struct NvlinkSpec {
  int generation = 0;                 ///< NVLink generation (4 = Hopper, 5 = Blackwell)
  int links = 0;                      ///< number of links per GPU (> 0)
  Bandwidth bandwidth_per_direction;  ///< per GPU, one direction, summed over all links

  /// One link, one direction: bandwidth_per_direction / links.
  Bandwidth per_link_per_direction() const {
    return bandwidth_per_direction / static_cast<double>(links);
  }
  /// Both directions summed (NVIDIA's headline figure, e.g. 900 GB/s for NVLink 4).
  Bandwidth bidirectional() const { return bandwidth_per_direction * 2.0; }
};

/// The scale-out network card that pairs with one GPU.
struct NicSpec {
  std::string model;                  ///< e.g. "ConnectX-7"
  Bandwidth bandwidth_per_direction;  ///< line rate, one direction
};

/// One GPU model, as loaded from the catalog. Plain data; copyable.
struct GpuSpec {
  std::string name;         ///< catalog name, e.g. "h200"
  std::string description;  ///< one line for listings
  Arch arch = Arch::kHopper;
  /// Dense tensor-core peak per data type (no 2:4 sparsity). A type the GPU does not run
  /// natively has no entry (no FP4 on Hopper, no INT8 on Blackwell Ultra).
  PeakRates peak_dense;
  int sms = 0;              ///< streaming multiprocessors enabled on the product (> 0)
  HbmSpec hbm;              ///< memory of one GPU
  Bytes l2_cache;           ///< L2 cache size
  Power tdp;                ///< board power limit of this configuration
  NvlinkSpec nvlink;        ///< NVLink ports of one GPU
  NicSpec nic;              ///< typical scale-out NIC paired with this GPU
  SourceLocation location;  ///< where the definition was read (file:line:col of its map)
};

/// Reads a GPU definition (a map; see topologies/README.md). Unknown keys, missing keys,
/// malformed or non-positive quantities and unknown data types throw ConfigError with the
/// location, the key path and a "did you mean" where one is close.
GpuSpec parse_gpu(const config::ConfigNode& node);

/// Loads a GPU from `catalog` section kGpuSection by name ("h200") or by path to a YAML file.
/// The file may itself be a preset reference `{preset: NAME, overrides: {...}}`.
GpuSpec load_gpu(const config::Catalog& catalog, std::string_view name_or_path);

/// Resolves a GPU reference written in a YAML file: a name or path (relative to the file that
/// holds it), `{preset: NAME, overrides: {...}}`, or an inline GPU map; then parses it.
/// Overriding a key the preset lacks is a ConfigError with a "did you mean".
GpuSpec resolve_gpu(const config::Catalog& catalog, const config::ConfigNode& reference);

}  // namespace moesim::hw
