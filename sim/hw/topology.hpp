#pragma once
/// \file
/// The network as a graph: vertices (GPUs, NVLink switch domains, NICs, leaf and spine switches)
/// joined by links with a per-direction capacity, a per-hop latency and a sharing policy, sealed
/// into an immutable Topology that holds the route between every pair of GPUs.
///
/// Lifecycle (STYLE.md): a TopologyBuilder adds vertices and links, then seal() validates the
/// graph, computes the routes and returns a Topology; a sealed Topology never changes, so one
/// may be shared by simulations on several threads. Boost.Graph is used inside seal() only
/// (sim/hw/impl/topology_builder.cpp); no header includes it.
///
/// Links. add_link(a, b, ...) joins two vertices by a cable; the topology stores it as two
/// directed links a->b and b->a (ids 2k and 2k+1). Each directed link consumes one channel, the
/// resource the flow model shares; the cable's policy says how:
///   - kSplitDuplex: each direction is its own channel of `capacity` (a full-duplex port: NVLink,
///     InfiniBand, Ethernet);
///   - kSharedDuplex: both directions draw on one channel of `capacity` (a half-duplex medium);
///   - kFatPipe: each direction is a channel that bounds every flow separately (not shared), as
///     the backplane of a non-blocking crossbar does.
/// `capacity` is the achievable rate the flow model uses (line rate x efficiency, see
/// sim/hw/network_efficiency.hpp); `line_rate` is the datasheet figure, kept for reports.
///
/// Routes. GPUs are endpoints, never transit points: a route leaves its source GPU, crosses
/// switches and NICs, and enters its destination GPU. Among the routes with the fewest hops
/// (breadth-first search from each source), equal-cost alternatives (ECMP, e.g. the spines of a
/// two-tier fabric) are chosen per pair by a deterministic hash of (source, destination), so a
/// pair always takes the same path and distinct pairs spread over the spines. Routes between all
/// GPU pairs are computed once, at seal(), and stored flat; a route's latency is the sum of its
/// links' hop latencies. The route from a GPU to itself is empty (a local copy).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/units.hpp"
#include "sim/hw/max_min.hpp"

namespace moesim::hw {

/// Index of a vertex of a Topology, in the order vertices were added (0-based).
using VertexId = std::int32_t;
/// Index of a directed link: cable k is links 2k (a->b) and 2k+1 (b->a).
using LinkId = std::int32_t;
/// Index of a channel, the resource a directed link draws on in the flow model.
using ChannelId = std::int32_t;

/// What a vertex is.
enum class VertexKind : std::uint8_t {
  kGpu,          ///< a GPU (an endpoint of routes)
  kNvSwitch,     ///< the NVLink switches of one NVLink domain, as one non-blocking switch
  kNic,          ///< a scale-out network card
  kLeafSwitch,   ///< a leaf (top-of-rail) switch of the scale-out fabric
  kSpineSwitch,  ///< a spine switch of the scale-out fabric
};

/// What technology a link is; selects its efficiency and hop latency.
enum class LinkKind : std::uint8_t {
  kNvlink,   ///< GPU <-> NVLink switch domain: all NVLink ports of one GPU together
  kNicHost,  ///< GPU <-> its NIC (PCIe or C2C inside the node)
  kNicPort,  ///< NIC <-> leaf switch: the NIC's network port
  kFabric,   ///< leaf <-> spine switch
  kCustom,   ///< any other link (tests, hand-built graphs)
};

/// How the two directions of a cable and the flows on them share its capacity.
enum class LinkPolicy : std::uint8_t {
  kSplitDuplex,   ///< each direction has its own capacity, shared by the flows in it
  kSharedDuplex,  ///< both directions share one capacity
  kFatPipe,       ///< each direction bounds each flow separately (a non-blocking crossbar)
};

/// Lower-case names for DOT output and messages ("gpu", "nvswitch", "nic", "leaf", "spine").
std::string_view to_string(VertexKind kind);
/// "nvlink", "nic-host", "nic-port", "fabric", "custom".
std::string_view to_string(LinkKind kind);
/// "split-duplex", "shared-duplex", "fat-pipe".
std::string_view to_string(LinkPolicy policy);

/// Where a vertex sits in a cluster; -1 where a field does not apply.
struct Placement {
  int domain = -1;  ///< NVLink domain (an HGX node, an NVL72 rack)
  int node = -1;    ///< node (server or compute tray), numbered across the cluster
  int local = -1;   ///< index of a GPU or NIC within its node
  int rail = -1;    ///< scale-out rail of a NIC or leaf switch
};

/// One vertex.
struct VertexInfo {
  VertexKind kind = VertexKind::kGpu;
  std::string name;  ///< unique, e.g. "gpu12", "nvswitch1", "nic12", "leaf3", "spine0"
  Placement place;
};

/// The physical description of a cable, used by TopologyBuilder::add_link.
struct LinkSpec {
  LinkKind kind = LinkKind::kCustom;
  Bandwidth line_rate;  ///< datasheet rate, one direction (B/s, > 0)
  Bandwidth capacity;   ///< achievable rate the flow model uses, one direction (0 < capacity)
  Duration latency{};   ///< latency of one hop over this cable (>= 0)
  LinkPolicy policy = LinkPolicy::kSplitDuplex;
};

/// One directed link of a sealed topology.
struct LinkInfo {
  VertexId from = 0;
  VertexId to = 0;
  LinkKind kind = LinkKind::kCustom;
  Bandwidth line_rate;  ///< datasheet rate of this direction
  Bandwidth capacity;   ///< achievable rate of this direction (or of the shared medium)
  Duration latency{};   ///< hop latency
  LinkPolicy policy = LinkPolicy::kSplitDuplex;
  ChannelId channel = 0;  ///< the resource this direction draws on
};

/// One channel: what the max-min solver sees of a link direction (or of a half-duplex cable).
struct ChannelInfo {
  Bandwidth capacity;  ///< B/s
  LinkSharing sharing = LinkSharing::kShared;
};

/// A route between two GPUs: the directed links crossed, in order, and their summed latency.
/// The span stays valid as long as its Topology.
struct RouteView {
  std::span<const LinkId> links;
  Duration latency{};
};

/// A sealed, immutable network graph with the routes between all its GPUs. Copyable and
/// movable; const member functions may be called from several threads.
class Topology {
 public:
  /// An empty topology (no vertex); build real ones with TopologyBuilder.
  Topology() = default;

