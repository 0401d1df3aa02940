#include "sim/core/simulation.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "sim/core/error.hpp"

using namespace moesim;

namespace {

TimePoint at(Duration d) { return TimePoint{} + d; }

/// One trace line: the time of an event and what happened.
struct TraceLine {
  std::int64_t time_ps;
  int what;
  std::uint64_t value;
  friend bool operator==(const TraceLine&, const TraceLine&) = default;
};

/// A single-server queue (M/M/1, arrival rate 0.8 per us, service rate 1 per us) driven by two
/// random streams, with statistics; returns its full trace and final statistics.
struct QueueModel {
  std::vector<TraceLine> trace;
  std::uint64_t in_system = 0;
  std::uint64_t next_job = 0;

  void arrive(Simulation& sim) {
    trace.push_back({sim.now().time_since_epoch().count(), 0, next_job++});
    sim.stats().counter("arrivals").add();
    ++in_system;
    sim.stats().time_weighted("in_system").set(sim.now(), static_cast<double>(in_system));
    if (in_system == 1) start_service(sim);
    if (next_job < 2'000) {
      sim.schedule_after(sim.rng("arrivals").exponential(nanoseconds(1250)),
                         [this](Simulation& s) { arrive(s); });
    }
  }
  void start_service(Simulation& sim) {
    const Duration service = sim.rng("service").exponential(nanoseconds(1000));
    sim.stats().samples("service_ns").add(to_seconds(service) * 1e9);
    sim.schedule_after(
        service, [this](Simulation& s) { depart(s); }, Priority::kHigh);
  }
  void depart(Simulation& sim) {
    trace.push_back({sim.now().time_since_epoch().count(), 1, in_system});
    --in_system;
    sim.stats().time_weighted("in_system").set(sim.now(), static_cast<double>(in_system));
    if (in_system > 0) start_service(sim);
  }
};

struct RunResult {
  std::vector<TraceLine> trace;
  double mean_in_system = 0.0;
  double service_p90 = 0.0;
  std::int64_t end_ps = 0;
};

RunResult run_queue_model(std::uint64_t seed) {
  Simulation sim(seed);
  QueueModel model;
  sim.schedule_at(TimePoint{}, [&model](Simulation& s) { model.arrive(s); });
  sim.run();
  RunResult r;
  r.trace = model.trace;
  r.mean_in_system = sim.stats().time_weighted("in_system").average(sim.now());
  r.service_p90 = sim.stats().samples("service_ns").p90();
  r.end_ps = sim.now().time_since_epoch().count();
  return r;
}

}  // namespace

TEST_CASE("handlers see the clock at their own event time") {
  Simulation sim(1);
  std::vector<std::int64_t> seen;
  sim.schedule_after(nanoseconds(5), [&](Simulation& s) {
    seen.push_back(s.now().time_since_epoch().count());
    // Relative scheduling starts from the handler's time: 5 ns + 2 ns = 7 ns = 7000 ps.
    s.schedule_after(nanoseconds(2),
                     [&](Simulation& t) { seen.push_back(t.now().time_since_epoch().count()); });
  });
  CHECK(sim.run() == 2);
  CHECK(seen == std::vector<std::int64_t>{5'000, 7'000});
  CHECK(sim.events_executed() == 2);
  CHECK(sim.pending_events() == 0);
}

