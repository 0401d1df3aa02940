#pragma once
/// \file
/// The network's calibration: achievable fractions of line rate per link technology, per-hop
/// latencies, NVLink SHARP efficiency, the default scale-out fabric shape and NCCL's collective
/// latency model. Every figure is read from YAML (topologies/network.yaml, schema in
/// topologies/README-network.md) with its source beside it; nothing here has a code default.
///
/// How the figures are used.
/// - A link's capacity in the flow model is line_rate x efficiency(kind) (NVLink per generation:
///   NCCL's own per-link figures over the line rate, S42; NICs: 46-48 GB/s of 50, S53).
/// - hop_latency(kind) is added once per hop to a point-to-point transfer's route latency.
/// - A collective costs base_latency(algorithm, protocol) + its steps x step_latency(class,
///   algorithm, protocol) (NVIDIA/nccl src/graph/tuning.cc, S42) plus the time to move its bytes;
///   a protocol moves bytes at bandwidth_fraction(protocol) of the links' capacity (LL sends 4 B
///   of data per 8 B line; LL128 120 of 128 B), and NVLS at nvls_efficiency(arch) of it.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/units.hpp"
#include "sim/hw/collective_model.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/hw/topology.hpp"

namespace moesim::hw {

/// Catalog section that holds the network parameter files.
inline constexpr std::string_view kNetworkSection = "topologies";
/// Name of the shipped network parameter file (topologies/network.yaml).
inline constexpr std::string_view kDefaultNetworkParams = "network";

/// Which flow-level network model prices transfers (YAML `impl:`).
enum class NetworkImpl : std::uint8_t {
  kMaxMin,     ///< "max_min": fluid flows sharing links max-min fairly, re-solved on start/end
  kAlphaBeta,  ///< "alpha_beta": latency + bytes / bottleneck, link loads summed, no dynamics
};

/// NCCL's wire protocols.
enum class Protocol : std::uint8_t {
  kLL,      ///< "ll": low latency, 8-byte stores carrying 4 bytes of data and a flag
  kLL128,   ///< "ll128": 128-byte lines carrying 120 bytes of data
  kSimple,  ///< "simple": bulk copies with fences; full bandwidth, highest latency
};

/// Which hardware a collective step crosses, for step latencies.
enum class LatencyClass : std::uint8_t {
  kNvlink,   ///< "nvlink": within one NVLink domain
  kNetwork,  ///< "network": through NICs and the scale-out fabric
};

/// "max_min", "alpha_beta".
std::string_view to_string(NetworkImpl impl);
/// "ll", "ll128", "simple".
std::string_view to_string(Protocol protocol);
/// "nvlink", "network".
std::string_view to_string(LatencyClass latency_class);

/// Efficiency and hop latency of one link technology.
struct LinkClassParams {
  double efficiency = 0.0;  ///< achievable fraction of the line rate, in (0, 1]
  Duration hop_latency{};   ///< latency of one hop (>= 0)
};

/// A leaf switch model: its radix at one port rate.
struct LeafSwitchSpec {
  Bandwidth port_rate;  ///< line rate of one port, one direction
  int ports = 0;        ///< ports of one switch (downlinks + uplinks)
  std::string model;    ///< e.g. "NVIDIA Quantum-2 QM9700 (NDR)"
};

/// How traffic between leaves spreads over the spine switches of a two-tier fabric.
enum class SpineRouting : std::uint8_t {
  /// "ecmp": static routing; each (source, destination) pair hashes onto one spine, so pairs
  /// may collide on one uplink while another idles.
  kEcmp,
  /// "adaptive": the switches spread every flow over all spines (InfiniBand adaptive routing,
  /// packet spraying). Modelled as its fluid limit: the spines are one non-blocking core and each
  /// leaf's uplinks one trunk of their summed rate.
  kAdaptive,
};

/// "ecmp", "adaptive".
std::string_view to_string(SpineRouting routing);

/// The default shape of a scale-out fabric (a cluster may override each field).
struct FabricDefaults {
  double oversubscription = 0.0;  ///< leaf downlinks / uplinks (1 = non-blocking), >= 1
  SpineRouting spine_routing = SpineRouting::kAdaptive;  ///< how leaves use the spines
  std::vector<LeafSwitchSpec> leaf_switches;             ///< by port rate

