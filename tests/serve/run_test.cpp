#include "sim/serve/run.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "serve_test_util.hpp"
#include "sim/serve/report.hpp"

namespace moesim::serve {
namespace {

WorkloadSpec fixed_workload(std::int32_t isl, std::int32_t osl, std::int64_t requests) {
  WorkloadSpec w;
  RequestClass c;
  c.name = "default";
  c.isl = LengthDist::fixed(isl);
  c.osl = LengthDist::fixed(osl);
  w.classes.push_back(c);
  w.requests = requests;
  return w;
}

TEST_CASE("closed loop keeps exactly `concurrency` requests in flight while requests remain") {
  WorkloadSpec w = fixed_workload(100, 20, 100);
  w.classes[0].osl = LengthDist::uniform(5, 40);
  w.arrival = ArrivalProcess::kClosedLoop;
  w.concurrency = 8;
  AnalyticStepModel model(test::simple_params(microseconds(1)));
  const test::RunWithRequests r = test::run_with_requests(
      test::aggregated(test::roomy_pool()), w, {&model, nullptr, nullptr}, 3, std::nullopt);
  const auto& reqs = r.requests;
  TimePoint last_send{};
  for (const RequestRecord& q : reqs) last_send = std::max(last_send, q.arrival);
  // At every send time t up to the last one, the requests with arrival <= t < completion (sent
  // and not finished just after t) number exactly 8.
  for (const RequestRecord& q : reqs) {
    const TimePoint t = q.arrival;
    const auto in_flight = std::count_if(reqs.begin(), reqs.end(), [&](const RequestRecord& x) {
      return x.arrival <= t && x.completion > t;
    });
    CHECK(in_flight == 8);
  }
  CHECK(r.result.metrics.measured_requests == 100);
}

TEST_CASE("a run holds the requests in flight, not the requests sent") {
  // 20,000 requests, 8 at a time: the engine's slots (RequestRecord, hot and cold state) stay
  // at 8, and the metrics still count every measured request.
  WorkloadSpec w = fixed_workload(50, 10, 20000);
  w.classes[0].osl = LengthDist::uniform(2, 30);
  w.arrival = ArrivalProcess::kClosedLoop;
  w.concurrency = 8;
  w.warmup = 100;
  AnalyticStepModel model(test::simple_params(microseconds(1)));
  const EngineConfig c = test::aggregated(test::roomy_pool());
  const RunResult lean = run_serving(c, w, {&model, nullptr, nullptr}, 5, std::nullopt);
  CHECK(lean.peak_in_flight == 8);
  CHECK(lean.metrics.measured_requests == 19900);
  CHECK(lean.metrics.tpot_ms.count == 19900);
  // Every record reaches RunOptions::on_request, once, and taking them changes nothing.
  const test::RunWithRequests kept =
      test::run_with_requests(c, w, {&model, nullptr, nullptr}, 5, std::nullopt);
  REQUIRE(kept.requests.size() == 20000);
  for (std::size_t i = 0; i < kept.requests.size(); ++i) {
    CHECK(kept.requests[i].id == static_cast<std::int64_t>(i));
  }
  CHECK(metrics_json(kept.result.metrics, {}) == metrics_json(lean.metrics, {}));
  // Poisson arrivals faster than service: in flight grows, but never past the requests sent.
  w.arrival = ArrivalProcess::kPoisson;
  w.rate_per_s = 1e5;
  w.requests = 2000;
  const RunResult open = run_serving(c, w, {&model, nullptr, nullptr}, 5, std::nullopt);
  CHECK(open.peak_in_flight > 8);
  CHECK(open.peak_in_flight <= 2000);
}

TEST_CASE("progress is reported as requests complete and once at the end") {
  WorkloadSpec w = fixed_workload(20, 5, 1000);
  w.arrival = ArrivalProcess::kClosedLoop;
  w.concurrency = 4;
  AnalyticStepModel model(test::simple_params(microseconds(1)));
  std::vector<std::int64_t> seen;
  RunOptions o;
  o.progress = [&](std::int64_t done, std::int64_t total) {
    CHECK(total == 1000);
    seen.push_back(done);
  };
  run_serving(test::aggregated(test::roomy_pool()), w, {&model, nullptr, nullptr}, 1, std::nullopt,
              o);
  REQUIRE(seen.size() == 200);  // every 5 completions (0.5 %) up to 995, then the end
  CHECK(seen.front() == 5);
  CHECK(seen.back() == 1000);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
}

TEST_CASE("Poisson arrivals have the configured mean rate") {
  WorkloadSpec w = fixed_workload(10, 1, 20000);
  w.arrival = ArrivalProcess::kPoisson;
  w.rate_per_s = 100.0;
  const std::vector<RequestSpec> reqs = generate_requests(w, 11);
  // 19,999 exponential gaps of mean 10 ms: the rate estimate (n - 1) / t_last has a relative
  // standard error of 1 / sqrt(19999) = 0.7 %; tolerance 3 %.
  const double t_last = to_seconds(reqs.back().arrival.time_since_epoch());
  CHECK(reqs.front().arrival == TimePoint{});
  CHECK(19999.0 / t_last == doctest::Approx(100.0).epsilon(0.03));
  for (std::size_t i = 1; i < reqs.size(); ++i) CHECK(reqs[i].arrival >= reqs[i - 1].arrival);
}

/// A small but busy run: Poisson arrivals, two classes with SLAs, MTP, chunked prefill.
struct BusyRun {
  WorkloadSpec w;
  EngineConfig c;
  AnalyticStepModel model{test::simple_params(nanoseconds(100))};
  BusyRun() {
    w.arrival = ArrivalProcess::kPoisson;
    w.rate_per_s = 400.0;
    w.requests = 300;
    w.warmup = 30;
    w.classes = test::two_classes(
        LengthDist::uniform(50, 400), Sla{milliseconds(20), milliseconds(3)}, "chat",
        LengthDist::uniform(10, 80), "reasoning", LengthDist::uniform(100, 300));
    c = test::aggregated(test::roomy_pool());
    c.primary.instances = 2;
    c.primary.limits.max_num_tokens = 256;
    c.primary.limits.chunked_prefill_size = 256;
    c.spec.acceptance = {0.7, 0.5};
  }
  RunResult run(std::uint64_t seed) {
    return run_serving(c, w, {&model, nullptr, nullptr}, seed, pricing());
  }
  test::RunWithRequests run_with_requests(std::uint64_t seed) {
    return test::run_with_requests(c, w, {&model, nullptr, nullptr}, seed, pricing());
  }
  static Pricing pricing() { return {usd_per_hour(3.6), watts(1000), watts(200), "test"}; }
};

TEST_CASE("the same seed gives bit-identical reports, another seed a different one") {
  BusyRun b;
  const test::RunWithRequests r1 = b.run_with_requests(5);
  const test::RunWithRequests r2 = b.run_with_requests(5);
  const RunResult r3 = b.run(6);
  const ReportInfo info{{"scenario", "busy"}};
  CHECK(metrics_json(r1.result.metrics, info) == metrics_json(r2.result.metrics, info));
  std::ostringstream c1, c2;
  write_requests_csv(c1, r1.requests, b.w);
  write_requests_csv(c2, r2.requests, b.w);
  CHECK(c1.str() == c2.str());
  CHECK(r1.result.events == r2.result.events);
  CHECK(metrics_json(r1.result.metrics, info) != metrics_json(r3.metrics, info));
}

TEST_CASE("run metrics follow their definitions on a single request") {
  // One request of 100 + 5 tokens on 2 GPUs: TTFT 2 ms, 4 decodes of 1.01 ms: e2e 6.04 ms.
  WorkloadSpec w = fixed_workload(100, 5, 1);
  w.classes[0].sla.ttft = milliseconds(2);
  PoolConfig pool = test::roomy_pool();
  pool.gpus_per_instance = 2;
  AnalyticStepModel model(test::simple_params());
  const Pricing pricing{usd_per_hour(3.6), watts(1000), watts(200), "test"};
  const RunResult r =
      run_serving(test::aggregated(pool), w, {&model, nullptr, nullptr}, 1, pricing);
  const RunMetrics& m = r.metrics;
  const double e2e_s = 6.04e-3;
  CHECK(m.window_s == doctest::Approx(e2e_s));
  CHECK(m.gpus == 2);
  CHECK(m.ttft_ms.p50 == doctest::Approx(2.0));
  CHECK(m.tpot_ms.p50 == doctest::Approx(1.01));            // (6.04 - 2) / 4
  CHECK(m.tok_s_per_user == doctest::Approx(1000 / 1.01));  // 1 / TPOT
  CHECK(m.output_tok_s == doctest::Approx(5 / e2e_s));
  CHECK(m.total_tok_s == doctest::Approx(105 / e2e_s));
  CHECK(m.output_tok_s_per_gpu == doctest::Approx(5 / e2e_s / 2));
  CHECK(m.total_tok_s_per_gpu == doctest::Approx(105 / e2e_s / 2));
  CHECK(m.itl_ms.p50 == doctest::Approx(1.01).epsilon(0.01));  // histogram resolution 1 %
  // The instance steps back to back over the whole window: utilisation 1.
  CHECK(m.gpu_utilization == doctest::Approx(1.0));
  // $3.6/h = $0.001/s per GPU; cost per Mtok = 0.001 / (tok/s per GPU / 1e6).
  CHECK(*m.cost_usd_per_mtok == doctest::Approx(0.001 / (5 / e2e_s / 2 / 1e6)));
  // Energy: 2 GPUs x window x (200 + 800 x 1) W, per output token.
  CHECK(*m.joules_per_token == doctest::Approx(2 * e2e_s * 1000 / 5));
  CHECK(*m.joules_per_token_total == doctest::Approx(2 * e2e_s * 1000 / 105));
  CHECK(m.goodput_req_s == doctest::Approx(1 / e2e_s));  // TTFT 2 ms meets the 2 ms limit
  CHECK(m.sla_attainment == 1.0);
  const PoolMetrics& p = m.pools.at(0);
  CHECK(p.steps == 5);
  CHECK(p.compute_s + p.memory_s + p.idle_s + p.host_overhead_s + p.communication_s ==
        doctest::Approx(e2e_s));
}

TEST_CASE("warm-up requests are served but not measured") {
  BusyRun b;
  const RunResult r = b.run(9);
  CHECK(r.metrics.measured_requests == 270);
  CHECK(r.metrics.warmup_requests == 30);
  std::int64_t classes = 0;
  for (const ClassMetrics& c : r.metrics.classes) classes += c.requests;
  CHECK(classes == 270);
  // Per-decode-step tokens near 1 + 0.7 + 0.35 = 2.05 (capped at each request's end).
  CHECK(r.metrics.expected_tokens_per_decode_step == doctest::Approx(2.05));
  CHECK(r.metrics.pools[0].tokens_per_decode_step > 1.8);
  CHECK(r.metrics.pools[0].tokens_per_decode_step < 2.1);
}

TEST_CASE("Student t critical values match the tables") {
  CHECK(student_t_975(1) == doctest::Approx(12.7062));
  CHECK(student_t_975(4) == doctest::Approx(2.7764));
  CHECK(student_t_975(30) == doctest::Approx(2.0423));
  // Beyond the table: t(0.975, 40) = 2.0211, t(0.975, 120) = 1.9799 (tables), error < 1e-3.
  CHECK(student_t_975(40) == doctest::Approx(2.0211).epsilon(5e-4));
  CHECK(student_t_975(120) == doctest::Approx(1.9799).epsilon(5e-4));
  CHECK(student_t_975(31) < student_t_975(30));
}

TEST_CASE("replica summaries give the Student t interval") {
  // x = 1..5: mean 3, sample sd sqrt(2.5) = 1.5811; half-width t(4) sd / sqrt 5 = 2.7764 x
  // 1.5811 / 2.2361 = 1.9632.
  std::vector<std::vector<MetricValue>> runs;
  for (int i = 1; i <= 5; ++i) runs.push_back({{"x", i}, {"missing", std::nullopt}});
  const auto stats = summarize_replicas(runs);
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].n == 5);
  CHECK(stats[0].mean == doctest::Approx(3.0));
  CHECK(stats[0].stddev == doctest::Approx(1.5811).epsilon(1e-4));
  CHECK(stats[0].ci95_low == doctest::Approx(3.0 - 1.9632).epsilon(1e-4));
  CHECK(stats[0].ci95_high == doctest::Approx(3.0 + 1.9632).epsilon(1e-4));
  CHECK(stats[1].n == 0);
}

