// Issue 14, leftovers: bad command lines and inputs are clear status-2 errors, never a crash,
// an internal error, a hang or a silent wrong answer.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli_test_util.hpp"

namespace {

using moesim::cli_test::contains;
using moesim::cli_test::Result;
using moesim::cli_test::run_moesim;

const std::string kScenario = std::string(MOESIM_TEST_DATA_DIR) + "/serve/agg_analytic.yaml";

}  // namespace

TEST_CASE("a word with one dash is an unknown option of every command, not a positional word") {
  // `moesim run s.yaml -x` said "found 2 positional words".
  const Result run = run_moesim("run " + kScenario + " -x");
  CHECK(run.status == 2);
  CHECK(contains(run.output, "unknown option -x"));
  CHECK_FALSE(contains(run.output, "positional"));
  const std::vector<std::string> commands{"list",       "show",    "calibrate", "validate",
                                          "collective", "compare", "explain",   "import",
                                          "run",        "size",    "sweep"};
  for (const std::string& c : commands) {
    const Result r = run_moesim(c + " -x");
    CHECK_MESSAGE(r.status == 2, c, "\n", r.output);
    CHECK_MESSAGE(contains(r.output, "unknown option -x"), c, "\n", r.output);
  }
  // The suggestion: the option spelt with one dash, the one option with that first letter, or
  // the nearest name.
  CHECK(contains(run_moesim("explain -seed 3").output, "did you mean '--seed'?"));
  CHECK(contains(run_moesim("run " + kScenario + " -r 2").output, "did you mean '--replicas'?"));
  // -j: --jobs or --json, so no guess.
  CHECK_FALSE(contains(run_moesim("sweep --system hgx-h200 -j 2").output, "did you mean"));
  CHECK(contains(run_moesim("collective -sytem x").output, "did you mean '--system'?"));
  // "-" is still a word and "--" ends the options.
  const Result dash = run_moesim("run -- -x");
  CHECK(dash.status == 2);
  CHECK(contains(dash.output, "-x"));
  CHECK_FALSE(contains(dash.output, "unknown option"));
}
