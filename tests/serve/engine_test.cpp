#include "sim/serve/engine.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "serve_test_util.hpp"
#include "sim/core/error.hpp"

namespace moesim::serve {
namespace {

using test::Arrival;
using test::Harness;
using test::ms;
using test::RecordingModel;

// Unless stated, the model is fixed 1 ms + 10 us per new token (+ per_kv x context), one
// instance with one rank, no budget binding.

TEST_CASE("one request alone: TTFT is its prefill step, TPOT the decode step") {
  AnalyticStepModel model(test::simple_params());
  Harness h(test::aggregated(test::roomy_pool()), {&model, nullptr, nullptr}, 1);
  h.run({{Duration::zero(), 100, 5}});
  const RequestRecord& r = h.req(0);
  // Prefill: 1 ms + 100 x 10 us = 2 ms. Each decode: 1 ms + 1 x 10 us = 1.01 ms.
  CHECK(r.first_token - r.arrival == milliseconds(2));
  // e2e = TTFT + (OSL - 1) x TPOT = 2 + 4 x 1.01 = 6.04 ms.
  CHECK(r.completion - r.arrival == microseconds(6040));
  CHECK(r.emissions == 5);
  CHECK(r.itl_max == microseconds(1010));
  CHECK(r.completed);
}

TEST_CASE("a decode step reads the whole context: steps grow by per_kv_token per token") {
  RecordingModel model(test::simple_params(microseconds(1)));
  Harness h(test::aggregated(test::roomy_pool()), {&model, nullptr, nullptr}, 1, false,
            test::Decodes::kListed);
  h.run({{Duration::zero(), 100, 5}});
  // Prefill 1 + 1 + 100 x 0.001 = 2.1 ms; decode i (i = 1..4) has context 100 + i:
  // 1.01 + (100 + i) x 0.001 ms = 1.111, 1.112, 1.113, 1.114 ms; sum 4.45 ms.
  const RequestRecord& r = h.req(0);
  CHECK(r.first_token - r.arrival == microseconds(2100));
  CHECK(r.completion - r.arrival == microseconds(6550));
  REQUIRE(model.batches.size() == 5);
  CHECK(model.batches[0][0].phase == Phase::kPrefill);
  CHECK(model.batches[0][0].new_tokens == 100);
  CHECK(model.batches[0][0].context_tokens == 100);
  for (int i = 1; i <= 4; ++i) {
    CHECK(model.batches[i][0].phase == Phase::kDecode);
    CHECK(model.batches[i][0].new_tokens == 1);
    CHECK(model.batches[i][0].context_tokens == 100 + i);
  }
}

TEST_CASE("two requests arriving together share every step") {
  AnalyticStepModel model(test::simple_params());
  Harness h(test::aggregated(test::roomy_pool()), {&model, nullptr, nullptr}, 2);
  h.run({{Duration::zero(), 100, 3}, {Duration::zero(), 100, 3}});
  // One prefill step of 200 tokens: 1 + 2 = 3 ms; two decode steps of 2 tokens: 1.02 ms each.
  for (int i = 0; i < 2; ++i) {
    CHECK(h.req(i).first_token - h.req(i).arrival == milliseconds(3));
    CHECK(h.req(i).completion - h.req(i).arrival == microseconds(5040));
  }
}

TEST_CASE("a request arriving mid-step joins the next step beside the running decode") {
  RecordingModel model(test::simple_params());
  Harness h(test::aggregated(test::roomy_pool()), {&model, nullptr, nullptr}, 2, false,
            test::Decodes::kListed);
  h.run({{Duration::zero(), 100, 4}, {microseconds(1500), 50, 2}});
  // [0, 2]: A prefill (100 tokens, 2 ms). B arrives at 1.5 and waits.
  // [2, 3.51]: A decode + B prefill 50: 51 tokens, 1.51 ms. B's first token at 3.51.
  // [3.51, 4.53]: A and B decode (1.02 ms): B done. [4.53, 5.54]: A decodes alone: A done.
  CHECK(ms(h.req(1).first_token) == doctest::Approx(3.51));
  CHECK(h.req(1).first_token - h.req(1).arrival == microseconds(2010));
  CHECK(h.req(1).completion == TimePoint{} + microseconds(4530));
  CHECK(h.req(0).completion == TimePoint{} + microseconds(5540));
  REQUIRE(model.batches.size() == 4);
  CHECK(model.batches[1].size() == 2);
  CHECK(model.batches[1][0].phase == Phase::kDecode);   // running sequences first
  CHECK(model.batches[1][1].phase == Phase::kPrefill);  // then admissions
}

TEST_CASE("chunked prefill splits a long prompt into budget-sized chunks") {
  PoolConfig pool = test::roomy_pool();
  pool.limits.max_num_tokens = 100;
  pool.limits.chunked_prefill_size = 100;
  RecordingModel model(test::simple_params(microseconds(1)));
  Harness h(test::aggregated(pool), {&model, nullptr, nullptr}, 1, false, test::Decodes::kListed);
  h.run({{Duration::zero(), 250, 2}});
  // Chunks 100, 100, 50 with contexts 100, 200, 250:
  //   1 + 1 + 0.1 = 2.1 ms; 1 + 1 + 0.2 = 2.2 ms; 1 + 0.5 + 0.25 = 1.75 ms: TTFT 6.05 ms.
  // Decode: 1 + 0.01 + 251 x 0.001 = 1.261 ms: e2e 7.311 ms.
  REQUIRE(model.batches.size() == 4);
  CHECK(model.batches[0][0].new_tokens == 100);
  CHECK(model.batches[1][0].context_tokens == 200);
  CHECK(model.batches[2][0].new_tokens == 50);
  CHECK(model.batches[2][0].context_tokens == 250);
  CHECK(h.req(0).first_token == TimePoint{} + microseconds(6050));
  CHECK(h.req(0).completion == TimePoint{} + microseconds(7311));
}

TEST_CASE("chunked prefill fills the token budget left by decodes") {
  PoolConfig pool = test::roomy_pool();
  pool.limits.max_num_tokens = 100;
  pool.limits.chunked_prefill_size = 100;
  RecordingModel model(test::simple_params());
  Harness h(test::aggregated(pool), {&model, nullptr, nullptr}, 2, false, test::Decodes::kListed);
  h.run({{Duration::zero(), 10, 3}, {Duration::zero(), 150, 1}});
  // Step 1: A prefill 10, B chunk 90 (budget 100): 2 ms. Step 2: A decode 1, B chunk 60:
  // 61 tokens, 1.61 ms, B's only token at 3.61. Step 3: A decode: 1.01 ms, A done at 4.62.
  REQUIRE(model.batches.size() == 3);
  CHECK(model.batches[0][1].new_tokens == 90);
  CHECK(model.batches[1][1].new_tokens == 60);
  CHECK(h.req(1).completion == TimePoint{} + microseconds(3610));
  CHECK(h.req(0).completion == TimePoint{} + microseconds(4620));
}

TEST_CASE("without chunking a prompt longer than the token budget runs alone in one step") {
  PoolConfig pool = test::roomy_pool();
  pool.limits.max_num_tokens = 100;
  AnalyticStepModel model(test::simple_params());
  Harness h(test::aggregated(pool), {&model, nullptr, nullptr}, 1);
  h.run({{Duration::zero(), 250, 1}});
  // 1 ms + 250 x 10 us = 3.5 ms.
  CHECK(h.req(0).completion == TimePoint{} + microseconds(3500));
}

TEST_CASE("when the KV cache runs out the newest sequence is preempted and recomputed") {
  PoolConfig pool = test::roomy_pool();
  pool.kv_block_size = 4;
  pool.kv_capacity_tokens = 16;  // 4 blocks
  pool.kv_policy = KvPolicy::kMaxUtilization;
  AnalyticStepModel model(test::simple_params());
  Harness h(test::aggregated(pool), {&model, nullptr, nullptr}, 2);
  h.run({{Duration::zero(), 4, 6}, {Duration::zero(), 4, 6}});
  // Step 1: both prefill 4 tokens (1 block each): 1.08 ms. Steps 2-5 decode both (contexts
  // 5..8 need 2 blocks each: all 4 used): 1.02 ms each, t = 5.16 ms, 5 tokens each.
  // Step 6: A needs context 9 = 3 blocks; none free, so B (newest) is preempted, freeing 2.
  //   A decodes alone: 1.01 ms, t = 6.17, A's 6th token: A done.
  // Step 7: B readmitted, recomputes 4 + 5 = 9 tokens: 1.09 ms, t = 7.26, its 6th token.
  CHECK(h.req(0).completion == TimePoint{} + microseconds(6170));
  CHECK(h.req(0).preemptions == 0);
  CHECK(h.req(1).preemptions == 1);
  CHECK(h.req(1).completion == TimePoint{} + microseconds(7260));
  CHECK(h.req(1).itl_max == microseconds(2100));  // 5.16 -> 7.26
  CHECK(h.engine->counters(PoolRole::kAggregated).preemptions == 1);
  // Recomputed prompt tokens are not workload input: 4 + 4 input tokens.
  CHECK(h.engine->counters(PoolRole::kAggregated).input_tokens == 8);
  CHECK(h.engine->counters(PoolRole::kAggregated).prefill_tokens == 17);
}

TEST_CASE("guaranteed_no_evict reserves the whole request and never preempts") {
  PoolConfig pool = test::roomy_pool();
  pool.kv_block_size = 4;
  pool.kv_capacity_tokens = 16;  // 4 blocks; a request reserves ceil(10 / 4) = 3
  AnalyticStepModel model(test::simple_params());
  Harness h(test::aggregated(pool), {&model, nullptr, nullptr}, 2);
  h.run({{Duration::zero(), 4, 6}, {Duration::zero(), 4, 6}});
  // A alone: prefill 1.04 ms + 5 decodes of 1.01 ms = 6.09 ms. B waits, then the same 6.09 ms.
  CHECK(h.req(0).completion == TimePoint{} + microseconds(6090));
  CHECK(h.req(1).first_token == TimePoint{} + microseconds(7130));
  CHECK(h.req(1).completion == TimePoint{} + microseconds(12180));
  CHECK(h.req(1).preemptions == 0);
}

TEST_CASE("a request that can never fit one rank's KV cache is a configuration error") {
  PoolConfig pool = test::roomy_pool();
  pool.kv_capacity_tokens = 64;
  AnalyticStepModel model(test::simple_params());
  Harness h(test::aggregated(pool), {&model, nullptr, nullptr}, 1);
  CHECK_THROWS_AS(h.run({{Duration::zero(), 60, 10}}), ConfigError);
}

TEST_CASE("the batch-size budget caps running sequences per rank") {
  PoolConfig pool = test::roomy_pool();
  pool.limits.max_batch_size = 1;
  AnalyticStepModel model(test::simple_params());
  Harness h(test::aggregated(pool), {&model, nullptr, nullptr}, 2);
  h.run({{Duration::zero(), 100, 2}, {Duration::zero(), 100, 2}});
  // A: 2 + 1.01 = 3.01 ms; B starts then: 3.01 + 3.01 = 6.02 ms.
  CHECK(h.req(0).completion == TimePoint{} + microseconds(3010));
  CHECK(h.req(1).completion == TimePoint{} + microseconds(6020));
}

TEST_CASE("attention-DP ranks batch separately and the slowest rank sets the step") {
  PoolConfig pool = test::roomy_pool();
  pool.attention_dp = 2;
  pool.gpus_per_instance = 2;
  RecordingModel model(test::simple_params());
  Harness h(test::aggregated(pool), {&model, nullptr, nullptr}, 2, true, test::Decodes::kListed);
  h.run({{Duration::zero(), 100, 1}, {Duration::zero(), 50, 1}});
  // A goes to rank 0, B to rank 1 (fewest sequences). Step = 1 + max(1, 0.5) = 2 ms.
  REQUIRE(model.batches.size() == 1);
  CHECK(model.batches[0][0].dp_rank == 0);
  CHECK(model.batches[0][1].dp_rank == 1);
  CHECK(h.req(1).completion == TimePoint{} + milliseconds(2));
  // Mean rank work 0.75 ms, slowest 1 ms: imbalance 4/3, idle 0.25 ms, compute 0.75 ms.
  const StepRecord& s = h.engine->steps().at(0);
  CHECK(s.imbalance == doctest::Approx(4.0 / 3.0));
  CHECK(s.breakdown.idle == microseconds(250));
  CHECK(s.breakdown.compute == microseconds(750));
  CHECK(s.breakdown.memory == milliseconds(1));
  CHECK(s.breakdown.total() == s.duration);
}

TEST_CASE("the step overhead adds to each step, and the overlap scheduler hides it") {
  AnalyticStepModel model(test::simple_params());
  EngineConfig c = test::aggregated(test::roomy_pool());
  c.host.step_overhead = microseconds(300);
  {
    Harness h(c, {&model, nullptr, nullptr}, 1);
    h.run({{Duration::zero(), 100, 3}});
    // (2 + 0.3) + 2 x (1.01 + 0.3) = 4.92 ms.
    CHECK(h.req(0).completion == TimePoint{} + microseconds(4920));
  }
  c.host.overlap_scheduler = true;
  {
    Harness h(c, {&model, nullptr, nullptr}, 1);
    h.run({{Duration::zero(), 100, 3}});
    // The first step has nothing to hide under: 2.3 ms; then 0.3 ms hides under the previous
    // step (>= 1 ms): 2.3 + 2 x 1.01 = 4.32 ms.
    CHECK(h.req(0).completion == TimePoint{} + microseconds(4320));
  }
}

TEST_CASE("MTP with certain acceptance emits 1 + k tokens per decode step") {
  EngineConfig c = test::aggregated(test::roomy_pool());
  c.spec.acceptance = {1.0, 1.0, 1.0};
  RecordingModel model(test::simple_params());
  Harness h(c, {&model, nullptr, nullptr}, 1, false, test::Decodes::kListed);
  h.run({{Duration::zero(), 10, 10}});
  // Prefill emits 1 token (1.1 ms); decodes verify 4 tokens (1.04 ms) and emit 4, 4, then the
  // 1 left: 3 decode steps. e2e = 1.1 + 3 x 1.04 = 4.22 ms; 4 emissions.
  CHECK(h.req(0).completion == TimePoint{} + microseconds(4220));
  CHECK(h.req(0).emissions == 4);
  REQUIRE(model.batches.size() == 4);
  CHECK(model.batches[1][0].new_tokens == 4);
  CHECK(model.batches[1][0].context_tokens == 14);  // KV of 10 prompt tokens + 4 verified
  CHECK(model.batches[2][0].context_tokens == 18);  // 4 more accepted
}

TEST_CASE("MTP emits on average 1 + sum of cumulative acceptance products per step") {
  EngineConfig c = test::aggregated(test::roomy_pool());
  c.primary.kv_capacity_tokens = 10'000'000;
  c.spec.acceptance = {0.8, 0.5, 0.5};
  AnalyticStepModel model(test::simple_params());
  Harness h(c, {&model, nullptr, nullptr}, 20);
  std::vector<Arrival> arrivals(20, Arrival{Duration::zero(), 10, 10000});
  h.run(arrivals);
  // Expected 1 + 0.8 + 0.8 x 0.5 + 0.8 x 0.5 x 0.5 = 2.4 tokens; per-step variance 1.04, about
  // 83,000 sequence-steps: standard error 0.0035, tolerance 0.02 (capping at the end of each
  // request removes at most 3 tokens per request, < 0.001).
  const PoolCounters& pc = h.engine->counters(PoolRole::kAggregated);
  const double per_step =
      static_cast<double>(pc.decode_output_tokens) / static_cast<double>(pc.decode_sequence_steps);
  CHECK(c.spec.expected_tokens_per_step() == doctest::Approx(2.4));
  CHECK(per_step == doctest::Approx(2.4).epsilon(0.02 / 2.4));
}

}  // namespace
}  // namespace moesim::serve
