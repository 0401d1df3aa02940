#include "sim/dist/communicator.hpp"

#include <cstdlib>
#include <string>

#include "sim/core/error.hpp"
#include "sim/dist/mpi/mpi_communicator.hpp"

namespace moesim::dist {
namespace {

/// One process: broadcast and gather are identities.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  std::string broadcast(const std::string& text) override { return text; }
  std::vector<std::string> gather(const std::string& text) override { return {text}; }
  std::string describe() const override { return "one process"; }

 private:
  void end_job(int /*code*/) override {}
};

/// A positive integer environment variable, or 0.
int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return end != v && *end == '\0' && n > 0 && n < (1L << 30) ? static_cast<int>(n) : 0;
}

}  // namespace

bool built_with_mpi() {
#ifdef MOESIM_HAVE_MPI
  return true;
#else
  return false;
#endif
}

int launcher_ranks() {
  for (const char* name :
       {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    if (const int n = env_int(name)) return n;
  }
  return 1;
}

std::unique_ptr<Communicator> make_communicator() {
  const int ranks = launcher_ranks();
#ifdef MOESIM_HAVE_MPI
  if (ranks > 1 || env_int("OMPI_COMM_WORLD_SIZE") > 0) return make_mpi_communicator();
#else
  if (ranks > 1) {
    throw ConfigError({"<environment>", 0, 0}, "mpirun / srun",
                      "a moesim built with Open MPI (install libopenmpi-dev and rebuild; CMake "
                      "then says 'Open MPI found'), or one process",
                      std::to_string(ranks) +
                          " ranks started for a moesim built without MPI: each would run the "
                          "whole study");
  }
#endif
  return std::make_unique<LocalCommunicator>();
}

}  // namespace moesim::dist
