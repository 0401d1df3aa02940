#pragma once
/// \file
/// The processes a study runs on. A Communicator is the one view sim/dist has of them: one
/// process (LocalCommunicator, always built) or the ranks of an Open MPI job started by mpirun
/// or Slurm's srun (sim/dist/mpi/, built only where CMake finds MPI; no header outside that
/// folder includes mpi.h). Only the calling thread of a rank talks to the others.

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace moesim::dist {

/// Collective operations over the ranks of a job; every rank calls each one, in the same order.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's rank, 0 .. size() - 1.
  virtual int rank() const = 0;
  /// Ranks in the job.
  virtual int size() const = 0;
  /// Ranks on this machine (this one included), to share its cores among them.
  virtual int local_size() const = 0;
  /// Rank 0's `text`, on every rank.
  virtual std::string broadcast(const std::string& text) = 0;
  /// On rank 0, every rank's `text`, by rank; elsewhere an empty vector.
  virtual std::vector<std::string> gather(const std::string& text) = 0;
  /// Ends every rank of the job with exit status `code` (MPI_Abort), then this process: for a
  /// rank that failed while the others wait in a collective. Called only by sim/cli.
  [[noreturn]] void abort(int code) {
    end_job(code);
    std::_Exit(code);
  }
  /// "one process" or "Open MPI, N ranks".
  virtual std::string describe() const = 0;

 private:
  /// Asks the launcher to end every rank with `code`; may return.
  virtual void end_job(int code) = 0;
};

/// Whether this moesim was built with the Open MPI communicator.
bool built_with_mpi();

/// Ranks of the job this process was started in, read from the launcher's environment
/// (OMPI_COMM_WORLD_SIZE from mpirun, PMI_SIZE / PMIX_SIZE from other MPI launchers,
/// SLURM_STEP_NUM_TASKS from srun); 1 when none is set.
int launcher_ranks();

/// The communicator of this process: the MPI one when started by a launcher and built with MPI,
/// else the local one. Started with several ranks by a launcher but built without MPI, each
/// rank would run the whole study: a ConfigError saying so (exit 2), not N copies.
std::unique_ptr<Communicator> make_communicator();

}  // namespace moesim::dist
