#include "sim/serve/report.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "serve_test_util.hpp"
#include "sim/serve/run.hpp"

namespace moesim::serve {
namespace {

/// Brackets and braces balance outside strings (a cheap well-formedness check).
bool balanced(const std::string& json) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    if (depth < 0) return false;
  }
  return depth == 0 && !in_string;
}

struct Fixture {
  WorkloadSpec w;
  AnalyticStepModel model{test::simple_params()};
  RunResult r;
  std::vector<RequestRecord> requests;
  Fixture() {
    RequestClass c;
    c.name = "default";
    c.isl = LengthDist::fixed(100);
    c.osl = LengthDist::fixed(3);
    w.classes = {c};
    w.requests = 4;
    w.warmup = 1;
    w.concurrency = 2;
    PoolConfig pool = test::roomy_pool();
    pool.attention_dp = 2;
    pool.gpus_per_instance = 2;
    RunOptions options;
    options.record_steps = true;
    test::RunWithRequests run = test::run_with_requests(
        test::aggregated(pool), w, {&model, nullptr, nullptr}, 1, std::nullopt, options);
    r = std::move(run.result);
    requests = std::move(run.requests);
  }
};

TEST_CASE("the metrics JSON nests dotted keys and writes absent values as null") {
  Fixture f;
  const std::string json = metrics_json(f.r.metrics, {{"scenario", "a \"quoted\" name"}});
  CHECK(balanced(json));
  CHECK(json.find("\"run\": {\n    \"scenario\": \"a \\\"quoted\\\" name\"") != std::string::npos);
  CHECK(json.find("\"ttft_ms\": {\n    \"mean\": 2") != std::string::npos);  // 2 ms, the first
  CHECK(json.find("\"cost_usd_per_mtok\": null") != std::string::npos);      // no pricing given
  CHECK(json.find("\"pools\": {\n    \"aggregated\": {") != std::string::npos);
}

TEST_CASE("the readable summary names the headline metrics") {
  Fixture f;
  const std::string text = summary_text(f.r.metrics);
  CHECK(text.find("output tok/s/GPU") != std::string::npos);
  CHECK(text.find("TTFT         mean 2.00") != std::string::npos);  // both measured: 2 ms
  CHECK(text.find("n/a (no price sheet entry)") != std::string::npos);
  CHECK(text.find("aggregated pool") != std::string::npos);
}

TEST_CASE("the request CSV has one row per request and flags warm-up") {
  Fixture f;
  std::ostringstream out;
  write_requests_csv(out, f.requests, f.w);
  const std::string csv = out.str();
  CAPTURE(csv);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 5);
  CHECK(csv.rfind("id,class,input_tokens,output_tokens,arrival_s,ttft_ms,", 0) == 0);
  // Request 0 (warm-up) and request 1 start together on ranks 0 and 1: one prefill step of
  // 1 + max(1, 1) = 2 ms, then decode steps of 1 + 0.01 = 1.01 ms.
  CHECK(csv.find("\n0,default,100,3,0,2,1.01,1.01,4.02,3,0,0,-1,,,0,1,1\n") != std::string::npos);
  CHECK(csv.find("\n1,default,100,3,0,2,1.01,1.01,4.02,3,0,0,-1,,,1,1,1\n") != std::string::npos);
}

TEST_CASE("the trace is Chrome trace-event JSON with one complete event per step") {
  Fixture f;
  std::ostringstream out;
  write_trace_json(out, f.r.steps, test::aggregated(test::roomy_pool()));
  const std::string trace = out.str();
  CHECK(balanced(trace));
  CHECK(trace.rfind("{\"displayTimeUnit\": \"ms\", \"traceEvents\": [", 0) == 0);
  std::size_t steps = 0;
  for (std::size_t p = trace.find("\"cat\": \"step\""); p != std::string::npos;
       p = trace.find("\"cat\": \"step\"", p + 1)) {
    ++steps;
  }
  CHECK(steps == f.r.steps.size());
  CHECK(trace.find("\"name\": \"prefill step\"") != std::string::npos);
  CHECK(trace.find("\"ph\": \"C\", \"name\": \"kv_blocks_used\"") != std::string::npos);
}

}  // namespace
}  // namespace moesim::serve
