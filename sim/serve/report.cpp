#include "sim/serve/report.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>

namespace moesim::serve {

namespace {

/// Milliseconds of `d` in one division (picoseconds per millisecond = 1e9), so that whole
/// microseconds print exactly ("4.02", not the "4.0200000000000005" of two scalings).
double exact_ms(Duration d) { return static_cast<double>(d.count()) / scale::kGiga; }

/// Shortest round-trip text of a finite double, whole numbers below 2^53 in plain digits
/// (counts: "100000000", not "1e+08"); "null" when not finite.
std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  if (v == std::trunc(v) && std::abs(v) < 0x1p53) {
    const auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), static_cast<std::int64_t>(v));
    return std::string(buf, ptr);
  }
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, ptr);
}

std::string number(std::optional<double> v) { return v ? number(*v) : "null"; }

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

/// An ordered JSON object tree built from dotted keys; leaves hold JSON text.
struct JsonNode {
  std::string leaf;  ///< JSON text when this is a leaf
  std::vector<std::pair<std::string, std::unique_ptr<JsonNode>>> children;

  JsonNode& child(std::string_view name) {
    for (auto& [n, c] : children) {
      if (n == name) return *c;
    }
    children.emplace_back(std::string(name), std::make_unique<JsonNode>());
    return *children.back().second;
  }

  void set(std::string_view dotted, std::string json) {
    JsonNode* node = this;
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = dotted.find('.', start);
      node = &node->child(dotted.substr(start, dot == std::string_view::npos ? dot : dot - start));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    node->leaf = std::move(json);
  }

  void write(std::string& out, int indent) const {
    if (children.empty()) {
      out += leaf.empty() ? "null" : leaf;
      return;
    }
    out += "{\n";
    for (std::size_t i = 0; i < children.size(); ++i) {
      out.append(static_cast<std::size_t>(indent + 2), ' ');
      out += json_string(children[i].first);
      out += ": ";
      children[i].second->write(out, indent + 2);
      if (i + 1 < children.size()) out += ',';
      out += '\n';
    }
    out.append(static_cast<std::size_t>(indent), ' ');
    out += '}';
  }
};

void put_info(JsonNode& root, const ReportInfo& info) {
  JsonNode& run = root.child("run");
  for (const auto& [key, text] : info) run.child(key).leaf = json_string(text);
}

std::string finish(const JsonNode& root) {
  std::string out;
  root.write(out, 0);
  out += '\n';
  return out;
}

}  // namespace

std::string metrics_json(const RunMetrics& metrics, const ReportInfo& info) {
  JsonNode root;
  put_info(root, info);
  for (const MetricValue& m : flatten(metrics)) root.set(m.key, number(m.value));
  return finish(root);
}

std::string summary_text(const RunMetrics& m) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(2);
  auto opt = [](const std::optional<double>& v, int precision) {
    if (!v) return std::string("n/a (no price sheet entry)");
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(precision);
    s << *v;
    return s.str();
  };
  out << "GPUs " << m.gpus;
  if (m.prefill_gpus > 0)
    out << " (prefill " << m.prefill_gpus << ", decode " << m.decode_gpus << ")";
  out << "; requests " << m.measured_requests << " measured of " << m.requests << " (warm-up "
      << m.warmup_requests << "); window " << m.window_s << " s\n";
  out << "throughput   " << m.output_tok_s_per_gpu << " output tok/s/GPU, " << m.total_tok_s_per_gpu
      << " total tok/s/GPU, " << m.request_throughput_req_s << " req/s\n";
  if (m.tok_s_per_user) {
    out << "per user     " << *m.tok_s_per_user << " tok/s (median 1/TPOT)\n";
  } else {
    out << "per user     n/a (no request has a TPOT: every output is one token)\n";
  }
  auto line = [&](const char* name, const Summary& s) {
    if (s.count == 0) {
      out << name << "n/a (no values)\n";
      return;
    }
    out << name << "mean " << s.mean << "  p50 " << s.p50 << "  p90 " << s.p90 << "  p99 " << s.p99
        << " ms\n";
  };
  line("TTFT         ", m.ttft_ms);
  line("TPOT         ", m.tpot_ms);
  line("ITL          ", m.itl_ms);
  line("E2E          ", m.e2e_ms);
  out << "goodput      " << m.goodput_req_s << " req/s within SLA (" << 100.0 * m.sla_attainment
      << " %)\n";
  out << "utilisation  " << 100.0 * m.gpu_utilization << " % of GPU time in steps; preemptions "
      << m.preemptions << "\n";
  out << "cost         $" << opt(m.cost_usd_per_mtok, 3) << " per M output tokens; "
      << opt(m.joules_per_token, 3) << " J per output token\n";
  for (const PoolMetrics& p : m.pools) {
    const double total =
        p.compute_s + p.memory_s + p.communication_s + p.host_overhead_s + p.idle_s;
    auto pct = [&](double v) { return total > 0.0 ? 100.0 * v / total : 0.0; };
    out << to_string(p.role) << " pool   " << p.instances << " x " << p.gpus / p.instances
        << " GPUs, " << p.steps << " steps of " << p.mean_step_ms << " ms, "
        << p.mean_batch_sequences << " sequences/step, busy " << 100.0 * p.busy_fraction
        << " %, imbalance " << p.imbalance << "\n             step time: compute "
        << pct(p.compute_s) << " %, memory " << pct(p.memory_s) << " %, communication "
        << pct(p.communication_s) << " %, host " << pct(p.host_overhead_s) << " %, idle "
        << pct(p.idle_s) << " %\n";
    if (p.decode_context_mean > 0.0 || p.dp_balance < 1.0) {
      out << "             decode context " << p.decode_context_mean << " tokens mean, "
          << p.decode_context_p90 << " p90 (of step means, by decodes); attention-DP balance "
          << 100.0 * p.dp_balance << " % (mean rank tokens / busiest rank's)\n";
    }
    if (p.extrapolated_share > 0.0) {
      out << "             extrapolated: " << 100.0 * p.extrapolated_share
          << " % of kernel time priced outside the shapes the stack's kernels were measured at\n";
    }
  }
  return out.str();
}

