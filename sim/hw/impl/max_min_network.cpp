// The fluid max-min network model (equations in sim/hw/network_model.hpp).
//
// Between two events every active flow f moves at its max-min rate x_f, so its remaining bytes
// fall by x_f * dt. An update at time t: (1) advances all flows to t, (2) retires the flows whose
// remaining bytes are within one picosecond of transfer (or 1e-9 of their size) of zero and
// schedules their callbacks one route latency later, (3) admits the flows started since the last
// update, (4) if the flow set changed, re-solves the rates over the topology's channels and
// schedules the next completion at t + ceil(min_f R_f / x_f). Starts at one time are admitted by
// one update (Priority::kLow), so simultaneous starts cost one solve.

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/hw/impl/network_impls.hpp"
#include "sim/hw/max_min.hpp"

namespace moesim::hw::detail {
namespace {

// A flow is finished when what remains would take at most one picosecond at its rate, or is a
// negligible fraction of its size (rounding of the fluid arithmetic).
constexpr double kRelativeTolerance = 1e-9;

bool finished(double remaining, double rate, double size) {
  return remaining <= std::max(rate * scale::kPico, kRelativeTolerance * size);
}

class MaxMinNetwork final : public NetworkModel {
 public:
  explicit MaxMinNetwork(const Topology& topology) : NetworkModel(topology) {
    for (const ChannelInfo& c : topology.channels()) problem_.add_link(c.capacity, c.sharing);
    stamp_.assign(static_cast<std::size_t>(topology.link_count()), 0);
    busy_seconds_.assign(static_cast<std::size_t>(topology.link_count()), 0.0);
    link_bytes_.assign(static_cast<std::size_t>(topology.link_count()), 0.0);
  }

  NetworkImpl impl() const override { return NetworkImpl::kMaxMin; }

  TransferId start(Simulation& sim, std::span<const LinkId> route, Bytes bytes, Duration latency,
                   TransferCallback done) override {
    MOESIM_ASSERT(bytes >= Bytes{0}, "transfer bytes must be >= 0");
    MOESIM_ASSERT(latency >= Duration::zero(), "transfer latency must be >= 0");
    const TransferId id = ++last_id_;
    const std::uint32_t slot = store(std::move(done));
    if (route.empty() || bytes == Bytes{0}) {
      arrive(sim, slot, latency);
      return id;
    }
    Flow f;
    f.route_begin = static_cast<std::int64_t>(route_pool_.size());
    f.route_size = static_cast<std::int32_t>(route.size());
    route_pool_.insert(route_pool_.end(), route.begin(), route.end());
    f.size = in_bytes(bytes);
    f.remaining = f.size;
    f.latency = latency;
    f.slot = slot;
    pending_.push_back(f);
    if (!update_scheduled_) {
      update_scheduled_ = true;
      sim.schedule_after(
          Duration::zero(),
          [this](Simulation& s) {
            update_scheduled_ = false;
            update(s);
          },
          Priority::kLow);
    }
    return id;
  }

  std::size_t active_transfers() const override {
    return active_.size() + pending_.size() + arriving_;
  }

  void evaluate(const FlowBatch& batch, BatchTiming& out) override;

 private:
  struct Flow {
    std::int64_t route_begin = 0;  // into route_pool_
    std::int32_t route_size = 0;
    double size = 0.0;       // bytes
    double remaining = 0.0;  // bytes
    double rate = 0.0;       // B/s
    Duration latency{};
    std::uint32_t slot = 0;  // callback slot
  };

  std::span<const LinkId> route_of(const Flow& f) const {
    return std::span<const LinkId>(route_pool_)
        .subspan(static_cast<std::size_t>(f.route_begin), static_cast<std::size_t>(f.route_size));
  }

  std::uint32_t store(TransferCallback done) {
    if (free_slots_.empty()) {
      callbacks_.push_back(std::move(done));
      return static_cast<std::uint32_t>(callbacks_.size() - 1);
    }
    const std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    callbacks_[slot] = std::move(done);
    return slot;
  }