TEST_CASE("run_until runs events up to and including the bound and leaves later ones") {
  Simulation sim(1);
  std::vector<int> ran;
  for (int i = 1; i <= 5; ++i) {
    sim.schedule_at(at(microseconds(i)), [&ran, i](Simulation&) { ran.push_back(i); });
  }
  // Events at 1, 2 and 3 us are <= the 3 us bound; 4 and 5 us stay pending.
  CHECK(sim.run_until(at(microseconds(3))) == 3);
  CHECK(ran == std::vector<int>{1, 2, 3});
  CHECK(sim.now() == at(microseconds(3)));
  CHECK(sim.pending_events() == 2);
  // With nothing before the bound, the clock still advances to it.
  CHECK(sim.run_until(at(microseconds(3) + nanoseconds(500))) == 0);
  CHECK(sim.now() == at(nanoseconds(3'500)));
  CHECK(sim.run() == 2);
  CHECK(ran == std::vector<int>{1, 2, 3, 4, 5});
  CHECK_THROWS_AS(sim.run_until(at(microseconds(1))), InvariantError);  // bound in the past
}

TEST_CASE("stop returns from run after the current handler and run resumes") {
  Simulation sim(1);
  std::vector<int> ran;
  for (int i = 1; i <= 4; ++i) {
    sim.schedule_at(at(nanoseconds(i)), [&ran, i](Simulation& s) {
      ran.push_back(i);
      if (i == 2) s.stop();
    });
  }
  CHECK(sim.run() == 2);
  CHECK(sim.stop_requested());
  CHECK(sim.now() == at(nanoseconds(2)));
  CHECK(sim.pending_events() == 2);
  CHECK(sim.run() == 2);  // a new run clears the request
  CHECK(ran == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("stop inside run_until leaves the clock at the stopping event") {
  Simulation sim(1);
  sim.schedule_at(at(nanoseconds(1)), [](Simulation& s) { s.stop(); });
  sim.schedule_at(at(nanoseconds(2)), [](Simulation&) {});
  CHECK(sim.run_until(at(nanoseconds(10))) == 1);
  CHECK(sim.now() == at(nanoseconds(1)));
  CHECK(sim.pending_events() == 1);
}

TEST_CASE("step runs exactly one event and cancel works through the simulation") {
  Simulation sim(1);
  int count = 0;
  const EventId a = sim.schedule_after(nanoseconds(1), [&](Simulation&) { ++count; });
  const EventId b = sim.schedule_after(nanoseconds(2), [&](Simulation&) { count += 10; });
  CHECK(sim.next_event_time() == at(nanoseconds(1)));
  CHECK(sim.cancel(b));
  CHECK(sim.step());
  CHECK_FALSE(sim.step());
  CHECK(count == 1);
  CHECK_FALSE(sim.cancel(a));
}

TEST_CASE("negative delays and past times are rejected") {
  Simulation sim(1);
  CHECK_THROWS_AS(sim.schedule_after(Duration{-1}, [](Simulation&) {}), InvariantError);
  sim.schedule_at(at(nanoseconds(5)), [](Simulation&) {});
  sim.run();
  CHECK_THROWS_AS(sim.schedule_at(at(nanoseconds(4)), [](Simulation&) {}), InvariantError);
  CHECK_THROWS_AS(sim.schedule_after(Duration::max(), [](Simulation&) {}), InvariantError);
}

TEST_CASE("random streams are per simulation, stable and derived from the seed") {
  Simulation sim(99);
  Rng& a = sim.rng("arrivals");
  CHECK(&a == &sim.rng("arrivals"));  // same stream object on every call
  CHECK(&a == &sim.rng(stream_id("arrivals")));
  Rng expected(99, stream_id("arrivals"));
  for (int i = 0; i < 10; ++i) CHECK(a() == expected());
  Simulation other(99);
  Rng fresh(99, stream_id("arrivals"));
  CHECK(other.rng("arrivals")() == fresh());  // unaffected by draws in `sim`
}

TEST_CASE("one seed gives one trace and another seed a different one") {
  const RunResult a = run_queue_model(7);
  const RunResult b = run_queue_model(7);
  const RunResult c = run_queue_model(8);
  REQUIRE(a.trace.size() == 4'000);  // 2000 arrivals and 2000 departures
  CHECK(a.trace == b.trace);
  CHECK(a.mean_in_system == b.mean_in_system);
  CHECK_FALSE(a.trace == c.trace);
}

TEST_CASE("two simulations on two threads give identical traces") {
  RunResult on_thread_1;
  RunResult on_thread_2;
  std::thread t1([&] { on_thread_1 = run_queue_model(2024); });
  std::thread t2([&] { on_thread_2 = run_queue_model(2024); });
  t1.join();
  t2.join();
  const RunResult serial = run_queue_model(2024);
  REQUIRE(on_thread_1.trace.size() == 4'000);
  CHECK(on_thread_1.trace == on_thread_2.trace);
  CHECK(on_thread_1.trace == serial.trace);
  CHECK(on_thread_1.mean_in_system == on_thread_2.mean_in_system);
  CHECK(on_thread_1.service_p90 == on_thread_2.service_p90);
  CHECK(on_thread_1.end_ps == serial.end_ps);
}

TEST_CASE("the M/M/1 model's mean number in system is near rho / (1 - rho)") {
  // rho = lambda / mu = 0.8; the stationary mean number in system is rho / (1 - rho) = 4.
  // Over 2000 jobs the time average has a large standard error (strong autocorrelation near
  // saturation: the relaxation time is about 1/(mu (1 - sqrt(rho))^2) = 90 us against a 2.5 ms
  // run), so this sanity check only asks for the right order of magnitude: within [1, 12].
  const RunResult r = run_queue_model(11);
  CHECK(r.mean_in_system > 1.0);
  CHECK(r.mean_in_system < 12.0);
}
