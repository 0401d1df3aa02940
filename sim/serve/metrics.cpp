#include "sim/serve/metrics.hpp"

#include <cmath>
#include <memory>
#include <string>

#include "sim/core/stats.hpp"

namespace moesim::serve {

Pricing pricing_from(const hw::PriceEntry& entry) {
  return Pricing{entry.price_per_gpu_hour, entry.power_per_gpu_load, entry.power_per_gpu_idle,
                 entry.system + ": " + entry.price_source + "; power: " + entry.power_source};
}

std::optional<Pricing> pricing_for(const hw::PriceSheet& sheet, std::string_view primary_system,
                                   std::string_view decode_system) {
  const hw::PriceEntry* primary = sheet.find(primary_system);
  const hw::PriceEntry* decode = sheet.find(decode_system);
  if (primary == nullptr || decode == nullptr) return std::nullopt;
  Pricing out = pricing_from(*primary);
  if (decode != primary) {
    out.decode = std::make_shared<const Pricing>(pricing_from(*decode));
    out.source = "prefill " + out.source + "; decode " + out.decode->source;
  }
  return out;
}

namespace {

/// Milliseconds of `d` in one division (picoseconds per millisecond = 1e9), so that whole
/// microseconds print exactly ("4.02", not the "4.0200000000000005" of two scalings).
double exact_ms(Duration d) { return static_cast<double>(d.count()) / scale::kGiga; }

Summary summarize(const SampleSet& s) {
  Summary out;
  out.count = static_cast<std::int64_t>(s.count());
  if (s.count() == 0) return out;
  out.mean = s.moments().mean();
  out.p50 = s.p50();
  out.p90 = s.p90();
  out.p99 = s.p99();
  return out;
}

double per_second(double amount, double window_s) {
  return window_s > 0.0 ? amount / window_s : 0.0;
}

/// The q-quantile over decode sequence-steps of their step's mean decode context: the upper edge
/// of the bin that holds the one of rank floor(q (count - 1)); 0 without decodes.
double context_quantile(const PoolCounters& c, double q) {
  std::int64_t count = 0;
  for (const std::int64_t n : c.context_steps) count += n;
  if (count == 0) return 0.0;
  const auto rank = static_cast<std::int64_t>(std::floor(q * static_cast<double>(count - 1)));
  std::int64_t seen = 0;
  for (std::size_t b = 0; b < kContextBins; ++b) {
    seen += c.context_steps[b];
    if (seen > rank) return context_bin_floor(b + 1);
  }
  return context_bin_floor(kContextBins);
}

PoolMetrics pool_metrics(const Engine& engine, const PoolConfig& pc, double window_s) {
  const PoolCounters c = engine.counters(pc.role) - engine.window_start_counters(pc.role);
  PoolMetrics m;
  m.role = pc.role;
  m.instances = pc.instances;
  m.gpus = pc.gpus();
  m.steps = c.steps;
  const double busy_s = to_seconds(engine.window_busy(pc.role));
  m.busy_fraction = per_second(busy_s, window_s * pc.instances);
  if (c.steps > 0) {
    m.mean_step_ms = exact_ms(c.busy) / static_cast<double>(c.steps);
    m.mean_batch_sequences =
        static_cast<double>(c.sequences_stepped) / static_cast<double>(c.steps);
  }
  m.compute_s = to_seconds(c.breakdown.compute);
  m.memory_s = to_seconds(c.breakdown.memory);
  m.communication_s = to_seconds(c.breakdown.communication);
  m.host_overhead_s = to_seconds(c.breakdown.host_overhead);
  m.idle_s = to_seconds(c.breakdown.idle);
  const double stepped_s = to_seconds(c.busy);
  m.imbalance = stepped_s > 0.0 ? c.imbalance_weighted_s / stepped_s : 1.0;
  m.extrapolated_share = stepped_s > 0.0 ? c.extrapolated_weighted_s / stepped_s : 0.0;
  m.input_tok_s = per_second(static_cast<double>(c.input_tokens), window_s);
  m.output_tok_s = per_second(static_cast<double>(c.output_tokens), window_s);
  m.preemptions = c.preemptions;
  if (c.steps > 0) m.dp_balance = c.balance_sum / static_cast<double>(c.steps);
  if (c.decode_sequence_steps > 0) {
    m.decode_context_mean =
        static_cast<double>(c.decode_context_tokens) / static_cast<double>(c.decode_sequence_steps);
  }
  m.decode_context_p90 = context_quantile(c, 0.9);
  if (c.decode_sequence_steps > 0) {
    m.tokens_per_decode_step =
        static_cast<double>(c.decode_output_tokens) / static_cast<double>(c.decode_sequence_steps);
  }
  return m;
}

}  // namespace

void RequestStats::Group::add(const RequestRecord& r, const Sla& sla) {
  const Duration ttft = r.first_token - r.arrival;
  const Duration e2e = r.completion - r.arrival;
  std::optional<Duration> tpot;
  ++requests;
  ttft_ms.add(exact_ms(ttft));
  e2e_ms.add(exact_ms(e2e));
  if (r.output_tokens > 1) {
    const double per_token_ms = exact_ms(e2e - ttft) / static_cast<double>(r.output_tokens - 1);
    tpot = ceil_duration(per_token_ms * scale::kMilli);
    tpot_ms.add(per_token_ms);
    // 1 / TPOT in tokens per second = 1000 / TPOT_ms (the published README's interactivity).
    if (per_token_ms > 0.0) user_tok_s.add(1.0 / (per_token_ms * scale::kMilli));
  }
  if (sla.met(ttft, tpot)) ++sla_met;
}

RequestStats::RequestStats(const WorkloadSpec& w) : workload(w), classes(w.classes.size()) {}

void RequestStats::add(const RequestRecord& r) {
  MOESIM_ASSERT(r.completed, "only completed requests are measured");
  if (r.id < workload.warmup) return;
  const Sla& sla = workload.classes[r.class_index].sla;
  all.add(r, sla);
  classes[r.class_index].add(r, sla);
  if (r.decode_instance >= 0 && r.output_tokens > 1) {
    transfer_ms.add(exact_ms(r.decode_ready - r.decode_admit));
    decode_wait_ms.add(exact_ms(r.decode_admit - r.prefill_done));
  }
}

RunMetrics compute_metrics(const Engine& engine, const RequestStats& stats,
                           const std::optional<Pricing>& pricing) {
  const WorkloadSpec& workload = stats.workload;
  MOESIM_ASSERT(engine.window_start() && engine.window_end(),
                "metrics need a finished run: every measured request completed");
  const EngineConfig& cfg = engine.config();
  RunMetrics m;
  m.requests = workload.requests;
  m.warmup_requests = workload.warmup;
  m.gpus = cfg.gpus();
  const double window_s = to_seconds(*engine.window_end() - *engine.window_start());
  m.window_s = window_s;

  m.pools.push_back(pool_metrics(engine, cfg.primary, window_s));
  if (cfg.disaggregated) {
    m.pools.push_back(pool_metrics(engine, cfg.decode, window_s));
    m.prefill_gpus = cfg.primary.gpus();
    m.decode_gpus = cfg.decode.gpus();
  }

  double input_tok_s = 0.0;
  double output_tok_s = 0.0;
  double busy_gpu_s = 0.0;
  double energy_j = 0.0;
  for (const PoolMetrics& p : m.pools) {
    input_tok_s += p.input_tok_s;
    output_tok_s += p.output_tok_s;
    busy_gpu_s += p.busy_fraction * window_s * p.gpus;
    m.preemptions += p.preemptions;
    if (pricing) {
      const double idle_w = in_watts(pricing->of(p.role).idle_per_gpu);
      const double load_w = in_watts(pricing->of(p.role).load_per_gpu);
      energy_j += p.gpus * window_s * (idle_w + (load_w - idle_w) * p.busy_fraction);
    }
  }
  m.input_tok_s = input_tok_s;
  m.output_tok_s = output_tok_s;
  m.total_tok_s = input_tok_s + output_tok_s;
  m.output_tok_s_per_gpu = output_tok_s / m.gpus;
  m.total_tok_s_per_gpu = m.total_tok_s / m.gpus;
  m.output_tok_s_per_decode_gpu =
      cfg.disaggregated ? output_tok_s / m.decode_gpus : m.output_tok_s_per_gpu;
  if (cfg.disaggregated) m.input_tok_s_per_prefill_gpu = input_tok_s / m.prefill_gpus;
  m.gpu_utilization = per_second(busy_gpu_s, window_s * m.gpus);
  m.expected_tokens_per_decode_step = cfg.spec.expected_tokens_per_step();

  if (pricing) {
    double usd_per_gpu_s = pricing->price_per_gpu.base();
    m.price_usd_per_gpu_hour = in_usd_per_hour(pricing->price_per_gpu);
    if (pricing->decode) {
      // Mixed hardware: each pool's GPUs at their own system's price; the GPU-weighted mean.
      double usd_per_s = 0.0;
      for (const PoolMetrics& p : m.pools) {
        usd_per_s += p.gpus * pricing->of(p.role).price_per_gpu.base();
      }
      usd_per_gpu_s = usd_per_s / m.gpus;
      m.price_usd_per_gpu_hour = usd_per_gpu_s * scale::kSecondsPerHour;
    }
    auto per_mtok = [&](double tok_s_per_gpu) -> std::optional<double> {
      if (tok_s_per_gpu <= 0.0) return std::nullopt;
      return usd_per_gpu_s / (tok_s_per_gpu / scale::kMega);
    };
    m.cost_usd_per_mtok = per_mtok(m.output_tok_s_per_gpu);
    m.cost_usd_per_mtok_total = per_mtok(m.total_tok_s_per_gpu);
    const double out_tokens = output_tok_s * window_s;
    const double all_tokens = m.total_tok_s * window_s;
    if (out_tokens > 0.0) m.joules_per_token = energy_j / out_tokens;
    if (all_tokens > 0.0) m.joules_per_token_total = energy_j / all_tokens;
  }

  // Per request.
  const RequestStats::Group& all = stats.all;
  m.measured_requests = all.requests;
  m.ttft_ms = summarize(all.ttft_ms);
  m.tpot_ms = summarize(all.tpot_ms);
  m.e2e_ms = summarize(all.e2e_ms);
  m.itl_ms.count = engine.itl().count();
  m.itl_ms.mean = engine.itl().mean_ms();
  m.itl_ms.p50 = engine.itl().quantile_ms(0.5);
  m.itl_ms.p90 = engine.itl().quantile_ms(0.9);
  m.itl_ms.p99 = engine.itl().quantile_ms(0.99);
  if (all.user_tok_s.count() > 0) m.tok_s_per_user = all.user_tok_s.p50();
  m.request_throughput_req_s = per_second(static_cast<double>(all.requests), window_s);
  m.goodput_req_s = per_second(static_cast<double>(all.sla_met), window_s);
  m.sla_attainment =
      all.requests > 0 ? static_cast<double>(all.sla_met) / static_cast<double>(all.requests) : 0.0;
  if (cfg.disaggregated) {
    m.kv_transfer_ms = summarize(stats.transfer_ms);
    m.decode_wait_ms = summarize(stats.decode_wait_ms);
  }
  for (std::size_t i = 0; i < stats.classes.size(); ++i) {
    const RequestStats::Group& s = stats.classes[i];
    ClassMetrics c;
    c.name = workload.classes[i].name;
    c.requests = s.requests;
    c.ttft_ms = summarize(s.ttft_ms);
    c.tpot_ms = summarize(s.tpot_ms);
    c.e2e_ms = summarize(s.e2e_ms);
    if (s.user_tok_s.count() > 0) c.tok_s_per_user = s.user_tok_s.p50();
    c.sla_attainment =
        s.requests > 0 ? static_cast<double>(s.sla_met) / static_cast<double>(s.requests) : 0.0;
    c.goodput_req_s = per_second(static_cast<double>(s.sla_met), window_s);
    m.classes.push_back(std::move(c));
  }
  return m;
}

namespace {

/// The summary's mean and quantiles, absent (null) when it has no values: TPOT is undefined
/// when every OSL is 1, and 0 ms would read as infinitely fast.
void put_summary(std::vector<MetricValue>& out, const std::string& key, const Summary& s) {
  auto value = [&](double v) { return s.count > 0 ? std::optional<double>(v) : std::nullopt; };
  out.push_back({key + ".mean", value(s.mean)});
  out.push_back({key + ".p50", value(s.p50)});
  out.push_back({key + ".p90", value(s.p90)});
  out.push_back({key + ".p99", value(s.p99)});
  out.push_back({key + ".count", static_cast<double>(s.count)});
}

}  // namespace

std::vector<MetricValue> flatten(const RunMetrics& m) {
  std::vector<MetricValue> out;
  auto put = [&](std::string key, std::optional<double> v) { out.push_back({std::move(key), v}); };
  auto num = [](std::int64_t v) { return static_cast<double>(v); };
  put("gpus", num(m.gpus));
  if (m.prefill_gpus > 0) {
    put("prefill_gpus", num(m.prefill_gpus));
    put("decode_gpus", num(m.decode_gpus));
  }
  put("requests", num(m.requests));
  put("warmup_requests", num(m.warmup_requests));
  put("measured_requests", num(m.measured_requests));
  put("window_s", m.window_s);
  put("output_tok_s", m.output_tok_s);
  put("input_tok_s", m.input_tok_s);
  put("total_tok_s", m.total_tok_s);
  put("request_throughput_req_s", m.request_throughput_req_s);
  put("output_tok_s_per_gpu", m.output_tok_s_per_gpu);
  put("total_tok_s_per_gpu", m.total_tok_s_per_gpu);
  put("output_tok_s_per_decode_gpu", m.output_tok_s_per_decode_gpu);
  if (m.prefill_gpus > 0) put("input_tok_s_per_prefill_gpu", m.input_tok_s_per_prefill_gpu);
  put("tok_s_per_user", m.tok_s_per_user);
  put_summary(out, "ttft_ms", m.ttft_ms);
  put_summary(out, "tpot_ms", m.tpot_ms);
  put_summary(out, "itl_ms", m.itl_ms);
  put_summary(out, "e2e_ms", m.e2e_ms);
  put("goodput_req_s", m.goodput_req_s);
  put("sla_attainment_frac", m.sla_attainment);
  put("gpu_utilization_frac", m.gpu_utilization);
  put("price_usd_per_gpu_hour", m.price_usd_per_gpu_hour);
  put("cost_usd_per_mtok", m.cost_usd_per_mtok);
  put("cost_usd_per_mtok_total", m.cost_usd_per_mtok_total);
  put("joules_per_token", m.joules_per_token);
  put("joules_per_token_total", m.joules_per_token_total);
  put("preemptions", num(m.preemptions));
  put("expected_tokens_per_decode_step", m.expected_tokens_per_decode_step);
  if (m.kv_transfer_ms) put_summary(out, "kv_transfer_ms", *m.kv_transfer_ms);
  if (m.decode_wait_ms) put_summary(out, "decode_wait_ms", *m.decode_wait_ms);
  for (const PoolMetrics& p : m.pools) {
    const std::string k = "pools." + std::string(to_string(p.role)) + ".";
    put(k + "instances", num(p.instances));
    put(k + "gpus", num(p.gpus));
    put(k + "steps", num(p.steps));
    put(k + "busy_frac", p.busy_fraction);
    put(k + "mean_step_ms", p.mean_step_ms);
    put(k + "mean_batch_sequences", p.mean_batch_sequences);
    put(k + "input_tok_s", p.input_tok_s);
    put(k + "output_tok_s", p.output_tok_s);
    put(k + "preemptions", num(p.preemptions));
    put(k + "imbalance_factor", p.imbalance);
    put(k + "extrapolated_kernel_share", p.extrapolated_share);
    put(k + "tokens_per_decode_step", p.tokens_per_decode_step);
    put(k + "dp_balance_frac", p.dp_balance);
    put(k + "decode_context_tokens.mean", p.decode_context_mean);
    put(k + "decode_context_tokens.p90", p.decode_context_p90);
    put(k + "step_time_breakdown.compute_s", p.compute_s);
    put(k + "step_time_breakdown.memory_s", p.memory_s);
    put(k + "step_time_breakdown.communication_s", p.communication_s);
    put(k + "step_time_breakdown.host_overhead_s", p.host_overhead_s);
    put(k + "step_time_breakdown.idle_s", p.idle_s);
  }
  for (const ClassMetrics& c : m.classes) {
    const std::string k = "classes." + c.name + ".";
    put(k + "requests", num(c.requests));
    put_summary(out, k + "ttft_ms", c.ttft_ms);
    put_summary(out, k + "tpot_ms", c.tpot_ms);
    put_summary(out, k + "e2e_ms", c.e2e_ms);
    put(k + "tok_s_per_user", c.tok_s_per_user);
    put(k + "sla_attainment_frac", c.sla_attainment);
    put(k + "goodput_req_s", c.goodput_req_s);
  }
  return out;
}

}  // namespace moesim::serve
