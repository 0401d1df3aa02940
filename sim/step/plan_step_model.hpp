#pragma once
/// \file
/// The plan-based step-time model of `moesim run`: a step is lowered to per-rank op lists
/// (llm::Lowering), its MoE routing is sampled (llm::SampledLoads, uniform popularity, EPLB
/// placement when the plan has redundant experts), every op is priced by the compute model and
/// every collective by the network (step::time_step), and the step lasts until its slowest
/// rank ends.
///
/// Lowering and timing a step costs milliseconds, so steps are priced per cache key
/// and the timing is reused for every later step with the same key. The key is
///   (has prefill, has decode, decode tokens per sequence,
///    bucket(max over ranks of decode sequences), bucket(max over ranks of prefill tokens),
///    bucket(mean decode context), bucket(mean prefill prefix))
/// with geometric buckets: bucket(x) is the smallest ceil(2^(k/4)) >= x (steps of about 19%).
/// Approximations, all conservative except the last:
///   - work rounds up to the bucket's upper value;
///   - unfactored, every attention-DP replica gets the busiest rank's bucketed batch (the
///     slowest rank sets the pace anyway; the MoE layers then carry more tokens than they do);
///   - a replica's prefill sequences run as one chunk of the bucketed tokens after the mean
///     prefix;
///   - routing is sampled once per key (exact pricing) or once per bucket of routed tokens
///     (factored pricing), from the pricing instance's stream on the cache miss, so the MoE
///     imbalance is one sample, reused.
/// Attention-DP ranks with prefill work (factored pricing): in every layer each rank runs its
/// own attention, projections and shared experts on its own batch, then waits at the MoE
/// all-to-all for the slowest rank; the exchange (dispatch, routed experts, combine) carries
/// the tokens of all ranks. So a step in which some rank prefills is
///   max over ranks r of own(key_r) + exchange(mean rank),
/// where own(key_r) is the symmetric step of rank r's own key (the fields above for that rank
/// alone) minus its MoE exchange (the union of the exchange ops' intervals on its timeline),
/// cached per key without a routing draw, and exchange(mean) is the MoE exchange, routing
/// corrections included, of the symmetric step of one prompt chunk of the mean rank's tokens
/// (bucketed; the exchange depends on the tokens only, and a step with prefill work uses the
/// prefill all-to-all layout). Ranks sharing a key are looked up once.
/// TensorRT-LLM measured this wait (tech blog 10, "ADP Balance Strategy"): a prompt on one rank
/// stalls the others. Left out: the busiest rank's dispatch row is larger than the mean's
/// (optimistic). The breakdown's idle part holds the mean rank's wait. Steps without prefill, and
/// steps whose ranks all have the same key, are priced by the step's key as above: decode-only
/// ranks differ by a bucket at most, and pricing them per rank cost `moesim compare` about 15 % for
/// changes within the buckets. Expert-parallel MoE deployments on one pipeline stage are priced
/// FACTORED (sim/step/factored_step.hpp): the key's step is lowered with identical expert loads on
/// every rank (one op list for all replicas), and each MoE layer is corrected by a routing draw for
/// its slowest rank and its real all-to-all matrices. Corrections depend only on the tokens each
/// EP rank routes, so they are cached by those (one routing draw per distinct token count,
/// reused by every key with that count). This is exact under the lockstep timeline with one
/// micro-batch and conservative with two (PlanStepModel::Pricing::kExact lowers every rank
/// instead; tests compare the two). Other deployments (dense models, EP 1, pipeline stages) are
/// always priced exactly.
/// Host time: the compute model's step_host_overhead (a sourced fraction of the GPU step when
/// the deployment's engine does not overlap its scheduler, else 0) is added to the step and is
/// its host_overhead part; the engine adds any explicit runtime.step_overhead on top.
/// Breakdown: on the slowest rank, compute-bound op time -> compute, memory- and overhead-bound op
/// time -> memory, collective time -> communication, plus, factored, the mean rank's expert excess
/// (by the slowest rank's bound) and the collective excess; negative parts are clamped to 0; when
/// the parts exceed the step (the two streams overlap) they are scaled down in proportion, else
/// idle = step - their sum. The five parts sum to the step.
/// imbalance = slowest rank's busy time / mean busy time over ranks.
/// Trace detail (when asked): one span per decoder layer on the instance track, and per MoE
/// layer the all-to-alls and the slowest rank's experts on that rank's track.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/serve/step_time_model.hpp"
#include "sim/step/deployment.hpp"
#include "sim/step/factored_step.hpp"
#include "sim/step/step_timeline.hpp"

namespace moesim::step {

/// Smallest ceil(2^(k/4)) >= x over k >= 0, for x >= 1; 0 for x <= 0.
std::int64_t geometric_bucket(std::int64_t x);

/// See the file comment.
class PlanStepModel final : public serve::StepTimeModel {
 public:
  /// How MoE expert-parallel steps are priced.
  enum class Pricing : std::uint8_t {
    kAuto,   ///< factored where it applies (EP > 1, one stage), else exact
    kExact,  ///< every rank lowered with its own sampled loads
  };

