// Closed-form alpha-beta collective costs on a non-blocking switched domain:
//   time = steps * alpha + V / B,  V = bytes through the busiest port in its busiest direction.
// Equations, derivations and sources (nccl-tests doc/PERFORMANCE.md; NVIDIA/nccl
// src/graph/tuning.cc, hardware-specs.md S42) are in sim/hw/collective_model.hpp.

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/collective_model.hpp"

namespace moesim::hw {
namespace {

void validate(const SwitchedDomain& d, Bytes size) {
  if (d.ranks < 1) {
    throw ConfigError({}, "collective.ranks", "at least 1 rank", std::to_string(d.ranks));
  }
  const double b = d.port_bandwidth.base();
  if (!(std::isfinite(b) && b > 0.0)) {
    throw ConfigError({}, "collective.port_bandwidth", "a finite bandwidth > 0",
                      std::to_string(b) + " B/s");
  }
  if (d.step_latency < Duration::zero()) {
    throw ConfigError({}, "collective.step_latency", "a latency >= 0",
                      std::to_string(d.step_latency.count()) + " ps");
  }
  if (size < Bytes{0}) {
    throw ConfigError({}, "collective.size", "a size >= 0", std::to_string(size.base()) + " B");
  }
}

// steps * alpha + ceil(numerator * size / (denominator * B)); the ratio is kept as two integers
// so that the double arithmetic rounds as little as possible.
CollectiveCost cost(const SwitchedDomain& d, int steps, double numerator, double denominator,
                    Bytes size) {
  CollectiveCost c;
  c.steps = steps;
  c.latency = d.step_latency * steps;
  c.transfer = ceil_duration(numerator * in_bytes(size) / (denominator * d.port_bandwidth.base()));
  c.time = c.latency + c.transfer;
  return c;
}

bool trivial(const SwitchedDomain& d, Bytes size) { return d.ranks == 1 || size == Bytes{0}; }

}  // namespace

std::string_view to_string(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::kAllReduce: return "allreduce";
    case CollectiveOp::kAllGather: return "allgather";
    case CollectiveOp::kReduceScatter: return "reducescatter";
    case CollectiveOp::kAllToAllV: return "alltoallv";
    case CollectiveOp::kSendRecv: return "sendrecv";
  }
  MOESIM_ASSERT(false, "unknown CollectiveOp");
  return {};
}

std::string_view to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kRing: return "ring";
    case Algorithm::kTree: return "tree";
    case Algorithm::kNvls: return "nvls";
    case Algorithm::kDirect: return "direct";
  }
  MOESIM_ASSERT(false, "unknown Algorithm");
  return {};
}

CollectiveCost all_reduce_ring(const SwitchedDomain& d, Bytes size) {
  validate(d, size);
  if (trivial(d, size)) return {};
  const int p = d.ranks;
  return cost(d, 2 * (p - 1), 2.0 * (p - 1), p, size);
}

CollectiveCost all_reduce_tree(const SwitchedDomain& d, Bytes size) {
  validate(d, size);
  if (trivial(d, size)) return {};
  // ceil(log2 p): the bit width of p - 1.
  const int depth = static_cast<int>(std::bit_width(static_cast<unsigned>(d.ranks - 1)));
  return cost(d, 2 * depth, 2.0, 1.0, size);
}

CollectiveCost all_reduce_nvls(const SwitchedDomain& d, Bytes size) {
  validate(d, size);
  if (trivial(d, size)) return {};
  const int p = d.ranks;
  return cost(d, 1, p + 1.0, p, size);
}

CollectiveCost all_gather_ring(const SwitchedDomain& d, Bytes total_size) {
  validate(d, total_size);
  if (trivial(d, total_size)) return {};
  const int p = d.ranks;
  return cost(d, p - 1, p - 1.0, p, total_size);
}

CollectiveCost reduce_scatter_ring(const SwitchedDomain& d, Bytes total_size) {
  validate(d, total_size);
  if (trivial(d, total_size)) return {};
  const int p = d.ranks;
  return cost(d, p - 1, p - 1.0, p, total_size);
}

