#pragma once
/// \file
/// Deployment sweeps: enumerate candidate deployments of one model on one system, simulate each
/// at a ladder of concurrencies with `moesim run`'s engine and step model, and find the Pareto
/// frontier of output tokens/s per GPU against tokens/s per user (MODELING.md: "the frontier
/// between them is the whole story of interactivity versus throughput").
///
/// What is swept (SweepSpace):
///   - aggregated tensor-parallel plans TP t (t in tp_sizes, dividing the NVLink domain), with
///     EP 1 (experts tensor-sharded) or EP t, as many instances as fill one domain;
///   - aggregated attention-DP + EP plans ADP n EP n (n in ep_widths, up to max_domains
///     NVLink domains: multi-node wide EP such as EP16/EP32 over 2-4 HGX servers), with the
///     fewest redundant experts that make the expert slots divisible by n (EPLB replicas), as
///     many instances as fill one domain;
///   - disaggregated prefill:decode instance ratios (disagg_ratios): a prefill pool of TP
///     disagg_prefill_tp (EP disagg_prefill_tp) instances and a decode pool of ADP n EP n
///     instances, n = each of disagg_decode_widths, or by default the widest ADP width within
///     one domain; with SweepBase::prefill_system (mixed hardware) the prefill pool runs on
///     that system (TP bounded by its domain), each pool priced at its own system's
///     price-sheet entry;
///   - MTP draft tokens (mtp_draft_tokens; 0 = off; only when the model card has MTP layers and
///     measured acceptance rates, mtp.acceptance, for that many draft positions);
///   - max batch sizes per attention-DP rank (max_batch_sizes);
///   - a closed-loop concurrency ladder per deployment: per instance 1, 2, 4, ... (powers of
///     2 up to dense_ladder_until, then every ladder_stride-th of them) up to max_concurrency
///     (times the decode instances when disaggregated).
///
/// Each point is a serve::Scenario written as YAML (scenario_yaml) and read by
/// serve::parse_scenario, so its validation is that of `moesim run`; its models come from
/// step::build_step_models. Requests per point: warm-up = c (the closed loop's cold start, in
/// which all c requests prefill together) and measured = max(2c, 64 - c), i.e. max(3c, 64) sent
/// in all; with fixed lengths every later wave of c requests repeats the measured steady state.
///
/// Aggregated instances are independent in moesim's model (each instance's steps are priced
/// alone, and the router spreads requests evenly), so an aggregated deployment of N instances
/// at total concurrency N x c is simulated as one instance at concurrency c: per-GPU and
/// per-user figures are the same. Disaggregated deployments are simulated whole.
///
/// Pruning (SweepOptions::prune), before a point is simulated:
///   1. memory: a deployment whose plan is invalid or does not fit in HBM (build_step_models
///      throws ConfigError) is pruned: one point without a concurrency, the error as the reason;
///   2. capacity: a concurrency above what the deployment can run at once, C = min(max_batch_size,
///      sequences whose KV reservation fits a rank) x attention_dp x instances (plus the prefill
///      pool's slots when disaggregated), only adds queueing: the running batch stays at C, so
///      the step times, tokens/s per GPU and tokens/s per user are those of concurrency C, while
///      the extra requests wait (higher TTFT). C itself is added to the ladder (it is
///      enumerated, not pruned, so pruned and unpruned sweeps simulate it alike) and the rungs
///      above it are pruned as dominated by it.
/// No bound-based pruning of simulated points is done.
///
/// Results are stored by point index, so the output is identical for any job count.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/study/svg_plot.hpp"
#include "sim/study/table.hpp"

namespace moesim::study {

/// What stays fixed over a sweep.
struct SweepBase {
  std::string model = "deepseek-r1";  ///< catalog name or path of the model card
  std::string system;                 ///< catalog name or path of the system
  /// YAML flow map for `precision:` (e.g. "{weights: nvfp4}"); empty: the checkpoint's formats.
  std::string precision;
  std::int64_t isl = 1024;             ///< input tokens per request (fixed)
  std::int64_t osl = 1024;             ///< output tokens per request (fixed)
  std::string price_sheet = "prices";  ///< price sheet name or path
  /// Software stack (topologies/stacks/) name or path; empty: the system's default stack.
  std::string stack;
  std::uint64_t seed = 1;  ///< seed of every point
  /// Extra top-level scenario YAML appended to every point (e.g. "step_model: {...}" or
  /// "runtime: {...}"); empty for none.
  std::string extra_yaml;
  /// Extra flow-map entries added to every pool (e.g. "kv_capacity_tokens: 65536"); empty for
  /// none.
  std::string extra_pool_yaml;
  /// Mixed hardware: catalog name or path of the system the disaggregated deployments put
  /// their prefill pool on (its own NVLink domain bounds the prefill TP; decode stays on
  /// `system`); empty: `system`. Aggregated deployments are unchanged.
  std::string prefill_system;
};

/// A prefill:decode instance ratio.
struct DisaggRatio {
  std::int32_t prefill = 1;  ///< prefill instances
  std::int32_t decode = 1;   ///< decode instances
};

/// The deployment choices a sweep enumerates (see the file comment).
struct SweepSpace {
  std::vector<std::int32_t> tp_sizes{1, 2, 4, 8};          ///< TP plans; empty: none
  std::vector<std::int32_t> ep_widths{8, 16, 32, 64, 72};  ///< ADP + EP plans; empty: none
  std::int32_t max_domains = 4;  ///< NVLink domains a wide-EP instance may span (>= 1)
  std::vector<std::int32_t> max_batch_sizes{64, 256};              ///< per attention-DP rank
  std::vector<std::int32_t> mtp_draft_tokens{0, 3};                ///< 0 = off; each <= 3
  std::vector<DisaggRatio> disagg_ratios{{1, 1}, {1, 2}, {1, 4}};  ///< empty: aggregated only
  std::int32_t disagg_prefill_tp = 8;  ///< GPUs of one prefill instance (TP n, EP n)
  /// ADP + EP widths of the decode pool of disaggregated deployments, each inside one NVLink
  /// domain; empty: the widest of ep_widths inside one domain.
  std::vector<std::int32_t> disagg_decode_widths;
  std::int32_t max_concurrency = 4096;  ///< ladder top, per (decode) instance
  std::int32_t ladder_stride = 1;       ///< keep every ladder_stride-th power of 2 (1: all) ...
  std::int32_t dense_ladder_until = 0;  ///< ... and every power of 2 up to this
  std::int32_t max_num_tokens = 2048;   ///< prefill chunk per rank and step (tokens)

