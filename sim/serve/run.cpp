#include "sim/serve/run.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>

#include "sim/core/simulation.hpp"
#include "sim/core/stats.hpp"

namespace moesim::serve {

namespace {

/// Sends the requests (closed loop: a new one per completion; open loop: at arrival times) and
/// gathers the completed ones' statistics, handing their records on (RunOptions::on_request).
class Client final : public CompletionListener {
 public:
  Client(Simulation& sim, Engine& engine, const WorkloadSpec& workload, std::uint64_t seed,
         const RunOptions& options)
      : sim_(sim),
        engine_(engine),
        workload_(workload),
        requests_(workload, seed),
        stats_(workload),
        on_request_(options.on_request),
        progress_(options.progress),
        progress_step_(std::max<std::int64_t>(1, workload.requests / 200)) {}

  void start() {
    if (workload_.arrival == ArrivalProcess::kClosedLoop) {
      const auto first = std::min<std::int64_t>(workload_.concurrency, workload_.requests);
      for (std::int64_t i = 0; i < first; ++i) send_next();
    } else {
      schedule_arrival();
    }
  }

  void on_request_complete(Simulation& /*sim*/, const RequestRecord& record) override {
    stats_.add(record);
    if (on_request_) on_request_(record);
    if (progress_ && ++completed_ % progress_step_ == 0 && completed_ < workload_.requests) {
      progress_(completed_, workload_.requests);
    }
    if (workload_.arrival == ArrivalProcess::kClosedLoop) send_next();
  }

  const RequestStats& stats() const { return stats_; }

  /// Hands on the records of the requests still in flight, by id.
  void finish() {
    if (!on_request_) return;
    for (const RequestRecord& r : engine_.in_flight()) on_request_(r);
  }

 private:
  void send_next() {
    if (!requests_.done()) engine_.submit(requests_.take());
  }

  void schedule_arrival() {
    if (requests_.done()) return;
    sim_.schedule_at(requests_.peek().arrival, [this](Simulation&) {
      send_next();
      schedule_arrival();
    });
  }

  Simulation& sim_;
  Engine& engine_;
  const WorkloadSpec& workload_;
  RequestGenerator requests_;
  RequestStats stats_;
  std::function<void(const RequestRecord&)> on_request_;
  Progress progress_;
  std::int64_t progress_step_;
  std::int64_t completed_ = 0;
};

}  // namespace

RunResult run_serving(const EngineConfig& config, const WorkloadSpec& workload,
                      const EngineModels& models, std::uint64_t seed,
                      const std::optional<Pricing>& pricing, const RunOptions& options) {
  if (models.primary != nullptr) models.primary->begin_run();
  if (models.decode != nullptr && models.decode != models.primary) models.decode->begin_run();
  Simulation sim(seed);
  EngineOptions eo;
  eo.record_steps = options.record_steps;
  eo.max_recorded_steps = options.max_recorded_steps;
  eo.group_decodes = options.group_decodes;
  eo.total_requests = workload.requests;
  eo.first_measured = workload.warmup;
  Engine engine(sim, config, models, eo);
  Client client(sim, engine, workload, seed, options);
  engine.set_listener(&client);
  client.start();
  sim.run();
  client.finish();
  if (options.progress) options.progress(workload.requests, workload.requests);

  RunResult result;
  result.seed = seed;
  result.metrics = compute_metrics(engine, client.stats(), pricing);
  result.steps = engine.take_steps();
  result.events = sim.events_executed();
  result.peak_in_flight = engine.peak_in_flight();
  result.end = sim.now();
  return result;
}

double student_t_975(std::int64_t df) {
  MOESIM_ASSERT(df >= 1, "Student t needs at least one degree of freedom");
  // Two-sided 95 % critical values t(0.975, df), df = 1..30 (standard tables, e.g. NIST/SEMATECH
  // e-Handbook of Statistical Methods, section 1.3.6.7.2).
  static constexpr std::array<double, 30> kTable = {
      12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
      2.2010,  2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
      2.0796,  2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
  if (df <= 30) return kTable[static_cast<std::size_t>(df - 1)];
  // Cornish-Fisher expansion of the t quantile around the normal quantile z (Abramowitz and
  // Stegun 26.7.5).
  const double z = 1.959963984540054;
  const double v = static_cast<double>(df);
  const double z3 = z * z * z;
  const double z5 = z3 * z * z;
  const double z7 = z5 * z * z;
  const double g1 = (z3 + z) / 4.0;
  const double g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
  const double g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
  return z + g1 / v + g2 / (v * v) + g3 / (v * v * v);
}

void ReplicaStats::add(const std::vector<MetricValue>& run) {
  if (keys_.empty()) {
    for (const MetricValue& m : run) keys_.push_back(m.key);
  }
  for (const MetricValue& m : run) {
    if (m.value) moments_[m.key].add(*m.value);
  }
}

std::vector<ReplicaStat> ReplicaStats::stats() const {
  std::vector<ReplicaStat> out;
  for (const std::string& key : keys_) {
    ReplicaStat s;
    s.key = key;
    const auto it = moments_.find(key);
    if (it != moments_.end()) {
      const Accumulator& a = it->second;
      s.n = static_cast<std::int64_t>(a.count());
      s.mean = a.mean();
      s.stddev = a.stddev();
      const double half =
          s.n >= 2 ? student_t_975(s.n - 1) * s.stddev / std::sqrt(static_cast<double>(s.n)) : 0.0;
      s.ci95_low = s.mean - half;
      s.ci95_high = s.mean + half;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<ReplicaStat> summarize_replicas(const std::vector<std::vector<MetricValue>>& runs) {
  ReplicaStats acc;
  for (const auto& run : runs) acc.add(run);
  return acc.stats();
}

ReplicaSummary run_replicas(const EngineConfig& config, const WorkloadSpec& workload,
                            const EngineModels& models, std::uint64_t seed, std::int32_t replicas,
                            const std::optional<Pricing>& pricing, const Progress& progress) {
  MOESIM_ASSERT(replicas >= 1, "at least one replica");
  ReplicaSummary summary;
  ReplicaStats acc;
  for (std::int32_t i = 0; i < replicas; ++i) {
    const std::uint64_t s = seed + static_cast<std::uint64_t>(i);
    RunResult r = run_serving(config, workload, models, s, pricing);
    summary.seeds.push_back(s);
    acc.add(flatten(r.metrics));
    if (i == 0) summary.first = std::move(r.metrics);
    if (progress) progress(i + 1, replicas);
  }
  summary.stats = acc.stats();
  return summary;
}

}  // namespace moesim::serve
