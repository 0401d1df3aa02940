#include "sim/serve/workload.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sim/core/error.hpp"
#include "sim/core/stats.hpp"
#include "sim/core/unit_parse.hpp"
#include "test_util.hpp"

namespace moesim::serve {
namespace {

config::ConfigNode yaml(const std::string& text) {
  return config::ConfigNode::parse(text, "w.yaml");
}

using ::moesim::test::config_error;

using ::moesim::test::TempFile;

TEST_CASE("request rates are read with their unit") {
  CHECK(parse_request_rate("2 req/s") == 2.0);
  CHECK(parse_request_rate("90 req/min") == doctest::Approx(1.5));  // 90 / 60
  CHECK_THROWS_AS(parse_request_rate("2"), UnitError);
  CHECK_THROWS_AS(parse_request_rate("2 req/h"), UnitError);
  CHECK_THROWS_AS(parse_request_rate("0 req/s"), UnitError);
  CHECK_THROWS_AS(parse_request_rate("-1 req/s"), UnitError);
}

TEST_CASE("a single-class workload is written directly under the workload") {
  const WorkloadSpec w = parse_workload(yaml(
      "requests: 100\nwarmup: 10\narrival: {process: closed_loop, concurrency: 16}\n"
      "isl: 1024\nosl: {dist: uniform, min: 900, max: 1100}\nsla: {ttft: 2 s, tpot: 50 ms}\n"));
  REQUIRE(w.classes.size() == 1);
  CHECK(w.classes[0].name == "default");
  CHECK(w.classes[0].isl.kind == LengthDist::Kind::kFixed);
  CHECK(w.classes[0].isl.min == 1024);
  CHECK(w.classes[0].osl.min == 900);
  CHECK(w.classes[0].osl.max == 1100);
  CHECK(*w.classes[0].sla.tpot == milliseconds(50));
  CHECK(w.arrival == ArrivalProcess::kClosedLoop);
  CHECK(w.concurrency == 16);
  CHECK(w.requests == 100);
  CHECK(w.warmup == 10);
  CHECK(w.max_input_tokens() == 1024);
  CHECK(w.max_output_tokens() == 1100);
}

TEST_CASE("uniform lengths cover [min, max] inclusive with the right mean") {
  WorkloadSpec w = parse_workload(
      yaml("requests: 20000\narrival: {process: poisson, rate: 10 req/s}\n"
           "isl: {dist: uniform, min: 1, max: 4}\nosl: {dist: normal, mean: 100, stdev: 10}\n"));
  const auto reqs = generate_requests(w, 3);
  std::int32_t lo = 100, hi = 0;
  SampleSet osl;
  for (const RequestSpec& r : reqs) {
    lo = std::min(lo, r.input_tokens);
    hi = std::max(hi, r.input_tokens);
    osl.add(r.output_tokens);
  }
  CHECK(lo == 1);
  CHECK(hi == 4);
  // Normal(100, 10) rounded up: mean 100.5 (ceil adds 0.5 on average), sd 10; standard error
  // of the mean 10 / sqrt(20000) = 0.07; tolerance 0.3.
  CHECK(osl.moments().mean() == doctest::Approx(100.5).epsilon(0.003));
  CHECK(osl.moments().stddev() == doctest::Approx(10.0).epsilon(0.03));
}

TEST_CASE("classes mix by weight and keep their own lengths") {
  const WorkloadSpec w = parse_workload(
      yaml("requests: 10000\narrival: {process: closed_loop, concurrency: 4}\nclasses:\n"
           "  - {name: chat, weight: 3, isl: 100, osl: 10}\n"
           "  - {name: reasoning, weight: 1, isl: 200, osl: 20, sla: {ttft: 1 s}}\n"));
  REQUIRE(w.classes.size() == 2);
  const auto reqs = generate_requests(w, 1);
  std::int64_t reasoning = 0;
  for (const RequestSpec& r : reqs) {
    CHECK(r.input_tokens == (r.class_index == 0 ? 100 : 200));
    reasoning += r.class_index;
  }
  // Share 1/4: binomial standard error sqrt(0.25 x 0.75 / 10000) = 0.43 %; tolerance 2 %.
  CHECK(static_cast<double>(reasoning) / 10000.0 == doctest::Approx(0.25).epsilon(0.08));
}

TEST_CASE("workload errors name the key") {
  const ConfigError missing = config_error([] {
    parse_workload(yaml("requests: 10\narrival: {process: closed_loop}\nisl: 1\nosl: 1\n"));
  });
  CHECK(missing.key_path() == "arrival");
  CHECK(missing.expected().find("concurrency") != std::string::npos);
  CHECK(config_error([] {
          parse_workload(
              yaml("requests: 10\narrival: {process: poisson, rate: 3}\nisl: 1\nosl: 1\n"));
        }).key_path() == "arrival.rate");
  CHECK(config_error([] {
          parse_workload(
              yaml("requests: 10\nwarmup: 10\narrival: {process: closed_loop, "
                   "concurrency: 1}\nisl: 1\nosl: 1\n"));
        }).key_path() == "warmup");
  CHECK(config_error([] {
          parse_workload(
              yaml("requests: 10\narrival: {process: closed_loop, concurrency: 1}\n"
                   "isl: {dist: uniform, min: 5, max: 4}\nosl: 1\n"));
        }).key_path() == "isl.max");
  const ConfigError e = config_error([] {
    parse_workload(yaml("requests: 10\narivval: {process: closed_loop}\nisl: 1\nosl: 1\n"));
  });
  CHECK(e.suggestion() == "arrival");
}

TEST_CASE("a trace CSV gives lengths, classes and arrival times") {
  TempFile csv("moesim_serve_trace_ok.csv",
               "arrival_s,input_tokens,output_tokens,class\n0,100,10,chat\n0.5,200,20,long\n"
               "\n1.25,300,30,chat\n");
  const WorkloadSpec w =
      parse_workload(yaml("arrival: {process: trace}\ntrace: " + csv.path.string() +
                          "\nclasses: [{name: chat}, {name: long, sla: {ttft: 1 s}}]\n"));
  CHECK(w.requests == 3);
  REQUIRE(w.trace.size() == 3);
  const auto reqs = generate_requests(w, 1);
  CHECK(reqs[1].input_tokens == 200);
  CHECK(reqs[1].class_index == 1);
  CHECK(reqs[2].arrival == TimePoint{} + milliseconds(1250));
}

TEST_CASE("trace errors give the file and the line") {
  TempFile bad("moesim_serve_trace_bad.csv", "input_tokens,output_tokens\n100,10\n200,x\n");
  const ConfigError e = config_error([&] { read_trace_csv(bad.path, {}); });
  CHECK(e.where().line == 3);
  CHECK(e.where().column == 5);
  CHECK(e.key_path() == "trace.output_tokens");
  TempFile order("moesim_serve_trace_order.csv",
                 "arrival_s,input_tokens,output_tokens\n1,1,1\n"
                 "0.5,1,1\n");
  CHECK(config_error([&] { read_trace_csv(order.path, {}); }).where().line == 3);
  TempFile header("moesim_serve_trace_header.csv", "input_tokens,outptu_tokens\n1,1\n");
  const ConfigError misspelt = config_error([&] { read_trace_csv(header.path, {}); });
  CHECK(misspelt.key_path() == "trace.header");
  CHECK(misspelt.suggestion() == "output_tokens");
}

TEST_CASE("a trace saved with a UTF-8 byte-order mark reads as without one") {
  // Spreadsheets saving "CSV UTF-8" start the file with EF BB BF; the header's first column was
  // read as "\xEF\xBB\xBFinput_tokens" and rejected as an unknown column.
  TempFile csv("moesim_serve_trace_bom.csv", "\xEF\xBB\xBFinput_tokens,output_tokens\n100,10\n");
  const std::vector<TraceRow> rows = read_trace_csv(csv.path, {});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].input_tokens == 100);
  CHECK(rows[0].output_tokens == 10);
}

