// End-to-end tests of `moesim size`: help, input errors and one small run of the built binary.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <string>

#include "tests/cli/cli_test_util.hpp"

using moesim::cli_test::contains;
using moesim::cli_test::Result;
using moesim::cli_test::run_moesim;

TEST_CASE("size --help teaches the load, the SLA, the method and gives an example") {
  const Result r = run_moesim("size --help");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "2M tok/min"));
  CHECK(contains(r.output, "tpot_p90<40ms"));
  CHECK(contains(r.output, "replicas = ceil("));
  CHECK(contains(r.output, "730 h"));
  CHECK(contains(r.output, "moesim size --model deepseek-r1 --system gb200-nvl72"));
  const Result all = run_moesim("--help");
  CHECK(contains(all.output, "size"));
}

TEST_CASE("size rejects a bad load unit, a misspelt SLA key and missing options with status 2") {
  const Result unit =
      run_moesim("size --system hgx-h200 --load \"2M tok/mn\" --sla \"tpot_p90<40ms\"");
  CHECK(unit.status == 2);
  CHECK(contains(unit.output, "did you mean 'tok/min'"));
  const Result key =
      run_moesim("size --system hgx-h200 --load \"2M tok/min\" --sla \"tpot_p9<40ms\"");
  CHECK(key.status == 2);
  CHECK(contains(key.output, "did you mean"));
  const Result nounit =
      run_moesim("size --system hgx-h200 --load \"2M tok/min\" --sla \"tpot_p90<40\"");
  CHECK(nounit.status == 2);
  CHECK(contains(nounit.output, "--sla.tpot_p90"));
  const Result nosys = run_moesim("size --load \"2M tok/min\" --sla \"tpot_p90<40ms\"");
  CHECK(nosys.status == 2);
  CHECK(contains(nosys.output, "--system"));
  const Result nosla = run_moesim("size --system hgx-h200 --load \"2M tok/min\"");
  CHECK(nosla.status == 2);
  CHECK(contains(nosla.output, "--sla"));
}

TEST_CASE("size refuses a load beyond 1e12 tok/s with status 2 instead of negative GPU counts") {
  for (const char* load : {"1e20 tok/s", "1e18 tok/s", "1e300 tok/s"}) {
    const Result r = run_moesim(std::string("size --system hgx-h200 --load \"") + load +
                                "\" --sla \"tpot_p90<40ms\"");
    CHECK(r.status == 2);
    CHECK(contains(r.output, "--load"));
    CHECK(contains(r.output, "at most 1e12 output tok/s"));
  }
}

TEST_CASE("a small size run prints the winner with its GPUs, servers, cost and SLA margins") {
  // DeepSeek-R1 FP8 on HGX H200, short requests (64 in / 8 out) and concurrency 1 and 4 per
  // instance keep it small; a loose SLA so that some point qualifies.
  const Result r = run_moesim(
      "size --system hgx-h200 --precision weights=checkpoint,kv_cache=fp8 --isl 64 --osl 8 "
      "--max-concurrency 4 --load \"1000 tok/s\" --sla \"tpot_p90<1s,ttft_p99<10s\" --jobs 2");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "cheapest that meets the SLA"));
  CHECK(contains(r.output, "GPUs (used / paid)"));
  CHECK(contains(r.output, "servers"));
  CHECK(contains(r.output, "$ per month (730 h)"));
  CHECK(contains(r.output, "tpot_p90<1000 ms (margin)"));
  CHECK(contains(r.output, "S82"));  // the price's source (topologies/prices.yaml)
  CHECK(contains(r.output, "The cheapest 3 per system"));
}

TEST_CASE("an impossible SLA says that no deployment meets it and shows the closest point") {
  const Result r = run_moesim(
      "size --system hgx-h200 --precision weights=checkpoint,kv_cache=fp8 --isl 64 --osl 8 "
      "--max-concurrency 1 --load \"1000 tok/s\" --sla \"tpot_p90<1us\" --jobs 2");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "no deployment meets the SLA"));
  CHECK(contains(r.output, "closest point"));
}
