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

using moesim::cli_test::kAnalyticScenario;

}  // namespace

TEST_CASE("a word with one dash is an unknown option of every command, not a positional word") {
  // `moesim run s.yaml -x` said "found 2 positional words".
  const Result run = run_moesim("run " + kAnalyticScenario + " -x");
  CHECK(run.status == 2);
  CHECK(contains(run.output, "unknown option -x"));
  CHECK_FALSE(contains(run.output, "positional"));
  const std::vector<std::string> commands{"list",      "show",       "calibrate", "validate",
                                          "attribute", "collective", "compare",   "explain",
                                          "import",    "run",        "size",      "sweep"};
  for (const std::string& c : commands) {
    const Result r = run_moesim(c + " -x");
    CHECK_MESSAGE(r.status == 2, c, "\n", r.output);
    CHECK_MESSAGE(contains(r.output, "unknown option -x"), c, "\n", r.output);
  }
  // The suggestion: the option spelt with one dash, the one option with that first letter, or
  // the nearest name.
  CHECK(contains(run_moesim("explain -seed 3").output, "did you mean '--seed'?"));
  CHECK(contains(run_moesim("run " + kAnalyticScenario + " -r 2").output,
                 "did you mean '--replicas'?"));
  // -j: --jobs or --json, so no guess.
  CHECK_FALSE(contains(run_moesim("sweep --system hgx-h200 -j 2").output, "did you mean"));
  CHECK(contains(run_moesim("collective -sytem x").output, "did you mean '--system'?"));
  // "-" is still a word and "--" ends the options.
  const Result dash = run_moesim("run -- -x");
  CHECK(dash.status == 2);
  CHECK(contains(dash.output, "-x"));
  CHECK_FALSE(contains(dash.output, "unknown option"));
}

TEST_CASE("--seed 0 is accepted by every command that takes a seed, and -1 refused alike") {
  // explain and sweep refused 0 ("a positive integer") where run accepted it; compare and size
  // had no --seed. Each command here fails on an option read after --seed, so reaching that
  // error shows that the seed was accepted.
  const Result run = run_moesim("run " + kAnalyticScenario + " --seed 0 --replicas 0");
  CHECK(contains(run.output, "--replicas"));
  const Result explain = run_moesim("explain --seed 0 --batch 2 --context 128");
  CHECK_MESSAGE(explain.status == 0, explain.output);
  const Result sweep = run_moesim("sweep --system hgx-h200 --seed 0 --tp 8,x");
  CHECK(contains(sweep.output, "--tp"));
  const Result compare = run_moesim("compare --seed 0 --max-concurrency 0");
  CHECK(contains(compare.output, "--max-concurrency"));
  const Result size = run_moesim(
      "size --system hgx-h200 --load \"1000 tok/s\" --sla \"tpot_p90<40ms\" --seed 0 --top 0");
  CHECK(contains(size.output, "--top"));
  for (const std::string& c :
       {"run " + kAnalyticScenario, std::string("explain"), std::string("sweep --system hgx-h200"),
        std::string("compare"),
        std::string("size --system hgx-h200 --load \"1000 tok/s\" --sla \"tpot_p90<40ms\"")}) {
    const Result r = run_moesim(c + " --seed -1");
    CHECK_MESSAGE(r.status == 2, c, "\n", r.output);
    CHECK_MESSAGE(contains(r.output, "--seed: expected a whole number from 0 to"), c, "\n",
                  r.output);
  }
}

TEST_CASE("a request too long for the KV cache is refused at the scenario's workload key") {
  // It was refused by the engine as "<engine config>: deployment.aggregated.kv_capacity_tokens".
  // 12800 tokens / 8 ranks = 1600 per rank; a request reserves up to 1500 + 200 + 2 MTP drafts.
  const Result r = run_moesim("run " + kAnalyticScenario +
                              " --set deployment.aggregated.kv_capacity_tokens=12800");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "agg_analytic.yaml:37:"));
  CHECK(contains(r.output, "workload.osl"));
  CHECK(contains(r.output, "1600 tokens"));
  CHECK_FALSE(contains(r.output, "<engine config>"));
}

