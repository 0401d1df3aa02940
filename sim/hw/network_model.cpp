// Shared parts of the network models: FlowBatch, link statistics and the factory. The models
// themselves are in sim/hw/impl/max_min_network.cpp and sim/hw/impl/alpha_beta.cpp.

#include "sim/hw/network_model.hpp"

#include <cmath>
#include <numeric>

#include "sim/core/assert.hpp"
#include "sim/hw/impl/network_impls.hpp"

namespace moesim::hw {

int FlowBatch::add(std::span<const LinkId> route, double bytes, Duration latency) {
  return add(route, {}, bytes, latency);
}

int FlowBatch::add(std::span<const LinkId> first, std::span<const LinkId> second, double bytes,
                   Duration latency) {
  MOESIM_ASSERT(std::isfinite(bytes) && bytes >= 0.0, "flow bytes must be finite and >= 0");
  MOESIM_ASSERT(latency >= Duration::zero(), "flow latency must be >= 0");
  links_.insert(links_.end(), first.begin(), first.end());
  links_.insert(links_.end(), second.begin(), second.end());
  offset_.push_back(static_cast<std::int64_t>(links_.size()));
  bytes_.push_back(bytes);
  latency_.push_back(latency);
  return size() - 1;
}

void FlowBatch::clear() {
  offset_.resize(1);
  links_.clear();
  bytes_.clear();
  latency_.clear();
}

std::span<const LinkId> FlowBatch::route(int i) const {
  const auto b = static_cast<std::size_t>(offset_[static_cast<std::size_t>(i)]);
  const auto e = static_cast<std::size_t>(offset_[static_cast<std::size_t>(i) + 1]);
  return std::span<const LinkId>(links_).subspan(b, e - b);
}

double FlowBatch::total_bytes() const { return std::accumulate(bytes_.begin(), bytes_.end(), 0.0); }

NetworkModel::NetworkModel(const Topology& topology)
    : topology_(topology),
      link_channel_(static_cast<std::size_t>(topology.link_count())),
      usage_(static_cast<std::size_t>(topology.link_count())) {
  for (LinkId l = 0; l < topology.link_count(); ++l) {
    link_channel_[static_cast<std::size_t>(l)] = topology.link(l).channel;
  }
}

TransferId NetworkModel::transfer(Simulation& sim, int src, int dst, Bytes bytes,
                                  TransferCallback done) {
  const RouteView r = topology_.route(src, dst);
  return start(sim, r.links, bytes, r.latency, std::move(done));
}

void NetworkModel::reset_usage() { std::fill(usage_.begin(), usage_.end(), LinkUsage{}); }

void NetworkModel::record(LinkId link, double bytes, Duration busy) {
  LinkUsage& u = usage_[static_cast<std::size_t>(link)];
  u.bytes += bytes;
  u.busy += busy;
}

std::unique_ptr<NetworkModel> make_network_model(NetworkImpl impl, const Topology& topology) {
  switch (impl) {
    case NetworkImpl::kMaxMin: return detail::make_max_min_network(topology);
    case NetworkImpl::kAlphaBeta: return detail::make_alpha_beta_network(topology);
  }
  MOESIM_ASSERT(false, "unknown NetworkImpl");
  return nullptr;
}

}  // namespace moesim::hw
