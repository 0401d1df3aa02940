// Analytic tests of the flow-level network models on hand-built graphs: one flow, N equal flows,
// a fat pipe, a bottleneck shared by unequal routes, a late arrival, a half-duplex cable, and
// batches. Every expected time is derived in a comment; rates are chosen so that times are exact
// in picoseconds.

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "sim/core/simulation.hpp"
#include "sim/hw/network_model.hpp"
#include "sim/hw/topology.hpp"

namespace moesim::hw {
namespace {

LinkSpec link(double gbps, Duration latency, LinkPolicy policy = LinkPolicy::kSplitDuplex) {
  return LinkSpec{LinkKind::kCustom, gigabytes_per_second(gbps), gigabytes_per_second(gbps),
                  latency, policy};
}

// A star: `n` GPUs, each joined to one switch by a cable of `gbps` per direction.
Topology star(int n, double gbps, Duration latency, LinkPolicy policy = LinkPolicy::kSplitDuplex) {
  TopologyBuilder b("star");
  std::vector<VertexId> gpus;
  for (int i = 0; i < n; ++i) gpus.push_back(b.add_gpu("g" + std::to_string(i)));
  const VertexId sw = b.add_vertex(VertexKind::kNvSwitch, "sw");
  for (const VertexId g : gpus) b.add_link(g, sw, link(gbps, latency, policy));
  return b.seal();
}

// Arrival times (ps since start) of transfers, by start order.
struct Arrivals {
  std::vector<std::int64_t> at;
  void expect(std::size_t n) { at.assign(n, -1); }
};

TransferCallback note(Arrivals& a, std::size_t i) {
  return [&a, i](Simulation& s) { a.at[i] = s.now().time_since_epoch().count(); };
}

constexpr std::int64_t kPsPerSecond = 1'000'000'000'000;

TEST_CASE("one flow on one path takes its latency plus bytes over the bottleneck, exactly") {
  for (const NetworkImpl impl : {NetworkImpl::kMaxMin, NetworkImpl::kAlphaBeta}) {
    CAPTURE(to_string(impl));
    // Two GPUs on a switch, 100 GB/s and 1 us per hop: route latency 2 us.
    const Topology t = star(2, 100.0, microseconds(1));
    const auto model = make_network_model(impl, t);
    Simulation sim(1);
    Arrivals a;
    a.expect(1);
    model->transfer(sim, 0, 1, bytes(1'000'000'000), note(a, 0));
    sim.run();
    // 1e9 B / 1e11 B/s = 10 ms = 1e10 ps, + 2 us = 2e6 ps.
    CHECK(a.at[0] == 10'000'000'000 + 2'000'000);
    CHECK(model->active_transfers() == 0);
    // Usage: both hops carried the gigabyte and were busy 10 ms.
    const RouteView r = t.route(0, 1);
    for (const LinkId l : r.links) {
      CHECK(model->link_usage()[static_cast<std::size_t>(l)].bytes == doctest::Approx(1e9));
      CHECK(model->link_usage()[static_cast<std::size_t>(l)].busy == milliseconds(10));
    }
  }
}

TEST_CASE("N equal flows into one port get C/N each and end together") {
  // Four senders to GPU 0 through its 10 GB/s downlink: max-min gives each 2.5 GB/s, so 1 GB
  // each takes 1e9 / 2.5e9 = 0.4 s. Latency 0.
  const Topology t = star(5, 10.0, Duration::zero());
  const auto model = make_network_model(NetworkImpl::kMaxMin, t);
  Simulation sim(1);
  Arrivals a;
  a.expect(4);
  for (int s = 1; s <= 4; ++s) {
    model->transfer(sim, s, 0, bytes(1'000'000'000), note(a, static_cast<std::size_t>(s - 1)));
  }
  sim.run();
  for (const std::int64_t at : a.at) CHECK(at == 4 * kPsPerSecond / 10);

  // The same as a batch: one solve (all end at once) and the same makespan.
  FlowBatch batch;
  for (int s = 1; s <= 4; ++s) batch.add(t.route(s, 0).links, 1e9);
  BatchTiming timing;
  model->evaluate(batch, timing);
  CHECK(timing.makespan == milliseconds(400));
  CHECK(timing.solves == 1);
}

TEST_CASE("a fat pipe bounds each flow separately and does not share") {
  // As above but every cable is a fat pipe: each flow runs at the full 10 GB/s, 0.1 s.
  const Topology t = star(5, 10.0, Duration::zero(), LinkPolicy::kFatPipe);
  const auto model = make_network_model(NetworkImpl::kMaxMin, t);
  Simulation sim(1);
  Arrivals a;
  a.expect(4);
  for (int s = 1; s <= 4; ++s) {
    model->transfer(sim, s, 0, bytes(1'000'000'000), note(a, static_cast<std::size_t>(s - 1)));
  }
  sim.run();
  for (const std::int64_t at : a.at) CHECK(at == kPsPerSecond / 10);
}

TEST_CASE("a bottleneck shared by unequal routes: flows speed up as others leave") {
  // GPU x sends to y over link L1 (10 GB/s, x-sw) then sw-y (10 GB/s); GPU z's flow also enters
  // through L1's switch... Built as: x -- sw1 -- y with 10 GB/s cables, and z -- sw1 through a
  // 2 GB/s cable. Flows: A x->y 6 GB, B x->y 12 GB, C z->y 4 GB.
  // They share sw1->y (10 GB/s); C is also bound by z->sw1 (2 GB/s). Max-min: C = 2, A = B = 4.
  //   A ends at 6 / 4 = 1.5 s; then B gets 10 - 2 = 8 (B has 12 - 6 = 6 GB left).
  //   C ends at 4 / 2 = 2.0 s; B moved 8 x 0.5 = 4 GB since 1.5 s, 2 GB left, now at 10 GB/s.
  //   B ends at 2.0 + 0.2 = 2.2 s.
  TopologyBuilder b("bottleneck");
  const VertexId x = b.add_gpu("x");
  const VertexId y = b.add_gpu("y");
  const VertexId z = b.add_gpu("z");
  const VertexId sw = b.add_vertex(VertexKind::kNvSwitch, "sw1");
  b.add_link(x, sw, link(10.0, Duration::zero()));
  b.add_link(y, sw, link(10.0, Duration::zero()));
  b.add_link(z, sw, link(2.0, Duration::zero()));
  const Topology t = b.seal();
  const auto model = make_network_model(NetworkImpl::kMaxMin, t);
  Simulation sim(1);
  Arrivals a;
  a.expect(3);
  model->transfer(sim, 0, 1, bytes(6'000'000'000), note(a, 0));
  model->transfer(sim, 0, 1, bytes(12'000'000'000), note(a, 1));
  model->transfer(sim, 2, 1, bytes(4'000'000'000), note(a, 2));
  sim.run();
  CHECK(a.at[0] == 15 * kPsPerSecond / 10);
  CHECK(a.at[2] == 2 * kPsPerSecond);
  CHECK(a.at[1] == 22 * kPsPerSecond / 10);

  // The batch gives the same three times with three solves (three distinct completions).
  FlowBatch batch;
  batch.add(t.route(0, 1).links, 6e9);
  batch.add(t.route(0, 1).links, 12e9);
  batch.add(t.route(2, 1).links, 4e9);
  BatchTiming timing;
  model->evaluate(batch, timing);
  CHECK(timing.finish[0] == milliseconds(1500));
  CHECK(timing.finish[2] == milliseconds(2000));
  CHECK(timing.finish[1] == milliseconds(2200));
  CHECK(timing.solves == 3);
  CHECK(timing.makespan == milliseconds(2200));

  // alpha_beta sums the loads: sw1->y carries 22 GB at 10 GB/s = 2.2 s for A and B; C's worst
  // channel is also sw1->y (2.2 s > 4 / 2 = 2 s on z's cable).
  const auto ab = make_network_model(NetworkImpl::kAlphaBeta, t);
  ab->evaluate(batch, timing);
  CHECK(timing.finish[0] == milliseconds(2200));
  CHECK(timing.finish[2] == milliseconds(2200));
  CHECK(timing.makespan == milliseconds(2200));
}

TEST_CASE("a flow that starts later shares from its start and triggers one re-solve") {
  // One 1 GB/s path, zero latency. Flow 1: 2 GB at t = 0. Flow 2: 0.5 GB at t = 1 s.
  //   By 1 s flow 1 has moved 1 GB; both then run at 0.5 GB/s. Flow 2 ends at 1 + 0.5/0.5 = 2 s,
  //   flow 1 has 0.5 GB left and ends at 2 + 0.5 = 2.5 s.
  const Topology t = star(2, 1.0, Duration::zero());
  const auto model = make_network_model(NetworkImpl::kMaxMin, t);
  Simulation sim(1);
  Arrivals a;
  a.expect(2);
  model->transfer(sim, 0, 1, bytes(2'000'000'000), note(a, 0));
  sim.schedule_at(TimePoint{Duration{kPsPerSecond}},
                  [&](Simulation& s) { model->transfer(s, 0, 1, bytes(500'000'000), note(a, 1)); });
  sim.run();
  CHECK(a.at[1] == 2 * kPsPerSecond);
  CHECK(a.at[0] == 25 * kPsPerSecond / 10);
  // The link was busy from 0 to 2.5 s and carried 2.5 GB.
  const LinkId up = t.route(0, 1).links[0];
  CHECK(model->link_usage()[static_cast<std::size_t>(up)].busy == milliseconds(2500));
  CHECK(model->link_usage()[static_cast<std::size_t>(up)].bytes == doctest::Approx(2.5e9));
}

TEST_CASE("a half-duplex cable shares its capacity between the two directions") {
  // Two GPUs joined directly by one shared-duplex 10 GB/s cable; 1 GB each way.
  // Split duplex: each direction alone, 0.1 s. Shared duplex: 5 GB/s each, 0.2 s.
  for (const auto& [policy, expected] : {std::pair{LinkPolicy::kSplitDuplex, milliseconds(100)},
                                         std::pair{LinkPolicy::kSharedDuplex, milliseconds(200)}}) {
    TopologyBuilder b("pair");
    const VertexId g0 = b.add_gpu("g0");
    const VertexId g1 = b.add_gpu("g1");
    b.add_link(g0, g1, link(10.0, Duration::zero(), policy));
    const Topology t = b.seal();
    const auto model = make_network_model(NetworkImpl::kMaxMin, t);
    FlowBatch batch;
    batch.add(t.route(0, 1).links, 1e9);
    batch.add(t.route(1, 0).links, 1e9);
    BatchTiming timing;
    model->evaluate(batch, timing);
    CHECK(timing.makespan == expected);
  }
}

TEST_CASE("simultaneous starts are admitted by one re-solve, and zero-byte transfers only wait") {
  const Topology t = star(3, 10.0, microseconds(1));
  const auto model = make_network_model(NetworkImpl::kMaxMin, t);
  Simulation sim(1);
  Arrivals a;
  a.expect(3);
  model->transfer(sim, 0, 1, bytes(1'000'000'000), note(a, 0));
  model->transfer(sim, 2, 1, bytes(1'000'000'000), note(a, 1));
  model->transfer(sim, 0, 2, Bytes{0}, note(a, 2));
  CHECK(model->active_transfers() == 3);
  sim.run();
  // Flows 0 and 1 share GPU 1's downlink: 5 GB/s each, 0.2 s, plus 2 us of route latency.
  CHECK(a.at[0] == 200'000'000'000 + 2'000'000);
  CHECK(a.at[1] == a.at[0]);
  // Zero bytes: only the 2 us route latency.
  CHECK(a.at[2] == 2'000'000);
  // Events: one admission update, one completion update, three arrivals.
  CHECK(sim.events_executed() == 5);
}

TEST_CASE("alpha_beta ignores concurrency between independent transfers") {
  // The two transfers of the previous test, without sharing: 1e9 / 1e10 = 0.1 s + 2 us each.
  const Topology t = star(3, 10.0, microseconds(1));
  const auto model = make_network_model(NetworkImpl::kAlphaBeta, t);
  Simulation sim(1);
  Arrivals a;
  a.expect(2);
  model->transfer(sim, 0, 1, bytes(1'000'000'000), note(a, 0));
  model->transfer(sim, 2, 1, bytes(1'000'000'000), note(a, 1));
  sim.run();
  CHECK(a.at[0] == 100'000'000'000 + 2'000'000);
  CHECK(a.at[1] == a.at[0]);
}

TEST_CASE("batch flows pay their own latency after their last byte") {
  const Topology t = star(3, 10.0, Duration::zero());
  for (const NetworkImpl impl : {NetworkImpl::kMaxMin, NetworkImpl::kAlphaBeta}) {
    CAPTURE(to_string(impl));
    const auto model = make_network_model(impl, t);
    FlowBatch batch;
    batch.add(t.route(0, 1).links, 1e9, microseconds(7));  // alone on its path: 0.1 s + 7 us
    batch.add(t.route(2, 2).links, 1e9, microseconds(3));  // a local copy: 3 us
    BatchTiming timing;
    model->evaluate(batch, timing);
    CHECK(timing.finish[0] == milliseconds(100) + microseconds(7));
    CHECK(timing.finish[1] == microseconds(3));
    CHECK(timing.makespan == timing.finish[0]);
    model->reset_usage();
    for (const LinkUsage& u : model->link_usage()) CHECK(u.bytes == 0.0);
  }
}

}  // namespace
}  // namespace moesim::hw
