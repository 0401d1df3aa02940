// Collectives as flows, and their prices (model and sources in sim/hw/collectives.hpp).

#include "sim/hw/collectives.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <tuple>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"

namespace moesim::hw {
namespace {

constexpr std::array<Protocol, 3> kProtocols = {Protocol::kLL, Protocol::kLL128, Protocol::kSimple};

std::span<const Algorithm> algorithms_for(CollectiveOp op) {
  static constexpr Algorithm kAllReduce[] = {Algorithm::kRing, Algorithm::kTree, Algorithm::kNvls};
  static constexpr Algorithm kRingOnly[] = {Algorithm::kRing};
  static constexpr Algorithm kDirect[] = {Algorithm::kDirect};
  switch (op) {
    case CollectiveOp::kAllReduce: return kAllReduce;
    case CollectiveOp::kAllGather:
    case CollectiveOp::kReduceScatter: return kRingOnly;
    case CollectiveOp::kAllToAllV:
    case CollectiveOp::kSendRecv: return kDirect;
  }
  return {};
}

// ceil(log2 n) for n >= 1.
int ceil_log2(int n) { return static_cast<int>(std::bit_width(static_cast<unsigned>(n - 1))); }

std::int64_t raw_value(std::int64_t v) { return v; }
std::int64_t raw_value(Bytes v) { return v.base(); }

/// What an AllToAllV's pricing needs of its p x p matrix: the largest row sum (nccl-tests' size,
/// with the diagonal), the hottest port (largest off-diagonal row or column sum) and the
/// off-diagonal total.
struct PortSums {
  std::int64_t largest_row = 0;
  std::int64_t hottest = 0;
  std::int64_t off_diagonal = 0;
};

/// PortSums of the row-major p x p matrix `m` (of `transposed ? m^T : m`), in one row-major pass
/// that the compiler vectorizes (adds and an OR for the sign: no 64-bit compare in the loop).
/// `rows` and `cols` are scratch. Throws ConfigError on a negative entry.
template <class T>
PortSums port_sums(const T* m, std::size_t p, bool transposed, std::vector<std::int64_t>& rows,
                   std::vector<std::int64_t>& cols) {
  rows.assign(p, 0);
  cols.assign(p, 0);
  std::int64_t* col = cols.data();
  std::int64_t sign = 0;
  for (std::size_t s = 0; s < p; ++s) {
    const T* row = m + s * p;
    std::int64_t sum = 0;
    for (std::size_t d = 0; d < p; ++d) {
      const std::int64_t v = raw_value(row[d]);
      sum += v;
      col[d] += v;
      sign |= v;
    }
    rows[s] = sum;
  }
  if (sign < 0) {
    std::int64_t smallest = 0;
    for (std::size_t i = 0; i < p * p; ++i) smallest = std::min(smallest, raw_value(m[i]));
    throw ConfigError({}, "collective.matrix", "entries >= 0", std::to_string(smallest));
  }
  PortSums out;
  for (std::size_t r = 0; r < p; ++r) {
    const std::int64_t self = raw_value(m[r * p + r]);
    out.largest_row = std::max(out.largest_row, transposed ? cols[r] : rows[r]);
    out.hottest = std::max({out.hottest, rows[r] - self, cols[r] - self});
    out.off_diagonal += rows[r] - self;
  }
  return out;
}
}  // namespace

Collectives::Collectives(const ClusterSpec& cluster, const Topology& topology,
                         const NetworkEfficiency& network, NetworkModel& model)
    : cluster_(cluster), topology_(topology), network_(network), model_(model) {
  MOESIM_ASSERT(&model.topology() == &topology, "the model must price this topology");
  MOESIM_ASSERT(topology.gpu_count() == cluster.gpu_count(),
                "the topology must be built from this cluster");
  port_bandwidth_.assign(static_cast<std::size_t>(topology.gpu_count()),
                         bytes_per_second(std::numeric_limits<double>::infinity()));
  std::vector<int> gpu_of(static_cast<std::size_t>(topology.vertex_count()), -1);
  for (int g = 0; g < topology.gpu_count(); ++g) {
    gpu_of[static_cast<std::size_t>(topology.gpu_vertex(g))] = g;
  }
  for (const LinkInfo& l : topology.links()) {
    const int g = gpu_of[static_cast<std::size_t>(l.from)];
    if (l.kind == LinkKind::kNvlink && g >= 0)
      port_bandwidth_[static_cast<std::size_t>(g)] = l.capacity;
  }
  load_.assign(static_cast<std::size_t>(topology.channel_count()), 0.0);
  for (const LinkInfo& l : topology.links()) link_channel_.push_back(l.channel);
  for (const ChannelInfo& c : topology.channels()) {
    channel_shared_.push_back(c.sharing == LinkSharing::kShared ? 1 : 0);
  }
  domain_seen_.assign(static_cast<std::size_t>(cluster.domains), 0);
}

std::string_view to_string(Pricing pricing) {
  switch (pricing) {
    case Pricing::kClosedForm: return "closed-form";
    case Pricing::kLinkLoad: return "link-load";
    case Pricing::kFlowModel: return "flow-model";
  }
  return "?";
}

void Collectives::check_group(std::span<const int> group, int min_ranks) const {
  if (static_cast<int>(group.size()) < min_ranks) {
    throw ConfigError({}, "collective.group", "at least " + std::to_string(min_ranks) + " ranks",
                      std::to_string(group.size()));
  }
  // One flag per GPU in a scratch vector, cleared again before returning or throwing.
  std::vector<char>& seen = gpu_seen_;
  seen.resize(static_cast<std::size_t>(topology_.gpu_count()), 0);
  auto clear = [&] {
    for (const int g : group) {
      if (g >= 0 && g < topology_.gpu_count()) seen[static_cast<std::size_t>(g)] = 0;
    }
  };
  for (const int g : group) {
    if (g < 0 || g >= topology_.gpu_count()) {
      clear();
      throw ConfigError({}, "collective.group",
                        "GPU indices in [0, " + std::to_string(topology_.gpu_count()) + ")",
                        std::to_string(g));
    }
    char& flag = seen[static_cast<std::size_t>(g)];
    if (flag != 0) {
      clear();
      throw ConfigError({}, "collective.group", "distinct GPUs",
                        "GPU " + std::to_string(g) + " twice");
    }
    flag = 1;
  }
  clear();
}

int Collectives::domain_count(std::span<const int> group) const {
  // The scratch vector holds one flag per domain and is left all zero.
  std::vector<int>& seen = domain_seen_;
  int count = 0;
  for (const int g : group) {
    int& flag = seen[static_cast<std::size_t>(topology_.gpu_placement(g).domain)];
    count += flag == 0 ? 1 : 0;
    flag = 1;
  }
  for (const int g : group) seen[static_cast<std::size_t>(topology_.gpu_placement(g).domain)] = 0;
  return count;
}

bool Collectives::available(CollectiveOp op, Algorithm algorithm,
                            std::span<const int> group) const {
  const std::span<const Algorithm> algs = algorithms_for(op);
  if (std::find(algs.begin(), algs.end(), algorithm) == algs.end()) return false;
  if (algorithm != Algorithm::kNvls) return true;
  return cluster_.system.nvlink_switch.nvlink_sharp && cluster_.system.domain_size > 1 &&
         domain_count(group) == 1 && network_.nvls_efficiency.contains(cluster_.system.gpu.arch);
}

Duration Collectives::latency(CollectiveOp op, Algorithm algorithm, Protocol protocol,
                              std::span<const int> group) const {
  return latency(op, algorithm, protocol, static_cast<int>(group.size()), domain_count(group));
}

Duration Collectives::latency(CollectiveOp op, Algorithm algorithm, Protocol protocol, int p,
                              int d) const {
  const Duration base = network_.base(algorithm, protocol);
  auto steps = [&](int intra, int inter) {
    Duration t = base;
    if (intra > 0) t += network_.step(LatencyClass::kNvlink, algorithm, protocol) * intra;
    if (inter > 0) t += network_.step(LatencyClass::kNetwork, algorithm, protocol) * inter;
    return t;
  };
  switch (algorithm) {
    case Algorithm::kRing: {
      const bool all_reduce = op == CollectiveOp::kAllReduce;
      const int nsteps = all_reduce ? 2 * (p - 1) : p - 1;
      int inter = all_reduce ? (d > 1 ? 2 * d : 0) : d - 1;
      inter = std::min(inter, nsteps);
      return steps(nsteps - inter, inter);
    }
    case Algorithm::kTree: return steps(2 * (p / d - 1), 2 * ceil_log2(d));
    case Algorithm::kNvls: return steps(1, 0);
    case Algorithm::kDirect: return d > 1 ? steps(0, 1) : steps(1, 0);
  }
  MOESIM_ASSERT(false, "unknown Algorithm");
  return Duration::zero();
}

template <class Sink>
void Collectives::route_transfer(int src, int dst, CrossDomainRouting routing, Sink&& sink) const {
  const Placement& s = topology_.gpu_placement(src);
  const Placement& d = topology_.gpu_placement(dst);
  const int per_node = cluster_.system.gpus_per_node;
  int via = -1;
  if (s.domain != d.domain) {
    if (routing == CrossDomainRouting::kRailAligned) via = s.node * per_node + d.local;
    if (routing == CrossDomainRouting::kRailFirst) via = d.node * per_node + s.local;
  }
  if (via < 0 || via == src || via == dst) {
    sink(topology_.route(src, dst).links, std::span<const LinkId>{});
  } else {
    sink(topology_.route(src, via).links, topology_.route(via, dst).links);
  }
}

void Collectives::add_transfer(int src, int dst, double bytes, CrossDomainRouting routing,
                               FlowBatch& out) const {
  if (src == dst || bytes <= 0.0) return;
  route_transfer(src, dst, routing, [&](std::span<const LinkId> a, std::span<const LinkId> b) {
    out.add(a, b, bytes);
  });
}

void Collectives::add_load(std::span<const LinkId> route, double bytes) {
  for (const LinkId l : route) {
    const ChannelId c = link_channel_[static_cast<std::size_t>(l)];
    double& load = load_[static_cast<std::size_t>(c)];
    if (load == 0.0) loaded_.push_back(c);
    load = channel_shared_[static_cast<std::size_t>(c)] != 0 ? load + bytes : std::max(load, bytes);
  }
}

double Collectives::drain_load_seconds() {
  double seconds = 0.0;
  for (const ChannelId c : loaded_) {
    double& load = load_[static_cast<std::size_t>(c)];
    seconds = std::max(seconds, load / topology_.channel(c).capacity.base());
    load = 0.0;
  }
  loaded_.clear();
  return seconds;
}

void Collectives::decompose(CollectiveOp op, Algorithm algorithm, std::span<const int> group,
                            Bytes size, CrossDomainRouting routing, FlowBatch& out) const {
  const int p = static_cast<int>(group.size());
  const double n = in_bytes(size);
  if (p < 2 || n <= 0.0) return;
  auto at = [&](int i) { return group[static_cast<std::size_t>(i)]; };
  switch (algorithm) {
    case Algorithm::kRing: {
      const double volume =
          (op == CollectiveOp::kAllReduce ? 2.0 * (p - 1) : static_cast<double>(p - 1)) / p * n;
      // Members per domain, in group order.
      std::vector<int> domain_order;
      std::vector<std::vector<int>> members;
      for (int i = 0; i < p; ++i) {
        const int dom = topology_.gpu_placement(at(i)).domain;
        auto it = std::find(domain_order.begin(), domain_order.end(), dom);
        if (it == domain_order.end()) {
          domain_order.push_back(dom);
          members.emplace_back();
          it = domain_order.end() - 1;
        }
        members[static_cast<std::size_t>(it - domain_order.begin())].push_back(at(i));
      }
      int rings = 1;
      if (members.size() > 1) {
        rings = std::numeric_limits<int>::max();
        for (const auto& m : members) rings = std::min(rings, static_cast<int>(m.size()));
      }
      std::vector<int> order;
      for (int c = 0; c < rings; ++c) {
        order.clear();
        for (const auto& m : members) {
          const int k = static_cast<int>(m.size());
          for (int t = 0; t < k; ++t) order.push_back(m[static_cast<std::size_t>((c + t) % k)]);
        }
        for (int i = 0; i < p; ++i) {
          add_transfer(order[static_cast<std::size_t>(i)],
                       order[static_cast<std::size_t>((i + 1) % p)], volume / rings, routing, out);
        }
      }
      return;
    }
    case Algorithm::kTree: {
      // Tree A: heap order (parent of position i is (i-1)/2); tree B: its mirror i -> p-1-i.
      for (int tree = 0; tree < 2; ++tree) {
        for (int i = 1; i < p; ++i) {
          const int parent = (i - 1) / 2;
          const int child_rank = tree == 0 ? at(i) : at(p - 1 - i);
          const int parent_rank = tree == 0 ? at(parent) : at(p - 1 - parent);
          add_transfer(child_rank, parent_rank, n / 2.0, routing, out);
          add_transfer(parent_rank, child_rank, n / 2.0, routing, out);
        }
      }
      return;
    }
    case Algorithm::kNvls: {
      const double volume = (p + 1.0) / p * n;
      for (int i = 0; i < p; ++i) add_transfer(at(i), at((i + 1) % p), volume, routing, out);
      return;
    }
    case Algorithm::kDirect: {
      if (op == CollectiveOp::kSendRecv) {
        add_transfer(at(0), at(1), n, routing, out);
        return;
      }
      const double each = std::floor(n / p);
      for (int s = 0; s < p; ++s) {
        for (int d = 0; d < p; ++d) add_transfer(at(s), at(d), each, routing, out);
      }
      return;
    }
  }
}

void Collectives::decompose_all_to_all_v(std::span<const int> group, std::span<const Bytes> bytes,
                                         CrossDomainRouting routing, FlowBatch& out) const {
  const std::size_t p = group.size();
  MOESIM_ASSERT(bytes.size() == p * p, "AllToAllV matrix must hold ranks * ranks entries");
  for (std::size_t s = 0; s < p; ++s) {
    for (std::size_t d = 0; d < p; ++d) {
      add_transfer(group[s], group[d], in_bytes(bytes[s * p + d]), routing, out);
    }
  }
}

CollectiveResult Collectives::run(CollectiveOp op, std::span<const int> group, Bytes size,
                                  const CollectiveOptions& options) {
  if (op == CollectiveOp::kAllToAllV) {
    const std::size_t p = group.size();
    const Bytes each{p == 0 ? 0 : size.base() / static_cast<std::int64_t>(p)};
    uniform_.assign(p * p, each);
    CollectiveResult r = price(op, group, size, uniform_, options);
    return r;
  }
  return price(op, group, size, {}, options);
}

CollectiveResult Collectives::all_to_all_v(std::span<const int> group, std::span<const Bytes> bytes,
                                           const CollectiveOptions& options) {
  const std::size_t p = group.size();
  if (bytes.size() != p * p) {
    throw ConfigError({}, "collective.matrix", std::to_string(p * p) + " entries (ranks x ranks)",
                      std::to_string(bytes.size()));
  }
  const PortSums sums = port_sums(bytes.data(), p, false, sent_, received_);
  const MatrixSums matrix_sums{sums.off_diagonal > 0, Bytes{sums.hottest}};
  return price(CollectiveOp::kAllToAllV, group, Bytes{sums.largest_row}, bytes, options,
               &matrix_sums);
}

CollectiveResult Collectives::all_to_all_v_counts(std::span<const int> group,
                                                  std::span<const std::int64_t> counts,
                                                  Bytes per_count, bool transposed,
                                                  const CollectiveOptions& options) {
  const std::size_t p = group.size();
  if (counts.size() != p * p) {
    throw ConfigError({}, "collective.matrix", std::to_string(p * p) + " entries (ranks x ranks)",
                      std::to_string(counts.size()));
  }
  if (per_count < Bytes{0}) {
    throw ConfigError({}, "collective.size", "bytes per count >= 0",
                      std::to_string(per_count.base()) + " B");
  }
  check_group(group, 1);
  if (pricing_for(group, options) != Pricing::kClosedForm) {
    matrix_.resize(p * p);
    for (std::size_t s = 0; s < p; ++s) {
      for (std::size_t d = 0; d < p; ++d) {
        matrix_[s * p + d] = per_count * (transposed ? counts[d * p + s] : counts[s * p + d]);
      }
    }
    return all_to_all_v(group, matrix_, options);
  }
  // The byte matrix's row sums are the counts' row sums (column sums when transposed), and the
  // hottest port is the same either way.
  const PortSums sums = port_sums(counts.data(), p, transposed, sent_, received_);
  const MatrixSums matrix_sums{sums.off_diagonal > 0 && per_count > Bytes{0},
                               per_count * sums.hottest};
  return price(CollectiveOp::kAllToAllV, group, per_count * sums.largest_row, {}, options,
               &matrix_sums);
}

CollectiveResult Collectives::send_recv(int src, int dst, Bytes size,
                                        const CollectiveOptions& options) {
  const std::array<int, 2> group = {src, dst};
  return price(CollectiveOp::kSendRecv, group, size, {}, options);
}

double Collectives::transfer_seconds(CollectiveOp op, Algorithm algorithm,
                                     std::span<const int> group, Bytes size,
                                     std::span<const Bytes> matrix,
                                     const CollectiveOptions& options, Pricing pricing,
                                     const MatrixSums* sums) {
  const int p = static_cast<int>(group.size());
  const double nvls =
      algorithm == Algorithm::kNvls ? network_.nvls_efficiency_for(cluster_.system.gpu.arch) : 1.0;
  if (pricing == Pricing::kClosedForm) {
    const SwitchedDomain dom{p, port_bandwidth_[static_cast<std::size_t>(group.front())] * nvls,
                             Duration::zero()};
    CollectiveCost c;
    if (op != CollectiveOp::kAllToAllV) {
      c = collective_cost(op, algorithm, dom, size);
    } else {
      c = sums != nullptr ? all_to_all_v_hottest(dom, sums->hottest)
                          : hw::all_to_all_v(dom, matrix);
    }
    return to_seconds(c.transfer);
  }
  if (pricing == Pricing::kLinkLoad && op == CollectiveOp::kAllToAllV) {
    // Straight into the channel loads: no flow list for the p^2 pairs.
    const auto n = static_cast<std::size_t>(p);
    for (std::size_t s = 0; s < n; ++s) {
      for (std::size_t d = 0; d < n; ++d) {
        const double bytes = in_bytes(matrix[s * n + d]);
        if (s == d || bytes <= 0.0) continue;
        route_transfer(group[s], group[d], options.routing,
                       [&](std::span<const LinkId> a, std::span<const LinkId> b) {
                         add_load(a, bytes);
                         add_load(b, bytes);
                       });
      }
    }
    return drain_load_seconds() / nvls;
  }
  batch_.clear();
  if (op == CollectiveOp::kAllToAllV) {
    decompose_all_to_all_v(group, matrix, options.routing, batch_);
  } else {
    decompose(op, algorithm, group, size, options.routing, batch_);
  }
  if (pricing == Pricing::kLinkLoad) {
    for (int i = 0; i < batch_.size(); ++i) add_load(batch_.route(i), batch_.bytes(i));
    return drain_load_seconds() / nvls;
  }
  model_.evaluate(batch_, timing_);
  return to_seconds(timing_.makespan) / nvls;
}

Pricing Collectives::pricing_for(std::span<const int> group,
                                 const CollectiveOptions& options) const {
  if (options.flow_model) return Pricing::kFlowModel;
  if (domain_count(group) == 1 &&
      std::isfinite(port_bandwidth_[static_cast<std::size_t>(group.front())].base())) {
    return Pricing::kClosedForm;
  }
  return Pricing::kLinkLoad;
}

CollectiveResult Collectives::price(CollectiveOp op, std::span<const int> group, Bytes size,
                                    std::span<const Bytes> matrix, const CollectiveOptions& options,
                                    const MatrixSums* sums) {
  check_group(group, op == CollectiveOp::kSendRecv ? 2 : 1);
  if (op == CollectiveOp::kSendRecv && group.size() != 2) {
    throw ConfigError({}, "collective.group", "2 ranks for sendrecv", std::to_string(group.size()));
  }
  if (size < Bytes{0}) {
    throw ConfigError({}, "collective.size", "a size >= 0", std::to_string(size.base()) + " B");
  }
  const int p = static_cast<int>(group.size());
  CollectiveResult best;
  best.op = op;
  best.ranks = p;
  best.size = size;

  std::array<Algorithm, 3> candidates{};
  std::size_t count = 0;
  if (options.algorithm) {
    if (!available(op, *options.algorithm, group)) {
      throw ConfigError({}, "collective.algorithm",
                        "an algorithm available for " + std::string{to_string(op)} + " here",
                        std::string{to_string(*options.algorithm)});
    }
    candidates[count++] = *options.algorithm;
  } else {
    for (const Algorithm a : algorithms_for(op)) {
      MOESIM_ASSERT(count < candidates.size(), "at most three algorithms per collective");
      if (available(op, a, group)) candidates[count++] = a;
    }
  }
  MOESIM_ASSERT(count > 0, "every collective has an algorithm");
  const std::span<const Algorithm> algorithms(candidates.data(), count);
  best.algorithm = algorithms.front();
  if (options.protocol) best.protocol = *options.protocol;

  bool any_bytes = size > Bytes{0};
  if (sums != nullptr) {
    any_bytes = sums->any_bytes;
  } else if (op == CollectiveOp::kAllToAllV) {
    any_bytes = false;
    for (std::size_t s = 0; s < group.size() && !any_bytes; ++s) {
      for (std::size_t d = 0; d < group.size(); ++d) {
        if (s != d && matrix[s * group.size() + d] > Bytes{0}) any_bytes = true;
      }
    }
  }
  const int domains = domain_count(group);
  const Pricing pricing = pricing_for(group, options);
  best.pricing = pricing;
  if (p == 1 || !any_bytes) return best;  // nothing crosses a link: no kernel is launched

  bool found = false;
  for (const Algorithm a : algorithms) {
    const double seconds = transfer_seconds(op, a, group, size, matrix, options, pricing, sums);
    for (const Protocol pr : kProtocols) {
      if (options.protocol && *options.protocol != pr) continue;
      if (!network_.supports(a, pr)) continue;
      const Duration lat = latency(op, a, pr, p, domains);
      const Duration transfer = ceil_duration(seconds / network_.fraction(pr));
      const Duration time = lat + transfer;
      if (!found || time < best.time) {
        found = true;
        best.algorithm = a;
        best.protocol = pr;
        best.latency = lat;
        best.transfer = transfer;
        best.time = time;
      }
    }
  }
  if (!found) {
    throw ConfigError(network_.location, "collectives.base_latency",
                      "a protocol for " + std::string{to_string(best.algorithm)}, "none");
  }
  const MeasuredCollective* fit =
      domains == 1 && !options.algorithm && !options.protocol && !options.flow_model
          ? network_.measured_for(cluster_.system.name, op, p)
          : nullptr;
  if (fit != nullptr) {
    std::tie(best.latency, best.transfer) = fit->price(size, p, best.latency, best.transfer);
    best.time = best.latency + best.transfer;
    best.measured = true;
  }
  if (best.time > Duration::zero()) {
    best.algbw = algorithm_bandwidth(size, best.time);
    best.busbw = bus_bandwidth(op, p, size, best.time);
  }
  return best;
}

}  // namespace moesim::hw