TEST_CASE("a sizing with every deployment pruned says why, by reason, and what to relax") {
  // 1e9 input tokens pass no deployment (DeepSeek-R1 has 163840 positions); size printed "no
  // deployment meets the SLA (nothing simulated)" and nothing else.
  const Result r = run_moesim(
      "size --system hgx-h200 --isl 1000000000 --load \"1000 tok/s\" --sla \"tpot_p90<40ms\" "
      "--jobs 2");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "hgx-h200: nothing to size: all "));
  CHECK(contains(r.output, "deployments pruned, nothing simulated"));
  CHECK(contains(r.output, "like memory or plan: "));
  CHECK(contains(r.output, "163840 positions"));
  CHECK(contains(r.output, "to relax \"memory or plan\""));
}

TEST_CASE("huge sizes on the command line and in a scenario are range errors, not bad_alloc") {
  struct Case {
    std::string args;
    std::string key;
    std::string range;
  };
  const std::vector<Case> cases{
      // 1e9 sequences per replica x 72 replicas was std::bad_alloc: 2^20 / 72 = 14563 at most.
      {"explain --batch 1000000000", "--batch", "from 1 to 14563"},
      {"explain --batch 14564", "--batch", "from 1 to 14563"},
      // 4096 GPUs / 72 per NVL72 rack = 56 racks; routes between every GPU pair are stored.
      {"explain --domains 1000000", "--domains", "from 1 to 56"},
      {"collective --op allreduce --bytes 1MiB --domains 1000000", "--domains", "from 1 to 56"},
      {"collective --system hgx-h200 --op allreduce --bytes 1MiB --domains 513", "--domains",
       "from 1 to 512"},
      // 65536 GPUs in a deployment (serve::kMaxDeploymentGpus) / 8 per instance.
      {"run " + kAnalyticScenario + " --set deployment.aggregated.instances=100000",
       "deployment.aggregated.instances", "at most 8192 instances"},
  };
  for (const Case& c : cases) {
    const Result r = run_moesim(c.args);
    CHECK_MESSAGE(r.status == 2, c.args, "\n", r.output);
    CHECK_MESSAGE(contains(r.output, c.key), c.args, "\n", r.output);
    CHECK_MESSAGE(contains(r.output, c.range), c.args, "\n", r.output);
  }
}

TEST_CASE("a device, a directory or an oversized file given as input is refused before reading") {
  // `moesim run /dev/zero` read without end and ended in std::bad_alloc.
  const Result zero = run_moesim("run /dev/zero");
  CHECK(zero.status == 2);
  CHECK(contains(zero.output, "/dev/zero"));
  CHECK(contains(zero.output, "character device"));
  const Result dir = run_moesim("run /tmp");
  CHECK(dir.status == 2);
  CHECK(contains(dir.output, "a directory"));
  const Result trace =
      run_moesim("run " + kAnalyticScenario +
                 " --set 'workload={requests: 1, arrival: {process: closed_loop, concurrency: 1}, "
                 "trace: /dev/zero}'");
  CHECK(trace.status == 2);
  CHECK(contains(trace.output, "character device"));
}

TEST_CASE("attribute: bad factors, levels and precisions are located errors before any sweep") {
  const Result typo = run_moesim("attribute --factors system,precison");
  CHECK(typo.status == 2);
  CHECK(contains(typo.output, "--factors"));
  CHECK(contains(typo.output, "did you mean 'precision'?"));
  const Result twice = run_moesim("attribute --factors mtp,mtp");
  CHECK(twice.status == 2);
  CHECK(contains(twice.output, "each factor once"));
  const Result level = run_moesim("attribute --levels 20,0");
  CHECK(level.status == 2);
  CHECK(contains(level.output, "--levels"));
  // Equal baseline and target on the only factor left: nothing to attribute.
  const Result none = run_moesim("attribute --factors stack --baseline-stack trtllm");
  CHECK(none.status == 2);
  CHECK(contains(none.output, "at least one factor"));
  const Result skew = run_moesim("attribute --skew -1");
  CHECK(skew.status == 2);
  CHECK(contains(skew.output, "--skew"));
  const Result precision = run_moesim("attribute --target-precision weights=fp3");
  CHECK(precision.status == 2);
  CHECK(contains(precision.output, "--target-precision"));
}
