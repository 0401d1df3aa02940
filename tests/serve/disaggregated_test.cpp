#include <doctest/doctest.h>

#include "serve_test_util.hpp"
#include "sim/serve/engine.hpp"

namespace moesim::serve {
namespace {

using test::Harness;
using test::ms;

/// One prefill and one decode instance; KV transfers take 10 us + bytes / (1 GB/s) and a
/// prompt token's KV is 1000 B, so a 100-token prompt moves in 10 + 100 = 110 us.
EngineConfig disaggregated(std::int32_t decode_batch) {
  EngineConfig c;
  c.disaggregated = true;
  c.primary = test::roomy_pool(PoolRole::kPrefill);
  c.decode = test::roomy_pool(PoolRole::kDecode);
  c.decode.limits.max_batch_size = decode_batch;
  c.kv_bytes_per_token = bytes(1000);
  return c;
}

TEST_CASE("the KV transfer sits between the prefill and the first decode") {
  AnalyticStepModel prefill(test::simple_params());
  AnalyticStepModel decode(test::simple_params());
  FixedRateKvTransferModel kv(microseconds(10), gigabytes_per_second(1));
  CHECK(kv.transfer_time(bytes(100'000)) == microseconds(110));
  Harness h(disaggregated(8), {&prefill, &decode, &kv}, 1);
  h.run({{Duration::zero(), 100, 3}});
  const RequestRecord& r = h.req(0);
  // Prefill: 2 ms, first token there. Decode admits at once: transfer [2, 2.11] ms.
  // Decodes: [2.11, 3.12], [3.12, 4.13].
  CHECK(r.first_token == TimePoint{} + milliseconds(2));
  CHECK(r.prefill_done == TimePoint{} + milliseconds(2));
  CHECK(r.decode_admit == TimePoint{} + milliseconds(2));
  CHECK(r.decode_ready == TimePoint{} + microseconds(2110));
  CHECK(r.completion == TimePoint{} + microseconds(4130));
  // The gap between token 1 and token 2 is transfer + decode step: 0.11 + 1.01 ms.
  CHECK(r.itl_max == microseconds(1120));
  CHECK(r.instance == 0);
  CHECK(r.decode_instance == 0);
}

TEST_CASE("a prefilled request waits for a decode slot while holding its prefill KV") {
  AnalyticStepModel prefill(test::simple_params());
  AnalyticStepModel decode(test::simple_params());
  FixedRateKvTransferModel kv(microseconds(10), gigabytes_per_second(1));
  Harness h(disaggregated(1), {&prefill, &decode, &kv}, 2);
  h.run({{Duration::zero(), 100, 3}, {Duration::zero(), 100, 3}});
  // Prefill both (200 tokens): 3 ms. The decode rank has one slot: A transfers [3, 3.11] and
  // decodes [3.11, 4.12], [4.12, 5.13]. Then B is admitted at 5.13: transfer to 5.24, decodes
  // to 6.25 and 7.26.
  CHECK(ms(h.req(0).completion) == doctest::Approx(5.13));
  CHECK(h.req(1).prefill_done == TimePoint{} + milliseconds(3));
  CHECK(h.req(1).decode_admit == TimePoint{} + microseconds(5130));
  CHECK(h.req(1).decode_ready == TimePoint{} + microseconds(5240));
  CHECK(h.req(1).completion == TimePoint{} + microseconds(7260));
}

TEST_CASE("a one-token request completes in the prefill pool without a transfer") {
  AnalyticStepModel prefill(test::simple_params());
  AnalyticStepModel decode(test::simple_params());
  FixedRateKvTransferModel kv(microseconds(10), gigabytes_per_second(1));
  Harness h(disaggregated(8), {&prefill, &decode, &kv}, 1);
  h.run({{Duration::zero(), 100, 1}});
  CHECK(h.req(0).completion == TimePoint{} + milliseconds(2));
  CHECK(h.req(0).decode_instance == -1);
  CHECK(h.engine->counters(PoolRole::kDecode).steps == 0);
}

TEST_CASE("prefill KV blocks are held until the transfer completes") {
  // The prefill rank holds 4 blocks of 32 tokens; a 100-token prompt takes ceil(100/32) = 4.
  // B can only start its prefill once A's KV has left, at A's transfer end 2.11 ms.
  EngineConfig c = disaggregated(8);
  c.primary.kv_capacity_tokens = 128;
  AnalyticStepModel prefill(test::simple_params());
  AnalyticStepModel decode(test::simple_params());
  FixedRateKvTransferModel kv(microseconds(10), gigabytes_per_second(1));
  Harness h(c, {&prefill, &decode, &kv}, 2);
  h.run({{Duration::zero(), 100, 2}, {Duration::zero(), 100, 2}});
  // B's prefill [2.11, 4.11] ms.
  CHECK(h.req(1).first_token == TimePoint{} + microseconds(4110));
}

TEST_CASE("a sequence preempted on a decode instance recomputes its KV there") {
  EngineConfig c = disaggregated(8);
  c.decode.kv_block_size = 4;
  c.decode.kv_capacity_tokens = 16;  // 4 blocks
  c.decode.kv_policy = KvPolicy::kMaxUtilization;
  AnalyticStepModel prefill(test::simple_params());
  AnalyticStepModel decode(test::simple_params());
  FixedRateKvTransferModel kv(microseconds(10), gigabytes_per_second(1));
  Harness h(c, {&prefill, &decode, &kv}, 2);
  h.run({{Duration::zero(), 4, 6}, {Duration::zero(), 4, 6}});
  // Prefill both (8 tokens): 1.08 ms. The decode rank admits both with blocks for 4 + 1
  // tokens (2 each, all 4 used); transfers of 4,000 B take 14 us: ready at 1.094 ms.
  // Four decodes of both (contexts 5..8 fit 2 blocks): 1.02 ms each, to 5.174 ms.
  // Then A needs a 3rd block: B is preempted; A decodes alone to 6.184 ms (done).
  // B recomputes 4 + 5 = 9 tokens on the decode rank: 1.09 ms, its last token at 7.274 ms.
  CHECK(h.req(0).decode_ready == TimePoint{} + microseconds(1094));
  CHECK(h.req(0).completion == TimePoint{} + microseconds(6184));
  CHECK(h.req(1).preemptions == 1);
  CHECK(h.req(1).completion == TimePoint{} + microseconds(7274));
  CHECK(h.engine->counters(PoolRole::kDecode).prefill_tokens == 9);
  CHECK(h.engine->counters(PoolRole::kDecode).input_tokens == 0);  // recomputation only
}

}  // namespace
}  // namespace moesim::serve