  /// The leaf switch whose port rate equals `port_rate` (within 0.1%), or nullptr.
  const LeafSwitchSpec* leaf_for(Bandwidth port_rate) const;
};

/// A collective's cost measured on one system and fitted (`moesim calibrate` on nccl-tests
/// tables): NCCL's model still chooses the algorithm and protocol and gives their latency term L
/// and transfer term X (sim/hw/collectives.hpp), as NCCL's tuner chooses by its own model; the
/// time of a collective of nccl-tests size n over p GPUs is then
///   latency + latency_scale L + X (transfer_scale[p] + ramp_scale h / (h + n)),  h = ramp_size,
/// the last term the slower ramp of mid-sized messages (pipeline fill), vanishing for n >> h.
/// It applies to groups in one NVLink domain of that system with a GPU count p that has a
/// transfer scale (the counts the fit saw).
struct MeasuredCollective {
  Duration latency{};                    ///< fixed time per call (>= 0)
  double latency_scale = 0.0;            ///< multiplies NCCL's latency term (>= 0)
  std::map<int, double> transfer_scale;  ///< by GPU count: multiplies the modelled transfer (> 0)
  double ramp_scale = 0.0;               ///< extra transfer multiplier of small messages (>= 0)
  Bytes ramp_size{1};                    ///< h: size where the ramp term is half of ramp_scale
  std::string source;                    ///< the fit behind it

  /// {latency, transfer} of a collective of nccl-tests size `size` over `ranks` GPUs (one with a
  /// transfer scale) whose NCCL-model terms are `latency_term` and `transfer_term`.
  std::pair<Duration, Duration> price(Bytes size, int ranks, Duration latency_term,
                                      Duration transfer_term) const;
};

/// Network parameters loaded from YAML. Plain data; copyable.
struct NetworkEfficiency {
  std::string name;         ///< file stem, e.g. "network"
  std::string description;  ///< one line
  NetworkImpl impl = NetworkImpl::kMaxMin;
  std::map<int, double> nvlink_efficiency;  ///< by NVLink generation, in (0, 1]
  Duration nvlink_hop_latency{};            ///< one hop GPU <-> NVLink switch
  LinkClassParams nic_host;                 ///< GPU <-> NIC
  LinkClassParams nic_port;                 ///< NIC <-> leaf
  LinkClassParams fabric;                   ///< leaf <-> spine
  std::map<Arch, double> nvls_efficiency;   ///< NVLink SHARP bandwidth fraction by architecture
  FabricDefaults fabric_defaults;
  std::map<Protocol, double> bandwidth_fraction;  ///< per protocol, in (0, 1]
  /// base latency per (algorithm, protocol); a missing pair is not supported
  std::map<std::pair<Algorithm, Protocol>, Duration> base_latency;
  /// step latency per (class, algorithm, protocol)
  std::map<std::pair<LatencyClass, std::pair<Algorithm, Protocol>>, Duration> step_latency;
  /// measured collective costs by system catalog name and op (YAML `measured:`; may be empty)
  std::map<std::string, std::map<CollectiveOp, MeasuredCollective>, std::less<>> measured;
  SourceLocation location;  ///< where the file was read

  /// The measured cost of `op` over `ranks` GPUs in one NVLink domain of `system`, or nullptr
  /// when none was fitted there for that GPU count.
  const MeasuredCollective* measured_for(std::string_view system, CollectiveOp op, int ranks) const;

  /// NVLink efficiency of `generation`; a ConfigError when the file has none for it.
  double nvlink_efficiency_for(int generation) const;
  /// NVLS efficiency of `arch`; a ConfigError when the file has none for it.
  double nvls_efficiency_for(Arch arch) const;
  /// Efficiency and hop latency of links of `kind` (kNvlink uses `nvlink_generation`); kCustom
  /// is a ConfigError (hand-built links carry their own figures).
  LinkClassParams link_params(LinkKind kind, int nvlink_generation) const;
  /// Whether (algorithm, protocol) has a latency entry, i.e. may be used.
  bool supports(Algorithm algorithm, Protocol protocol) const;
  /// Base latency of (algorithm, protocol); a ConfigError when absent.
  Duration base(Algorithm algorithm, Protocol protocol) const;
  /// Step latency of (class, algorithm, protocol); a ConfigError when absent.
  Duration step(LatencyClass latency_class, Algorithm algorithm, Protocol protocol) const;
  /// Bandwidth fraction of `protocol`; a ConfigError when absent.
  double fraction(Protocol protocol) const;
};

/// Reads network parameters (a map; schema in topologies/README-network.md). Unknown or missing
/// keys, efficiencies outside (0, 1], negative latencies and unknown names throw ConfigError
/// with the location and a "did you mean".
NetworkEfficiency parse_network_efficiency(const config::ConfigNode& node);

/// Loads network parameters from `catalog` section kNetworkSection by name ("network") or path.
NetworkEfficiency load_network_efficiency(const config::Catalog& catalog,
                                          std::string_view name_or_path = kDefaultNetworkParams);

}  // namespace moesim::hw
