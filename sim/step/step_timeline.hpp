#pragma once
/// \file
/// Times one StepPlan: every op of every rank priced by the compute model, collectives by the
/// network, on two streams per rank with the plan's dependencies. A collective starts when every
/// member of its group has reached it (the k-th op of each rank matches the k-th op of the
/// others: the lowering gives every rank of a stage the same op sequence), so stragglers show up
/// as waiting time. The step ends when the slowest rank ends.

#include <cstdint>
#include <span>
#include <vector>

#include "sim/cost/compute_model.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::step {

/// Prices collectives given every member's part (AllToAllV: the full byte matrix).
class StepNetwork {
 public:
  virtual ~StepNetwork() = default;
  /// Time of `kind` among `group` (global ranks). `size` is the nccl-tests size for AllReduce,
  /// AllGather, ReduceScatter and SendRecv; `matrix` the row-major p x p byte matrix of an
  /// AllToAllV (empty otherwise).
  virtual Duration collective(llm::CollectiveKind kind, std::span<const int> group, Bytes size,
                              std::span<const Bytes> matrix) = 0;
  /// The AllToAllV of `per_count` x `counts` (row-major p x p, e.g. tokens from group[s] to
  /// group[d]), or of its transpose when `transposed`: the same time as collective() on that
  /// byte matrix, which a network may price from its sums without writing it out.
  virtual Duration all_to_all_v_counts(std::span<const int> group,
                                       std::span<const std::int64_t> counts, Bytes per_count,
                                       bool transposed) = 0;
};

/// The timing of one op on one rank.
struct OpTiming {
  Duration start{};
  Duration end{};
  cost::OpCost cost;  ///< for collectives: time = the network time, bound kNetwork
};

/// The timing of a whole step. When every rank runs the same op list (StepPlan::plans has one
/// entry) every rank has the same timing, stored once: `ops` has one entry and rank_ops maps
/// every rank to it.
struct StepTimeline {
  Duration step{};                         ///< end of the slowest rank
  std::vector<Duration> rank_end;          ///< per global rank
  std::vector<std::vector<OpTiming>> ops;  ///< distinct per-rank timings [index][op index]
  std::vector<std::int32_t> rank_ops;      ///< global rank -> index into ops
  std::int32_t slowest_rank = 0;

  /// Share of the slowest rank's compute-op time priced outside the calibration's measured
  /// shapes (OpCost::extrapolated; collectives excluded), in [0, 1].
  double extrapolated_share() const {
    Duration all{};
    Duration outside{};
    for (const OpTiming& t : of(slowest_rank)) {
      if (t.cost.bound == cost::Bound::kNetwork) continue;
      all += t.cost.time;
      if (t.cost.extrapolated) outside += t.cost.time;
    }
    return all > Duration::zero()
               ? static_cast<double>(outside.count()) / static_cast<double>(all.count())
               : 0.0;
  }

  /// The op timings of global rank `rank`.
  const std::vector<OpTiming>& of(std::int32_t rank) const {
    return ops[static_cast<std::size_t>(rank_ops[static_cast<std::size_t>(rank)])];
  }
};

/// Evaluates `plan` (see the file comment). Throws InvariantError when ranks of a group disagree
/// on their op sequence.
StepTimeline time_step(const llm::StepPlan& plan, const cost::ComputeModel& compute,
                       StepNetwork& network);

}  // namespace moesim::step
