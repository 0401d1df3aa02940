#pragma once
/// \file
/// Reports of a serving run: JSON metrics (units in the key names), a per-request CSV, and a
/// Chrome/Perfetto trace of the steps that opens in ui.perfetto.dev or chrome://tracing.
/// Output is deterministic: numbers are written in the shortest form that reads back exactly
/// (std::to_chars), keys in a fixed order.

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "sim/serve/engine.hpp"
#include "sim/serve/metrics.hpp"
#include "sim/serve/run.hpp"
#include "sim/serve/workload.hpp"

namespace moesim::serve {

/// Descriptive (key, text) pairs written under "run" (scenario name, seed, models, ...).
using ReportInfo = std::vector<std::pair<std::string, std::string>>;

/// JSON text of one run: {"run": {info...}, <metrics nested by their dotted keys>}, e.g.
/// {"run": {...}, "gpus": 8, "output_tok_s_per_gpu": 5393.3, "ttft_ms": {"mean": ..., "p50":
/// ..., "p90": ..., "p99": ..., "count": ...}, ..., "pools": {"aggregated": {...}}, "classes":
/// {...}}. Absent metrics are null. Ends with a newline.
std::string metrics_json(const RunMetrics& metrics, const ReportInfo& info);

/// A readable multi-line summary of one run (throughput per GPU, per user, latency
/// percentiles, goodput, utilisation, cost, energy, per-pool step breakdown) for a terminal.
std::string summary_text(const RunMetrics& metrics);

/// JSON text of replicas: {"run": {info..., "replicas": N, "seeds": [...]}, <per metric key:
/// {"mean", "stddev", "ci95_low", "ci95_high", "n"}>}, nested as in metrics_json.
std::string replicas_json(const ReplicaSummary& summary, const ReportInfo& info);

/// Per-request CSV, one row per request (warm-up included, flagged), written as records come
/// (RunOptions::on_request: in order of completion, unfinished requests last), so that a run
/// of any length writes it in constant memory. Columns:
/// id,class,input_tokens,output_tokens,arrival_s,ttft_ms,tpot_ms,itl_max_ms,e2e_ms,emissions,
/// preemptions,instance,decode_instance,decode_wait_ms,kv_transfer_ms,measured,completed,sla_met.
/// Undefined values (TPOT of a one-token output, times of an unfinished request) are empty.
class RequestsCsvWriter {
 public:
  /// Writes the header to `out`; `out` and `workload` must outlive the writer.
  RequestsCsvWriter(std::ostream& out, const WorkloadSpec& workload);
  /// Writes one request's row.
  void write(const RequestRecord& r);

 private:
  std::ostream& out_;
  const WorkloadSpec& workload_;
};

/// The CSV above of `requests`, in their order.
void write_requests_csv(std::ostream& out, const std::vector<RequestRecord>& requests,
                        const WorkloadSpec& workload);

/// Chrome trace-event JSON of the recorded steps: one process per instance, a "steps" track
/// with one complete event per step (args: sequences, tokens, breakdown in us, imbalance), one
/// track per rank for the StepSpan detail the step-time model supplied, and counters of KV
/// blocks used, waiting requests and batch size. Timestamps in microseconds.
void write_trace_json(std::ostream& out, const std::vector<StepRecord>& steps,
                      const EngineConfig& config);

}  // namespace moesim::serve
