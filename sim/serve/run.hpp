#pragma once
/// \file
/// Running a serving simulation end to end: a Simulation for the seed, the clients that send
/// the workload's requests (closed loop, Poisson, trace replay), the engine, and the metrics;
/// and replicas over several seeds with Student-t confidence intervals.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/serve/engine.hpp"
#include "sim/serve/metrics.hpp"
#include "sim/serve/workload.hpp"

namespace moesim::serve {

/// Options of one run that do not change its results.
struct RunOptions {
  bool record_steps = false;  ///< keep per-step records for the trace
  bool group_decodes = true;  ///< EngineOptions::group_decodes (speed only)
};

/// The outcome of one run.
struct RunResult {
  std::uint64_t seed = 0;
  RunMetrics metrics;
  std::vector<RequestRecord> requests;  ///< indexed by id, warm-up included
  std::vector<StepRecord> steps;        ///< empty unless record_steps
  std::uint64_t events = 0;             ///< DES events executed
  TimePoint end{};                      ///< simulated time when the run stopped
};

/// Simulates `workload` on the deployment `config` with the given models, seed and pricing
/// (absent: no cost or energy). Requests are drawn by generate_requests(workload, seed); the
/// engine draws from the simulation's streams of the same seed. Closed loop: min(concurrency,
/// requests) are sent at time zero and each completion sends the next. Poisson and trace: each
/// request is sent at its arrival time. The run stops when the last measured request completes.
/// Deterministic: the same inputs give bit-identical results. Throws ConfigError for a request
/// that can never fit the KV cache.
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

/// Replicas of one configuration.
struct ReplicaSummary {
  std::vector<std::uint64_t> seeds;  ///< seed, seed + 1, ..., seed + N - 1
  std::vector<RunMetrics> runs;
  std::vector<ReplicaStat> stats;  ///< one per flattened metric key, in report order
};

/// The 0.975 quantile of Student's t distribution with `df` >= 1 degrees of freedom (the
/// two-sided 95 % critical value): exact table values (to 3 decimals) for df <= 30, then the
/// Cornish-Fisher expansion in 1/df (error < 1e-3).
double student_t_975(std::int64_t df);

/// Mean, standard deviation and 95 % confidence interval per key over runs flattened with
/// flatten(); keys follow the first run's order; absent values are skipped.
std::vector<ReplicaStat> summarize_replicas(const std::vector<std::vector<MetricValue>>& runs);

/// Runs `replicas` >= 1 seeds (seed + i for i < replicas) and summarises them.
ReplicaSummary run_replicas(const EngineConfig& config, const WorkloadSpec& workload,
                            const EngineModels& models, std::uint64_t seed, std::int32_t replicas,
                            const std::optional<Pricing>& pricing);

}  // namespace moesim::serve