  /// Prices steps of `deployment` (non-null). `label` names the pool in describe().
  PlanStepModel(std::shared_ptr<const Deployment> deployment, std::string label,
                Pricing pricing = Pricing::kAuto);

  void price(const serve::StepBatch& batch, const serve::StepContext& ctx,
             serve::StepTiming& out) override;
  std::string describe() const override;
  /// Forgets the priced keys and routing draws (they came from the last run's streams); keeps
  /// the lowered symmetric shapes, which depend on no draw.
  void begin_run() override;

  /// Distinct keys priced so far (cache misses).
  std::int64_t lowered_steps() const { return static_cast<std::int64_t>(cache_.size()); }
  /// Factored: symmetric steps lowered (keys differing only in decode context share one).
  std::int64_t lowerings() const { return static_cast<std::int64_t>(shapes_.size()); }
  /// Steps answered from the cache.
  std::int64_t cache_hits() const { return hits_; }
  /// Routing draws taken for factored corrections (distinct routed token counts).
  std::int64_t routing_draws() const { return static_cast<std::int64_t>(corrections_.size()); }
  /// Whether MoE steps are priced factored.
  bool factored() const { return factored_; }
  /// The deployment it prices.
  const Deployment& deployment() const { return *deployment_; }

 private:
  using Key = std::array<std::int64_t, 7>;
  /// A decoder layer's interval on the representative (or slowest) rank, from the step start.
  struct LayerSpan {
    std::int32_t layer = 0;
    Duration start{};
    Duration end{};
  };
  using Corrections = std::shared_ptr<const StepCorrections>;
  struct Entry {
    serve::StepTiming timing;
    std::vector<LayerSpan> layers;
    Corrections corrections;  ///< factored only
    // Factored only, for steps whose attention-DP ranks differ (see price_ranks):
    Duration exchange{};                  ///< MoE exchange time on the critical path, corrected
    serve::StepBreakdown exchange_parts;  ///< its op time by bound (compute, memory, comm.)
  };
  /// A rank's own part of a step of its key (see the file comment): no routing draw needed.
  struct OwnPart {
    Duration own{};              ///< the symmetric step without its MoE exchange
    serve::StepBreakdown parts;  ///< its op time by bound (compute, memory, communication)
    double extrapolated = 0.0;   ///< as StepTiming::extrapolated
  };

  llm::StepBatch batch_of(const Key& key) const;
  static std::vector<LayerSpan> layer_spans(const llm::StepPlan& plan, const StepTimeline& timeline,
                                            std::int32_t rank);
  Entry price_exact(const llm::StepBatch& batch, Rng& rng);
  Entry price_factored(const Key& key, Rng& rng);
  /// Factored: the symmetric step of `key`, lowered once per shape and re-timed for its decode
  /// context (valid until the next call).
  const SymmetricStep& symmetric_step(const Key& key);
  /// Factored: the cached own part of a rank with `key`.
  const OwnPart& own_of(const Key& key);
  /// The cached entry of `key` (priced on a miss).
  const Entry& entry_of(const Key& key, Rng& rng);
  /// Factored, attention-DP ranks with different batches (ranks_ and rank_keys_ of this
  /// step): see the file comment.
  void price_ranks(const serve::StepContext& ctx, serve::StepTiming& out);
  void fill_detail(const Entry& entry, std::vector<serve::StepSpan>& detail) const;

  std::shared_ptr<const Deployment> deployment_;
  std::string label_;
  bool factored_ = false;
  std::map<Key, Entry> cache_;
  /// Factored: the lowered symmetric step per key without its decode context (see
  /// price_factored), re-timed for each context.
  std::map<Key, std::unique_ptr<SymmetricStep>> shapes_;
  std::map<std::vector<std::int64_t>, Corrections> corrections_;
  std::int64_t hits_ = 0;
  /// One attention-DP rank's share of the step being priced.
  struct RankWork {
    std::int64_t decodes = 0;
    std::int64_t decode_tokens = 0;
    std::int64_t context = 0;  ///< summed over its decodes
    std::int64_t prefills = 0;
    std::int64_t prefill_tokens = 0;
    std::int64_t prefix = 0;  ///< summed over its prefill chunks
    std::int64_t tokens() const { return prefill_tokens + decode_tokens; }
  };
  std::vector<RankWork> ranks_;  ///< price(): per attention-DP rank, reused
  std::vector<Key> rank_keys_;   ///< price(): per attention-DP rank, reused
  /// Factored: own parts per rank key; like shapes_, they depend on no draw and outlive runs.
  std::map<Key, OwnPart> own_;
  std::vector<std::pair<Key, const OwnPart*>> distinct_;  ///< price_ranks(): keys of the step
};

}  // namespace moesim::step
