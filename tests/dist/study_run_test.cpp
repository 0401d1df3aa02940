#include "sim/dist/study_run.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/dist/communicator.hpp"
#include "sim/study/study.hpp"

namespace moesim::dist {
namespace {

config::Catalog catalog() { return config::Catalog(std::filesystem::path{MOESIM_SOURCE_DIR}); }

const std::string kTiny = std::string(MOESIM_TEST_DATA_DIR) + "/study/tiny.yaml";

std::filesystem::path fresh_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(MOESIM_BINARY_DIR) / name;
  std::filesystem::remove_all(dir);
  return dir;
}

/// Every table of a report, as the files moesim study writes.
std::string bytes_of(const study::StudyReport& r) {
  return r.points.to_csv() + r.points.to_json() + r.frontiers.to_csv() + r.frontiers.to_json() +
         r.compare.to_csv() + r.compare.to_json() + r.summary;
}

}  // namespace

TEST_CASE("points are dealt largest first to the least loaded rank, ties to the lowest rank") {
  // Costs 5 4 3 3 2 2 1 over 3 ranks: 0 -> r0 (5), 1 -> r1 (4), 2 -> r2 (3), 3 -> r2 (6),
  // 4 -> r1 (6), 5 -> r0 (7), 6 -> r1 (tie of r1 and r2 at 6: the lower rank; 7).
  const std::vector<double> cost{5, 4, 3, 3, 2, 2, 1};
  const std::vector<std::size_t> points{0, 1, 2, 3, 4, 5, 6};
  const auto share = deal_points(points, cost, 3);
  REQUIRE(share.size() == 3);
  CHECK(share[0] == std::vector<std::size_t>{0, 5});
  CHECK(share[1] == std::vector<std::size_t>{1, 4, 6});
  CHECK(share[2] == std::vector<std::size_t>{2, 3});
  // More ranks than points: the extra ranks get none.
  const auto wide = deal_points({2, 6}, cost, 4);
  CHECK(wide[0] == std::vector<std::size_t>{2});
  CHECK(wide[1] == std::vector<std::size_t>{6});
  CHECK(wide[3].empty());
}

TEST_CASE("probes shared through a communicator plan the same study as probes run in place") {
  const study::StudySpec spec = study::load_study(kTiny, catalog());
  const auto comm = make_communicator();
  const study::StudyPlan local = study::plan_study(spec, catalog(), 2);
  const study::StudyPlan shared = study::plan_study(spec, catalog(), 2, shared_probes(*comm, 2));
  CHECK(shared.fingerprint == local.fingerprint);
  REQUIRE(shared.sweeps.size() == local.sweeps.size());
  for (std::size_t i = 0; i < local.sweeps.size(); ++i) {
    CHECK(shared.sweeps[i].per_unit == local.sweeps[i].per_unit);
  }
}

TEST_CASE("point lists are written as ranges") {
  CHECK(describe_points({9, 0, 1, 2, 4, 10, 11}) == "0-2, 4, 9-11");
  CHECK(describe_points({}) == "none");
}

TEST_CASE("a study's report is the same bytes on 1 or 3 threads and after a resumed failure") {
  const study::StudyPlan plan =
      study::plan_study(study::load_study(kTiny, catalog()), catalog(), 1);
  REQUIRE(plan.todo.size() >= 8);
  const auto comm = make_communicator();
  REQUIRE(comm->size() == 1);

  StudyRunOptions one;
  one.jobs = 1;
  one.journal_dir = fresh_dir("dist-test-journal-1");
  const StudyRunResult a = run_study(plan, *comm, catalog(), one);
  REQUIRE(a.report);
  CHECK(a.simulated == plan.todo.size());

  StudyRunOptions three = one;
  three.jobs = 3;
  three.journal_dir = fresh_dir("dist-test-journal-3");
  three.fail_after = 5;  // a rank that dies after 5 points (up to 2 more finish on the others)
  std::string failure;
  try {
    run_study(plan, *comm, catalog(), three);
  } catch (const RankFailure& e) {
    failure = e.what();
  }
  CHECK(failure.find("rank 0 of 1 failed") != std::string::npos);
  CHECK(failure.find("it held " + std::to_string(plan.todo.size()) + " points: 0-") !=
        std::string::npos);
  CHECK(failure.find("not finished") != std::string::npos);

  three.fail_after = 0;
  const StudyRunResult b = run_study(plan, *comm, catalog(), three);
  REQUIRE(b.report);
  CHECK(b.resumed >= 5);
  CHECK(b.resumed <= 7);
  CHECK(b.resumed + b.simulated == plan.todo.size());
  CHECK(bytes_of(*b.report) == bytes_of(*a.report));

  // Everything journaled: a third run simulates nothing and writes the same bytes.
  const StudyRunResult c = run_study(plan, *comm, catalog(), three);
  CHECK(c.simulated == 0);
  CHECK(bytes_of(*c.report) == bytes_of(*a.report));
}

}  // namespace moesim::dist