std::string replicas_json(const ReplicaSummary& summary, const ReportInfo& info) {
  JsonNode root;
  put_info(root, info);
  JsonNode& run = root.child("run");
  run.child("replicas").leaf = number(static_cast<double>(summary.seeds.size()));
  std::string seeds = "[";
  for (std::size_t i = 0; i < summary.seeds.size(); ++i) {
    if (i > 0) seeds += ", ";
    seeds += std::to_string(summary.seeds[i]);
  }
  run.child("seeds").leaf = seeds + "]";
  for (const ReplicaStat& s : summary.stats) {
    const bool defined = s.n > 0;
    root.set(s.key + ".mean", defined ? number(s.mean) : "null");
    root.set(s.key + ".stddev", defined ? number(s.stddev) : "null");
    root.set(s.key + ".ci95_low", defined ? number(s.ci95_low) : "null");
    root.set(s.key + ".ci95_high", defined ? number(s.ci95_high) : "null");
    root.set(s.key + ".n", number(static_cast<double>(s.n)));
  }
  return finish(root);
}

RequestsCsvWriter::RequestsCsvWriter(std::ostream& out, const WorkloadSpec& workload)
    : out_(out), workload_(workload) {
  out_ << "id,class,input_tokens,output_tokens,arrival_s,ttft_ms,tpot_ms,itl_max_ms,e2e_ms,"
          "emissions,preemptions,instance,decode_instance,decode_wait_ms,kv_transfer_ms,measured,"
          "completed,sla_met\n";
}

void RequestsCsvWriter::write(const RequestRecord& r) {
  const bool measured = r.id >= workload_.warmup;
  const bool has_first = r.emissions > 0;
  const bool disagg = r.decode_instance >= 0 && r.decode_ready > TimePoint{};
  const Duration ttft = r.first_token - r.arrival;
  const Duration e2e = r.completion - r.arrival;
  std::optional<Duration> tpot;
  std::string tpot_text;
  if (r.completed && r.output_tokens > 1) {
    const double per_token_ms = exact_ms(e2e - ttft) / static_cast<double>(r.output_tokens - 1);
    tpot = ceil_duration(per_token_ms * scale::kMilli);
    tpot_text = number(per_token_ms);
  }
  const RequestClass& cls = workload_.classes[r.class_index];
  out_ << r.id << ',' << cls.name << ',' << r.input_tokens << ',' << r.output_tokens << ','
       << number(to_seconds(r.arrival.time_since_epoch())) << ','
       << (has_first ? number(exact_ms(ttft)) : "") << ',' << tpot_text << ','
       << number(exact_ms(r.itl_max)) << ',' << (r.completed ? number(exact_ms(e2e)) : "") << ','
       << r.emissions << ',' << r.preemptions << ',' << r.instance << ',' << r.decode_instance
       << ',' << (disagg ? number(exact_ms(r.decode_admit - r.prefill_done)) : "") << ','
       << (disagg ? number(exact_ms(r.decode_ready - r.decode_admit)) : "") << ','
       << (measured ? 1 : 0) << ',' << (r.completed ? 1 : 0) << ','
       << (r.completed ? (cls.sla.met(ttft, tpot) ? "1" : "0") : "") << '\n';
}

