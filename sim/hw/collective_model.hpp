#pragma once
/// \file
/// Closed-form (alpha-beta) costs of collectives on one non-blocking switched domain (an NVLink
/// switch domain, one leaf switch), and nccl-tests' algorithm and bus bandwidths.
///
/// Model. p ranks each own one port to a non-blocking switch, with B the achievable bandwidth of
/// the port in each direction (the caller passes the effective figure; efficiency factors are
/// applied upstream) and alpha the latency of one algorithm step. The switch never limits, so a
/// collective is bounded by its busiest port in its busiest direction:
///   time = steps * alpha + V / B,
/// with V the bytes that port must move in that direction. Per op and algorithm (n in bytes):
///   AllReduce,     ring: steps = 2(p-1),        V = 2(p-1)/p * n     (n = the buffer per rank)
///   AllReduce,     tree: steps = 2 ceil(log2 p), V = 2 n
///   AllReduce,     NVLS: steps = 1,             V = (p+1)/p * n
///   AllGather,     ring: steps = p-1,           V = (p-1)/p * n      (n = total OUTPUT size)
///   ReduceScatter, ring: steps = p-1,           V = (p-1)/p * n      (n = total INPUT size)
///   AllToAllV,   direct: steps = 1,  V = max over ranks r of max(sum_{d!=r} M[r][d],
///                                                              sum_{s!=r} M[s][r])
///   SendRecv,    direct: steps = 1,             V = n
/// Sizes follow nccl-tests (NVIDIA/nccl-tests doc/PERFORMANCE.md): for AllGather and
/// ReduceScatter n is the whole array, p times the per-rank piece (recvcount or sendcount).
///
/// Derivations.
/// - Ring (Patarasuk and Yuan, JPDC 2009; nccl-tests PERFORMANCE.md): a reduce-scatter and an
///   all-gather of p-1 steps each, each step moving a 1/p piece over every port at once.
/// - Tree: NCCL's double binary tree, pipelined. Each tree carries half of the buffer; every rank
///   is interior (two children) in one tree and a leaf in the other, so it receives n (children,
///   reduce) + n/2 (parent, broadcast) + n/2 (leaf, broadcast) = 2n and sends as much; the pipe
///   fills down and up a tree of depth ceil(log2 p). NCCL's own model uses the same bandwidth
///   (algbw = busBw / 2 for Tree; NVIDIA/nccl src/graph/tuning.cc, hardware-specs.md S42).
/// - NVLS (NVLink SHARP): the switch reduces and multicasts. Each rank's n bytes are read once by
///   the switch (multimem.ld_reduce) and the rank receives its reduced 1/p shard (n/p); it then
///   multicasts that shard (multimem.st, n/p out) and receives all p shards (n in). Per port and
///   direction V = n + n/p, which tends to n/B for large p ("each rank sends n and receives n");
///   at p = 8 that is 1.125 n/B against ring's 1.75 n/B. NCCL's tuning model (tuning.cc, S42)
///   charges NVLS a single constant latency with no per-rank step term (hwLat NVLink NVLS
///   Simple, 25 us at master 5067397c; hardware-specs.md section 4) and derates its bandwidth by
///   nvlsEfficiency (0.85 Hopper, 0.74 Blackwell); we follow the single latency (steps = 1:
///   pass NVLS's own alpha) and leave efficiency to the caller's B.
/// - AllToAllV: every rank sends to and receives from all others at once; the hottest port in
///   its hotter direction bounds the time (the diagonal, a rank's data to itself, is a local
///   copy and crosses no port). This is a lower bound that a fluid max-min simulation reaches on
///   uniform traffic and may exceed on skewed traffic.
///
/// Conventions. A group of one rank, or zero bytes, costs nothing (no step is launched; NCCL
/// returns at once for count 0). Time is computed in doubles and rounded up to whole
/// picoseconds once: latency = steps * alpha is exact, transfer = ceil(V / B), and
/// time = latency + transfer exactly.

#include <cstdint>
#include <span>
#include <string_view>

#include "sim/core/units.hpp"

