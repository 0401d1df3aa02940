#pragma once
/// \file
/// The flow-level network model: transfers are flows along routes of a sealed Topology that
/// share its channels. One interface, two implementations chosen by YAML `impl:`
/// (topologies/network.yaml): sim/hw/impl/max_min_network.cpp and sim/hw/impl/alpha_beta.cpp.
///
/// max_min (fluid max-min fair sharing; the design of SimGrid's network_cm02 without its
/// TCP corrections). Active flows f have remaining bytes R_f and rates x_f from the max-min solver
/// (sim/hw/max_min.hpp) over the topology's channels. Between events rates are constant and
/// R_f falls by x_f dt. Rates are recomputed only when a flow starts or ends; all starts at one
/// simulated time are batched into a single re-solve (an event at Priority::kLow). A flow's data
/// is done when R_f reaches 0, at t + ceil(R_f / x_f) (whole picoseconds); its completion
/// callback runs one route latency later, so an unshared flow of n bytes on a path of bottleneck
/// capacity C and latency L takes exactly L + n / C (rounded up once).
///
/// alpha_beta (no dynamics). A point-to-point transfer takes L + n / C_min along its route,
/// whatever else is running. A batch (below) sums the bytes each channel carries: a flow ends
/// when its most loaded channel has drained, T_f = max over its channels c of load_c / C_c
/// (load = sum of the bytes of the flows on a shared channel, the largest one on a fat pipe),
/// plus its latency. On a non-blocking switch this is the per-port bound of
/// sim/hw/collective_model.hpp.
///
/// Batches. evaluate() prices a set of flows that all start at time zero (a collective's
/// flows), outside the discrete-event clock: max_min advances the fluid from one completion to
/// the next and re-solves (one solve per distinct completion time, no event queue), alpha_beta
/// computes the link loads once. Both return each flow's finish time and the makespan.
///
/// Statistics. Per directed link: bytes carried and busy time (time during which at least one
/// flow crossed it), accumulated over transfers and batches until reset_usage().

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "sim/core/callable.hpp"
#include "sim/core/simulation.hpp"
#include "sim/core/units.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/topology.hpp"

namespace moesim::hw {

/// Names one transfer started on a NetworkModel (1, 2, ... in start order).
using TransferId = std::uint64_t;

/// Runs when a transfer has arrived; captures must fit 40 bytes.
using TransferCallback = InplaceFunction<void(Simulation&), 40>;

/// What one directed link carried.
struct LinkUsage {
  double bytes = 0.0;  ///< bytes carried (fluid: fractional)
  Duration busy{};     ///< time during which at least one flow crossed the link
};

/// Flows that start together, for NetworkModel::evaluate(). Stored flat; clear() keeps memory.
class FlowBatch {
 public:
  /// Adds a flow of `bytes` (>= 0) along `route` (directed links of the topology the batch is
  /// evaluated on) that pays `latency` (>= 0) once after its last byte. Returns its index.
  int add(std::span<const LinkId> route, double bytes, Duration latency = Duration::zero());
  /// Adds a flow whose route is the concatenation of `first` and `second` (e.g. an NVLink hop to
  /// a rail-aligned GPU, then the network).
  int add(std::span<const LinkId> first, std::span<const LinkId> second, double bytes,
          Duration latency = Duration::zero());
  /// Removes every flow; keeps memory.
  void clear();
  /// Number of flows.
  int size() const { return static_cast<int>(bytes_.size()); }
  /// Route of flow `i`.
  std::span<const LinkId> route(int i) const;
  /// Bytes of flow `i`.
  double bytes(int i) const { return bytes_[static_cast<std::size_t>(i)]; }
  /// Latency of flow `i`.
  Duration latency(int i) const { return latency_[static_cast<std::size_t>(i)]; }
  /// Sum of all flows' bytes.
  double total_bytes() const;

 private:
  std::vector<std::int64_t> offset_{0};
  std::vector<LinkId> links_;
  std::vector<double> bytes_;
  std::vector<Duration> latency_;
};

/// Timing of a batch: finish[i] = time at which flow i's last byte arrived plus its latency.
struct BatchTiming {
  Duration makespan{};           ///< max over flows of finish (zero for an empty batch)
  std::vector<Duration> finish;  ///< per flow, in batch order
  int solves = 0;                ///< rate computations performed (max_min: distinct completions)
};

/// A network model over one sealed Topology (which must outlive it). Not thread-safe: one model
/// per simulation.
class NetworkModel {
 public:
  virtual ~NetworkModel() = default;
  NetworkModel(const NetworkModel&) = delete;
  NetworkModel& operator=(const NetworkModel&) = delete;

  /// Which implementation this is.
  virtual NetworkImpl impl() const = 0;
  /// The topology.
  const Topology& topology() const { return topology_; }

  /// Starts, at sim.now(), a transfer of `bytes` (>= 0) along `route` that pays `latency` once;
  /// `done` runs when it has arrived. An empty route or zero bytes arrive after `latency` alone.
  virtual TransferId start(Simulation& sim, std::span<const LinkId> route, Bytes bytes,
                           Duration latency, TransferCallback done) = 0;
  /// start() along the topology's route from GPU `src` to GPU `dst`, paying its latency.
  TransferId transfer(Simulation& sim, int src, int dst, Bytes bytes, TransferCallback done);
  /// Transfers started and not yet arrived.
  virtual std::size_t active_transfers() const = 0;

  /// Prices `batch` (flows all starting at time zero) into `out` (its memory is reused).
  virtual void evaluate(const FlowBatch& batch, BatchTiming& out) = 0;

  /// Per directed link usage so far, indexed by LinkId.
  std::span<const LinkUsage> link_usage() const { return usage_; }
  /// Clears the link usage.
  void reset_usage();

 protected:
  explicit NetworkModel(const Topology& topology);
  /// Channel of each directed link.
  std::span<const ChannelId> link_channel() const { return link_channel_; }
  /// Adds `bytes` and `busy` to link `link`'s usage.
  void record(LinkId link, double bytes, Duration busy);

 private:
  const Topology& topology_;
  std::vector<ChannelId> link_channel_;
  std::vector<LinkUsage> usage_;
};

/// A new model of kind `impl` over `topology` (which must outlive it).
std::unique_ptr<NetworkModel> make_network_model(NetworkImpl impl, const Topology& topology);

}  // namespace moesim::hw
