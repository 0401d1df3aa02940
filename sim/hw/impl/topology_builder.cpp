// TopologyBuilder::seal() and the sealed Topology's accessors. This is the only file of moesim
// that includes Boost.Graph (STYLE.md, "each heavy dependency lives in one place").
//
// Routing (see sim/hw/topology.hpp): for each source GPU s, a breadth-first search over the
// directed graph in which GPUs other than s have no out-edges (GPUs never forward) gives the hop
// distance dist_s(v) of every vertex. The route to d is then walked backwards from d: at vertex v
// the candidate predecessors are the in-links u->v with dist_s(u) = dist_s(v) - 1 that the search
// may use; when there are several (equal-cost multipath), one is picked by a hash of (s, d, v).

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <boost/graph/visitors.hpp>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/topology.hpp"

namespace moesim::hw {
namespace {

struct EdgeProps {
  LinkId link = 0;
};
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS,
                                    boost::no_property, EdgeProps>;
using Edge = boost::graph_traits<Graph>::edge_descriptor;

// Keeps an edge unless it leaves a GPU other than the search's source.
struct NoTransitThroughGpus {
  const Graph* graph = nullptr;
  const std::vector<char>* is_gpu = nullptr;
  std::size_t source = 0;
  bool operator()(const Edge& e) const {
    const std::size_t u = boost::source(e, *graph);
    return u == source || (*is_gpu)[u] == 0;
  }
};

constexpr int kUnreached = std::numeric_limits<int>::max();

// splitmix64 finaliser: a well-mixed deterministic hash for ECMP choices.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t ecmp_hash(int src, int dst, VertexId at) {
  return mix((static_cast<std::uint64_t>(src) << 40) ^ (static_cast<std::uint64_t>(dst) << 20) ^
             static_cast<std::uint64_t>(at));
}

std::string gbps(Bandwidth b) {
  std::ostringstream s;
  s << in_gigabytes_per_second(b) << " GB/s";
  return s.str();
}

}  // namespace

std::string_view to_string(VertexKind kind) {
  switch (kind) {
    case VertexKind::kGpu: return "gpu";
    case VertexKind::kNvSwitch: return "nvswitch";
    case VertexKind::kNic: return "nic";
    case VertexKind::kLeafSwitch: return "leaf";
    case VertexKind::kSpineSwitch: return "spine";
  }
  return "?";
}

std::string_view to_string(LinkKind kind) {
  switch (kind) {
    case LinkKind::kNvlink: return "nvlink";
    case LinkKind::kNicHost: return "nic-host";
    case LinkKind::kNicPort: return "nic-port";
    case LinkKind::kFabric: return "fabric";
    case LinkKind::kCustom: return "custom";
  }
  return "?";
}

std::string_view to_string(LinkPolicy policy) {
  switch (policy) {
    case LinkPolicy::kSplitDuplex: return "split-duplex";
    case LinkPolicy::kSharedDuplex: return "shared-duplex";
    case LinkPolicy::kFatPipe: return "fat-pipe";
  }
  return "?";
}

// ---- Topology ----

VertexId Topology::gpu_vertex(int gpu) const {
  MOESIM_ASSERT(gpu >= 0 && gpu < gpu_count(), "GPU index out of range");
  return gpu_vertex_[static_cast<std::size_t>(gpu)];
}

const VertexInfo& Topology::vertex(VertexId v) const {
  MOESIM_ASSERT(v >= 0 && v < vertex_count(), "vertex id out of range");
  return vertices_[static_cast<std::size_t>(v)];
}

const LinkInfo& Topology::link(LinkId l) const {
  MOESIM_ASSERT(l >= 0 && l < link_count(), "link id out of range");
  return links_[static_cast<std::size_t>(l)];
}

const ChannelInfo& Topology::channel(ChannelId c) const {
  MOESIM_ASSERT(c >= 0 && c < channel_count(), "channel id out of range");
  return channels_[static_cast<std::size_t>(c)];
}

