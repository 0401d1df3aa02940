#pragma once
/// \file
/// Collectives on a cluster topology: each op is decomposed into flows (sim/hw/network_model.hpp)
/// or, on one non-blocking NVLink domain, priced by the closed forms of
/// sim/hw/collective_model.hpp, which are exact there; then reported with nccl-tests' algorithm
/// and bus bandwidths (NVIDIA/nccl-tests doc/PERFORMANCE.md).
///
/// Cost. time = latency + transfer, with NCCL's latency model (NVIDIA/nccl
/// src/graph/tuning.cc, figures in topologies/network.yaml):
///   ring AllReduce:  base + (2(p-1) - s) x step_nvlink + s x step_network, s = 2D if D > 1 else 0
///   ring AllGather, ReduceScatter: base + (p-1-s) x step_nvlink + s x step_network, s = D - 1
///   tree AllReduce:  base + 2 ((p/D - 1) x step_nvlink + ceil(log2 D) x step_network)
///   NVLS AllReduce:  base + step_nvls                       (one NVLink domain only)
///   direct (AllToAllV, SendRecv): base + one step (network if any pair crosses domains)
/// for p ranks in D NVLink domains; base and steps depend on the protocol (LL, LL128, Simple).
/// The transfer moves each flow's bytes divided by the protocol's bandwidth fraction (and, for
/// NVLS, by the architecture's NVLS efficiency); flows carry no latency of their own here (the
/// step latencies above include the hops).
///
/// Transfer pricing (CollectiveResult::pricing).
///   - kClosedForm: the group lies in one NVLink domain, a non-blocking switch: the closed forms
///     of sim/hw/collective_model.hpp (busiest port / its bandwidth). The default there.
///   - kLinkLoad: across domains: the same bound on the real graph, max over channels of
///     (bytes the collective puts on the channel / its capacity), along the flows below. The
///     default there. Both are exact for a schedule that keeps the busiest channel busy.
///   - kFlowModel (CollectiveOptions::flow_model): the flows through NetworkModel::evaluate, i.e.
///     a fluid max-min simulation under impl max_min. On symmetric collectives it agrees with
///     the bounds within 2%, and on MoE dispatch matrices (Zipf expert popularity, 8 and 72
///     GPUs) its makespan equals the per-port bound within 1.1% (tests/hw/collectives_test.cpp);
///     it costs one max-min solve per distinct completion time, ~1,700 solves for an imbalanced
///     72-GPU AllToAllV, which is why the bounds are the default.
///
/// Decomposition into flows (all start together, pipelined as NCCL's chunks are):
///   ring: C rings (C = min ranks per domain when the group spans domains, else 1); ring c visits
///     each domain's ranks starting at its c-th, so consecutive domains are joined by the
///     c-th ranks' NICs; each ring edge carries V/C with V = 2(p-1)/p n (AllReduce) or
///     (p-1)/p n (AllGather, ReduceScatter; n the whole array);
///   tree: NCCL's double binary tree over the group's ranks (tree A in heap order, tree B its
///     mirror, so each rank is interior in at most one): each edge carries n/2 up and n/2 down;
///   NVLS: the switch reduces and multicasts, so each GPU's port moves (p+1)/p n each way; as
///     flows, rank i sends (p+1)/p n to rank i+1 (same per-port volumes);
///   AllToAllV: one flow per ordered pair with bytes M[s][d] > 0 (s != d);
///   SendRecv: one flow.
/// Cross-domain edges follow `CrossDomainRouting` (default: rail-aligned, NCCL's PXN).
///
/// Measured fits. Where the network parameters hold a measured cost for this system and op
/// (NetworkEfficiency::measured, fitted on nccl-tests) and the group lies in one NVLink domain
/// with a GPU count the fit saw, and no algorithm, protocol or flow model is forced, the choice
/// below stands (NCCL's tuner chooses by its own model) and its terms L and X are rescaled
/// (MeasuredCollective::price).
///
/// Choice. Without a forced algorithm and protocol, every supported (algorithm, protocol) pair
/// is priced and the fastest wins, as NCCL's tuner does. NVLS is offered for AllReduce when the
/// group lies in one domain whose switch has NVLink SHARP. The transfer is computed once per
/// algorithm: scaling every flow by 1/fraction scales every pricing's times exactly.

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "sim/core/units.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/collective_model.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/network_model.hpp"
#include "sim/hw/topology.hpp"