TEST_CASE("a huge trace field is echoed clipped in its error, with its size") {
  // A 1 MB field was echoed whole: a megabyte of terminal output for one error.
  const std::string field(1'000'000, '7');
  TempFile csv("moesim_serve_trace_huge.csv", "input_tokens,output_tokens\n100," + field + "\n");
  const ConfigError e = config_error([&] { read_trace_csv(csv.path, {}); });
  CHECK(e.key_path() == "trace.output_tokens");
  const std::string what = e.what();
  CHECK(what.size() < 400);
  // The found value is the field in quotes: 1,000,002 bytes, of which 80 are shown.
  CHECK(what.find("... (1000002 bytes)") != std::string::npos);
}

TEST_CASE("a trace arrival beyond 1e6 s is a located error, not an overflowed clock") {
  // 1e308 s is 1e320 ps, far past the 9.2e18 ps of int64; 1e6 s (kMaxTraceArrivalS) is
  // accepted.
  TempFile far("moesim_serve_trace_far.csv",
               "arrival_s,input_tokens,output_tokens\n0,1,1\n1e6,1,1\n1e308,1,1\n");
  const ConfigError e = config_error([&] { read_trace_csv(far.path, {}); });
  CHECK(e.where().line == 4);
  CHECK(e.key_path() == "trace.arrival_s");
  CHECK(std::string(e.what()).find("0 to 1e6") != std::string::npos);
}

