#pragma once
/// \file
/// Cluster sizing (`moesim size`): how many GPUs, nodes and NVLink domains (racks), and which
/// deployment, serve a load under an SLA at the lowest monthly cost.
///
/// Method, for each system:
///   1. the sweep (sweep.hpp) simulates candidate deployments at a ladder of concurrencies;
///   2. a point qualifies when every request class meets every SLA constraint at that point;
///   3. a replica is one simulated unit of the point: one instance of an aggregated deployment
///      (instances are independent, sweep.hpp), the whole deployment when disaggregated. Each
///      replica runs the point's concurrency, so throughput scales with replicas:
///        replicas = ceil(load / (output tok/s per GPU x GPUs per replica));
///   4. the replicas' instances are packed into NVLink domains (an instance never straddles a
///      domain; one larger than a domain takes whole domains) and each domain's GPUs are
///      rounded up to whole nodes (servers or compute trays), or, with Rounding::kDomain, to
///      whole domains (racks);
///   5. monthly cost = GPUs x price per GPU-hour x 730 h (scale::kHoursPerMonth); power = GPUs
///      x the sheet's all-in power per GPU at load (and at idle); $ per million output tokens
///      at the load = monthly cost / (load x seconds per month / 1e6). Mixed hardware (prefill
///      pools on another system, SweepBase::prefill_system): the prefill instances are packed
///      onto that system's nodes and domains and paid at its price, the rest as above;
///   6. the qualifying points are ranked by monthly cost, then GPUs, then the larger worst SLA
///      margin, then label (without a price, by GPUs first). When none qualifies, the closest point
///      (largest worst-constraint margin) is reported.
///
/// SLA margins are relative: (limit - value) / limit for upper limits (times), (value - limit)
/// / limit for lower limits (tokens/s per user); a point qualifies when every margin is >= 0.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/core/units.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/hw/system.hpp"
#include "sim/serve/metrics.hpp"
#include "sim/serve/workload.hpp"
#include "sim/study/sweep.hpp"
#include "sim/study/table.hpp"