namespace moesim::hw {

/// How a transfer between GPUs of different NVLink domains is routed.
enum class CrossDomainRouting : std::uint8_t {
  kDirect,       ///< the topology's route: the source's NIC to the destination's NIC
  kRailAligned,  ///< NVLink first to the source node's GPU on the destination's rail (NCCL PXN)
  kRailFirst,    ///< network first to the destination node's GPU on the source's rail, then
                 ///< NVLink (DeepEP's internode kernels)
};

/// How a collective's transfer time was computed (see the file comment).
enum class Pricing : std::uint8_t {
  kClosedForm,  ///< "closed-form": collective_model.hpp on one non-blocking NVLink domain
  kLinkLoad,    ///< "link-load": max over channels of load / capacity on the topology
  kFlowModel,   ///< "flow-model": NetworkModel::evaluate (fluid max-min under impl max_min)
};

/// "closed-form", "link-load", "flow-model".
std::string_view to_string(Pricing pricing);

/// Options of one collective.
struct CollectiveOptions {
  std::optional<Algorithm> algorithm;  ///< none: the fastest supported
  std::optional<Protocol> protocol;    ///< none: the fastest supported
  bool flow_model = false;             ///< price through the network model instead of the bounds
  CrossDomainRouting routing = CrossDomainRouting::kRailAligned;
};

/// The price of one collective.
struct CollectiveResult {
  CollectiveOp op = CollectiveOp::kAllReduce;
  Algorithm algorithm = Algorithm::kRing;
  Protocol protocol = Protocol::kSimple;
  int ranks = 0;        ///< group size p
  Bytes size;           ///< nccl-tests size (see collective_model.hpp: algorithm_bandwidth)
  Duration time{};      ///< latency + transfer
  Duration latency{};   ///< base + steps x step latency
  Duration transfer{};  ///< time to move the bytes
  Bandwidth algbw;      ///< size / time (0 when time is 0)
  Bandwidth busbw;      ///< algbw x nccl-tests bus factor (0 when time is 0)
  Pricing pricing = Pricing::kClosedForm;  ///< how the transfer was computed
  /// Whether a measured fit priced it (NetworkEfficiency::measured): then latency and transfer
  /// are the fit's, from NCCL's model's terms of the same algorithm and protocol.
  bool measured = false;
};

/// Prices collectives on one cluster. Holds references to its arguments, which must outlive it;
/// not thread-safe (it reuses the model's workspace).
class Collectives {
 public:
  /// `topology` must be build_topology(cluster, network); `model` a model over `topology`.
  Collectives(const ClusterSpec& cluster, const Topology& topology,
              const NetworkEfficiency& network, NetworkModel& model);

  /// AllReduce, AllGather, ReduceScatter over `group` (distinct GPU indices, in ring order) with
  /// nccl-tests' `size`; AllToAllV with a uniform matrix (`size` = each rank's send buffer, size/p
  /// to each peer, nccl-tests' alltoall); SendRecv from group[0] to group[1] (group of 2).
  /// Bad groups, sizes or options throw ConfigError.
  CollectiveResult run(CollectiveOp op, std::span<const int> group, Bytes size,
                       const CollectiveOptions& options = {});

  /// AllToAllV over `group` of the p x p row-major byte matrix `bytes` (bytes[s * p + d] from
  /// group[s] to group[d]; the diagonal stays local). Its size for algbw is the largest row sum.
  CollectiveResult all_to_all_v(std::span<const int> group, std::span<const Bytes> bytes,
                                const CollectiveOptions& options = {});

  /// The AllToAllV whose byte matrix is `per_count` x `counts` (row-major p x p counts >= 0,
  /// e.g. tokens from group[s] to group[d]), or of its transpose when `transposed` (combine
  /// sends back what dispatch sent): the same result as all_to_all_v on that matrix. Where the
  /// closed form prices the group, only the matrix's sums are taken, in one pass over `counts`;
  /// elsewhere the matrix is written out.
  CollectiveResult all_to_all_v_counts(std::span<const int> group,
                                       std::span<const std::int64_t> counts, Bytes per_count,
                                       bool transposed, const CollectiveOptions& options = {});

  /// Point-to-point transfer of `size` from GPU `src` to GPU `dst` (e.g. a KV-cache block).
  CollectiveResult send_recv(int src, int dst, Bytes size, const CollectiveOptions& options = {});

  /// The flows of (op, algorithm) over `group` for nccl-tests `size` (AllToAllV: uniform), at
  /// full link rate (no protocol or NVLS factor), appended to `out`. For tests and tools.
  void decompose(CollectiveOp op, Algorithm algorithm, std::span<const int> group, Bytes size,
                 CrossDomainRouting routing, FlowBatch& out) const;

  /// The flows of an AllToAllV of `bytes` (as all_to_all_v), appended to `out`.
  void decompose_all_to_all_v(std::span<const int> group, std::span<const Bytes> bytes,
                              CrossDomainRouting routing, FlowBatch& out) const;

  /// Appends to `out` one flow of `bytes` from GPU `src` to GPU `dst` routed by `routing`.
  void add_transfer(int src, int dst, double bytes, CrossDomainRouting routing,
                    FlowBatch& out) const;

