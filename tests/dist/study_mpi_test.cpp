// `moesim study` end to end: one process, and under mpirun with 2 and 4 ranks (skipped where
// moesim was built without MPI or mpirun is absent), including a rank killed mid-run.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sim/dist/communicator.hpp"
#include "tests/cli/cli_test_util.hpp"

namespace moesim::dist {
namespace {

using cli_test::contains;
using cli_test::Result;

const std::string kTiny = std::string(MOESIM_TEST_DATA_DIR) + "/study/tiny.yaml";
const std::string kMoesim = std::string(MOESIM_BINARY_DIR) + "/moesim";

/// The files `moesim study` writes, concatenated with their names.
std::string outputs(const std::filesystem::path& dir) {
  std::string all;
  for (const char* name : {"points.csv", "points.json", "frontiers.csv", "frontiers.json",
                           "compare.csv", "compare.json"}) {
    std::ifstream in(dir / name, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    all += std::string("== ") + name + "\n" + s.str();
  }
  return all;
}

Result shell(const std::string& cmd) {
  Result r;
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  std::size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

std::string out_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(MOESIM_BINARY_DIR) / name;
  std::filesystem::remove_all(dir);
  return dir.string();
}

/// The reference: one process, one thread.
std::string single_run() {
  const std::string dir = out_dir("dist-test-single");
  const Result r = shell(kMoesim + " study " + kTiny + " --jobs 1 --output " + dir);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "Study tiny: 4 cells"));
  return outputs(dir);
}

#ifdef MOESIM_MPIEXEC
const std::string kMpirun = std::string(MOESIM_MPIEXEC) + " --oversubscribe --allow-run-as-root";
bool have_mpirun() { return built_with_mpi() && std::filesystem::exists(MOESIM_MPIEXEC); }
#else
const std::string kMpirun;
bool have_mpirun() { return false; }
#endif

}  // namespace

TEST_CASE("moesim study writes the same bytes on 1 and 2 threads and after a killed run") {
  const std::string reference = single_run();
  CHECK(contains(reference, "== compare.csv\nmodel,stack,isl,osl,replica,a,"));
  const std::string dir = out_dir("dist-test-resume");
  const Result killed = shell("MOESIM_STUDY_FAIL_AFTER=3 " + kMoesim + " study " + kTiny +
                              " --jobs 2 --output " + dir);
  CHECK(killed.status == 4);
  CHECK(contains(killed.output, "rank 0 of 1 failed"));
  CHECK(contains(killed.output, "run the same command again"));
  const Result resumed = shell(kMoesim + " study " + kTiny + " --jobs 2 --output " + dir);
  REQUIRE_MESSAGE(resumed.status == 0, resumed.output);
  CHECK(!contains(resumed.output, " 0 points from the journal"));
  CHECK(outputs(dir) == reference);
}

TEST_CASE("mpirun -n 2 and -n 4 write the same bytes as one process, and resume a killed rank") {
  if (!have_mpirun()) {
    MESSAGE("skipped: moesim was built without MPI or mpirun is absent (libopenmpi-dev)");
    return;
  }
  const std::string reference = single_run();
  for (const int ranks : {2, 4}) {
    const std::string dir = out_dir("dist-test-mpi-" + std::to_string(ranks));
    const Result r = shell(kMpirun + " -n " + std::to_string(ranks) + " " + kMoesim + " study " +
                           kTiny + " --jobs 1 --output " + dir);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    CHECK(contains(r.output, "Open MPI, " + std::to_string(ranks) + " ranks"));
    CHECK(outputs(dir) == reference);
  }
  // Rank 1 of 2 dies after 2 points; 4 ranks finish the rest.
  const std::string dir = out_dir("dist-test-mpi-killed");
  const Result killed = shell("MOESIM_STUDY_FAIL_AFTER=2 MOESIM_STUDY_FAIL_RANK=1 " + kMpirun +
                              " -n 2 " + kMoesim + " study " + kTiny + " --jobs 1 --output " + dir);
  CHECK(killed.status != 0);
  CHECK(contains(killed.output, "rank 1 of 2 failed"));
  CHECK(contains(killed.output, "it held"));
  CHECK(std::filesystem::exists(std::filesystem::path(dir) / "journal" / "rank-1.log"));
  const Result resumed =
      shell(kMpirun + " -n 4 " + kMoesim + " study " + kTiny + " --jobs 1 --output " + dir);
  REQUIRE_MESSAGE(resumed.status == 0, resumed.output);
  CHECK(!contains(resumed.output, " 0 points from the journal"));
  CHECK(outputs(dir) == reference);
}

}  // namespace moesim::dist

namespace moesim::dist {

TEST_CASE("study --help teaches the study file; a study under mpirun without MPI is refused") {
  const Result help = shell(kMoesim + " study --help");
  CHECK(help.status == 0);
  CHECK(cli_test::contains(help.output, "systems: [gb200-nvl72, hgx-h200]"));
  CHECK(cli_test::contains(help.output, "mpirun -n RANKS moesim study FILE"));
  CHECK(cli_test::contains(shell(kMoesim + " --help").output, "study"));
  if (built_with_mpi()) return;
  // What mpirun sets in each rank's environment: refused with status 2, not run N times.
  const Result r = shell("OMPI_COMM_WORLD_SIZE=2 " + kMoesim + " study " + kTiny);
  CHECK(r.status == 2);
  CHECK(cli_test::contains(r.output, "built without MPI"));
}

}  // namespace moesim::dist