RouteView Topology::route(int src, int dst) const {
  MOESIM_ASSERT(src >= 0 && src < gpu_count() && dst >= 0 && dst < gpu_count(),
                "route endpoints must be GPUs of the topology");
  const std::size_t pair = static_cast<std::size_t>(src) * gpu_vertex_.size() + dst;
  const auto begin = static_cast<std::size_t>(route_offset_[pair]);
  const auto end = static_cast<std::size_t>(route_offset_[pair + 1]);
  return RouteView{std::span<const LinkId>(route_links_).subspan(begin, end - begin),
                   route_latency_[pair]};
}

Bandwidth Topology::route_capacity(int src, int dst) const {
  double c = std::numeric_limits<double>::infinity();
  for (const LinkId l : route(src, dst).links) c = std::min(c, link(l).capacity.base());
  return bytes_per_second(c);
}

std::string Topology::to_dot() const {
  std::ostringstream out;
  out << "digraph \"" << name_ << "\" {\n  // moesim topology: " << gpu_count() << " GPUs, "
      << vertex_count() << " vertices, " << link_count() / 2 << " cables\n";
  for (std::size_t v = 0; v < vertices_.size(); ++v) {
    const VertexInfo& x = vertices_[v];
    const char* shape = x.kind == VertexKind::kGpu   ? "box"
                        : x.kind == VertexKind::kNic ? "ellipse"
                                                     : "diamond";
    out << "  v" << v << " [label=\"" << x.name << "\\n"
        << to_string(x.kind) << "\", shape=" << shape << "];\n";
  }
  for (std::size_t l = 0; l < links_.size(); l += 2) {
    const LinkInfo& x = links_[l];
    out << "  v" << x.from << " -> v" << x.to << " [dir=both, label=\"" << to_string(x.kind) << " "
        << gbps(x.line_rate) << "/dir, " << to_string(x.policy) << "\"];\n";
  }
  out << "}\n";
  return out.str();
}

// ---- TopologyBuilder ----

TopologyBuilder::TopologyBuilder(std::string name) { t_.name_ = std::move(name); }

VertexId TopologyBuilder::add_gpu(std::string name, Placement place) {
  return add_vertex(VertexKind::kGpu, std::move(name), place);
}

VertexId TopologyBuilder::add_vertex(VertexKind kind, std::string name, Placement place) {
  const auto id = static_cast<VertexId>(t_.vertices_.size());
  t_.vertices_.push_back(VertexInfo{kind, std::move(name), place});
  if (kind == VertexKind::kGpu) t_.gpu_vertex_.push_back(id);
  return id;
}

LinkId TopologyBuilder::add_link(VertexId a, VertexId b, const LinkSpec& spec) {
  const auto n = static_cast<VertexId>(t_.vertices_.size());
  MOESIM_ASSERT(a >= 0 && a < n && b >= 0 && b < n && a != b, "a link joins two distinct vertices");
  MOESIM_ASSERT(std::isfinite(spec.line_rate.base()) && spec.line_rate.base() > 0.0,
                "link line rate must be finite and > 0");
  MOESIM_ASSERT(spec.capacity.base() > 0.0 && spec.capacity <= spec.line_rate,
                "link capacity must be > 0 and at most the line rate");
  MOESIM_ASSERT(spec.latency >= Duration::zero(), "link latency must be >= 0");
  const auto id = static_cast<LinkId>(t_.links_.size());
  const auto sharing =
      spec.policy == LinkPolicy::kFatPipe ? LinkSharing::kNotShared : LinkSharing::kShared;
  auto add_channel = [&] {
    t_.channels_.push_back(ChannelInfo{spec.capacity, sharing});
    return static_cast<ChannelId>(t_.channels_.size() - 1);
  };
  const ChannelId forward = add_channel();
  const ChannelId backward = spec.policy == LinkPolicy::kSharedDuplex ? forward : add_channel();
  t_.links_.push_back(
      LinkInfo{a, b, spec.kind, spec.line_rate, spec.capacity, spec.latency, spec.policy, forward});
  t_.links_.push_back(LinkInfo{b, a, spec.kind, spec.line_rate, spec.capacity, spec.latency,
                               spec.policy, backward});
  return id;
}

