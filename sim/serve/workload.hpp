#pragma once
/// \file
/// Workloads: who sends which requests when. A workload is a mix of request classes (each with
/// its input and output length distributions and its SLA), an arrival process, a number of
/// requests and a warm-up; or a CSV trace that gives the requests themselves.
///
/// YAML (a file under workloads/, or inline under `workload:` in a scenario):
///   description: "..."            # optional
///   requests: 1000                # how many requests to send (a trace: default all rows)
///   warmup: 100                   # the first N requests are served but not measured
///   arrival:
///     process: closed_loop        # closed_loop | poisson | trace
///     concurrency: 64             # closed_loop: requests in flight; a new one is sent the
///                                 #   moment one completes, until `requests` were sent
///     rate: "2 req/s"             # poisson: mean arrival rate ("N req/s", "N req/min")
///   trace: path/to/trace.csv      # optional; relative to the YAML file
///   classes:                      # or, for one class, isl/osl/sla directly under workload
///     - name: chat
///       weight: 3                 # relative share of requests (default 1)
///       isl: 1024                 # fixed
///       osl: {dist: uniform, min: 800, max: 1200}   # or another LENGTH, see below
///       sla: {ttft: "2 s", tpot: "50 ms"}          # optional limits
///
/// A LENGTH (sim/serve/length_dist.hpp has the details and the sources) is one of
///   1024                                          fixed
///   {dist: uniform, min: 800, max: 1200}          integers in [min, max], inclusive
///   {dist: normal, mean: 1000, stdev: 100}        max(1, ceil(N(mean, stdev)))
///   {dist: lognormal, mean: 3653, stdev: 4000}    mean and stdev of the token count, or
///   {dist: lognormal, p50: 2000, p90: 8000}       its median and 90th percentile; optional
///                                                 clamps min (default 1) and max
///   {dist: empirical, file: lengths.csv}          CSV columns tokens[,weight], relative to
///                                                 the YAML file
/// Real chat and reasoning outputs have long tails (lognormal or empirical, not uniform).
///
/// Trace CSV: a header row naming the columns, then one request per row, in arrival order.
///   input_tokens, output_tokens  required, integers >= 1
///   arrival_s                    seconds since the start, non-decreasing; required when
///                                arrival.process is trace
///   class                        optional class name (one of `classes`); default the first
/// With a trace, the requests take their lengths (and class) from the rows, cycling through the
/// rows when `requests` exceeds them (only for closed_loop and poisson arrivals); classes then
/// hold only names, weights are ignored and lengths must not be given.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/core/rng.hpp"
#include "sim/core/units.hpp"
#include "sim/serve/length_dist.hpp"

namespace moesim::serve {

/// Latest trace arrival accepted, in seconds: 1e6 s (11.6 days). The simulated clock holds
/// about 106 days of int64 picoseconds (sim/core/units.hpp); the rest is left for serving.
inline constexpr double kMaxTraceArrivalS = 1e6;
/// Longest expected span of Poisson arrivals, requests / rate, in seconds: 1e5 s (27.8 hours).
/// A drawn gap is at most about 44 mean gaps (the ziggurat's tail for a 53-bit uniform), so
/// every arrival stays below 4.4e6 s, well inside the clock's 106 days.
inline constexpr double kMaxPoissonSpanS = 1e5;

/// Service-level limits of a request class; an absent limit always holds.
struct Sla {
  std::optional<Duration> ttft;  ///< time to first token, at most
  std::optional<Duration> tpot;  ///< time per output token after the first, at most
  /// True when every present limit holds (tpot is ignored for one-token outputs).
  bool met(Duration ttft_value, std::optional<Duration> tpot_value) const;
};

/// One class of requests.
struct RequestClass {
  std::string name;
  double weight = 1.0;  ///< relative share (> 0)
  LengthDist isl;       ///< input (prompt) tokens
  LengthDist osl;       ///< output tokens
  Sla sla;
};

/// The arrival process.
enum class ArrivalProcess : std::uint8_t {
  kClosedLoop,  ///< fixed number of requests in flight
  kPoisson,     ///< exponential inter-arrival times
  kTrace,       ///< the trace's arrival_s column
};

/// One row of a trace.
struct TraceRow {
  std::optional<Duration> arrival;  ///< since the start of the run
  std::int32_t input_tokens = 1;
  std::int32_t output_tokens = 1;
  std::int32_t class_index = 0;
};

/// A parsed workload.
struct WorkloadSpec {
  std::string description;
  std::vector<RequestClass> classes;  ///< at least one
  ArrivalProcess arrival = ArrivalProcess::kClosedLoop;
  std::int64_t concurrency = 1;  ///< closed loop
  double rate_per_s = 0.0;       ///< Poisson mean arrivals per second
  std::int64_t requests = 1;     ///< total sent, warm-up included
  std::int64_t warmup = 0;       ///< first requests not measured (< requests)
  std::vector<TraceRow> trace;   ///< empty unless a trace is given
  std::string trace_path;        ///< for reports