TEST_CASE("replicas run consecutive seeds and bracket their mean") {
  BusyRun b;
  const ReplicaSummary s =
      run_replicas(b.c, b.w, {&b.model, nullptr, nullptr}, 20, 3,
                   Pricing{usd_per_hour(3.6), watts(1000), watts(200), "test"});
  CHECK(s.seeds == std::vector<std::uint64_t>{20, 21, 22});
  const auto it = std::find_if(s.stats.begin(), s.stats.end(),
                               [](const ReplicaStat& x) { return x.key == "ttft_ms.p50"; });
  REQUIRE(it != s.stats.end());
  double mean = 0.0;
  for (std::uint64_t seed : {20, 21, 22}) mean += b.run(seed).metrics.ttft_ms.p50 / 3.0;
  CHECK(s.first.ttft_ms.p50 == b.run(20).metrics.ttft_ms.p50);
  CHECK(it->mean == doctest::Approx(mean));
  CHECK(it->ci95_low <= mean);
  CHECK(it->ci95_high >= mean);
  CHECK(it->stddev > 0.0);  // the seeds differ
  const std::string json = replicas_json(s, {{"scenario", "busy"}});
  CHECK(json.find("\"ci95_low\"") != std::string::npos);
  CHECK(json.find("\"seeds\": [20, 21, 22]") != std::string::npos);
}

}  // namespace
}  // namespace moesim::serve
