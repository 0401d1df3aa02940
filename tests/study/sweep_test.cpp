#include "sim/study/sweep.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/serve/scenario.hpp"
#include "tests/study/sweep_test_util.hpp"

namespace moesim::study {
namespace {

config::Catalog catalog() { return config::Catalog(std::filesystem::path{MOESIM_SOURCE_DIR}); }

std::vector<std::string> labels(const std::vector<SweepDeployment>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.label());
  return out;
}

/// Capacity (pruning rule 2) of the analytic sweep (sweep_test_util.hpp), max batch 16:
///   TP8 (1 rank): min(16, 128 / 5 = 25) = 16 sequences, rungs 32 and 64 pruned;
///   ADP8 EP8 (8 ranks of 16 blocks): min(16, 16 / 5 = 3) x 8 = 24, added to the ladder;
///   rungs 32 and 64 pruned.
SweepSpace analytic_space() { return test::analytic_space(64); }
using test::analytic_base;

std::vector<std::string> frontier_labels(const SweepResult& r) {
  std::vector<std::string> out;
  for (const std::size_t i : r.frontier) out.push_back(r.points[i].label);
  return out;
}

}  // namespace

TEST_CASE("the sweep enumerates TP, attention-DP and wide-EP plans filling an HGX H200 server") {
  SweepBase base;
  base.system = "hgx-h200";
  SweepSpace space;
  space.tp_sizes = {8};
  space.ep_widths = {8, 16, 32, 64};
  space.max_batch_sizes = {64};
  space.mtp_draft_tokens = {0, 3};
  space.disagg_ratios = {{1, 2}};
  const auto ds = enumerate_deployments(base, space, catalog());
  // Plans: TP8 (EP 1), TP8 EP8, ADP8 EP8, ADP16 EP16 (2 servers), ADP32 EP32 (4 servers);
  // ADP64 would span 8 servers > max_domains 4. 256 experts divide 8, 16 and 32: no redundant
  // experts. Each plan with MTP off and MTP3 (DeepSeek-R1 has one MTP layer): 5 x 2 = 10; then
  // disaggregated 1P(TP8 EP8):2D(ADP8 EP8), decode on the widest ADP width inside one server,
  // with and without MTP: 12 in all.
  const std::vector<std::string> expected{"TP8 mb64",
                                          "TP8 mb64 +MTP3",
                                          "TP8 EP8 mb64",
                                          "TP8 EP8 mb64 +MTP3",
                                          "ADP8 EP8 mb64",
                                          "ADP8 EP8 mb64 +MTP3",
                                          "ADP16 EP16 mb64",
                                          "ADP16 EP16 mb64 +MTP3",
                                          "ADP32 EP32 mb64",
                                          "ADP32 EP32 mb64 +MTP3",
                                          "disagg 1P(TP8 EP8):2D(ADP8 EP8) mb64",
                                          "disagg 1P(TP8 EP8):2D(ADP8 EP8) mb64 +MTP3"};
  CHECK(labels(ds) == expected);
  // One TP8 instance fills the 8-GPU server; ADP32 spans 4 servers as one instance; the
  // disaggregated deployment has 8 prefill + 2 x 8 decode GPUs.
  CHECK(ds[0].gpus() == 8);
  CHECK(ds[8].gpus() == 32);
  CHECK(ds[8].primary.instances == 1);
  CHECK(ds[10].gpus() == 24);
  // Aggregated TP8 at max batch 64 with 3 drafts: 64 x (1 + 3) decode tokens + the 2048-token
  // prefill chunk per step.
  CHECK(ds[1].primary.max_num_tokens == 64 * 4 + 2048);
}

TEST_CASE("on a GB200 NVL72 instances fill the rack and EP72 gets 32 redundant experts") {
  SweepBase base;
  base.system = "gb200-nvl72";
  SweepSpace space;
  space.tp_sizes = {8};
  space.ep_widths = {32, 72};
  space.max_batch_sizes = {128};
  space.mtp_draft_tokens = {0};
  space.disagg_ratios = {};
  const auto ds = enumerate_deployments(base, space, catalog());
  // 72 / 8 = 9 TP8 instances; 72 / 32 = 2 ADP32 instances (64 GPUs); ADP72 needs 256 + 32 =
  // 288 = 4 x 72 expert slots.
  const std::vector<std::string> expected{"TP8 x9 mb128", "TP8 EP8 x9 mb128", "ADP32 EP32 x2 mb128",
                                          "ADP72 EP72(+32r) mb128"};
  CHECK(labels(ds) == expected);
  CHECK(ds[0].gpus() == 72);
  CHECK(ds[2].gpus() == 64);
  CHECK(ds[3].primary.redundant_experts == 32);
}