  /// A label, e.g. "gb200-nvl72 x4".
  const std::string& name() const { return name_; }
  /// Number of GPUs; GPU g (0 <= g < gpu_count()) is vertex gpu_vertex(g).
  int gpu_count() const { return static_cast<int>(gpu_vertex_.size()); }
  /// The vertex of GPU `gpu`.
  VertexId gpu_vertex(int gpu) const;
  /// Number of vertices.
  int vertex_count() const { return static_cast<int>(vertices_.size()); }
  /// Number of directed links (twice the number of cables).
  int link_count() const { return static_cast<int>(links_.size()); }
  /// Number of channels.
  int channel_count() const { return static_cast<int>(channels_.size()); }
  /// Vertex `v` (0 <= v < vertex_count()).
  const VertexInfo& vertex(VertexId v) const;
  /// Directed link `l` (0 <= l < link_count()).
  const LinkInfo& link(LinkId l) const;
  /// Channel `c` (0 <= c < channel_count()).
  const ChannelInfo& channel(ChannelId c) const;
  /// All directed links, in id order.
  std::span<const LinkInfo> links() const { return links_; }
  /// All channels, in id order.
  std::span<const ChannelInfo> channels() const { return channels_; }
  /// Placement of GPU `gpu`.
  const Placement& gpu_placement(int gpu) const { return vertex(gpu_vertex(gpu)).place; }

  /// The route from GPU `src` to GPU `dst` (both in [0, gpu_count())); empty when src == dst.
  RouteView route(int src, int dst) const;

  /// Smallest capacity along the route from `src` to `dst` (B/s); +infinity when src == dst.
  Bandwidth route_capacity(int src, int dst) const;

  /// The graph in Graphviz DOT: one node per vertex (labelled with its kind), one edge per cable
  /// labelled with its kind, its line rate per direction and its policy.
  std::string to_dot() const;

 private:
  friend class TopologyBuilder;
  std::string name_;
  std::vector<VertexInfo> vertices_;
  std::vector<LinkInfo> links_;
  std::vector<ChannelInfo> channels_;
  std::vector<VertexId> gpu_vertex_;
  std::vector<std::int64_t> route_offset_;  // per (src * gpus + dst) + 1, into route_links_
  std::vector<LinkId> route_links_;
  std::vector<Duration> route_latency_;  // per (src * gpus + dst)
};

/// Builds a Topology: add vertices and cables, then seal(). Not copyable; single use.
class TopologyBuilder {
 public:
  /// A builder for a topology labelled `name`.
  explicit TopologyBuilder(std::string name);

  /// Adds a GPU; GPUs are numbered 0, 1, ... in the order added. Returns its vertex.
  VertexId add_gpu(std::string name, Placement place = {});
  /// Adds a vertex of any kind (kGpu is the same as add_gpu). Returns its id.
  VertexId add_vertex(VertexKind kind, std::string name, Placement place = {});
  /// Joins `a` and `b` (distinct existing vertices) by a cable; returns the id of the directed
  /// link a->b (b->a is that id + 1). Rates must be finite and > 0, capacity <= line rate,
  /// latency >= 0 (asserted: the callers validate user input).
  LinkId add_link(VertexId a, VertexId b, const LinkSpec& spec);

  /// Validates the graph (unique names, every GPU reaches every other GPU) and computes all
  /// GPU-to-GPU routes; returns the sealed topology. A disconnected pair is a ConfigError
  /// naming both GPUs. The builder is left empty.
  Topology seal();

 private:
  Topology t_;
};

}  // namespace moesim::hw
