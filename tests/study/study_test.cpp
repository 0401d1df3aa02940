#include "sim/study/study.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::study {
namespace {

config::Catalog catalog() { return config::Catalog(std::filesystem::path{MOESIM_SOURCE_DIR}); }

const std::string kTiny = std::string(MOESIM_TEST_DATA_DIR) + "/study/tiny.yaml";

/// The ConfigError parse_study throws for `yaml` (a study file's text).
ConfigError study_error(const std::string& yaml) {
  try {
    parse_study(config::ConfigNode::parse(yaml, "bad.yaml"), catalog());
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError for: " << yaml);
  return ConfigError({}, "", "", "");
}

}  // namespace

TEST_CASE("a study's cells are the product of its axes, replicas reseeded, points numbered") {
  const StudySpec spec = load_study(kTiny, catalog());
  const StudyPlan plan = plan_study(spec, catalog(), 1);
  // 1 model x 2 systems x 1 precision x 1 stack x 1 workload x 2 replicas, replica innermost.
  REQUIRE(plan.cells.size() == 4);
  CHECK(plan.cells[0].base.system == "hgx-h200");
  CHECK(plan.cells[1].base.system == "hgx-h200");
  CHECK(plan.cells[2].base.system == "gb200-nvl72");
  CHECK(plan.cells[0].base.seed == 1);
  CHECK(plan.cells[1].base.seed == 2);
  CHECK(plan.sweeps[1].result.base.seed == 2);  // the shared probe, reseeded
  // Replicas differ only in the seed: the same points.
  CHECK(plan.sweeps[0].result.points.size() == plan.sweeps[1].result.points.size());
  // The todo list numbers every unpruned point in cell, then point order.
  std::size_t expected = 0;
  for (const SweepPlan& s : plan.sweeps) expected += s.todo().size();
  CHECK(plan.todo.size() == expected);
  for (std::size_t k = 1; k < plan.todo.size(); ++k) {
    const bool ordered =
        plan.todo[k - 1].cell < plan.todo[k].cell ||
        (plan.todo[k - 1].cell == plan.todo[k].cell && plan.todo[k - 1].point < plan.todo[k].point);
    CHECK(ordered);
  }
  // Another seed is another plan: the journal of one must not serve the other.
  StudySpec reseeded = spec;
  reseeded.seed = 5;
  CHECK(plan_study(reseeded, catalog(), 1).fingerprint != plan.fingerprint);
  CHECK(plan_study(spec, catalog(), 2).fingerprint == plan.fingerprint);
}

TEST_CASE("a point's record reads back every metric bit for bit, and a cut record is refused") {
  SweepPoint p;
  p.simulated = true;
  p.output_tok_s_per_gpu = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  p.tok_s_per_user = std::nextafter(100.0, 200.0);
  p.ttft_p90_ms = 1e-300;
  p.ttft_p99_ms = 12345.678;
  p.tpot_p90_ms = 3.0;
  p.cost_usd_per_mtok = 2.0 / 3.0;
  p.joules_per_token = std::nullopt;
  p.extrapolated_share = 0.25;
  p.pruned = "tab\there, newline\nthere, back\\slash";
  const std::string line = encode_point(41, p);
  CHECK(line.find('\n') == std::string::npos);
  SweepPoint q;
  std::size_t k = 0;
  REQUIRE(decode_point(line, k, q));
  CHECK(k == 41);
  CHECK(q.simulated);
  CHECK(q.output_tok_s_per_gpu == p.output_tok_s_per_gpu);
  CHECK(q.tok_s_per_user == p.tok_s_per_user);
  CHECK(q.ttft_p90_ms == p.ttft_p90_ms);
  CHECK(q.ttft_p99_ms == p.ttft_p99_ms);
  CHECK(q.tpot_p90_ms == p.tpot_p90_ms);
  CHECK(q.cost_usd_per_mtok == p.cost_usd_per_mtok);
  CHECK(!q.joules_per_token);
  CHECK(q.extrapolated_share == p.extrapolated_share);
  CHECK(q.pruned == p.pruned);
  // A crash can cut the journal's last line anywhere.
  for (const std::size_t cut : {std::size_t{0}, std::size_t{3}, line.size() / 2}) {
    CHECK_FALSE(decode_point(line.substr(0, cut), k, q));
  }
  CHECK_FALSE(decode_point(line + "\textra", k, q));
}

TEST_CASE("the SLA marks each point and keeps the points that miss it out of the comparisons") {
  StudySpec spec = load_study(kTiny, catalog());
  spec.sla_tpot_p90_ms = 5.0;
  const StudyPlan plan = plan_study(spec, catalog(), 1);
  REQUIRE(plan.todo.size() == plan.points());  // the tiny study prunes nothing
  // Made-up results, no simulation: point k has TPOT p90 = 1 + k ms, so points 0-4 meet 5 ms.
  std::vector<std::string> records;
  for (std::size_t k = 0; k < plan.todo.size(); ++k) {
    SweepPoint p;
    p.simulated = true;
    p.output_tok_s_per_gpu = 100.0 + static_cast<double>(k);
    p.tok_s_per_user = 1000.0;
    p.tpot_p90_ms = 1.0 + static_cast<double>(k);
    records.push_back(encode_point(k, p));
  }
  const StudyReport report = assemble_study(plan, records);
  const auto rows = report.points.data_rows();
  REQUIRE(rows.size() == plan.todo.size());
  CHECK(report.points.header().back() == "meets_sla");
  for (std::size_t k = 0; k < rows.size(); ++k) CHECK(rows[k].back() == (k <= 4 ? "yes" : "no"));
  // Cells: hgx-h200 replica 0 (points 0-11), replica 1 (12-23), gb200-nvl72 replicas 0 and 1.
  // Within the SLA, hgx-h200 replica 0's best is point 4 (104 tok/s per GPU; the 1,000 tok/s
  // per user of every point meets every level), and no gb200-nvl72 point qualifies.
  const auto cmp = report.compare.data_rows();
  REQUIRE(!cmp.empty());
  CHECK(cmp[0][5] == "gb200-nvl72");  // a
  CHECK(cmp[0][7] == "hgx-h200");     // b
  CHECK(cmp[0][10] == "-");           // a_tok_s_per_gpu
  CHECK(cmp[0][11] == "104");         // b_tok_s_per_gpu
}

TEST_CASE("a bad study file is an error at its key, with the expected value and a did-you-mean") {
  const ConfigError key = study_error("sytems: [hgx-h200]\n");
  CHECK(key.where().file == "bad.yaml");
  CHECK(key.where().line == 1);
  CHECK(key.suggestion() == "systems");

  const ConfigError system = study_error("systems: [hgx-h200, hgx-h20]\n");
  CHECK(system.key_path().rfind("systems[1]", 0) == 0);
  CHECK(system.suggestion() == "hgx-h200");

  const ConfigError space = study_error("systems: hgx-h200\nspace: {tp: [8], ep: [1]}\n");
  CHECK(space.key_path() == "space.ep[0]");
  CHECK(space.where().line == 2);

  const ConfigError mtp = study_error("systems: hgx-h200\nspace: {mtp: [4]}\n");
  CHECK(mtp.key_path() == "space.mtp[0]");

  const ConfigError ratio = study_error("systems: hgx-h200\nspace: {disagg: [\"1-2\"]}\n");
  CHECK(ratio.key_path() == "space.disagg[0]");

  const ConfigError workload = study_error("systems: hgx-h200\nworkloads: [{isl: 0, osl: 8}]\n");
  CHECK(workload.key_path() == "workloads[0].isl");

  const ConfigError precision = study_error("systems: hgx-h200\nprecisions: [\"weights=fp9\"]\n");
  CHECK(precision.key_path().rfind("precisions[0]", 0) == 0);
  CHECK(precision.where().line == 2);

  const ConfigError compare =
      study_error("systems: [hgx-h200]\nreport: {compare: [{a: hgx-h200, b: gb200-nvl72}]}\n");
  CHECK(compare.key_path() == "report.compare[0].b");
  CHECK(compare.expected() == "one of the study's systems");
}

}  // namespace moesim::study