TEST_CASE("a ladder top below 1 is a ConfigError, not an empty ladder") {
  // Found by the fuzz test: `moesim sweep --max-concurrency 2147483648` reached the sweep as
  // -2^31 and crashed on the empty ladder.
  SweepBase base;
  base.system = "hgx-h200";
  SweepSpace space;
  space.max_concurrency = -2147483647 - 1;
  try {
    (void)enumerate_deployments(base, space, catalog());
    FAIL("a negative ladder top was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "max_concurrency");
  }
}

TEST_CASE("the concurrency ladder is powers of two, every stride-th, up to the maximum") {
  SweepSpace s;
  s.max_concurrency = 64;
  CHECK(concurrency_ladder(s) == std::vector<std::int32_t>{1, 2, 4, 8, 16, 32, 64});
  s.ladder_stride = 2;
  // 2^0, 2^2, 2^4, 2^6.
  CHECK(concurrency_ladder(s) == std::vector<std::int32_t>{1, 4, 16, 64});
  // Dense up to 8, then 2^4 and 2^6.
  s.dense_ladder_until = 8;
  CHECK(concurrency_ladder(s) == std::vector<std::int32_t>{1, 2, 4, 8, 16, 64});
}

TEST_CASE("a sweep point is a scenario that moesim run accepts, with max(3c, 64) requests") {
  SweepBase base = analytic_base();
  SweepDeployment d;
  d.primary.attention_dp = 8;
  d.primary.ep = 8;
  d.primary.instances = 3;
  d.primary.max_batch_size = 16;
  d.primary.max_num_tokens = 2064;
  d.primary.chunk = 2048;
  const config::Catalog cat = catalog();
  // c = 4: max(12, 64) = 64 requests, the first 4 as warm-up.
  const serve::Scenario small =
      serve::parse_scenario(config::ConfigNode::parse(scenario_yaml(base, d, 4), "test"), cat);
  CHECK(small.workload.requests == 64);
  CHECK(small.workload.warmup == 4);
  CHECK(small.workload.concurrency == 4);
  // Aggregated instances are simulated one at a time: 1 instance of 8 GPUs.
  CHECK(small.primary.pool.instances == 1);
  CHECK(small.primary.pool.gpus_per_instance == 8);
  // c = 32: 3 x 32 = 96 requests.
  const serve::Scenario big =
      serve::parse_scenario(config::ConfigNode::parse(scenario_yaml(base, d, 32), "test"), cat);
  CHECK(big.workload.requests == 96);
  CHECK(big.workload.warmup == 32);
}

TEST_CASE("pruning by capacity never drops a frontier point") {
  const config::Catalog cat = catalog();
  SweepOptions pruned_opts;
  pruned_opts.jobs = 2;
  SweepOptions full_opts = pruned_opts;
  full_opts.prune = false;
  const SweepResult pruned = run_sweep(analytic_base(), analytic_space(), cat, pruned_opts);
  const SweepResult full = run_sweep(analytic_base(), analytic_space(), cat, full_opts);
  // Ladder 1..64 (7 rungs) for 3 deployments (TP8, TP8 EP8, ADP8 EP8), plus ADP8 EP8's
  // capacity 24: 22 points. Pruned (see analytic_base): 32 and 64 of each = 6.
  REQUIRE(pruned.points.size() == 22);
  CHECK(pruned.pruned() == 6);
  CHECK(pruned.points[19].label == "ADP8 EP8 mb16 c24");
  CHECK(pruned.points[19].simulated);
  CHECK(full.pruned() == 0);
  CHECK(!pruned.frontier.empty());
  CHECK(frontier_labels(pruned) == frontier_labels(full));
  // The throughput end of the frontier is ADP8 EP8 at its capacity (24 running sequences); the
  // unpruned sweep's queueing rungs 32 and 64 do not beat it.
  REQUIRE(!full.frontier.empty());
  CHECK(frontier_labels(full).front() == "ADP8 EP8 mb16 c24");
}

TEST_CASE("an interactivity floor stops each ladder at its first point below it") {
  const config::Catalog cat = catalog();
  const SweepResult all = run_sweep(analytic_base(), analytic_space(), cat);
  // A floor between the slowest and the fastest simulated point.
  double lo = 1e300;
  double hi = 0.0;
  for (const SweepPoint& p : all.points) {
    if (!p.simulated) continue;
    lo = std::min(lo, p.tok_s_per_user);
    hi = std::max(hi, p.tok_s_per_user);
  }
  SweepOptions options;
  options.min_tok_s_per_user = (lo + hi) / 2;
  const SweepResult floored = run_sweep(analytic_base(), analytic_space(), cat, options);
  REQUIRE(floored.points.size() == all.points.size());
  std::size_t stopped = 0;
  for (std::size_t i = 0; i < all.points.size(); ++i) {
    const SweepPoint& a = all.points[i];
    const SweepPoint& f = floored.points[i];
    if (f.simulated) {  // simulated alike
      CHECK(f.tok_s_per_user == a.tok_s_per_user);
      CHECK(f.output_tok_s_per_gpu == a.output_tok_s_per_gpu);
      continue;
    }
    if (f.pruned.find("below the interactivity floor") == std::string::npos) continue;
    ++stopped;
    // Only rungs after a point of the same deployment below the floor are left out.
    REQUIRE(i > 0);
    CHECK(floored.points[i - 1].deployment == f.deployment);
    const SweepPoint& prev = floored.points[i - 1];
    CHECK((!prev.simulated || prev.tok_s_per_user < options.min_tok_s_per_user));
  }
  CHECK(stopped > 0);
  CHECK(floored.simulated() + stopped == all.simulated());
}

TEST_CASE("a sweep gives the same results with one job and with two") {
  const config::Catalog cat = catalog();
  SweepOptions one;
  one.jobs = 1;
  SweepOptions two;
  two.jobs = 2;
  const SweepResult a = run_sweep(analytic_base(), analytic_space(), cat, one);
  const SweepResult b = run_sweep(analytic_base(), analytic_space(), cat, two);
  REQUIRE(a.points.size() == b.points.size());
  for (std::size_t i = 0; i < a.points.size(); ++i) {
    CHECK(a.points[i].label == b.points[i].label);
    CHECK(a.points[i].output_tok_s_per_gpu == b.points[i].output_tok_s_per_gpu);
    CHECK(a.points[i].tok_s_per_user == b.points[i].tok_s_per_user);
    CHECK(a.points[i].ttft_p99_ms == b.points[i].ttft_p99_ms);
  }
  CHECK(a.frontier == b.frontier);
  CHECK(sweep_table(a, true).to_csv() == sweep_table(b, true).to_csv());
}

TEST_CASE("plans that do not fit in memory are pruned with the reason, not simulated") {
  SweepBase base;
  base.system = "hgx-h200";
  SweepSpace space;
  // DeepSeek-R1's FP8 checkpoint is ~690 GB: TP1 needs all of it on one 141 GB H200.
  space.tp_sizes = {1};
  space.ep_widths = {};
  space.max_batch_sizes = {64};
  space.mtp_draft_tokens = {0};
  space.disagg_ratios = {};
  const SweepResult r = run_sweep(base, space, catalog());
  REQUIRE(r.points.size() == 1);
  CHECK(!r.points[0].simulated);
  CHECK(r.points[0].pruned.find("memory or plan") == 0);
  CHECK(r.frontier.empty());
}

TEST_CASE("the sweep finds the frontier and its plot draws one circle per frontier point") {
  const SweepResult r = run_sweep(analytic_base(), analytic_space(), catalog());
  // Every frontier point is simulated and flagged; the frontier is in tok/s per user order.
  for (std::size_t k = 0; k < r.frontier.size(); ++k) {
    const SweepPoint& p = r.points[r.frontier[k]];
    CHECK(p.simulated);
    CHECK(p.on_frontier);
    if (k > 0) CHECK(r.points[r.frontier[k - 1]].tok_s_per_user <= p.tok_s_per_user);
  }
  const double levels[] = {20.0};
  const PlotSpec plot = frontier_plot(std::span<const SweepResult>(&r, 1), levels, "t");
  REQUIRE(!plot.series.empty());
  CHECK(plot.series[0].name == "hgx-h200 frontier");
  CHECK(plot.series[0].x.size() == r.frontier.size());
  CHECK(plot.vlines == std::vector<double>{20.0});
}

TEST_CASE("compare_table picks the best point at each level and says '-' when none reaches it") {
  // Hand-made results: A has (25 tok/s/user, 1000 tok/s/GPU, $1/Mtok) and (60, 500, $2);
  // B has (30, 400, $3).
  auto point = [](double user, double gpu, double cost, const char* label) {
    SweepPoint p;
    p.simulated = true;
    p.tok_s_per_user = user;
    p.output_tok_s_per_gpu = gpu;
    p.cost_usd_per_mtok = cost;
    p.label = label;
    return p;
  };
  SweepResult a;
  a.system_name = "a";
  a.points = {point(25, 1000, 1.0, "a1"), point(60, 500, 2.0, "a2")};
  SweepResult b;
  b.system_name = "b";
  b.points = {point(30, 400, 3.0, "b1")};
  const double levels[] = {20.0, 50.0, 100.0};
  const std::string csv = compare_table(a, b, levels).to_csv();
  // At 20: A's best is 1000 (a1), B's 400: ratio 1000 / 400 = 2.5; cost ratio 3 / 1 = 3.
  CHECK(csv.find("20,1000,400,2.5,1,3,3,a1,b1") != std::string::npos);
  // At 50: only a2 (60 >= 50) qualifies; B reaches 30 at most.
  CHECK(csv.find("50,500,-,-,2,-,-,a2,-") != std::string::npos);
  // At 100: neither.
  CHECK(csv.find("100,-,-,-,-,-,-,-,-") != std::string::npos);
}

TEST_CASE("precisions are accepted as KEY=VALUE lists or YAML maps") {
  CHECK(precision_yaml("weights=nvfp4, kv_cache=fp8", "--p") == "{weights: nvfp4, kv_cache: fp8}");
  CHECK(precision_yaml("{weights: nvfp4}", "--p") == "{weights: nvfp4}");
  CHECK(precision_yaml("", "--p").empty());
  CHECK_THROWS_AS(precision_yaml("weights", "--p"), ConfigError);
  CHECK_THROWS_AS(precision_yaml("weights=nvfp4,", "--p"), ConfigError);
}

}  // namespace moesim::study

