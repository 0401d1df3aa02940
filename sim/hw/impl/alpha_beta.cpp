// The alpha-beta network model (equations in sim/hw/network_model.hpp): a transfer takes its
// route latency plus bytes over the route's bottleneck capacity, whatever else runs; a batch sums
// the bytes per channel and each flow waits for its most loaded channel to drain.

#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/hw/impl/network_impls.hpp"

namespace moesim::hw::detail {
namespace {

class AlphaBetaNetwork final : public NetworkModel {
 public:
  explicit AlphaBetaNetwork(const Topology& topology) : NetworkModel(topology) {
    load_.assign(static_cast<std::size_t>(topology.channel_count()), 0.0);
    link_bytes_.assign(static_cast<std::size_t>(topology.link_count()), 0.0);
  }

  NetworkImpl impl() const override { return NetworkImpl::kAlphaBeta; }

  TransferId start(Simulation& sim, std::span<const LinkId> route, Bytes bytes, Duration latency,
                   TransferCallback done) override {
    MOESIM_ASSERT(bytes >= Bytes{0}, "transfer bytes must be >= 0");
    MOESIM_ASSERT(latency >= Duration::zero(), "transfer latency must be >= 0");
    const TransferId id = ++last_id_;
    Duration transfer = Duration::zero();
    if (!route.empty() && bytes > Bytes{0}) {
      double capacity = std::numeric_limits<double>::infinity();
      for (const LinkId l : route)
        capacity = std::min(capacity, topology().link(l).capacity.base());
      transfer = bytes / bytes_per_second(capacity);
      for (const LinkId l : route) record(l, in_bytes(bytes), transfer);
    }
    std::uint32_t slot = 0;
    if (free_slots_.empty()) {
      callbacks_.push_back(std::move(done));
      slot = static_cast<std::uint32_t>(callbacks_.size() - 1);
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
      callbacks_[slot] = std::move(done);
    }
    ++in_flight_;
    sim.schedule_after(
        transfer + latency,
        [this, slot](Simulation& s) {
          TransferCallback cb = std::move(callbacks_[slot]);
          free_slots_.push_back(slot);
          --in_flight_;
          if (cb) cb(s);
        },
        Priority::kHigh);
    return id;
  }

  std::size_t active_transfers() const override { return in_flight_; }

  void evaluate(const FlowBatch& batch, BatchTiming& out) override {
    const int n = batch.size();
    out.finish.assign(static_cast<std::size_t>(n), Duration::zero());
    out.makespan = Duration::zero();
    out.solves = 1;
    const std::span<const ChannelId> channel_of = link_channel();
    std::fill(load_.begin(), load_.end(), 0.0);
    std::fill(link_bytes_.begin(), link_bytes_.end(), 0.0);
    for (int i = 0; i < n; ++i) {
      const double b = batch.bytes(i);
      for (const LinkId l : batch.route(i)) {
        const auto c = static_cast<std::size_t>(channel_of[static_cast<std::size_t>(l)]);
        const bool shared =
            topology().channel(static_cast<ChannelId>(c)).sharing == LinkSharing::kShared;
        load_[c] = shared ? load_[c] + b : std::max(load_[c], b);
        link_bytes_[static_cast<std::size_t>(l)] += b;
      }
    }
    for (int i = 0; i < n; ++i) {
      double seconds = 0.0;
      if (batch.bytes(i) > 0.0) {
        for (const LinkId l : batch.route(i)) {
          const ChannelId c = channel_of[static_cast<std::size_t>(l)];
          const ChannelInfo& ch = topology().channel(c);
          const double bytes = ch.sharing == LinkSharing::kShared
                                   ? load_[static_cast<std::size_t>(c)]
                                   : batch.bytes(i);
          seconds = std::max(seconds, bytes / ch.capacity.base());
        }
      }
      const Duration f = ceil_duration(seconds) + batch.latency(i);
      out.finish[static_cast<std::size_t>(i)] = f;
      out.makespan = std::max(out.makespan, f);
    }
    for (LinkId l = 0; l < topology().link_count(); ++l) {
      const double b = link_bytes_[static_cast<std::size_t>(l)];
      if (b > 0.0) {
        const ChannelId c = channel_of[static_cast<std::size_t>(l)];
        record(l, b,
               ceil_duration(load_[static_cast<std::size_t>(c)] /
                             topology().channel(c).capacity.base()));
      }
    }
  }

 private:
  std::vector<double> load_;        // per channel, bytes
  std::vector<double> link_bytes_;  // per link, bytes
  std::vector<TransferCallback> callbacks_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t in_flight_ = 0;
  TransferId last_id_ = 0;
};

}  // namespace

std::unique_ptr<NetworkModel> make_alpha_beta_network(const Topology& topology) {
  return std::make_unique<AlphaBetaNetwork>(topology);
}

}  // namespace moesim::hw::detail
