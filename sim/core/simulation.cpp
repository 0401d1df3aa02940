#include "sim/core/simulation.hpp"

namespace moesim {

Simulation::Simulation(std::uint64_t seed) : seed_(seed) {}

std::uint64_t Simulation::run() {
  MOESIM_ASSERT(!queue_.running(), "run() called from inside an event handler");
  stop_requested_ = false;
  const std::uint64_t before = queue_.executed();
  while (!stop_requested_ && queue_.run_next(*this)) {
  }
  return queue_.executed() - before;
}

std::uint64_t Simulation::run_until(TimePoint bound) {
  MOESIM_ASSERT(!queue_.running(), "run_until() called from inside an event handler");
  MOESIM_ASSERT(bound >= now(), "run_until bound lies in the past");
  stop_requested_ = false;
  const std::uint64_t before = queue_.executed();
  while (!stop_requested_ && queue_.run_next(*this, bound)) {
  }
  if (!stop_requested_) queue_.advance_to(bound);
  return queue_.executed() - before;
}

Rng& Simulation::rng(std::uint64_t stream) {
  auto it = rngs_.find(stream);
  if (it == rngs_.end()) it = rngs_.emplace(stream, Rng(seed_, stream)).first;
  return it->second;
}

}  // namespace moesim
