#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/hw/collective_model.hpp"
#include "sim/hw/max_min.hpp"

namespace moesim::hw {
namespace {

// The transfer term is ceil(V / B) in picoseconds, computed in doubles; a hand value computed in
// another order may differ by the last tick, and a sum of k rounded terms by k ticks.
bool within_ticks(Duration a, Duration b, std::int64_t ticks) {
  const auto d = (a - b).count();
  return d >= -ticks && d <= ticks;
}

bool within_one_tick(Duration a, Duration b) { return within_ticks(a, b, 1); }

// 8 ranks at 400 GB/s per direction, no latency: the worked example of the issue.
const SwitchedDomain kEight{8, gigabytes_per_second(400), Duration::zero()};

TEST_CASE("ring allreduce of 1 GiB on 8 ranks takes 2*7/8 of 1 GiB over B") {
  const CollectiveCost c = all_reduce_ring(kEight, gibibytes(1));
  // 2 (p-1)/p n / B = 1.75 * 2^30 B / 4e11 B/s = 4.69762048e-3 s = 4,697,620,480 ps.
  CHECK(within_one_tick(c.transfer, picoseconds(4'697'620'480)));
  CHECK(c.steps == 14);  // 2 (p - 1)
  CHECK(c.latency == Duration::zero());
  CHECK(c.time == c.latency + c.transfer);
}

TEST_CASE("ring allreduce pays one step latency per ring step") {
  // NCCL's ring Simple NVLink step latency, 3.4 us (hwLat, tuning.cc; hardware-specs.md S42).
  SwitchedDomain d = kEight;
  d.step_latency = nanoseconds(3400);
  const CollectiveCost c = all_reduce_ring(d, gibibytes(1));
  // 14 steps * 3.4 us = 47.6 us, exact; the transfer is unchanged.
  CHECK(c.latency == nanoseconds(47'600));
  CHECK(within_one_tick(c.transfer, picoseconds(4'697'620'480)));
  CHECK(c.time == c.latency + c.transfer);
}

TEST_CASE("tree allreduce moves 2n per port over 2 ceil(log2 p) steps") {
  SwitchedDomain d = kEight;
  d.step_latency = microseconds(1);
  const CollectiveCost c = all_reduce_tree(d, gibibytes(1));
  // 2 n / B = 2 * 2^30 / 4e11 s = 5.36870912e-3 s; depth log2 8 = 3, so 6 steps of 1 us.
  CHECK(within_one_tick(c.transfer, picoseconds(5'368'709'120)));
  CHECK(c.steps == 6);
  CHECK(c.latency == microseconds(6));
  // Depth is rounded up: 9 ranks need a tree of depth 4 (8 steps), 2 ranks depth 1 (2 steps).
  d.ranks = 9;
  CHECK(all_reduce_tree(d, gibibytes(1)).steps == 8);
  d.ranks = 2;
  CHECK(all_reduce_tree(d, gibibytes(1)).steps == 2);
}

TEST_CASE("NVLS allreduce moves (p+1)/p n per port in one step") {
  SwitchedDomain d = kEight;
  // NCCL's NVLS Simple latency, 25 us (tuning.cc at master 5067397c; hardware-specs.md S42).
  d.step_latency = microseconds(25);
  const CollectiveCost c = all_reduce_nvls(d, gibibytes(1));
  // (p+1)/p n / B = 9/8 * 2^30 / 4e11 s = 3.01989888e-3 s; one step of 25 us.
  CHECK(within_one_tick(c.transfer, picoseconds(3'019'898'880)));
  CHECK(c.steps == 1);
  CHECK(c.latency == microseconds(25));
  // The switch reduction beats the ring's 2(p-1)/p = 1.75 n / B on bandwidth.
  CHECK(c.transfer < all_reduce_ring(kEight, gibibytes(1)).transfer);
}

TEST_CASE("ring allgather and reducescatter move (p-1)/p of the whole array") {
  // n is the whole array (nccl-tests convention): (p-1)/p n / B = 7/8 * 2^30 / 4e11 s
  // = 2.34881024e-3 s; p - 1 = 7 steps.
  const CollectiveCost ag = all_gather_ring(kEight, gibibytes(1));
  const CollectiveCost rs = reduce_scatter_ring(kEight, gibibytes(1));
  CHECK(within_one_tick(ag.transfer, picoseconds(2'348'810'240)));
  CHECK(ag.steps == 7);
  CHECK(rs.time == ag.time);
  CHECK(rs.steps == 7);
}

TEST_CASE("sendrecv takes one latency plus size over B") {
  SwitchedDomain d = kEight;
  d.step_latency = microseconds(2);
  // 1e6 B / 4e11 B/s = 2.5 us, plus 2 us.
  const CollectiveCost c = send_recv(d, bytes(1'000'000));
  CHECK(c.transfer == nanoseconds(2500));
  CHECK(c.time == nanoseconds(4500));
}

TEST_CASE("uniform alltoallv takes (p-1)/p of each rank's volume over B") {
  // Each rank sends V = 8 MiB, 1 MiB to each of the 8 ranks, itself included. The diagonal is a
  // local copy, so each port sends and receives 7 MiB = (p-1)/p V:
  // 7 * 2^20 / 4e11 s = 18.350080 us.
  constexpr int p = 8;
  std::vector<Bytes> m(p * p, mebibytes(1));
  SwitchedDomain d = kEight;
  d.step_latency = microseconds(1);
  const CollectiveCost c = all_to_all_v(d, m);
  CHECK(within_one_tick(c.transfer, picoseconds(18'350'080)));
  CHECK(c.steps == 1);
  CHECK(c.time == c.latency + c.transfer);
}

TEST_CASE("imbalanced alltoallv is bounded by its hottest port") {
  // 1 MiB between every pair, except that every rank sends 10 MiB to rank 0 (a hot expert).
  // Rank 0 receives 7 * 10 = 70 MiB; a rank r != 0 sends 10 + 6 * 1 = 16 MiB and receives 7 MiB;
  // rank 0 sends 7 MiB. The hottest port is rank 0's receive side: 70 * 2^20 / 4e11 s.
  constexpr int p = 8;
  std::vector<Bytes> m(p * p, mebibytes(1));
  for (int s = 0; s < p; ++s) m[static_cast<std::size_t>(s * p)] = mebibytes(10);
  const CollectiveCost c = all_to_all_v(kEight, m);
  CHECK(within_ticks(c.transfer, picoseconds(183'500'800), 1));
  // Every port's own load (off-diagonal, either direction) over B fits within that time.
  for (int r = 0; r < p; ++r) {
    Bytes sent{0};
    Bytes received{0};
    for (int k = 0; k < p; ++k) {
      if (k == r) continue;
      sent += m[static_cast<std::size_t>(r * p + k)];
      received += m[static_cast<std::size_t>(k * p + r)];
    }
    CHECK(sent / kEight.port_bandwidth <= c.transfer);
    CHECK(received / kEight.port_bandwidth <= c.transfer);
  }
}

TEST_CASE("an alltoallv of diagonal entries only costs nothing") {
  constexpr int p = 4;
  std::vector<Bytes> m(p * p, bytes(0));
  for (int r = 0; r < p; ++r) m[static_cast<std::size_t>(r * p + r)] = mebibytes(5);
  SwitchedDomain d{p, gigabytes_per_second(100), microseconds(1)};
  CHECK(all_to_all_v(d, m).time == Duration::zero());
}

TEST_CASE("a single rank or zero bytes costs nothing") {
  const SwitchedDomain one{1, gigabytes_per_second(100), microseconds(5)};
  CHECK(all_reduce_ring(one, gibibytes(1)).time == Duration::zero());
  CHECK(all_reduce_tree(one, gibibytes(1)).time == Duration::zero());
  CHECK(all_reduce_nvls(one, gibibytes(1)).time == Duration::zero());
  CHECK(all_gather_ring(one, gibibytes(1)).time == Duration::zero());
  CHECK(all_to_all_v(one, std::array{gibibytes(1)}).time == Duration::zero());
  SwitchedDomain d = kEight;
  d.step_latency = microseconds(5);
  CHECK(all_reduce_ring(d, bytes(0)).time == Duration::zero());
  CHECK(send_recv(d, bytes(0)).time == Duration::zero());
}

TEST_CASE("collective_cost dispatches and rejects pairs moesim does not model") {
  const Bytes n = mebibytes(64);
  CHECK(collective_cost(CollectiveOp::kAllReduce, Algorithm::kRing, kEight, n).time ==
        all_reduce_ring(kEight, n).time);
  CHECK(collective_cost(CollectiveOp::kAllReduce, Algorithm::kTree, kEight, n).time ==
        all_reduce_tree(kEight, n).time);
  CHECK(collective_cost(CollectiveOp::kAllReduce, Algorithm::kNvls, kEight, n).time ==
        all_reduce_nvls(kEight, n).time);
  CHECK(collective_cost(CollectiveOp::kAllGather, Algorithm::kRing, kEight, n).time ==
        all_gather_ring(kEight, n).time);
  CHECK(collective_cost(CollectiveOp::kReduceScatter, Algorithm::kRing, kEight, n).time ==
        reduce_scatter_ring(kEight, n).time);
  CHECK(collective_cost(CollectiveOp::kSendRecv, Algorithm::kDirect, kEight, n).time ==
        send_recv(kEight, n).time);
  CHECK_THROWS_AS(collective_cost(CollectiveOp::kAllGather, Algorithm::kTree, kEight, n),
                  ConfigError);
  CHECK_THROWS_AS(collective_cost(CollectiveOp::kAllToAllV, Algorithm::kDirect, kEight, n),
                  ConfigError);
}

TEST_CASE("invalid domains are rejected as configuration errors") {
  CHECK_THROWS_AS(all_reduce_ring({0, gigabytes_per_second(1), Duration::zero()}, bytes(1)),
                  ConfigError);
  CHECK_THROWS_AS(all_reduce_ring({8, gigabytes_per_second(0), Duration::zero()}, bytes(1)),
                  ConfigError);
  CHECK_THROWS_AS(all_reduce_ring({8, gigabytes_per_second(1), picoseconds(-1)}, bytes(1)),
                  ConfigError);
  CHECK_THROWS_AS(all_reduce_ring(kEight, bytes(-1)), ConfigError);
}

TEST_CASE("bus bandwidth factors are nccl-tests' definitions") {
  // NVIDIA/nccl-tests doc/PERFORMANCE.md: AllReduce 2(n-1)/n, AllGather, ReduceScatter and
  // AlltoAll (n-1)/n, point-to-point 1. For n = 8: 14/8, 7/8, 1.
  CHECK(bus_bandwidth_factor(CollectiveOp::kAllReduce, 8) == doctest::Approx(1.75));
  CHECK(bus_bandwidth_factor(CollectiveOp::kAllGather, 8) == doctest::Approx(0.875));
  CHECK(bus_bandwidth_factor(CollectiveOp::kReduceScatter, 8) == doctest::Approx(0.875));
  CHECK(bus_bandwidth_factor(CollectiveOp::kAllToAllV, 8) == doctest::Approx(0.875));
  CHECK(bus_bandwidth_factor(CollectiveOp::kSendRecv, 8) == doctest::Approx(1.0));
  // algbw = S / t: 1 GiB in 1 ms is 1.073741824e12 B/s; busbw for an 8-rank allreduce is 1.75x.
  CHECK(algorithm_bandwidth(gibibytes(1), milliseconds(1)).base() ==
        doctest::Approx(1.073741824e12));
  CHECK(bus_bandwidth(CollectiveOp::kAllReduce, 8, gibibytes(1), milliseconds(1)).base() ==
        doctest::Approx(1.75 * 1.073741824e12));
}

TEST_CASE("the bus bandwidth of a latency-free ring collective is the port bandwidth") {
  // busbw was defined so that an optimal algorithm reads B whatever the rank count; the ring
  // cost model is that optimum. Equality up to the 1 ps rounding of the time.
  for (const int p : {2, 3, 8, 72}) {
    CAPTURE(p);
    const SwitchedDomain d{p, gigabytes_per_second(370), Duration::zero()};
    const Bytes n = gibibytes(1);
    const auto busbw = [&](CollectiveOp op, Duration t) {
      return in_gigabytes_per_second(bus_bandwidth(op, p, n, t));
    };
    const doctest::Approx b = doctest::Approx(370.0).epsilon(1e-9);
    CHECK(busbw(CollectiveOp::kAllReduce, all_reduce_ring(d, n).time) == b);
    CHECK(busbw(CollectiveOp::kAllGather, all_gather_ring(d, n).time) == b);
    CHECK(busbw(CollectiveOp::kReduceScatter, reduce_scatter_ring(d, n).time) == b);
    // AlltoAll: S is each rank's send buffer, n / p to every rank.
    std::vector<Bytes> m(static_cast<std::size_t>(p * p), Bytes{n.base() / p});
    const Bytes sent = Bytes{n.base() / p * p};
    CHECK(in_gigabytes_per_second(
              bus_bandwidth(CollectiveOp::kAllToAllV, p, sent, all_to_all_v(d, m).time)) == b);
  }
}

// Completion time of flows moving `bytes` each at the max-min rates on a star: each rank has an
// uplink (index 2r) and a downlink (index 2r+1) to a non-blocking switch.
Duration star_time(int p, Bandwidth b, const std::vector<std::array<int, 2>>& pairs, Bytes bytes) {
  MaxMinProblem star;
  for (int r = 0; r < p; ++r) {
    star.add_link(b);
    star.add_link(b);
  }
  for (const auto& [src, dst] : pairs) star.add_flow(std::array{2 * src, 2 * dst + 1});
  Duration slowest = Duration::zero();
  for (const Bandwidth rate : solve_max_min(star)) slowest = std::max(slowest, bytes / rate);
  return slowest;
}

TEST_CASE("max-min sharing on a star agrees with the closed forms on symmetric collectives") {
  constexpr int p = 8;
  SUBCASE("uniform alltoallv") {
    // p(p-1) flows of V/p bytes; every uplink and downlink carries p-1 of them, so each gets
    // B/(p-1) and lasts (V/p)(p-1)/B = (p-1)/p V/B, the closed form.
    std::vector<std::array<int, 2>> pairs;
    for (int s = 0; s < p; ++s) {
      for (int t = 0; t < p; ++t) {
        if (s != t) pairs.push_back({s, t});
      }
    }
    std::vector<Bytes> m(p * p, mebibytes(1));
    CHECK(within_one_tick(star_time(p, kEight.port_bandwidth, pairs, mebibytes(1)),
                          all_to_all_v(kEight, m).transfer));
  }
  SUBCASE("ring allreduce") {
    // Each of the 2(p-1) ring steps is p flows r -> r+1 of n/p bytes, one per uplink and per
    // downlink, each at B: 2(p-1) * (n/p)/B = 2(p-1)/p n/B, the closed form.
    std::vector<std::array<int, 2>> ring;
    for (int r = 0; r < p; ++r) ring.push_back({r, (r + 1) % p});
    // n = 64 MiB, 8 MiB per step; 14 steps each rounded up, so up to 14 ticks apart.
    const Duration step = star_time(p, kEight.port_bandwidth, ring, mebibytes(8));
    CHECK(within_ticks(step * (2 * (p - 1)), all_reduce_ring(kEight, mebibytes(64)).transfer,
                       2 * (p - 1)));
  }
}

}  // namespace
}  // namespace moesim::hw
