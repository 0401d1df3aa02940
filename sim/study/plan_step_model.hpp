#pragma once
/// \file
/// The plan-based step-time model of `moesim run`: a step is lowered to per-rank op lists
/// (llm::Lowering), its MoE routing is sampled (llm::SampledLoads, uniform popularity, EPLB
/// placement when the plan has redundant experts), every op is priced by the compute model and
/// every collective by the network (study::time_step), and the step lasts until its slowest
/// rank ends.
///
/// Lowering one step costs tens to hundreds of milliseconds, so steps are priced per cache key
/// and the timing is reused for every later step with the same key. The key is
///   (has prefill, has decode, decode tokens per sequence,
///    bucket(max over ranks of decode sequences), bucket(max over ranks of prefill tokens),
///    bucket(mean decode context), bucket(mean prefill prefix))
/// with geometric buckets: bucket(x) is the smallest ceil(2^(k/4)) >= x (steps of about 19%).
/// Approximations, all conservative except the last:
///   - work rounds up to the bucket's upper value;
///   - every attention-DP replica gets the busiest rank's bucketed batch (the DP ranks'
///     imbalance in batch size is not modelled, the slowest rank sets the pace anyway);
///   - a replica's prefill sequences run as one chunk of the bucketed tokens after the mean
///     prefix;
///   - routing is sampled once per key (from the pricing instance's stream on the cache miss),
///     so the MoE imbalance is one sample, reused.
/// Breakdown (the engine adds the host step overhead itself, so host_overhead is 0): on the
/// slowest rank, compute-bound op time -> compute, memory- and overhead-bound op time -> memory,
/// collective time -> communication; when these exceed the step (the two streams overlap) they
/// are scaled down in proportion, else idle = step - their sum. The five parts sum to the step.
/// imbalance = slowest rank's busy time / mean busy time over ranks. No trace detail is given.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "sim/serve/step_time_model.hpp"
#include "sim/study/deployment.hpp"

namespace moesim::study {

/// Smallest ceil(2^(k/4)) >= x over k >= 0, for x >= 1; 0 for x <= 0.
std::int64_t geometric_bucket(std::int64_t x);

/// See the file comment.
class PlanStepModel final : public serve::StepTimeModel {
 public:
  /// Prices steps of `deployment` (non-null). `label` names the pool in describe().
  PlanStepModel(std::shared_ptr<const Deployment> deployment, std::string label);

  void price(const serve::StepBatch& batch, const serve::StepContext& ctx,
             serve::StepTiming& out) override;
  std::string describe() const override;

  /// Distinct keys priced so far (cache misses).
  std::int64_t lowered_steps() const { return static_cast<std::int64_t>(cache_.size()); }
  /// Steps answered from the cache.
  std::int64_t cache_hits() const { return hits_; }

 private:
  using Key = std::array<std::int64_t, 7>;
  serve::StepTiming lower_and_time(const Key& key, Rng& rng) const;

  std::shared_ptr<const Deployment> deployment_;
  std::string label_;
  std::map<Key, serve::StepTiming> cache_;
  std::int64_t hits_ = 0;
};

}  // namespace moesim::study