TEST_CASE("a Poisson rate whose requests would arrive over more than 1e5 s is a located error") {
  // 1e-9 req/s has a mean gap of 1e9 s (1e21 ps, past int64). 100 requests at 1e-3 req/s span
  // 1e5 s on average, the most accepted (kMaxPoissonSpanS); 101 need a rate of 1.01e-3 req/s.
  auto poisson = [](const std::string& rate, int requests) {
    return yaml("{requests: " + std::to_string(requests) +
                ", isl: 8, osl: 8, arrival: " + "{process: poisson, rate: \"" + rate + "\"}}");
  };
  const ConfigError e = config_error([&] { parse_workload(poisson("1e-9 req/s", 10)); });
  CHECK(e.key_path() == "arrival.rate");
  CHECK(std::string(e.what()).find("at least 0.0001 req/s") != std::string::npos);
  CHECK(parse_workload(poisson("0.001 req/s", 100)).rate_per_s == doctest::Approx(1e-3));
  CHECK(config_error([&] { parse_workload(poisson("0.001 req/s", 101)); }).key_path() ==
        "arrival.rate");
}

TEST_CASE("a request longer than a context length is an error at its isl, osl or trace") {
  // Limit 2048 tokens: isl 2048 leaves no room for an output token; isl up to 1500 with osl
  // up to 600 is 2100; 1500 + 548 = 2048 fits exactly.
  const std::string limit = "the test's context length";
  const WorkloadSpec fits = parse_workload(
      yaml("{requests: 1, isl: {dist: uniform, min: 500, max: 1500}, osl: 548, arrival: "
           "{process: closed_loop, concurrency: 1}}"));
  check_max_sequence(yaml("{}"), fits, 2048, limit);
  const config::ConfigNode long_osl = yaml(
      "{requests: 1, classes: [{name: a, isl: 8, osl: 8}, {name: b, isl: {dist: uniform, "
      "min: 500, max: 1500}, osl: 600}], arrival: {process: closed_loop, concurrency: 1}}");
  const ConfigError osl =
      config_error([&] { check_max_sequence(long_osl, parse_workload(long_osl), 2048, limit); });
  CHECK(osl.key_path() == "classes[1].osl");
  CHECK(std::string(osl.what()).find("at most 548 output tokens") != std::string::npos);
  CHECK(std::string(osl.what()).find(limit) != std::string::npos);
  const config::ConfigNode long_isl =
      yaml("{requests: 1, isl: 2048, osl: 1, arrival: {process: closed_loop, concurrency: 1}}");
  const ConfigError isl =
      config_error([&] { check_max_sequence(long_isl, parse_workload(long_isl), 2048, limit); });
  CHECK(isl.key_path() == "isl");
  CHECK(std::string(isl.what()).find("at most 2047 input tokens") != std::string::npos);
}

TEST_CASE("the example workloads load") {
  const std::filesystem::path dir = std::filesystem::path(MOESIM_SOURCE_DIR) / "workloads";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    const WorkloadSpec w = parse_workload(config::ConfigNode::load_file(entry.path()));
    CHECK(w.requests >= 1);
    CHECK(!generate_requests(w, 1).empty());
    ++count;
  }
  CHECK(count >= 3);
}

}  // namespace
}  // namespace moesim::serve