  /// Largest input length a request can have (configuration checks).
  std::int32_t max_input_tokens() const;
  /// Largest output length a request can have (configuration checks).
  std::int32_t max_output_tokens() const;
};

/// One request as the engine receives it. Ids are dense: request i has id i, in sending order.
struct RequestSpec {
  std::int64_t id = 0;
  std::int32_t class_index = 0;
  std::int32_t input_tokens = 1;
  std::int32_t output_tokens = 1;
  /// Arrival time for open-loop processes (Poisson, trace); closed-loop requests are sent when a
  /// slot frees, and this stays zero.
  TimePoint arrival{};
};

/// Reads a request rate: a number, a space, and "req/s" or "req/min" ("2 req/s", "90 req/min").
/// Returns requests per second (> 0); throws UnitError otherwise.
double parse_request_rate(std::string_view text);

/// Parses a workload map (see the file comment). A relative trace path is resolved against the
/// folder of the file that holds `node`. Every error is a ConfigError naming the key.
WorkloadSpec parse_workload(const config::ConfigNode& node);

/// Throws ConfigError when a request of `spec` can hold more than `max_tokens` tokens, its
/// largest input plus its largest output (LengthDist::upper_bound, the trace's rows): at the
/// class's `isl` when the input alone leaves no room for an output token, else at its `osl`,
/// at `trace` for a trace. `node` is the workload map `spec` was parsed from; `limit` says
/// where the bound comes from (e.g. "the model's context length, 163840 positions").
void check_max_sequence(const config::ConfigNode& node, const WorkloadSpec& spec,
                        std::int64_t max_tokens, const std::string& limit);

/// Reads a trace CSV (see the file comment); class names are looked up in `class_names` (empty:
/// no class column allowed). Errors are ConfigErrors with the file and the 1-based line.
std::vector<TraceRow> read_trace_csv(const std::filesystem::path& path,
                                     const std::vector<std::string>& class_names);

/// Draws the requests of a run one at a time, in id order: class (by weight), lengths and, for
/// Poisson and trace arrivals, arrival times. Draws from the streams Rng(seed, stream_id(name))
/// for the names "serve.workload.class", "serve.workload.length" and "serve.workload.arrival"
/// (the streams Simulation(seed).rng(name) would give), so they do not depend on what the engine
/// draws. Holds no request but the next: a run's memory does not grow with `spec.requests`.
/// `spec` must outlive the generator.
class RequestGenerator {
 public:
  RequestGenerator(const WorkloadSpec& spec, std::uint64_t seed);
  /// Whether every request has been drawn.
  bool done() const { return next_.id >= spec_.requests; }
  /// The next request, not yet drawn past (requires !done()).
  const RequestSpec& peek() const { return next_; }
  /// Returns the next request and draws the one after it (requires !done()).
  RequestSpec take();

 private:
  void draw();

  const WorkloadSpec& spec_;
  Rng class_rng_;
  Rng length_rng_;
  Rng arrival_rng_;
  double total_weight_ = 0.0;
  Duration mean_gap_{};
  Duration clock_{};
  RequestSpec next_;
};

/// All the requests of a run (RequestGenerator's, in a vector: for tests and small workloads).
std::vector<RequestSpec> generate_requests(const WorkloadSpec& spec, std::uint64_t seed);

}  // namespace moesim::serve