namespace moesim::hw {

/// The collectives of the StepPlan IR.
enum class CollectiveOp : std::uint8_t {
  kAllReduce,
  kAllGather,
  kReduceScatter,
  kAllToAllV,
  kSendRecv,
};

/// Collective algorithms. kDirect: every pair talks directly (AllToAllV, SendRecv).
enum class Algorithm : std::uint8_t {
  kRing,
  kTree,
  kNvls,
  kDirect,
};

/// Lower-case name of `op` ("allreduce", "allgather", "reducescatter", "alltoallv", "sendrecv").
std::string_view to_string(CollectiveOp op);
/// Lower-case name of `algorithm` ("ring", "tree", "nvls", "direct").
std::string_view to_string(Algorithm algorithm);

/// A non-blocking switched domain of `ranks` ports.
struct SwitchedDomain {
  int ranks = 0;             ///< p, the ranks in the group (>= 1).
  Bandwidth port_bandwidth;  ///< B, achievable bandwidth of each rank's port per direction (> 0).
  Duration step_latency{};   ///< alpha, latency of one algorithm step (>= 0).
};

/// Cost of one collective. time == latency + transfer exactly.
struct CollectiveCost {
  Duration time{};      ///< latency + transfer.
  Duration latency{};   ///< steps * alpha.
  Duration transfer{};  ///< busiest port bytes / B, rounded up to whole picoseconds.
  int steps = 0;        ///< number of alpha terms.
};

/// AllReduce of `size` bytes per rank by ring: 2(p-1) alpha + 2(p-1)/p size / B.
CollectiveCost all_reduce_ring(const SwitchedDomain& domain, Bytes size);
/// AllReduce of `size` bytes per rank by double binary tree: 2 ceil(log2 p) alpha + 2 size / B.
CollectiveCost all_reduce_tree(const SwitchedDomain& domain, Bytes size);
/// AllReduce of `size` bytes per rank by NVLink SHARP: alpha + (p+1)/p size / B.
CollectiveCost all_reduce_nvls(const SwitchedDomain& domain, Bytes size);
/// AllGather by ring; `total_size` is the gathered output, p times each rank's input:
/// (p-1) alpha + (p-1)/p total_size / B.
CollectiveCost all_gather_ring(const SwitchedDomain& domain, Bytes total_size);
/// ReduceScatter by ring; `total_size` is each rank's input, p times its output:
/// (p-1) alpha + (p-1)/p total_size / B.
CollectiveCost reduce_scatter_ring(const SwitchedDomain& domain, Bytes total_size);
/// AllToAllV of the p x p byte matrix `bytes`, row-major: bytes[s * p + d] goes from rank s to
/// rank d (entries >= 0; size p * p). alpha + (hottest port, hotter direction, diagonal
/// excluded) / B.
CollectiveCost all_to_all_v(const SwitchedDomain& domain, std::span<const Bytes> bytes);
/// The same from the bytes of the hottest port in its hotter direction (diagonal excluded),
/// when the caller has summed the matrix already.
CollectiveCost all_to_all_v_hottest(const SwitchedDomain& domain, Bytes hottest);
/// One point-to-point transfer of `size` bytes between two ranks of the domain: alpha + size / B.
CollectiveCost send_recv(const SwitchedDomain& domain, Bytes size);

/// Dispatches to the function above for (op, algorithm); `size` is that function's size
/// argument. Supported: AllReduce ring/tree/NVLS, AllGather ring, ReduceScatter ring, SendRecv
/// direct. Throws moesim::ConfigError for any other pair, and for AllToAllV (which needs its
/// matrix: call all_to_all_v).
CollectiveCost collective_cost(CollectiveOp op, Algorithm algorithm, const SwitchedDomain& domain,
                               Bytes size);

/// nccl-tests' algorithm bandwidth algbw = S / t (B/s); `time` > 0. S is the size nccl-tests
/// reports: the buffer per rank for AllReduce, the whole array for AllGather and ReduceScatter,
/// each rank's total send buffer for AllToAll, the message for SendRecv.
Bandwidth algorithm_bandwidth(Bytes size, Duration time);

/// nccl-tests' bus-bandwidth factor for `ranks` (n >= 1) ranks (doc/PERFORMANCE.md):
/// AllReduce 2(n-1)/n; AllGather, ReduceScatter, AllToAll(V) (n-1)/n; SendRecv 1 (as Broadcast
/// and Reduce). nccl-tests also lists (n-1)/(n+1) for in-network AllReduce; moesim reports the
/// algorithm-independent 2(n-1)/n, as nccl-tests does by default.
double bus_bandwidth_factor(CollectiveOp op, int ranks);

/// nccl-tests' bus bandwidth busbw = algbw * bus_bandwidth_factor(op, ranks) (B/s).
Bandwidth bus_bandwidth(CollectiveOp op, int ranks, Bytes size, Duration time);

}  // namespace moesim::hw
