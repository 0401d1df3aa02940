// The engine's scheduling policies (SchedulingConfig): how requests reach attention-DP ranks,
// TensorRT-LLM's attention-DP balance, the prefill cadence, and the per-step balance and
// context counters they are judged by.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "serve_test_util.hpp"
#include "sim/serve/engine.hpp"

namespace moesim::serve {
namespace {

using test::Arrival;
using test::Harness;
using test::RecordingModel;

// The model is fixed 1 ms + 10 us per new token of the busiest rank: a prefill of 100 tokens
// takes 2 ms, a decode step 1.01 ms.

/// A pool of one instance with `ranks` attention-DP ranks, budgets far from binding.
PoolConfig dp_pool(std::int32_t ranks) {
  PoolConfig p = test::roomy_pool();
  p.attention_dp = ranks;
  p.gpus_per_instance = ranks;
  return p;
}

/// The index of the first priced batch in which request `id` prefills, and its rank; -1 if
/// none.
std::pair<std::int32_t, std::int32_t> first_prefill(const RecordingModel& m, std::int64_t id) {
  for (std::size_t i = 0; i < m.batches.size(); ++i) {
    for (const SequenceWork& w : m.batches[i]) {
      if (w.request_id == id && w.phase == Phase::kPrefill) {
        return {static_cast<std::int32_t>(i), w.dp_rank};
      }
    }
  }
  return {-1, -1};
}

/// Runs `arrivals` on `config` and returns the recording model's batches.
RecordingModel run(const EngineConfig& config, const std::vector<Arrival>& arrivals) {
  RecordingModel model(test::simple_params());
  Harness h(config, {&model, nullptr, nullptr}, static_cast<std::int64_t>(arrivals.size()), false,
            test::Decodes::kListed);
  h.run(arrivals);
  return model;
}

}  // namespace

TEST_CASE("least-loaded routing fills the emptier rank; round robin takes ranks in turn") {
  // A decodes long on rank 0; B (one output token) leaves rank 1 after its prefill; C comes
  // after B is gone.
  const std::vector<Arrival> arrivals = {
      {Duration::zero(), 100, 50}, {Duration::zero(), 100, 1}, {milliseconds(10), 100, 5}};
  EngineConfig c = test::aggregated(dp_pool(2));
  CHECK(first_prefill(run(c, arrivals), 2).second == 1);  // the idle rank
  c.scheduling.dp_routing = SchedulingConfig::DpRouting::kRoundRobin;
  CHECK(first_prefill(run(c, arrivals), 2).second == 0);  // third request: rank 0 again
}

TEST_CASE("attention-DP balance holds context on one rank until the timeout") {
  // A and B prefill together in batch 0, then decode; C reaches rank 0 alone at 5 ms, during
  // batch 3 (4.02 .. 5.03 ms).
  const std::vector<Arrival> arrivals = {
      {Duration::zero(), 100, 200}, {Duration::zero(), 100, 200}, {milliseconds(5), 100, 5}};
  EngineConfig c = test::aggregated(dp_pool(2));
  CHECK(first_prefill(run(c, arrivals), 2) == std::pair{4, 0});
  // TensorRT-LLM's counter runs whenever not every rank has context: 1, 2, 3 (released, with
  // nothing to run) over batches 1-3, then 1, 2 (held) and 3 (released) over batches 4-6.
  c.scheduling.adp_balance = true;
  c.scheduling.timeout_iters = 3;
  CHECK(first_prefill(run(c, arrivals), 2) == std::pair{6, 0});
}

TEST_CASE("attention-DP balance gathers context for batching_wait_iters steps") {
  // C and D arrive together at 5 ms, one per rank: every rank has context and decodes.
  const std::vector<Arrival> arrivals = {{Duration::zero(), 100, 200},
                                         {Duration::zero(), 100, 200},
                                         {milliseconds(5), 100, 5},
                                         {milliseconds(5), 100, 5}};
  EngineConfig c = test::aggregated(dp_pool(2));
  CHECK(first_prefill(run(c, arrivals), 2).first == 4);
  c.scheduling.adp_balance = true;
  c.scheduling.timeout_iters = 50;
  c.scheduling.batching_wait_iters = 2;
  const RecordingModel m = run(c, arrivals);
  CHECK(first_prefill(m, 2) == std::pair{6, 0});
  CHECK(first_prefill(m, 3) == std::pair{6, 1});
}

TEST_CASE("held context never stalls an instance with nothing else to run") {
  // One request on one of two ranks: no rank decodes, so the balance lets it run at once.
  EngineConfig c = test::aggregated(dp_pool(2));
  c.scheduling.adp_balance = true;
  c.scheduling.timeout_iters = 1000;
  c.scheduling.prefill_interval = 1000;
  RecordingModel model(test::simple_params());
  Harness h(c, {&model, nullptr, nullptr}, 1);
  h.run({{Duration::zero(), 100, 3}});
  CHECK(h.req(0).completed);
  CHECK(h.req(0).first_token == TimePoint{} + milliseconds(2));
}

TEST_CASE("a prefill interval admits new prompts every n steps while decodes run") {
  // A is admitted in batch 0; B arrives at 2.5 ms (during batch 1).
  const std::vector<Arrival> arrivals = {{Duration::zero(), 100, 200},
                                         {microseconds(2500), 100, 5}};
  EngineConfig c = test::aggregated(test::roomy_pool());
  CHECK(first_prefill(run(c, arrivals), 1).first == 2);
  c.scheduling.prefill_interval = 4;
  CHECK(first_prefill(run(c, arrivals), 1).first == 4);
}

TEST_CASE("without mixed batches a step prefills or decodes, never both") {
  // A decodes from batch 1; B arrives at 2.5 ms (during batch 1), C at 10 ms.
  const std::vector<Arrival> arrivals = {
      {Duration::zero(), 100, 50}, {microseconds(2500), 100, 5}, {milliseconds(10), 100, 5}};
  EngineConfig c = test::aggregated(test::roomy_pool());
  auto mixed_steps = [](const RecordingModel& m) {
    int mixed = 0;
    for (const auto& batch : m.batches) {
      bool prefill = false;
      bool decode = false;
      for (const SequenceWork& w : batch) {
        prefill = prefill || w.phase == Phase::kPrefill;
        decode = decode || w.phase == Phase::kDecode;
      }
      mixed += prefill && decode ? 1 : 0;
    }
    return mixed;
  };
  const RecordingModel together = run(c, arrivals);
  CHECK(mixed_steps(together) == 2);  // B's and C's prompts ride along with A's decodes
  c.scheduling.mixed_batches = false;
  const RecordingModel apart = run(c, arrivals);
  CHECK(mixed_steps(apart) == 0);
  // B prefills in batch 2 alone (A's decode waits a step), then both decode.
  REQUIRE(apart.batches.size() > 3);
  CHECK(apart.batches[2].size() == 1);
  CHECK(apart.batches[2][0].request_id == 1);
  CHECK(apart.batches[3].size() == 2);
  // Every request still completes, and A took one more step per prompt that paused it.
  CHECK(apart.batches.size() == together.batches.size() + 2);
}

TEST_CASE("each step counts its attention-DP balance and its decodes' context") {
  // Batch 0: A prefills 100 tokens on rank 0, B 50 on rank 1 (balance 150 / 200); B is done.
  // Batches 1 and 2: A decodes alone (balance 1 / 2) with contexts 101 and 102.
  AnalyticStepModel model(test::simple_params());
  Harness h(test::aggregated(dp_pool(2)), {&model, nullptr, nullptr}, 2);
  h.run({{Duration::zero(), 100, 3}, {Duration::zero(), 50, 1}});
  const PoolCounters& c = h.engine->counters(PoolRole::kAggregated);
  CHECK(c.steps == 3);
  CHECK(c.balance_sum == doctest::Approx(0.75 + 0.5 + 0.5));
  CHECK(c.decode_context_tokens == 203);
  CHECK(c.context_steps[context_bin(101.5)] == 2);
  CHECK(context_bin_floor(context_bin(101.5)) <= 101.0);
  CHECK(context_bin_floor(context_bin(101.5) + 1) > 102.0);
}

}  // namespace moesim::serve
