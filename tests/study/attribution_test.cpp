// Attribution of a deployment gap to its factors (sim/study/attribution.hpp): the waterfall and
// Shapley arithmetic on hand-made subsets, and a small end-to-end run on the analytic step model.
#include "sim/study/attribution.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "sweep_test_util.hpp"
#include "test_util.hpp"

namespace moesim::study {
namespace {

using test::analytic_base;
using test::analytic_space;

config::Catalog catalog() { return config::Catalog(std::filesystem::path{MOESIM_SOURCE_DIR}); }

/// Two factors, system (bit 0) and mtp (bit 1), one level, the given tok/s per GPU per subset
/// (0: the subset cannot reach the level); cost = 1000 / tok/s (one price for all).
AttributionResult hand_made(std::vector<double> by_mask) {
  AttributionResult r;
  r.setup.levels = {50.0};
  r.factors = {Factor::kSystem, Factor::kMtp};
  r.best.assign(1, std::vector<std::optional<SubsetBest>>(4));
  for (std::size_t m = 0; m < 4; ++m) {
    if (by_mask[m] > 0) {
      r.best[0][m] = SubsetBest{by_mask[m], 1000.0 / by_mask[m], "d" + std::to_string(m)};
    }
  }
  return r;
}

TEST_CASE("waterfall and Shapley factors multiply to the total ratio") {
  // v(none) = 100, v(system) = 300, v(mtp) = 150, v(both) = 600.
  const AttributionResult r = hand_made({100, 300, 150, 600});
  const auto fall = r.waterfall(0);
  REQUIRE(fall);
  REQUIRE(fall->size() == 2);
  CHECK((*fall)[0].throughput == doctest::Approx(3.0));
  CHECK((*fall)[1].throughput == doctest::Approx(2.0));
  CHECK((*fall)[1].after->deployment == "d3");
  const auto shap = r.shapley(0);
  REQUIRE(shap);
  // Shapley over two orders: system adds x3 (first) or x4 (after mtp): sqrt(12); mtp adds x1.5
  // or x2: sqrt(3). They multiply to 6 = 600 / 100.
  CHECK((*shap)[0].throughput == doctest::Approx(std::sqrt(12.0)));
  CHECK((*shap)[1].throughput == doctest::Approx(std::sqrt(3.0)));
  CHECK((*shap)[0].throughput * (*shap)[1].throughput == doctest::Approx(6.0));
  // One price: the cost factor is the throughput factor.
  REQUIRE((*shap)[0].cost);
  CHECK(*(*shap)[0].cost == doctest::Approx(std::sqrt(12.0)));
}

TEST_CASE("a subset that cannot reach the level leaves Shapley undefined, not the waterfall") {
  const AttributionResult r = hand_made({100, 300, 0, 600});
  CHECK(r.waterfall(0));
  CHECK(!r.shapley(0));
  const AttributionResult none = hand_made({0, 300, 150, 600});
  CHECK(!none.waterfall(0));
  // The table says so rather than printing numbers.
  const std::string text = attribution_table(none).to_text();
  CHECK(text.find("cannot reach this level") != std::string::npos);
}

TEST_CASE("factors whose baseline and target are equal are dropped; none left is an error") {
  AttributionSetup s;
  s.stack = {"trtllm", "trtllm"};
  const std::vector<Factor> f = s.factors();
  CHECK(f == std::vector<Factor>{Factor::kSystem, Factor::kPrecision, Factor::kParallelism,
                                 Factor::kServing, Factor::kMtp});
  s.order = {Factor::kStack};
  CHECK(s.factors().empty());
  CHECK_THROWS_AS(run_attribution(s, catalog()), ConfigError);
}

TEST_CASE("end to end on the analytic step model: widening factors never lose, shares multiply") {
  AttributionSetup s;
  s.base = analytic_base();
  s.system = {"hgx-h200", "gb200-nvl72"};
  s.precision = {"", ""};              // dropped
  s.stack = {"roofline", "roofline"};  // dropped
  s.levels = {50.0, 200.0};
  s.space = analytic_space(64);
  s.space.ep_widths = {8, 16};
  s.space.mtp_draft_tokens = {0, 1};
  s.space.disagg_ratios = {{1, 1}};
  s.space.disagg_decode_widths = {8};
  const AttributionResult r = run_attribution(s, catalog());
  REQUIRE(r.factors == std::vector<Factor>{Factor::kSystem, Factor::kParallelism, Factor::kServing,
                                           Factor::kMtp});
  CHECK(r.sweeps.size() == 2);  // one per system
  for (std::size_t l = 0; l < s.levels.size(); ++l) {
    const auto& base = r.best[l][0];
    REQUIRE(base);
    // The baseline chooses among TP8 / ADP8 EP8, aggregated, without MTP.
    CHECK(base->deployment.find("disagg") == std::string::npos);
    CHECK(base->deployment.find("MTP") == std::string::npos);
    CHECK(base->deployment.find("EP16") == std::string::npos);
    // Parallelism, serving and mtp only widen the choice: adding one never lowers the best.
    for (std::uint32_t m = 0; m <= r.full_mask(); ++m) {
      for (std::uint32_t bit : {2u, 4u, 8u}) {
        if ((m & bit) != 0 || !r.best[l][m]) continue;
        REQUIRE(r.best[l][m | bit]);
        CHECK(r.best[l][m | bit]->tok_s_per_gpu >= r.best[l][m]->tok_s_per_gpu);
      }
    }
    const auto fall = r.waterfall(l);
    const auto shap = r.shapley(l);
    REQUIRE(fall);
    REQUIRE(shap);
    const double total = r.best[l][r.full_mask()]->tok_s_per_gpu / base->tok_s_per_gpu;
    double wf = 1.0;
    double sh = 1.0;
    for (std::size_t i = 0; i < r.factors.size(); ++i) {
      wf *= (*fall)[i].throughput;
      sh *= (*shap)[i].throughput;
    }
    CHECK(wf == doctest::Approx(total));
    CHECK(sh == doctest::Approx(total));
  }
  // The SVG draws the baseline, one bar per factor and the target in each panel.
  const std::string svg = attribution_svg(r);
  std::size_t bars = 0;
  for (auto at = svg.find("class=\"bar\""); at != std::string::npos;
       at = svg.find("class=\"bar\"", at + 1)) {
    ++bars;
  }
  CHECK(bars == s.levels.size() * (r.factors.size() + 2));
  const std::string json = attribution_json(r);
  CHECK(json.find("\"shapley\": [") != std::string::npos);
  CHECK(json.find("\"claims\": [") != std::string::npos);
}

}  // namespace
}  // namespace moesim::study