namespace moesim::study {

/// A load to serve, in output tokens per second.
struct Load {
  double output_tok_s = 0.0;  ///< output tokens per second (> 0)
  std::string text;           ///< as written, e.g. "2M tok/min"
};

/// The largest load `moesim size` accepts, in output tokens per second: 1e12 tok/s, about a
/// thousand times the output of every public LLM service together (order 1e9 tok/s in 2025).
/// At even 1e-3 output tok/s per GPU it is 1e15 GPUs, so GPU, node and domain counts stay exact
/// in int64 (and in a double, 2^53 = 9.0e15) and money and power stay finite.
inline constexpr double kMaxLoadTokS = 1e12;

/// Reads a load: a number with an optional multiplier k/K (1e3), M (1e6), G (1e9), optional
/// spaces, and a unit among tok/s, tok/min, tok/h, req/s, req/min, req/h ("2M tok/min",
/// "30000 tok/s", "5 req/s"). Request rates are converted with `output_tokens_per_request`
/// (the mean OSL), which must be given for them. A ConfigError at `option` otherwise, with the
/// nearest unit as "did you mean", and above kMaxLoadTokS.
Load parse_load(std::string_view text, std::optional<double> output_tokens_per_request,
                const std::string& option = "--load");

/// The metrics an SLA constraint can limit.
enum class SlaMetric : std::uint8_t {
  kTtftP50,
  kTtftP90,
  kTtftP99,
  kTpotP50,
  kTpotP90,
  kTpotP99,
  kE2eP90,
  kE2eP99,
  kTokSPerUser,  ///< median 1 / TPOT, tokens/s per user: a lower limit
};
/// Number of SlaMetric values.
inline constexpr std::size_t kSlaMetricCount = 9;

/// The key of `metric` as written in an SLA ("tpot_p90", "tok_s_per_user").
std::string_view sla_key(SlaMetric metric);

/// One SLA constraint: a time metric below a Duration, or tokens/s per user above a number.
struct SlaConstraint {
  SlaMetric metric = SlaMetric::kTpotP90;
  Duration max_time{};            ///< time metrics: the value must not exceed it (> 0)
  double min_tok_s_per_user = 0;  ///< kTokSPerUser: the value must reach it (> 0)
  /// The constraint as text, e.g. "tpot_p90<40 ms".
  std::string describe() const;
};

/// Reads comma-separated constraints "key<time" (time metrics, with units: "40ms", "2 s") and
/// "tok_s_per_user>N" ("<=" and ">=" are accepted too). An unknown key (with the nearest key as
/// "did you mean"), a wrong direction, a missing or bad unit, an empty list or a repeated key
/// is a ConfigError at `option`.
std::vector<SlaConstraint> parse_sla(std::string_view text, const std::string& option = "--sla");

/// The constraints of a workload class's own SLA: ttft -> ttft_p99, tpot -> tpot_p90 (the
/// percentiles of the example "tpot_p90<40ms,ttft_p99<2s"); empty when it has none.
std::vector<SlaConstraint> class_sla_constraints(const serve::Sla& sla);

/// The SLA of one request class.
struct ClassSla {
  std::string name;                        ///< class name ("all" for a single-class load)
  std::vector<SlaConstraint> constraints;  ///< empty: unconstrained
};

/// Values of the SLA metrics for one class, indexed by SlaMetric: times in ms, tokens/s per
/// user; absent when not measured.
using SlaValues = std::array<std::optional<double>, kSlaMetricCount>;

/// The SLA values of a class's (or a run's) summaries; an empty summary's (TPOT when every OSL
/// is 1) and an absent tok_s_per_user are absent.
SlaValues sla_values(const serve::Summary& ttft_ms, const serve::Summary& tpot_ms,
                     const serve::Summary& e2e_ms, std::optional<double> tok_s_per_user);

/// GPUs of one instance and how many a replica has.
struct InstanceGroup {
  std::int32_t gpus_per_instance = 1;
  std::int32_t count = 1;
};

/// A simulated point seen by sizing.
struct SizingCandidate {
  std::string deployment;                    ///< deployment label of the sweep
  std::int32_t concurrency_per_replica = 0;  ///< requests in flight per replica
  std::vector<InstanceGroup> replica;        ///< the instances of one replica (by pool)
  double output_tok_s_per_gpu = 0.0;         ///< over the replica's GPUs (> 0 to qualify)
  std::vector<SlaValues> classes;            ///< aligned with the ClassSla list
  /// Mixed hardware: replica[0] (the prefill pool) runs on the prefill system (PrefillSystem),
  /// the other groups on the sized system.
  bool mixed = false;
  /// GPUs of one replica.
  std::int64_t replica_gpus() const;
};

/// How GPUs are rounded (file comment, step 4).
enum class Rounding : std::uint8_t {
  kNode,    ///< whole nodes (servers, compute trays) per NVLink domain
  kDomain,  ///< whole NVLink domains (racks)
};

/// GPUs, nodes and domains of a number of replicas.
struct Allocation {
  std::int64_t replicas = 0;
  std::int64_t gpus_used = 0;  ///< replicas x GPUs per replica
  std::int64_t gpus = 0;       ///< after rounding; what is paid for
  std::int64_t nodes = 0;      ///< gpus / gpus_per_node
  std::int64_t domains = 0;    ///< NVLink domains (racks) touched
};

/// Replicas of `c` needed for `load` (file comment, step 3); 0 when c has no throughput. A
/// ConfigError at --load when they would need more than 2^53 GPUs (counts exact in a double).
std::int64_t replicas_needed(const SizingCandidate& c, const Load& load);

/// Packs `replicas` replicas of `replica` onto `system` (file comment, step 4). A ConfigError
/// at --load when a count would overflow int64.
Allocation allocate(std::span<const InstanceGroup> replica, std::int64_t replicas,
                    const hw::SystemSpec& system, Rounding rounding);

/// The outcome of one constraint at a point.
struct ConstraintOutcome {
  std::string class_name;
  SlaConstraint constraint;
  std::optional<double> value;  ///< ms or tokens/s per user; absent: not measured
  double margin = 0.0;          ///< relative (file comment); -inf when not measured
};

/// Whether a point meets the SLA of every class.
struct SlaCheck {
  bool met = false;
  double worst_margin = 0.0;  ///< min over constraints; +inf when there is none
  std::vector<ConstraintOutcome> outcomes;
};

/// Checks `c` against `sla` (c.classes aligned with sla; asserted).
SlaCheck check_sla(const SizingCandidate& c, std::span<const ClassSla> sla);

/// One sized option: a point, its allocation, cost, power and SLA outcome.
struct SizedOption {
  std::size_t candidate = 0;  ///< index into SystemSizing::candidates
  Allocation allocation;
  std::optional<Money> monthly_cost;   ///< GPUs x price x 730 h; absent without a price
  Power load_power{};                  ///< GPUs x all-in power per GPU at load
  Power idle_power{};                  ///< GPUs x all-in power per GPU at idle
  std::optional<double> usd_per_mtok;  ///< at the load (file comment, step 5)
  SlaCheck check;
  /// Mixed hardware: the part of `allocation` on the prefill system; absent otherwise.
  std::optional<Allocation> prefill;
};

/// The sizing of one system.
struct SystemSizing {
  std::string system;        ///< catalog name
  std::string price_source;  ///< sheet, column and entry used, or why there is no price
  std::string stack_note;    ///< the sweep's stack_note (kernel stack, extrapolated points)
  std::optional<hw::PriceEntry> price;
  std::string node_name;  ///< "servers" or "trays"
  std::vector<SizingCandidate> candidates;
  std::vector<SizedOption> ranked;        ///< qualifying, cheapest first
  std::optional<SizedOption> closest;     ///< when none qualifies: the closest point
  std::size_t swept_points = 0;           ///< sweep points, pruned included
  std::size_t resimulated = 0;            ///< points simulated again for metrics the sweep lacks
  std::size_t resimulation_failures = 0;  ///< of those, points that failed (e.g. KV too small)
  /// When no point qualifies and none comes closest (nothing was simulated, or every point
  /// simulated again failed): why, with the deployments counted by reason, an example of each
  /// and what to relax (sizing_none_reason). Empty otherwise.
  std::string none_reason;
};

/// Why sizing found no point at all (see SystemSizing::none_reason): the sweep's prune reasons
/// grouped and counted (nothing_simulated_reason) and, for each kind of reason, what to relax;
/// or, when `r` simulated points that all failed when simulated again, how many and the first
/// failure. Empty when `r` simulated a point and `resimulation_failure` is empty.
std::string sizing_none_reason(const SweepResult& r, std::size_t failures,
                               const std::string& resimulation_failure);

/// Mixed hardware: the system the prefill pools of mixed candidates run on, and its price.
struct PrefillSystem {
  hw::SystemSpec system;
  std::optional<hw::PriceEntry> price;
};

/// Sizes `candidates` for `load` under `sla` on `system` (file comment, steps 2-6). Mixed
/// candidates (SizingCandidate::mixed, `prefill` given) pack their prefill instances onto
/// `prefill`'s system and the rest onto `system`, the allocation being the sum of both, and
/// pay each part's GPUs at its own system's price and power (no cost when either system has
/// no price).
SystemSizing size_candidates(std::vector<SizingCandidate> candidates, const Load& load,
                             std::span<const ClassSla> sla, const hw::SystemSpec& system,
                             const std::optional<hw::PriceEntry>& price, Rounding rounding,
                             const std::optional<PrefillSystem>& prefill = std::nullopt);

/// What to size: the load, the SLA per class and, for mixed request classes, the workload.
struct SizingQuestion {
  Load load;
  std::vector<ClassSla> sla;  ///< one entry "all" without a workload; else one per class
  /// Mixed classes: each point is simulated again with these classes in a closed loop at the
  /// point's concurrency (the sweep itself runs their mean ISL/OSL); absent: fixed ISL/OSL.
  std::optional<serve::WorkloadSpec> workload;
  Rounding rounding = Rounding::kNode;
};

/// Sweeps `base` over `space` and sizes the result (file comment). Points whose SLA metrics
/// the sweep does not report (tpot_p50/p99, ttft_p50, e2e, per-class) are simulated again with
/// the same scenario, in parallel on options.jobs threads, after a pre-check on the metrics the
/// sweep does report (fixed ISL/OSL only). A bad base throws ConfigError.
SystemSizing size_system(const SweepBase& base, const SweepSpace& space, const SizingQuestion& q,
                         const config::Catalog& catalog, const SweepOptions& options = {});

/// The winners side by side: one column per system, one row per figure (deployment,
/// concurrency per replica, replicas, GPUs, nodes, domains, $/month, kW, $ per M tokens, each
/// SLA metric achieved with its margin); "no deployment meets the SLA" and the closest point
/// where none qualifies.
Table sizing_table(std::span<const SystemSizing> systems, const SizingQuestion& q);

/// The `top` cheapest qualifying options of each system, one row each.
Table runner_up_table(std::span<const SystemSizing> systems, std::size_t top = 3);

}  // namespace moesim::study
