// Decode groups (EngineOptions::group_decodes) are a speed device only: every run below is
// simulated twice, with steady decodes advanced in groups and with every decode listed, and the
// two must agree bit for bit on every request record, every metric and the step count. The
// runs cover what can break a group: completions, KV growth under max_utilization with
// preemptions, token budgets smaller than the batch, non-chunked prompts, several attention-DP
// ranks and instances, Poisson and closed-loop arrivals, disaggregated hand-offs and host time.

#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "serve_test_util.hpp"
#include "sim/serve/report.hpp"
#include "sim/serve/run.hpp"

namespace moesim::serve {
namespace {

WorkloadSpec mixed_workload(ArrivalProcess arrival, std::int64_t requests) {
  WorkloadSpec w;
  w.arrival = arrival;
  w.rate_per_s = 2000.0;
  w.concurrency = 48;
  w.requests = requests;
  w.warmup = requests / 10;
  w.classes =
      test::two_classes(LengthDist::uniform(20, 300), Sla{milliseconds(50), milliseconds(3)},
                        "chat", LengthDist::uniform(1, 120), "long", LengthDist::uniform(100, 400));
  return w;
}

/// Runs `c` on `w` both ways and checks that the results are identical.
void check_same_both_ways(const EngineConfig& c, const WorkloadSpec& w, std::uint64_t seed) {
  AnalyticStepModel primary(test::simple_params(nanoseconds(300)));
  AnalyticStepModel decode(test::simple_params(nanoseconds(500)));
  FixedRateKvTransferModel kv(microseconds(20), gigabytes_per_second(2));
  const EngineModels models{&primary, c.disaggregated ? &decode : nullptr,
                            c.disaggregated ? &kv : nullptr};
  const Pricing pricing{usd_per_hour(3.6), watts(1000), watts(200), "test"};
  RunOptions listed;
  listed.group_decodes = false;
  const test::RunWithRequests a = test::run_with_requests(c, w, models, seed, pricing);
  const test::RunWithRequests b = test::run_with_requests(c, w, models, seed, pricing, listed);
  const ReportInfo info{{"scenario", "groups"}};
  CHECK(metrics_json(a.result.metrics, info) == metrics_json(b.result.metrics, info));
  std::ostringstream csv_a, csv_b;
  write_requests_csv(csv_a, a.requests, w);
  write_requests_csv(csv_b, b.requests, w);
  CHECK(csv_a.str() == csv_b.str());
  REQUIRE(a.requests.size() == b.requests.size());
  for (std::size_t i = 0; i < a.requests.size(); ++i) {
    CAPTURE(i);
    CHECK(a.requests[i].itl_max == b.requests[i].itl_max);
    CHECK(a.requests[i].emissions == b.requests[i].emissions);
    CHECK(a.requests[i].completion == b.requests[i].completion);
  }
  CHECK(a.result.events == b.result.events);
  CHECK(a.result.end == b.result.end);
  // The run is not trivial: requests completed and tokens were emitted.
  CHECK(a.result.metrics.measured_requests > 0);
  CHECK(a.result.metrics.output_tok_s > 0.0);
}

TEST_CASE("decode groups give the same run as listed decodes: aggregated, Poisson, chunked") {
  EngineConfig c = test::aggregated(test::roomy_pool());
  c.primary.instances = 2;
  c.primary.limits.max_num_tokens = 256;
  c.primary.limits.chunked_prefill_size = 256;
  check_same_both_ways(c, mixed_workload(ArrivalProcess::kPoisson, 400), 5);
}

TEST_CASE("decode groups give the same run as listed decodes: KV exhaustion and preemption") {
  EngineConfig c = test::aggregated(test::roomy_pool());
  c.primary.attention_dp = 4;
  c.primary.limits.max_batch_size = 32;
  c.primary.limits.max_num_tokens = 512;
  c.primary.limits.chunked_prefill_size = 128;
  c.primary.kv_policy = KvPolicy::kMaxUtilization;
  c.primary.kv_block_size = 16;
  // 4 ranks x 2,000 tokens: a few long requests fill a rank, so KV runs out while decoding.
  c.primary.kv_capacity_tokens = 8000;
  const WorkloadSpec w = mixed_workload(ArrivalProcess::kClosedLoop, 300);
  AnalyticStepModel model(test::simple_params(nanoseconds(300)));
  const RunResult r = run_serving(c, w, {&model, nullptr, nullptr}, 9, std::nullopt);
  REQUIRE(r.metrics.preemptions > 0);  // the case exercises preemption
  check_same_both_ways(c, w, 9);
}

TEST_CASE("decode groups give the same run as listed decodes: budgets below the batch") {
  EngineConfig c = test::aggregated(test::roomy_pool());
  c.primary.attention_dp = 2;
  c.primary.limits.max_batch_size = 40;
  c.primary.limits.max_num_tokens = 24;  // fewer tokens than running decodes: some wait
  c.primary.limits.chunked_prefill_size = 0;
  c.host.step_overhead = microseconds(300);
  c.host.overlap_scheduler = true;
  check_same_both_ways(c, mixed_workload(ArrivalProcess::kClosedLoop, 300), 3);
}

TEST_CASE("decode groups give the same run as listed decodes: disaggregated hand-offs") {
  EngineConfig c;
  c.disaggregated = true;
  c.primary = test::roomy_pool(PoolRole::kPrefill);
  c.primary.instances = 2;
  c.decode = test::roomy_pool(PoolRole::kDecode);
  c.decode.attention_dp = 3;
  c.decode.limits.max_batch_size = 12;
  c.decode.kv_policy = KvPolicy::kMaxUtilization;
  c.decode.kv_block_size = 8;
  c.decode.kv_capacity_tokens = 3 * 3000;
  c.kv_bytes_per_token = bytes(1000);
  check_same_both_ways(c, mixed_workload(ArrivalProcess::kPoisson, 300), 11);
}

TEST_CASE("steady decodes reach the model as one group per rank, not one entry each") {
  test::RecordingModel model(test::simple_params());
  test::Harness h(test::aggregated(test::roomy_pool()), {&model, nullptr, nullptr}, 2);
  h.run({{Duration::zero(), 100, 6}, {Duration::zero(), 100, 6}});
  // Step 1: both prefill (listed). Step 2: both decode for the first time (listed). Steps 3-6:
  // both are in the rank's group, so no decode is listed; the timing is that of two decodes:
  // 1 ms + 2 x 10 us per step, as the first decode step (e2e 3 + 5 x 1.02 = 8.1 ms).
  REQUIRE(model.batches.size() == 6);
  CHECK(model.batches[0].size() == 2);
  CHECK(model.batches[1].size() == 2);
  for (std::size_t i = 2; i < 6; ++i) CHECK(model.batches[i].empty());
  for (int i = 0; i < 2; ++i) {
    CHECK(h.req(i).completion == TimePoint{} + microseconds(8100));
    CHECK(h.req(i).emissions == 6);
    CHECK(h.req(i).itl_max == microseconds(1020));
  }
}

}  // namespace
}  // namespace moesim::serve