namespace moesim::study {

TEST_CASE("--prefill-system puts the disaggregated prefill pools on another system") {
  // The analytic sweep on HGX H200 with 1:1 disaggregation and prefill on HGX B200: the
  // disaggregated deployments become mixed (their label names the prefill system, their
  // scenario gives the prefill pool its system); aggregated ones stay on H200.
  SweepBase base = analytic_base();
  base.prefill_system = "hgx-b200";
  SweepSpace space = analytic_space();
  space.tp_sizes = {};
  space.disagg_ratios = {{1, 1}};
  const config::Catalog cat = catalog();
  const std::vector<SweepDeployment> ds = enumerate_deployments(base, space, cat);
  CHECK(labels(ds) ==
        std::vector<std::string>{"ADP8 EP8 mb16", "disagg 1P(hgx-b200 TP8 EP8):1D(ADP8 EP8) mb16"});
  const serve::Scenario sc = serve::parse_scenario(
      config::ConfigNode::parse(scenario_yaml(base, ds.at(1), 4), "test"), cat);
  CHECK(sc.mixed());
  CHECK(sc.primary_system_name == "hgx-b200");
  CHECK(sc.decode_system_name == "hgx-h200");
  // The swept system as prefill system changes nothing.
  SweepBase same = analytic_base();
  same.prefill_system = "hgx-h200";
  CHECK(labels(enumerate_deployments(same, space, cat))[1] ==
        "disagg 1P(TP8 EP8):1D(ADP8 EP8) mb16");

  // Simulated with the plan-based model (the analytic one gives no KV bytes per token to move):
  // Mixtral-8x7B, 128 in / 32 out, concurrency 1 to 4, disaggregated only.
  SweepBase plan = base;
  plan.model = "mixtral-8x7b";
  plan.extra_yaml.clear();
  plan.extra_pool_yaml.clear();
  SweepSpace small = space;
  small.ep_widths = {8};
  small.tp_sizes = {8};
  small.max_concurrency = 4;
  SweepOptions opts;
  opts.jobs = 2;
  const SweepResult r = run_sweep(plan, small, cat, opts);
  CHECK(r.price_source.find("disaggregated prefill pools: hgx-b200") != std::string::npos);
  int mixed = 0;
  for (const SweepPoint& p : r.points) {
    CAPTURE(p.pruned);
    if (!p.simulated) continue;
    REQUIRE(p.cost_usd_per_mtok);
    // Aggregated: $6.31 per H200 GPU-hour; mixed 1:1 (8 + 8 GPUs): the mean of B200's $8.60
    // and H200's $6.31 (topologies/prices.yaml). $ per M tokens = $/h / 3600 / (tok/s/GPU / 1e6).
    const bool disagg = r.deployments[p.deployment].disaggregated;
    mixed += disagg ? 1 : 0;
    const double usd_h = disagg ? (8.60 + 6.31) / 2 : 6.31;
    CHECK(*p.cost_usd_per_mtok ==
          doctest::Approx(usd_h / 3600.0 / (p.output_tok_s_per_gpu / 1e6)).epsilon(1e-9));
  }
  CHECK(mixed > 0);
}

}  // namespace moesim::study
