#pragma once
/// \file
/// Simulation: one discrete-event simulation as a value. It owns its event queue and clock, its
/// random streams and its statistics; there are no globals, so independent simulations may run
/// side by side, on different threads, each with results fixed by its seed and its inputs.
///
/// Event order is that of EventQueue (sim/core/event_queue.hpp): by time, then Priority (lower
/// first), then first-in first-out. Handlers are callables void(Simulation&) whose captures fit
/// kEventHandlerCapacity bytes; they are stored inline, so scheduling does not allocate.

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/event_queue.hpp"
#include "sim/core/rng.hpp"
#include "sim/core/stats.hpp"
#include "sim/core/units.hpp"

namespace moesim {

/// A discrete-event simulation. Not thread-safe; movable while no handler runs, not copyable.
class Simulation {
 public:
  /// An empty simulation at time zero whose random streams derive from `seed`.
  explicit Simulation(std::uint64_t seed);

  /// The current simulated time: the time of the running or last event, or the bound of the last
  /// run_until() if later.
  TimePoint now() const { return queue_.now(); }
  /// The seed all random streams derive from.
  std::uint64_t seed() const { return seed_; }

  /// Schedules `handler` (void(Simulation&)) at absolute time `t` >= now() (asserted).
  template <class F>
  EventId schedule_at(TimePoint t, F&& handler, Priority priority = Priority::kNormal) {
    return queue_.push(t, std::forward<F>(handler), priority);
  }

  /// Schedules `handler` (void(Simulation&)) `delay` >= 0 (asserted) after now().
  template <class F>
  EventId schedule_after(Duration delay, F&& handler, Priority priority = Priority::kNormal) {
    MOESIM_ASSERT(delay >= Duration::zero(), "negative event delay");
    MOESIM_ASSERT(delay <= TimePoint::max() - now(), "event time overflows the clock");
    return queue_.push(now() + delay, std::forward<F>(handler), priority);
  }

  /// Cancels a pending event; false (a no-op) if it already ran, is running or was cancelled.
  bool cancel(EventId id) { return queue_.cancel(id); }

  /// Runs the next event, if any; returns whether one ran. Ignores stop().
  bool step() { return queue_.run_next(*this); }

  /// Runs events until none is pending or a handler calls stop(). Clears an earlier stop request
  /// on entry. Returns the number of events run.
  std::uint64_t run();

  /// Runs every event with time <= `bound` (events exactly at the bound included), in order, then
  /// moves the clock to `bound`; later events stay pending. If a handler calls stop(), returns
  /// after that handler, leaving the clock at its event. Requires bound >= now() (asserted).
  /// Clears an earlier stop request on entry. Returns the number of events run.
  std::uint64_t run_until(TimePoint bound);

  /// Asks the running run() or run_until() to return once the current handler finishes.
  void stop() { stop_requested_ = true; }
  /// True after stop() until the next run() or run_until().
  bool stop_requested() const { return stop_requested_; }

  /// Number of pending events.
  std::size_t pending_events() const { return queue_.size(); }
  /// Time of the next pending event, or std::nullopt.
  std::optional<TimePoint> next_event_time() { return queue_.next_time(); }
  /// Number of events run so far.
  std::uint64_t events_executed() const { return queue_.executed(); }

  /// The random stream with numeric id `stream`, created on first use as Rng(seed(), stream).
  /// The reference stays valid for the simulation's lifetime.
  Rng& rng(std::uint64_t stream);
  /// The random stream named `name`: rng(stream_id(name)).
  Rng& rng(std::string_view name) { return rng(stream_id(name)); }

  /// The statistics registry.
  StatsRegistry& stats() { return stats_; }
  /// The statistics registry, read-only.
  const StatsRegistry& stats() const { return stats_; }

 private:
  EventQueue<Simulation> queue_;
  std::uint64_t seed_;
  std::map<std::uint64_t, Rng> rngs_;
  StatsRegistry stats_;
  bool stop_requested_ = false;
};

}  // namespace moesim