void write_requests_csv(std::ostream& out, const std::vector<RequestRecord>& requests,
                        const WorkloadSpec& workload) {
  RequestsCsvWriter writer(out, workload);
  for (const RequestRecord& r : requests) writer.write(r);
}

namespace {

double us(TimePoint t) { return to_microseconds(t.time_since_epoch()); }

int process_id(PoolRole role, std::int32_t instance) {
  return (role == PoolRole::kDecode ? 100000 : 0) + instance + 1;
}

}  // namespace

void write_trace_json(std::ostream& out, const std::vector<StepRecord>& steps,
                      const EngineConfig& config) {
  out << "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n";
  bool first = true;
  auto event = [&](const std::string& text) {
    if (!first) out << ",\n";
    first = false;
    out << text;
  };
  // Names of processes (instances) and threads (tracks).
  auto name_pool = [&](const PoolConfig& pc) {
    for (std::int32_t i = 0; i < pc.instances; ++i) {
      const std::string pid = std::to_string(process_id(pc.role, i));
      event("{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": " + pid +
            ", \"args\": {\"name\": " +
            json_string(std::string(to_string(pc.role)) + " instance " + std::to_string(i)) + "}}");
      event("{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": " + pid +
            ", \"tid\": 0, \"args\": {\"name\": \"steps\"}}");
      event("{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": " + pid +
            ", \"tid\": 1, \"args\": {\"name\": \"instance detail\"}}");
      for (std::int32_t r = 0; r < pc.attention_dp; ++r) {
        event("{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": " + pid +
              ", \"tid\": " + std::to_string(r + 2) + ", \"args\": {\"name\": \"rank " +
              std::to_string(r) + "\"}}");
      }
    }
  };
  name_pool(config.primary);
  if (config.disaggregated) name_pool(config.decode);

  for (const StepRecord& s : steps) {
    const std::string pid = std::to_string(process_id(s.role, s.instance));
    const std::string ts = number(us(s.start));
    const char* kind = s.prefill_sequences > 0 && s.decode_sequences > 0 ? "mixed"
                       : s.prefill_sequences > 0                         ? "prefill"
                                                                         : "decode";
    const StepBreakdown& b = s.breakdown;
    event("{\"ph\": \"X\", \"name\": \"" + std::string(kind) + " step\", \"cat\": \"step\", " +
          "\"pid\": " + pid + ", \"tid\": 0, \"ts\": " + ts +
          ", \"dur\": " + number(to_microseconds(s.duration)) +
          ", \"args\": {\"prefill_sequences\": " + std::to_string(s.prefill_sequences) +
          ", \"decode_sequences\": " + std::to_string(s.decode_sequences) +
          ", \"prefill_tokens\": " + std::to_string(s.prefill_tokens) +
          ", \"decode_tokens\": " + std::to_string(s.decode_tokens) +
          ", \"compute_us\": " + number(to_microseconds(b.compute)) +
          ", \"memory_us\": " + number(to_microseconds(b.memory)) +
          ", \"communication_us\": " + number(to_microseconds(b.communication)) +
          ", \"host_overhead_us\": " + number(to_microseconds(b.host_overhead)) +
          ", \"idle_us\": " + number(to_microseconds(b.idle)) + ", \"imbalance\": " +
          number(s.imbalance) + ", \"dp_balance\": " + number(s.dp_balance) + "}}");
    for (const StepSpan& span : s.detail) {
      event("{\"ph\": \"X\", \"name\": " + json_string(span.name) +
            ", \"cat\": " + json_string(span.category) + ", \"pid\": " + pid +
            ", \"tid\": " + std::to_string(span.rank < 0 ? 1 : span.rank + 2) +
            ", \"ts\": " + number(us(s.start + span.start)) +
            ", \"dur\": " + number(to_microseconds(span.duration)) + "}");
    }
    event("{\"ph\": \"C\", \"name\": \"kv_blocks_used\", \"pid\": " + pid + ", \"ts\": " + ts +
          ", \"args\": {\"blocks\": " + std::to_string(s.kv_blocks_used) + "}}");
    event("{\"ph\": \"C\", \"name\": \"attention-DP balance\", \"pid\": " + pid + ", \"ts\": " +
          ts + ", \"args\": {\"mean / busiest rank tokens\": " + number(s.dp_balance) + "}}");
    event("{\"ph\": \"C\", \"name\": \"queue\", \"pid\": " + pid + ", \"ts\": " + ts +
          ", \"args\": {\"waiting\": " + std::to_string(s.waiting) +
          ", \"batch\": " + std::to_string(s.prefill_sequences + s.decode_sequences) + "}}");
  }
  out << "\n]}\n";
}

}  // namespace moesim::serve
