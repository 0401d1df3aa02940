#pragma once
/// \file
/// Running a serving simulation end to end: a Simulation for the seed, the clients that send
/// the workload's requests (closed loop, Poisson, trace replay), the engine, and the metrics;
/// and replicas over several seeds with Student-t confidence intervals.

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/stats.hpp"
#include "sim/serve/engine.hpp"
#include "sim/serve/metrics.hpp"
#include "sim/serve/workload.hpp"

namespace moesim::serve {

/// Progress of a long job: `done` of `total` units (requests completed in a run; replicas).
using Progress = std::function<void(std::int64_t done, std::int64_t total)>;

/// Options of one run that do not change its results.
struct RunOptions {
  bool record_steps = false;  ///< keep per-step records for the trace
  /// record_steps: only the first this many steps.
  std::int64_t max_recorded_steps = std::numeric_limits<std::int64_t>::max();
  bool group_decodes = true;  ///< EngineOptions::group_decodes (speed only)
  /// Receives every request's record: each as it completes (in order of completion), then,
  /// when the run ends, those of the requests still unfinished (warm-up stragglers), by id. For
  /// a per-request CSV written as the run goes; may be empty. A run keeps no record itself.
  std::function<void(const RequestRecord&)> on_request;
  /// Called as requests complete, about every 0.5 % of them, and with done = total when the run
  /// ends (warm-up requests may be left unfinished then); may be empty.
  Progress progress;
};

/// The outcome of one run.
struct RunResult {
  std::uint64_t seed = 0;
  RunMetrics metrics;
  std::vector<StepRecord> steps;    ///< empty unless record_steps
  std::uint64_t events = 0;         ///< DES events executed
  std::int64_t peak_in_flight = 0;  ///< the most requests in the engine at once
  TimePoint end{};                  ///< simulated time when the run stopped
};

/// Simulates `workload` on the deployment `config` with the given models, seed and pricing
/// (absent: no cost or energy). Requests are drawn by RequestGenerator(workload, seed) as they are
/// sent; the engine draws from the simulation's streams of the same seed. Closed loop:
/// min(concurrency, requests) are sent at time zero and each completion sends the next. Poisson and
/// trace: each request is sent at its arrival time. The run stops when the last measured request
/// completes. Deterministic: the same inputs give bit-identical results. Throws ConfigError for a
/// request that can never fit the KV cache.
RunResult run_serving(const EngineConfig& config, const WorkloadSpec& workload,
                      const EngineModels& models, std::uint64_t seed,
                      const std::optional<Pricing>& pricing, const RunOptions& options = {});

/// One metric across replicas.
struct ReplicaStat {
  std::string key;
  std::int64_t n = 0;  ///< replicas where the metric was defined
  double mean = 0.0;
  double stddev = 0.0;     ///< sample standard deviation (n - 1); 0 when n < 2
  double ci95_low = 0.0;   ///< mean - t(0.975, n-1) stddev / sqrt(n); = mean when n < 2
  double ci95_high = 0.0;  ///< mean + t(0.975, n-1) stddev / sqrt(n)
};

/// Replicas of one configuration. Its size grows with the replicas by a seed each only.
struct ReplicaSummary {
  std::vector<std::uint64_t> seeds;  ///< seed, seed + 1, ..., seed + N - 1
  RunMetrics first;                  ///< the metrics of the first seed's run
  std::vector<ReplicaStat> stats;    ///< one per flattened metric key, in report order
};

/// Mean, standard deviation and 95 % confidence interval per metric key, over runs fed one at
/// a time (streaming: memory does not grow with the runs). Keys follow the first run's order;
/// absent values are skipped.
class ReplicaStats {
 public:
  /// Adds one run's metrics, flattened with flatten().
  void add(const std::vector<MetricValue>& run);
  /// The statistics of the runs added so far.
  std::vector<ReplicaStat> stats() const;

 private:
  std::vector<std::string> keys_;
  std::map<std::string, Accumulator, std::less<>> moments_;
};

/// The 0.975 quantile of Student's t distribution with `df` >= 1 degrees of freedom (the
/// two-sided 95 % critical value): exact table values (to 3 decimals) for df <= 30, then the
/// Cornish-Fisher expansion in 1/df (error < 1e-3).
double student_t_975(std::int64_t df);

/// ReplicaStats of `runs`, flattened with flatten().
std::vector<ReplicaStat> summarize_replicas(const std::vector<std::vector<MetricValue>>& runs);

/// Runs `replicas` >= 1 seeds (seed + i for i < replicas) and summarises them; `progress` (may
/// be empty) is called after each replica.
ReplicaSummary run_replicas(const EngineConfig& config, const WorkloadSpec& workload,
                            const EngineModels& models, std::uint64_t seed, std::int32_t replicas,
                            const std::optional<Pricing>& pricing, const Progress& progress = {});

}  // namespace moesim::serve