  void arrive(Simulation& sim, std::uint32_t slot, Duration latency) {
    ++arriving_;
    sim.schedule_after(
        latency,
        [this, slot](Simulation& s) {
          TransferCallback cb = std::move(callbacks_[slot]);
          free_slots_.push_back(slot);
          --arriving_;
          if (cb) cb(s);
        },
        Priority::kHigh);
  }

  // Moves every active flow forward to `now` at its current rate; records link usage.
  void advance(TimePoint now) {
    const Duration dt = now - last_update_;
    last_update_ = now;
    if (dt <= Duration::zero() || active_.empty()) return;
    const double seconds = to_seconds(dt);
    ++epoch_;
    for (Flow& f : active_) {
      const double moved = std::min(f.remaining, f.rate * seconds);
      f.remaining -= f.rate * seconds;
      for (const LinkId l : route_of(f)) {
        auto& stamp = stamp_[static_cast<std::size_t>(l)];
        record(l, moved, stamp == epoch_ ? Duration::zero() : dt);
        stamp = epoch_;
      }
    }
  }

  void update(Simulation& sim) {
    advance(sim.now());
    bool changed = !pending_.empty();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < active_.size(); ++i) {
      const Flow& f = active_[i];
      if (finished(f.remaining, f.rate, f.size)) {
        arrive(sim, f.slot, f.latency);
        changed = true;
      } else {
        active_[kept++] = f;
      }
    }
    active_.resize(kept);
    active_.insert(active_.end(), pending_.begin(), pending_.end());
    pending_.clear();
    if (changed) {
      compact_routes();
      if (next_completion_.valid()) sim.cancel(next_completion_);
      next_completion_ = EventId{};
      if (active_.empty()) return;
      problem_.clear_flows();
      for (const Flow& f : active_) add_solver_flow(route_of(f));
      const std::span<const Bandwidth> rates = solver_.solve(problem_);
      for (std::size_t i = 0; i < active_.size(); ++i) active_[i].rate = rates[i].base();
    }
    // Rates unchanged but no completion pending (rounding left a flow a hair short of zero at
    // its completion event): schedule the next completion at the current rates.
    if (!next_completion_.valid() && !active_.empty()) schedule_next_completion(sim);
  }

  void schedule_next_completion(Simulation& sim) {
    double next = std::numeric_limits<double>::infinity();
    for (const Flow& f : active_) next = std::min(next, std::max(f.remaining, 0.0) / f.rate);
    next_completion_ = sim.schedule_after(
        ceil_duration(next),
        [this](Simulation& s) {
          next_completion_ = EventId{};
          update(s);
        },
        Priority::kHigh);
  }

  void add_solver_flow(std::span<const LinkId> route) {
    channels_.clear();
    const std::span<const ChannelId> channel_of = link_channel();
    for (const LinkId l : route) channels_.push_back(channel_of[static_cast<std::size_t>(l)]);
    problem_.add_flow(channels_);
  }

  // Drops the routes of retired flows once they dominate the pool.
  void compact_routes() {
    std::size_t live = 0;
    for (const Flow& f : active_) live += static_cast<std::size_t>(f.route_size);
    if (route_pool_.size() < 4096 || route_pool_.size() < 2 * live) return;
    scratch_routes_.clear();
    for (Flow& f : active_) {
      const std::span<const LinkId> r = route_of(f);
      f.route_begin = static_cast<std::int64_t>(scratch_routes_.size());
      scratch_routes_.insert(scratch_routes_.end(), r.begin(), r.end());
    }
    route_pool_.swap(scratch_routes_);
  }