Topology TopologyBuilder::seal() {
  Topology t = std::move(t_);
  t_ = Topology{};
  {
    std::set<std::string> names;
    for (const VertexInfo& v : t.vertices_) {
      if (!names.insert(v.name).second) {
        throw ConfigError({}, "topology." + t.name_, "unique vertex names",
                          "'" + v.name + "' twice");
      }
    }
  }
  const std::size_t nv = t.vertices_.size();
  Graph g(nv);
  std::vector<char> is_gpu(nv, 0);
  for (const VertexId v : t.gpu_vertex_) is_gpu[static_cast<std::size_t>(v)] = 1;
  for (std::size_t l = 0; l < t.links_.size(); ++l) {
    boost::add_edge(static_cast<std::size_t>(t.links_[l].from),
                    static_cast<std::size_t>(t.links_[l].to), EdgeProps{static_cast<LinkId>(l)}, g);
  }

  const std::size_t gpus = t.gpu_vertex_.size();
  t.route_offset_.assign(gpus * gpus + 1, 0);
  t.route_latency_.assign(gpus * gpus, Duration::zero());
  std::vector<int> dist(nv);
  std::vector<LinkId> reversed;
  std::vector<LinkId> candidates;
  for (std::size_t s = 0; s < gpus; ++s) {
    const auto source = static_cast<std::size_t>(t.gpu_vertex_[s]);
    NoTransitThroughGpus keep{&g, &is_gpu, source};
    boost::filtered_graph<Graph, NoTransitThroughGpus> fg(g, keep);
    std::fill(dist.begin(), dist.end(), kUnreached);
    dist[source] = 0;
    boost::breadth_first_search(
        fg, source,
        boost::visitor(boost::make_bfs_visitor(boost::record_distances(
            boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, fg)),
            boost::on_tree_edge()))));
    for (std::size_t d = 0; d < gpus; ++d) {
      const std::size_t pair = s * gpus + d;
      const auto target = static_cast<std::size_t>(t.gpu_vertex_[d]);
      if (s != d) {
        if (dist[target] == kUnreached) {
          throw ConfigError(
              {}, "topology." + t.name_, "a route between every pair of GPUs",
              "no route from " + t.vertices_[source].name + " to " + t.vertices_[target].name);
        }
        reversed.clear();
        Duration latency = Duration::zero();
        std::size_t v = target;
        while (v != source) {
          candidates.clear();
          for (auto [it, end] = boost::in_edges(v, fg); it != end; ++it) {
            const std::size_t u = boost::source(*it, fg);
            if (dist[u] != kUnreached && dist[u] + 1 == dist[v]) candidates.push_back(fg[*it].link);
          }
          MOESIM_ASSERT(!candidates.empty(), "a reached vertex has a predecessor");
          const LinkId pick = candidates.size() == 1
                                  ? candidates.front()
                                  : candidates[ecmp_hash(static_cast<int>(s), static_cast<int>(d),
                                                         static_cast<VertexId>(v)) %
                                               candidates.size()];
          reversed.push_back(pick);
          latency += t.links_[static_cast<std::size_t>(pick)].latency;
          v = static_cast<std::size_t>(t.links_[static_cast<std::size_t>(pick)].from);
        }
        t.route_links_.insert(t.route_links_.end(), reversed.rbegin(), reversed.rend());
        t.route_latency_[pair] = latency;
      }
      t.route_offset_[pair + 1] = static_cast<std::int64_t>(t.route_links_.size());
    }
  }
  t.route_links_.shrink_to_fit();
  return t;
}

}  // namespace moesim::hw
