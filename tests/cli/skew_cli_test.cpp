// End-to-end tests of --skew EXPONENT on sweep, compare and size: a Zipf expert popularity in
// every simulated point (study::SweepBase::extra_yaml), for the notebooks' skew sensitivity.
#include <doctest/doctest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "tests/cli/cli_test_util.hpp"

using moesim::cli_test::contains;
using moesim::cli_test::Result;
using moesim::cli_test::run_moesim;

namespace {

/// Output tokens/s per GPU of the point labelled `label` in a sweep CSV (column
/// output_tok_s_per_gpu, found by its header); -1 when absent.
double tok_s_per_gpu(const std::string& csv, const std::string& label) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string cell; std::getline(hs, cell, ',');) header.push_back(cell);
  std::size_t column = header.size();
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "output_tok_s_per_gpu") column = i;
  }
  REQUIRE(column < header.size());
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string cell; std::getline(ls, cell, ',');) cells.push_back(cell);
    if (!cells.empty() && cells[0] == label && column < cells.size()) {
      return std::stod(cells[column]);
    }
  }
  return -1.0;
}

/// One small sweep of DeepSeek-R1 FP8 on HGX H200, ADP8 EP8 only, with `skew` (e.g. "--skew
/// 1.2", or "" for uniform); returns the CSV of its points.
std::string small_sweep(const std::string& skew, const std::string& name) {
  const std::string path = std::string(MOESIM_BINARY_DIR) + "/skew-test-" + name + ".csv";
  std::remove(path.c_str());
  const Result r = run_moesim(
      "sweep --system hgx-h200 --precision weights=checkpoint,kv_cache=fp8 --tp none --ep 8 "
      "--max-batch 256 --mtp 0 --disagg none --max-concurrency 1024 --isl 256 --osl 64 " +
      skew + " --csv " + path);
  REQUIRE(r.status == 0);
  return moesim::test::read_file(path);
}

}  // namespace

TEST_CASE("--skew makes the hottest experts' rank set the pace of a large decode batch") {
  // At 1024 sequences on ADP8 EP8 every layer routes 8 x 1024 expert slots over 256 experts,
  // 32 per rank: uniform popularity gives each rank about 1/8 of them, Zipf(1.2) gives the rank
  // holding the hottest experts several times that, and the all-to-all waits for it, so the
  // per-GPU throughput falls (about 1141 to 758 tok/s at the time of writing; asserted: > 10 %).
  const std::string uniform = small_sweep("", "uniform");
  const std::string skewed = small_sweep("--skew 1.2", "zipf");
  const double u = tok_s_per_gpu(uniform, "ADP8 EP8 mb256 c1024");
  const double s = tok_s_per_gpu(skewed, "ADP8 EP8 mb256 c1024");
  REQUIRE(u > 0.0);
  REQUIRE(s > 0.0);
  CHECK(s < 0.9 * u);
}

TEST_CASE("--skew rejects a negative, infinite or non-numeric exponent with status 2") {
  for (const char* bad : {"-1", "inf", "abc", "0.6x"}) {
    CAPTURE(bad);
    for (const char* command : {"sweep --system hgx-h200", "compare",
                                "size --system hgx-h200 --load '1k tok/s' --sla 'tpot_p90<40ms'"}) {
      CAPTURE(command);
      const Result r = run_moesim(std::string(command) + " --skew " + bad);
      CHECK(r.status == 2);
      CHECK(contains(r.output, "--skew"));
      CHECK(contains(r.output, "a Zipf exponent"));
    }
  }
}