  MaxMinProblem problem_;
  MaxMinSolver solver_;
  std::vector<Flow> active_;
  std::vector<Flow> pending_;
  std::vector<LinkId> route_pool_;
  std::vector<LinkId> scratch_routes_;
  std::vector<ChannelId> channels_;
  std::vector<TransferCallback> callbacks_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint64_t> stamp_;  // per link: last epoch in which it was busy
  std::uint64_t epoch_ = 0;
  std::size_t arriving_ = 0;
  TimePoint last_update_{};
  EventId next_completion_{};
  bool update_scheduled_ = false;
  TransferId last_id_ = 0;
  // Batch workspace.
  std::vector<std::int64_t> batch_offset_;
  std::vector<ChannelId> batch_channels_;
  std::vector<int> batch_active_;
  std::vector<double> batch_remaining_;
  std::vector<double> busy_seconds_;  // per link
  std::vector<double> link_bytes_;    // per link
};

void MaxMinNetwork::evaluate(const FlowBatch& batch, BatchTiming& out) {
  const int n = batch.size();
  out.finish.assign(static_cast<std::size_t>(n), Duration::zero());
  out.makespan = Duration::zero();
  out.solves = 0;
  const std::span<const ChannelId> channel_of = link_channel();

  // Routes as channels, once.
  batch_offset_.assign(1, 0);
  batch_channels_.clear();
  batch_active_.clear();
  batch_remaining_.assign(static_cast<std::size_t>(n), 0.0);
  for (int i = 0; i < n; ++i) {
    const std::span<const LinkId> r = batch.route(i);
    for (const LinkId l : r) batch_channels_.push_back(channel_of[static_cast<std::size_t>(l)]);
    batch_offset_.push_back(static_cast<std::int64_t>(batch_channels_.size()));
    batch_remaining_[static_cast<std::size_t>(i)] = batch.bytes(i);
    if (r.empty() || batch.bytes(i) == 0.0) {
      out.finish[static_cast<std::size_t>(i)] = batch.latency(i);
    } else {
      batch_active_.push_back(i);
    }
  }
  std::fill(busy_seconds_.begin(), busy_seconds_.end(), 0.0);
  std::fill(link_bytes_.begin(), link_bytes_.end(), 0.0);

  double t = 0.0;  // seconds since the batch started
  while (!batch_active_.empty()) {
    problem_.clear_flows();
    for (const int i : batch_active_) {
      const auto b = static_cast<std::size_t>(batch_offset_[static_cast<std::size_t>(i)]);
      const auto e = static_cast<std::size_t>(batch_offset_[static_cast<std::size_t>(i) + 1]);
      problem_.add_flow(std::span<const ChannelId>(batch_channels_).subspan(b, e - b));
    }
    const std::span<const Bandwidth> rates = solver_.solve(problem_);
    ++out.solves;
    double step = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < batch_active_.size(); ++k) {
      const auto i = static_cast<std::size_t>(batch_active_[k]);
      step = std::min(step, batch_remaining_[i] / rates[k].base());
    }
    t += step;
    ++epoch_;
    std::size_t kept = 0;
    for (std::size_t k = 0; k < batch_active_.size(); ++k) {
      const int i = batch_active_[k];
      const auto ui = static_cast<std::size_t>(i);
      const double rate = rates[k].base();
      const double moved = std::min(batch_remaining_[ui], rate * step);
      batch_remaining_[ui] -= rate * step;
      for (const LinkId l : batch.route(i)) {
        const auto ul = static_cast<std::size_t>(l);
        link_bytes_[ul] += moved;
        if (stamp_[ul] != epoch_) {
          stamp_[ul] = epoch_;
          busy_seconds_[ul] += step;
        }
      }
      if (finished(batch_remaining_[ui], rate, batch.bytes(i))) {
        out.finish[ui] = ceil_duration(t) + batch.latency(i);
      } else {
        batch_active_[kept++] = i;
      }
    }
    batch_active_.resize(kept);
  }
  for (const Duration f : out.finish) out.makespan = std::max(out.makespan, f);
  for (std::size_t l = 0; l < link_bytes_.size(); ++l) {
    if (link_bytes_[l] > 0.0) {
      record(static_cast<LinkId>(l), link_bytes_[l], ceil_duration(busy_seconds_[l]));
    }
  }
}

}  // namespace

std::unique_ptr<NetworkModel> make_max_min_network(const Topology& topology) {
  return std::make_unique<MaxMinNetwork>(topology);
}

}  // namespace moesim::hw::detail