CollectiveCost all_to_all_v(const SwitchedDomain& d, std::span<const Bytes> bytes) {
  validate(d, Bytes{0});
  const auto p = static_cast<std::size_t>(d.ranks);
  MOESIM_ASSERT(bytes.size() == p * p, "AllToAllV matrix must hold ranks * ranks entries");
  // One row-major pass (the matrix is read in memory order): row sums are what each rank
  // sends, column sums what it receives, less the diagonal, which stays local. Branch-free so
  // that it vectorizes; negative entries are caught by the sums' assertion below only when
  // they make a sum negative, the callers (Collectives) reject them first.
  std::vector<std::int64_t> received(p, 0);
  std::int64_t hottest = 0;
  for (std::size_t r = 0; r < p; ++r) {
    const Bytes* row = bytes.data() + r * p;
    std::int64_t sent = 0;
    for (std::size_t k = 0; k < p; ++k) {
      const std::int64_t out = row[k].base();
      sent += out;
      received[k] += out;
    }
    const std::int64_t self = row[r].base();
    sent -= self;
    received[r] -= self;
    hottest = std::max(hottest, sent);
  }
  for (const std::int64_t in : received) {
    MOESIM_ASSERT(in >= 0, "AllToAllV byte counts must be >= 0");
    hottest = std::max(hottest, in);
  }
  return all_to_all_v_hottest(d, Bytes{hottest});
}

CollectiveCost all_to_all_v_hottest(const SwitchedDomain& d, Bytes hottest) {
  validate(d, hottest);
  if (hottest == Bytes{0}) return {};
  return cost(d, 1, 1.0, 1.0, hottest);
}

CollectiveCost send_recv(const SwitchedDomain& d, Bytes size) {
  validate(d, size);
  if (size == Bytes{0}) return {};
  return cost(d, 1, 1.0, 1.0, size);
}

CollectiveCost collective_cost(CollectiveOp op, Algorithm algorithm, const SwitchedDomain& domain,
                               Bytes size) {
  switch (op) {
    case CollectiveOp::kAllReduce:
      if (algorithm == Algorithm::kRing) return all_reduce_ring(domain, size);
      if (algorithm == Algorithm::kTree) return all_reduce_tree(domain, size);
      if (algorithm == Algorithm::kNvls) return all_reduce_nvls(domain, size);
      break;
    case CollectiveOp::kAllGather:
      if (algorithm == Algorithm::kRing) return all_gather_ring(domain, size);
      break;
    case CollectiveOp::kReduceScatter:
      if (algorithm == Algorithm::kRing) return reduce_scatter_ring(domain, size);
      break;
    case CollectiveOp::kSendRecv:
      if (algorithm == Algorithm::kDirect) return send_recv(domain, size);
      break;
    case CollectiveOp::kAllToAllV:
      throw ConfigError({}, "collective", "a size-only collective (AllToAllV needs its matrix)",
                        "alltoallv");
  }
  throw ConfigError({}, "collective.algorithm",
                    "an algorithm that moesim models for " + std::string{to_string(op)},
                    std::string{to_string(algorithm)});
}

Bandwidth algorithm_bandwidth(Bytes size, Duration time) {
  MOESIM_ASSERT(time > Duration::zero(), "algorithm bandwidth needs a time > 0");
  MOESIM_ASSERT(size >= Bytes{0}, "size must be >= 0");
  return bytes_per_second(in_bytes(size) / to_seconds(time));
}

double bus_bandwidth_factor(CollectiveOp op, int ranks) {
  MOESIM_ASSERT(ranks >= 1, "bus bandwidth needs at least 1 rank");
  const double n = ranks;
  switch (op) {
    case CollectiveOp::kAllReduce: return 2.0 * (n - 1.0) / n;
    case CollectiveOp::kAllGather:
    case CollectiveOp::kReduceScatter:
    case CollectiveOp::kAllToAllV: return (n - 1.0) / n;
    case CollectiveOp::kSendRecv: return 1.0;
  }
  MOESIM_ASSERT(false, "unknown CollectiveOp");
  return 0.0;
}

Bandwidth bus_bandwidth(CollectiveOp op, int ranks, Bytes size, Duration time) {
  return algorithm_bandwidth(size, time) * bus_bandwidth_factor(op, ranks);
}

}  // namespace moesim::hw
