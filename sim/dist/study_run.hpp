#pragma once
/// \file
/// Running a planned study (sim/study/study.hpp) over the ranks of a Communicator.
///
/// 0. Plan (every rank, study::plan_study), with the deployment probes shared (shared_probes).
/// 1. Resume: rank 0 reads the results journal (JOURNAL_DIR/rank-*.log, records of this plan's
///    fingerprint only) and broadcasts which points are done.
/// 2. Shard: the points left are dealt to ranks by their cost estimate (StudyPlan::cost), largest
///    first, each to the rank with the least cost so far (ties: lowest rank; greedy LPT, within
///    4/3 of the best makespan when the estimate is right; Graham 1969). Every rank computes the
///    same deal from the same plan.
/// 3. Simulate: each rank runs its points on `jobs` threads (largest first) and appends each
///    record, as soon as it exists, to JOURNAL_DIR/rank-R.log (flushed per line), so a rank that
///    dies loses only the points it was simulating.
/// 4. Gather: rank 0 collects the ranks' records and, with the resumed ones, has one record per
///    point, in point order: the report is the same bytes for any number of ranks or threads.
/// The journal assumes a directory every rank can write and rank 0 can read (on a cluster, a
/// shared file system, as Slurm jobs usually have).

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/dist/communicator.hpp"
#include "sim/study/study.hpp"

namespace moesim::dist {

/// A rank that could not finish its points: which it held, and which of them are saved.
class RankFailure : public Error {
 public:
  using Error::Error;
};

/// How to run a study.
struct StudyRunOptions {
  unsigned jobs = 1;                  ///< threads of this rank (>= 1)
  std::filesystem::path journal_dir;  ///< where the ranks' journals live
  bool fresh = false;                 ///< discard the journal first (re-simulate everything)
  /// Test hook: rank fail_rank stops with a RankFailure once it has journaled fail_after points
  /// (0: never), as a crashed rank would.
  std::size_t fail_after = 0;
  int fail_rank = 0;
  study::SweepProgress progress;  ///< this rank's points (called under a lock)
};

/// What a run did.
struct StudyRunResult {
  std::optional<study::StudyReport> report;  ///< on rank 0
  std::size_t resumed = 0;                   ///< points found in the journal
  std::size_t simulated = 0;                 ///< points this rank simulated
  std::size_t assigned = 0;                  ///< points dealt to this rank
};

/// The ranks' shares of `points` (indices into `cost`): greedy LPT (file comment), each share
/// in the order its rank runs it (largest cost first, then lowest index).
std::vector<std::vector<std::size_t>> deal_points(const std::vector<std::size_t>& points,
                                                  const std::vector<double>& cost, int ranks);

/// Point numbers as ranges, e.g. "0-4, 7, 9-12" (sorted first).
std::string describe_points(std::vector<std::size_t> points);

/// Probes planning needs, shared among `comm`'s ranks: rank r probes every size()-th deployment
/// from r on `jobs` threads, rank 0 gathers them all and broadcasts them, so that every rank
/// plans the same study after a 1 / size() share of the probing.
study::ProbeRunner shared_probes(Communicator& comm, unsigned jobs);

/// Runs `plan` on `comm`'s ranks (file comment). Throws RankFailure when this rank cannot finish
/// (the caller then ends the job with Communicator::abort); a ConfigError when the journal cannot
/// be written.
StudyRunResult run_study(const study::StudyPlan& plan, Communicator& comm,
                         const config::Catalog& catalog, const StudyRunOptions& options);

}  // namespace moesim::dist
