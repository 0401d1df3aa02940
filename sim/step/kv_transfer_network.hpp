#pragma once
/// \file
/// KV-cache hand-offs of disaggregated serving as flows on the cluster's topology, sharing its
/// links with the other hand-offs in flight.
///
/// Placement. Both pools sit in ONE cluster of `system` NVLink domains joined by the scale-out
/// fabric (sim/hw/cluster.hpp): the prefill instances first, then the decode instances, each
/// instance on tp x pp consecutive GPUs, domains = ceil(total GPUs / GPUs per domain). Inside an
/// instance GPUs follow llm::ParallelPlan::rank (stage-major): with A = attention_dp ranks and
/// a = tp / A GPUs of attention TP per rank, the k-th GPU of rank r (k = s x a + t, for stage s
/// in [0, pp) and TP index t in [0, a)) of instance i of a pool that starts at GPU P is
///   gpu(i, r, k) = P + i x tp x pp + s x tp + r x a + t.
/// With attention_dp == tp (the usual ADP + EP deployment) every rank is one GPU per stage.
///
/// Mixed hardware (prefill and decode pools on different systems, e.g. HGX H200 prefill nodes
/// and GB200 NVL72 decode racks). No NVLink joins two systems, so every hand-off crosses the
/// scale-out fabric: the decode pool starts at the first domain boundary after the prefill
/// pool (P_decode = ceil(prefill GPUs / D) x D, D the domain size), and the cluster is built
/// of the domains of the side whose GPUs have the slower scale-out attachment
/// (hw::SystemSpec::scale_out_bandwidth_per_gpu: nics_per_gpu x nic_bandwidth from each
/// system's YAML; the decode system on a tie). A flow GPU -> NIC -> leaf (-> spine -> leaf) ->
/// NIC -> GPU is bounded by its slowest hop, the slower side's NIC (both NICs run at their own
/// line rate in reality; the faster side's NIC is never the bottleneck of a flow between the
/// two, so modelling both at the slower rate gives each flow the same bottleneck). Choice: the
/// fabric (leaf and spine ports, rails) is that of the slower side's system; the NVLink inside
/// a domain carries no hand-off.
///
/// Flows. A transfer's `bytes` is the KV of its tokens held by ONE GPU of the source rank
/// (kv_bytes_per_token is per GPU of the binding stage, sim/llm/memory_footprint.hpp). Every GPU
/// of the source rank sends its share at once: source GPU k (k in [0, a_src x pp_src)) sends
/// `bytes` to GPU k mod (a_dst x pp_dst) of the destination rank, as one flow along the
/// topology's route between them. Choice: stages other than the binding one are charged the
/// binding stage's bytes (they run in parallel on their own links, so the binding stage sets the
/// time); where the destination rank has fewer GPUs, flows that meet on one GPU share its links.
/// The transfer is done when its last flow has arrived.
///
/// Time. The flow model of the network parameters (topologies/network.yaml `impl:`, max_min:
/// fluid max-min fair sharing, sim/hw/network_model.hpp) runs the flows on the caller's
/// Simulation. A flow of n bytes alone on a route of bottleneck capacity C (line rate x
/// efficiency) and latency L (the sum of the route's hop latencies, network.yaml links.*.
/// hop_latency) takes L + n / C; flows that share a channel split it max-min fairly and speed up
/// when others end. The network parameters have no per-transfer setup latency beyond the hop
/// latencies (NCCL's collective base latencies do not apply to RDMA KV transfers), so none is
/// added.
///
/// Runs. One Simulation at a time. The model counts the transfers it started in the
/// simulation's counter kTransfersStat; when start() finds that counter not at the model's own
/// count (a new Simulation, e.g. the next replica), whatever was in flight in the previous one
/// (a run stops with transfers still moving) is dropped, uncalled, and the flow model restarts
/// empty. The previous simulation must not run again.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/simulation.hpp"
#include "sim/core/stats.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/network_model.hpp"
#include "sim/hw/system.hpp"
#include "sim/hw/topology.hpp"
#include "sim/serve/step_time_model.hpp"