  /// The latency term of (op, algorithm, protocol) over `group` (see the file comment).
  Duration latency(CollectiveOp op, Algorithm algorithm, Protocol protocol,
                   std::span<const int> group) const;
  /// The same for a group of `ranks` GPUs spanning `domains` NVLink domains.
  Duration latency(CollectiveOp op, Algorithm algorithm, Protocol protocol, int ranks,
                   int domains) const;

  /// Whether `algorithm` can run `op` over `group` on this cluster (NVLS: AllReduce in one
  /// NVLink domain with NVLink SHARP; tree: AllReduce; direct: AllToAllV and SendRecv; ring:
  /// AllReduce, AllGather, ReduceScatter).
  bool available(CollectiveOp op, Algorithm algorithm, std::span<const int> group) const;

  /// The network model used for flows.
  NetworkModel& model() { return model_; }

 private:
  /// What all_to_all_v learnt of its matrix in its one pass over it.
  struct MatrixSums {
    bool any_bytes = false;  ///< some entry off the diagonal is > 0
    Bytes hottest{};         ///< largest off-diagonal row or column sum
  };
  Pricing pricing_for(std::span<const int> group, const CollectiveOptions& options) const;
  CollectiveResult price(CollectiveOp op, std::span<const int> group, Bytes size,
                         std::span<const Bytes> matrix, const CollectiveOptions& options,
                         const MatrixSums* sums = nullptr);
  double transfer_seconds(CollectiveOp op, Algorithm algorithm, std::span<const int> group,
                          Bytes size, std::span<const Bytes> matrix,
                          const CollectiveOptions& options, Pricing pricing,
                          const MatrixSums* sums);
  template <class Sink>
  void route_transfer(int src, int dst, CrossDomainRouting routing, Sink&& sink) const;
  int domain_count(std::span<const int> group) const;
  void check_group(std::span<const int> group, int min_ranks) const;
  void add_load(std::span<const LinkId> route, double bytes);
  double drain_load_seconds();

  const ClusterSpec& cluster_;
  const Topology& topology_;
  const NetworkEfficiency& network_;
  NetworkModel& model_;
  std::vector<Bandwidth> port_bandwidth_;  // per GPU: its NVLink capacity, +inf without one
  std::vector<ChannelId> link_channel_;    // per directed link
  std::vector<char> channel_shared_;       // per channel: 1 when its flows share it
  std::vector<double> load_;               // per channel, bytes (link-load pricing)
  std::vector<ChannelId> loaded_;          // channels with load, to reset
  mutable std::vector<int> domain_seen_;   // scratch for domain_count (all zero between calls)
  mutable std::vector<char> gpu_seen_;     // scratch for check_group (all zero between calls)
  FlowBatch batch_;
  BatchTiming timing_;
  std::vector<Bytes> uniform_;
  std::vector<std::int64_t> sent_;      // scratch for all_to_all_v's row sums
  std::vector<std::int64_t> received_;  // scratch for all_to_all_v's column sums
  std::vector<Bytes> matrix_;           // scratch for all_to_all_v_counts off the closed form
};

/// The op named `name`: "allreduce", "allgather", "reducescatter", "alltoall" or "alltoallv",
/// "sendrecv"; nccl-tests' spellings with an underscore ("all_reduce") are accepted too. Anything
/// else is a ConfigError at key path "collective.op" with a did-you-mean. For the CLI.
CollectiveOp parse_collective_op(std::string_view name);
/// "ring", "tree", "nvls", "direct"; else a ConfigError with a did-you-mean.
Algorithm parse_algorithm(std::string_view name);
/// "ll", "ll128", "simple"; else a ConfigError with a did-you-mean.
Protocol parse_protocol(std::string_view name);

/// nccl-tests' figures for `op` of `size` over the first `ranks` GPUs of `cluster` (ranks in
/// [1, cluster.gpu_count()], else ConfigError): builds the topology and a model of kind
/// network.impl, then Collectives::run. For `moesim collective`.
CollectiveResult price_collective(const ClusterSpec& cluster, const NetworkEfficiency& network,
                                  CollectiveOp op, Bytes size, int ranks,
                                  const CollectiveOptions& options = {});

/// price_collective at min_size, 2 min_size, 4 min_size, ... up to and including `max_size`
/// (0 <= min_size <= max_size, else ConfigError; nccl-tests -b/-e with -f 2; a max_size that is
/// not min_size x 2^k ends the list), building the topology once. For `--sweep`.
std::vector<CollectiveResult> sweep_collective(const ClusterSpec& cluster,
                                               const NetworkEfficiency& network, CollectiveOp op,
                                               int ranks, Bytes min_size = kibibytes(1),
                                               Bytes max_size = gibibytes(8),
                                               const CollectiveOptions& options = {});

}  // namespace moesim::hw
