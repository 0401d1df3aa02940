/// \file
/// Discrete-event kernel throughput: the classic hold model (Vaucher and Duval 1975; Jones,
/// "An empirical comparison of priority-queue and event-set implementations", CACM 29(4), 1986).
/// N events are pending; each handler reschedules itself after an exponential delay, so the
/// pending set stays at N while the clock advances. Reported: items_per_second = events run per
/// second of CPU time on one core. Run with e.g. --benchmark_min_time=2 --benchmark_repetitions=5.
///
/// Measured 2026-11-27 on the 2-core AMD EPYC (Zen 3, KVM) development VM, Release build, while
/// other jobs loaded the machine (load average about 3), medians of 5 runs of 2 s:
///   BM_Hold/1000 17.4 M/s, BM_Hold/1000000 8.7 M/s,
///   BM_HoldPrecomputedDelays/1000 18.6 M/s, BM_HoldPrecomputedDelays/1000000 9.3 M/s,
///   BM_ExponentialDelay 195 M/s.
/// For scale, in the same conditions a bare std::priority_queue of 16-byte keys (no handlers)
/// ran the hold loop at 14.5 M/s and 3.0 M/s; the same radix queue on bare keys at 38 and 17 M/s.
/// At a million pending events the run is bound by the random access to each event's 64-byte
/// handler slot (64 MiB in all); prefetching the slots of upcoming events gives 2-3x there.

#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "sim/core/simulation.hpp"

namespace {

using moesim::Duration;
using moesim::Rng;
using moesim::Simulation;
using moesim::TimePoint;

/// Mean delay between an event and its successor (any positive value gives the same queue
/// behaviour; 1 us keeps delays in the picosecond range far from rounding).
constexpr Duration kMeanDelay = moesim::microseconds(1);
/// Events run per benchmark iteration, so the loop overhead is negligible.
constexpr int kBatch = 1024;

/// Hold-model event: reschedules itself after an exponential delay drawn from `rng`.
struct HoldEvent {
  Rng* rng;
  void operator()(Simulation& sim) const {
    sim.schedule_after(rng->exponential(kMeanDelay), *this);
  }
};

/// Hold-model event with delays from a precomputed ring, isolating the queue from the sampler.
struct RingHoldEvent {
  static constexpr std::size_t kRing = 4096;
  const std::array<Duration, kRing>* delays;
  std::uint32_t* cursor;
  void operator()(Simulation& sim) const {
    const Duration d = (*delays)[*cursor & (kRing - 1)];
    ++*cursor;
    sim.schedule_after(d, *this);
  }
};

/// Pre-fills `n` events at exponential times, then runs `n` more so the heap reaches the
/// steady-state shape of the hold model before timing starts.
template <class Event>
void prefill(Simulation& sim, Rng& rng, std::int64_t n, const Event& event) {
  for (std::int64_t i = 0; i < n; ++i) {
    sim.schedule_at(TimePoint{} + rng.exponential(kMeanDelay), event);
  }
  for (std::int64_t i = 0; i < n; ++i) sim.step();
}

void BM_Hold(benchmark::State& state) {
  Simulation sim(42);
  Rng& rng = sim.rng("hold");
  const HoldEvent event{&rng};
  prefill(sim, rng, state.range(0), event);
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) sim.step();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["pending"] = static_cast<double>(sim.pending_events());
}
BENCHMARK(BM_Hold)->Arg(1'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

void BM_HoldPrecomputedDelays(benchmark::State& state) {
  Simulation sim(42);
  Rng& rng = sim.rng("hold");
  std::array<Duration, RingHoldEvent::kRing> delays{};
  for (Duration& d : delays) d = rng.exponential(kMeanDelay);
  std::uint32_t cursor = 0;
  const RingHoldEvent event{&delays, &cursor};
  prefill(sim, rng, state.range(0), event);
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) sim.step();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["pending"] = static_cast<double>(sim.pending_events());
}
BENCHMARK(BM_HoldPrecomputedDelays)->Arg(1'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

/// Cost of one exponential delay draw (the sampler inside BM_Hold), for subtracting.
void BM_ExponentialDelay(benchmark::State& state) {
  Rng rng(42, 0);
  for (auto _ : state) benchmark::DoNotOptimize(rng.exponential(kMeanDelay));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExponentialDelay);

}  // namespace

BENCHMARK_MAIN();
