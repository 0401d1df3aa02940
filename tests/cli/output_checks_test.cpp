// Issue 14, items 9 and 10: output paths are checked before simulating and every write is
// checked (a lost write is exit 2, never 0), and every command checks --precision with the
// parser `moesim run` uses, before sweeping.
#include <doctest/doctest.h>

#include <cctype>
#include <filesystem>
#include <sstream>
#include <string>

#include "cli_test_util.hpp"
#include "test_util.hpp"

namespace {

using moesim::cli_test::contains;
using moesim::cli_test::Result;
using moesim::cli_test::run_moesim;

using moesim::cli_test::kAnalyticScenario;

}  // namespace

TEST_CASE("a write to a full device exits 2 and names the file, never 0 with the data lost") {
  // /dev/full accepts open() and fails every write with ENOSPC.
  const Result json = run_moesim("run " + kAnalyticScenario + " --json /dev/full");
  CHECK(json.status == 2);
  CHECK(contains(json.output, "--json"));
  CHECK(contains(json.output, "/dev/full"));
  CHECK(contains(json.output, "No space left on device"));
  const Result csv = run_moesim("run " + kAnalyticScenario + " --csv /dev/full");
  CHECK(csv.status == 2);
  CHECK(contains(csv.output, "--csv"));
  CHECK(contains(csv.output, "/dev/full"));
  // Standard output on a full device: the status says so (the message is lost with stderr,
  // which the helper sends to the same place).
  const Result out = run_moesim("list >/dev/full");
  CHECK(out.status == 2);
}

TEST_CASE("run streams its per-request CSV and lets one output take standard output") {
  const Result both = run_moesim("run " + kAnalyticScenario + " --json - --csv -");
  CHECK(both.status == 2);
  CHECK(contains(both.output, "--csv: expected a file: standard output already takes --json"));
  // The CSV alone on stdout: a header and one row per request (written as they complete), and no
  // summary mixed in.
  const Result csv = run_moesim("run " + kAnalyticScenario +
                                " --csv - --set workload.requests=12 "
                                "--set workload.warmup=2");
  REQUIRE(csv.status == 0);
  CHECK(contains(csv.output, "id,class,input_tokens,"));
  CHECK_FALSE(contains(csv.output, "throughput"));
  std::istringstream lines(csv.output);
  int rows = 0;
  for (std::string line; std::getline(lines, line);) rows += std::isdigit(line[0]) != 0 ? 1 : 0;
  CHECK(rows == 12);
}

TEST_CASE("a trace holds the first --trace-steps steps, and says so") {
  const moesim::test::TempFile file("moesim-trace-steps-test.json", "");
  const std::string trace = file.path.string();
  const Result r =
      run_moesim("run " + kAnalyticScenario + " --trace " + trace + " --trace-steps 5");
  REQUIRE(r.status == 0);
  CHECK(contains(r.output, "note: the trace holds the first 5 steps"));
  const std::string text = moesim::test::read_file(trace);
  std::size_t steps = 0;
  for (std::size_t at = text.find("\"cat\": \"step\""); at != std::string::npos;
       at = text.find("\"cat\": \"step\"", at + 1)) {
    ++steps;
  }
  CHECK(steps == 5);
  CHECK(run_moesim("run " + kAnalyticScenario + " --trace " + trace + " --trace-steps 0").status ==
        2);
}

TEST_CASE("an output path in a missing directory is an error before anything is simulated") {
  const Result run = run_moesim("run " + kAnalyticScenario + " --json /no/such/dir/x.json");
  CHECK(run.status == 2);
  CHECK(contains(run.output, "/no/such/dir/x.json"));
  CHECK(contains(run.output, "No such file or directory"));
  CHECK_FALSE(contains(run.output, "tok/s"));  // no summary: nothing was simulated
  // A whole sweep would take minutes; the check comes first, so no sweep header is printed.
  const Result sweep = run_moesim("sweep --system hgx-h200 --csv /no/such/dir/points.csv");
  CHECK(sweep.status == 2);
  CHECK(contains(sweep.output, "--csv"));
  CHECK(contains(sweep.output, "/no/such/dir/points.csv"));
  CHECK_FALSE(contains(sweep.output, "Sweep of"));
}

TEST_CASE("checking an output path leaves no empty file behind when the run then fails") {
  const std::filesystem::path json =
      std::filesystem::path(MOESIM_BINARY_DIR) / "output-check-left-behind.json";
  std::filesystem::remove(json);
  const Result r =
      run_moesim("run " + kAnalyticScenario + " --json " + json.string() + " --seed x");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "--seed"));
  CHECK_FALSE(std::filesystem::exists(json));
}

TEST_CASE("sweep, compare and size reject a bad --precision at the option, as run does") {
  const Result sweep = run_moesim("sweep --system hgx-h200 --precision weights=fp3");
  CHECK(sweep.status == 2);
  CHECK(contains(sweep.output, "--precision weights"));
  CHECK(contains(sweep.output, "fp3"));
  const Result compare = run_moesim("compare --precision-a weights=fp3");
  CHECK(compare.status == 2);
  CHECK(contains(compare.output, "--precision-a weights"));
  const Result size = run_moesim(
      "size --system hgx-h200 --load \"2M tok/min\" --sla \"tpot_p90<40ms\" --precision "
      "weights=fp3");
  CHECK(size.status == 2);
  CHECK(contains(size.output, "--precision weights"));
  CHECK(contains(size.output, "fp3"));
}

TEST_CASE("a precision key given twice is an error naming both") {
  const Result twice =
      run_moesim("sweep --system hgx-h200 --precision weights=nvfp4 --precision weights=fp8");
  CHECK(twice.status == 2);
  CHECK(contains(twice.output, "weights=nvfp4"));
  CHECK(contains(twice.output, "weights=fp8"));
  const Result in_one = run_moesim("sweep --system hgx-h200 --precision weights=nvfp4,weights=fp8");
  CHECK(in_one.status == 2);
  CHECK(contains(in_one.output, "weights=nvfp4 and weights=fp8"));
}

TEST_CASE("a comparison with every deployment pruned says why") {
  const Result r = run_moesim("compare --isl 1000000000");
  CHECK(contains(r.output, "deployments pruned, nothing simulated"));
  CHECK(contains(r.output, "memory or plan"));
}