namespace moesim::step {

/// Name of the simulation counter of KV transfers started by a NetworkKvTransferModel.
inline constexpr std::string_view kTransfersStat = "kv_transfer.started";

/// The shape of one pool, as far as placement is concerned.
struct KvPoolShape {
  std::int32_t instances = 1;     ///< engine instances, >= 1
  std::int32_t tp = 1;            ///< GPUs per pipeline stage (attention TP x attention DP), >= 1
  std::int32_t attention_dp = 1;  ///< attention-DP ranks per instance, divides tp
  std::int32_t pp = 1;            ///< pipeline stages, >= 1
  /// GPUs of one instance: tp x pp.
  std::int32_t gpus_per_instance() const { return tp * pp; }
  /// GPUs of one attention-DP rank: (tp / attention_dp) x pp.
  std::int32_t gpus_per_rank() const { return tp / attention_dp * pp; }
  /// GPUs of the pool: instances x tp x pp.
  std::int32_t gpus() const { return instances * gpus_per_instance(); }
};

/// Runs each prefill -> decode KV hand-off as flows on the cluster's topology (see the file
/// comment). Owns the cluster, its topology and the flow model. Not copyable or movable (the
/// flow model refers to the topology).
class NetworkKvTransferModel final : public serve::KvTransferModel {
 public:
  /// Places `prefill` then `decode` on ceil(GPUs / domain size) domains of `system` with the
  /// fabric defaults and link figures of `network`. Shapes must be valid (asserted: the scenario
  /// validated them); a fabric that cannot be built (no leaf switch for the NIC rate) throws
  /// ConfigError.
  NetworkKvTransferModel(hw::NetworkEfficiency network, const hw::SystemSpec& system,
                         KvPoolShape prefill, KvPoolShape decode);
  /// Mixed hardware (see the file comment): prefill on `prefill_system`, decode on
  /// `decode_system`, the decode pool from the first domain boundary after the prefill pool, on
  /// the domains and NICs of the side with the slower per-GPU scale-out bandwidth.
  NetworkKvTransferModel(hw::NetworkEfficiency network, const hw::SystemSpec& prefill_system,
                         const hw::SystemSpec& decode_system, KvPoolShape prefill,
                         KvPoolShape decode);
  NetworkKvTransferModel(const NetworkKvTransferModel&) = delete;
  NetworkKvTransferModel& operator=(const NetworkKvTransferModel&) = delete;

  /// Starts the flows of `transfer` at sim.now(); `done` runs from the flow model's arrival
  /// event of the last flow (never inside start()). Instances and ranks must exist (asserted).
  void start(Simulation& sim, const serve::KvTransfer& transfer,
             serve::KvTransferDone done) override;
  std::string describe() const override;

  /// Cluster GPU of the k-th GPU (k = stage x attention TP + TP index, in [0, gpus_per_rank()))
  /// of rank `rank` of instance `instance` of the prefill (kPrefill) or decode (kDecode) pool.
  int gpu(serve::PoolRole pool, int instance, int rank, int k) const;
  /// First cluster GPU of the decode pool: right after the prefill pool, or (mixed hardware)
  /// at the next domain boundary.
  int decode_first() const { return decode_first_; }
  /// The cluster both pools are placed on.
  const hw::ClusterSpec& cluster() const { return cluster_; }
  /// The cluster's topology.
  const hw::Topology& topology() const { return topology_; }
  /// Transfers started in the current simulation and not yet done.
  std::size_t in_flight() const { return in_flight_; }

 private:
  struct Pending {
    serve::KvTransferDone done;
    std::int32_t flows_left = 0;
  };
  /// Drops what is in flight and starts a fresh flow model (the first start in a simulation).
  void restart();
  /// One flow of transfer `slot` has arrived.
  void flow_done(Simulation& sim, std::uint32_t slot);

  hw::NetworkEfficiency network_;
  KvPoolShape prefill_;
  KvPoolShape decode_;
  int decode_first_ = 0;
  std::string mixed_;  ///< "hgx-h200 -> gb200-nvl72" for mixed hardware, else empty
  hw::ClusterSpec cluster_;
  hw::Topology topology_;
  std::unique_ptr<hw::NetworkModel> flows_;  ///< of the current simulation; null before it
  std::vector<Pending> pending_;             ///< per slot
  std::vector<std::uint32_t> free_;          ///< free slots of pending_
  std::size_t in_flight_ = 0;
  const Counter* started_stat_ = nullptr;  ///< kTransfersStat of the current simulation
  std::int64_t started_ = 0;               ///< transfers started in the current simulation
};

}  // namespace moesim::step