  /// The default of `moesim sweep`: the whole space above.
  static SweepSpace standard();
  /// The smaller default of `moesim compare` (see its definition for the choices).
  static SweepSpace quick();
};

/// One pool of a candidate deployment.
struct SweepPool {
  std::int32_t tp = 1;                 ///< attention tensor-parallel GPUs per replica
  std::int32_t attention_dp = 1;       ///< attention data-parallel replicas per instance
  std::int32_t ep = 1;                 ///< expert-parallel width: 1 or tp x attention_dp
  std::int32_t redundant_experts = 0;  ///< EPLB slots (ep > 1 only)
  std::int32_t instances = 1;
  std::int32_t max_batch_size = 1;  ///< running sequences per attention-DP rank
  std::int32_t max_num_tokens = 1;  ///< new tokens per rank and step
  std::int32_t chunk = 0;           ///< chunked_prefill_size per rank and step

  std::int32_t gpus_per_instance() const { return tp * attention_dp; }
  std::int32_t gpus() const { return gpus_per_instance() * instances; }
  /// Sequences the pool can run at once by its batch limit: max_batch_size x attention_dp x
  /// instances.
  std::int64_t batch_slots() const {
    return static_cast<std::int64_t>(max_batch_size) * attention_dp * instances;
  }
};

/// The plan of a pool, e.g. "TP8", "TP8 EP8", "ADP72 EP72(+32r)".
std::string describe_plan(const SweepPool& pool);

/// One candidate deployment, without its concurrency.
struct SweepDeployment {
  bool disaggregated = false;
  SweepPool primary;  ///< aggregated pool, or prefill pool when disaggregated
  SweepPool decode;   ///< disaggregated only
  std::int32_t mtp_draft_tokens = 0;
  /// The model card's acceptance rate of each draft position (mtp_draft_tokens entries).
  std::vector<double> mtp_acceptance;
  /// Mixed hardware: the prefill pool's system (SweepBase::prefill_system, disaggregated
  /// only); empty: the swept system.
  std::string prefill_system;
  /// GPUs of the whole deployment.
  std::int32_t gpus() const { return primary.gpus() + (disaggregated ? decode.gpus() : 0); }
  /// Instances simulated per label instance: aggregated deployments run one instance (file
  /// comment); disaggregated ones all.
  std::int32_t simulated_instances() const { return disaggregated ? 1 : primary.instances; }
  /// E.g. "ADP72 EP72(+32r) mb256", "TP8 x9 mb64 +MTP3", "disagg 1P(TP8):2D(ADP8 EP8) mb256";
  /// mixed hardware names the prefill system: "disagg 1P(hgx-h200 TP8):2D(ADP72 EP72) mb256".
  std::string label() const;
};

/// One sweep point: a deployment at a concurrency, and its results once simulated.
struct SweepPoint {
  std::size_t deployment = 0;    ///< index in SweepResult::deployments
  std::int32_t concurrency = 0;  ///< requests in flight over the whole deployment
  std::string label;             ///< deployment label + " c" + concurrency
  bool simulated = false;
  std::string pruned;                 ///< why it was not simulated (empty when simulated)
  double output_tok_s_per_gpu = 0.0;  ///< over every GPU of the deployment
  double tok_s_per_user = 0.0;        ///< median 1 / TPOT
  double ttft_p90_ms = 0.0;
  double ttft_p99_ms = 0.0;
  double tpot_p90_ms = 0.0;
  std::optional<double> cost_usd_per_mtok;  ///< output tokens, from the price sheet
  std::optional<double> joules_per_token;   ///< output tokens, all-in GPU power
  /// Largest share of a pool's kernel time priced outside the measured kernel shapes of the
  /// stack's calibration (serve::PoolMetrics::extrapolated_share); 0 when none was.
  double extrapolated_share = 0.0;
  bool on_frontier = false;
};

/// Progress: points done, points to simulate, wall time since the start.
using SweepProgress =
    std::function<void(std::size_t done, std::size_t total, std::chrono::duration<double> elapsed)>;

/// How to run a sweep.
struct SweepOptions {
  unsigned jobs = 0;       ///< worker threads; 0 = std::thread::hardware_concurrency()
  bool prune = true;       ///< apply the capacity pruning (memory failures are always recorded)
  SweepProgress progress;  ///< called after each simulated point (from worker threads, serialised)
  /// Interactivity floor (tokens/s per user; 0: none). When above 0, each deployment's ladder
  /// is simulated in ascending concurrency and stops at the first point below the floor: more
  /// requests in flight only slow each user down further (a larger batch per step), so the rungs
  /// above are pruned as "below the interactivity floor". For studies that read the frontier
  /// at given levels only (`moesim attribute`).
  double min_tok_s_per_user = 0.0;
};

/// A finished sweep.
struct SweepResult {
  SweepBase base;
  std::string system_name;   ///< the system's catalog name
  std::string stack;         ///< the software stack that priced the kernels
  std::string price_source;  ///< the price sheet and column used, or why there is no price
  std::vector<SweepDeployment> deployments;
  std::vector<SweepPoint> points;     ///< by deployment, then concurrency ascending
  std::vector<std::size_t> frontier;  ///< indices into points, tok/s per user ascending
  std::size_t simulated() const;
  std::size_t pruned() const;
  /// Points (pruned) that hit a broken invariant of the simulator: a bug to report.
  std::size_t internal_errors() const;
};

/// The candidate deployments of `space` for `base` on `catalog` (no simulation).
std::vector<SweepDeployment> enumerate_deployments(const SweepBase& base, const SweepSpace& space,
                                                   const config::Catalog& catalog);

/// Requests a point sends at closed-loop concurrency `concurrency` (> 0): max(3c, 64), the first
/// c as warm-up (see the file comment).
std::int64_t point_requests(std::int32_t concurrency);

/// The concurrency ladder per simulated instance (aggregated) or per deployment
/// (disaggregated): 1, 2, 4, ... (every power of 2 up to dense_ladder_until, then every
/// ladder_stride-th power of 2: 2^0, 2^s, 2^2s, ...) up to max_concurrency.
std::vector<std::int32_t> concurrency_ladder(const SweepSpace& space);

/// The scenario YAML of `deployment` at `concurrency` requests in flight per simulated
/// instance (see the file comment for the request counts).
std::string scenario_yaml(const SweepBase& base, const SweepDeployment& deployment,
                          std::int32_t concurrency);

/// Enumerates, prunes and simulates (see the file comment). ConfigErrors (and broken
/// invariants, counted by internal_errors()) of single points are recorded as their pruned
/// reason; a bad base (unknown model, system or price sheet) throws.
SweepResult run_sweep(const SweepBase& base, const SweepSpace& space,
                      const config::Catalog& catalog, const SweepOptions& options = {});

/// The points as a table (label, deployment, mode, gpus, plans, instances, max batch, MTP,
/// concurrency, metrics, frontier flag, pruned reason): the frontier only, in tok/s per user
/// order, or every point.
Table sweep_table(const SweepResult& result, bool all_points);

/// The frontier in a narrow table for terminals: point, GPUs, tok/s per GPU, tok/s per user,
/// TTFT p99, TPOT p90, $ per million output tokens, joules per output token.
Table frontier_summary(const SweepResult& result);

/// One line naming the stack of `r` and, when some points were priced outside its measured
/// kernel shapes, how many and how much ("kernels: stack trtllm; 3 of 164 points ...").
std::string stack_note(const SweepResult& r);

/// The frontier of each result as one plot series (points labelled by deployment and
/// concurrency), named "<system> frontier", plus vertical lines at `levels` tok/s per user.
PlotSpec frontier_plot(std::span<const SweepResult> results, std::span<const double> levels,
                       std::string title);

/// At each level (tok/s per user), the best per-GPU throughput of each of the two results
/// (best_at_least over simulated points), the throughput ratio a / b, the cost ratio
/// b / a ($ per million output tokens) and the deployment each uses; '-' where a system cannot
/// reach the level.
Table compare_table(const SweepResult& a, const SweepResult& b, std::span<const double> levels);

/// Why `r` simulated nothing, when it did not: "all N deployments pruned, nothing simulated:"
/// and the prune reasons, one per deployment, grouped where they differ only in their numbers
/// and the deployment (count and first instance of each, most frequent first). Empty when a point
/// was simulated.
std::string nothing_simulated_reason(const SweepResult& r);

/// A precision written as "weights=nvfp4,kv_cache=fp8" or as a YAML flow map, as a YAML flow
/// map; a ConfigError at `option` for a malformed entry. Empty stays empty.
std::string precision_yaml(const std::string& text, const std::string& option);

}  // namespace moesim::study
