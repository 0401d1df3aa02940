// Cluster sizing: load and SLA parsing, replicas, packing into nodes and NVLink domains, cost,
// power and ranking (sizing.hpp). The sweep-driven part and the reports are in sizing_run.cpp.
#include "sim/study/sizing.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"
#include "sim/core/unit_parse.hpp"

namespace moesim::study {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

/// Relative slack below which a replica count is not rounded up (load / capacity = 2.0000000001
/// from floating error is 2 replicas).
constexpr double kReplicaSlack = 1e-9;

/// A load unit: its text and the factor to output tokens per second (requests: per request).
struct LoadUnit {
  const char* text;
  double per_second;  ///< 1 / seconds of the unit's time base
  bool requests;      ///< req/...: multiplied by the output tokens per request
};

constexpr LoadUnit kLoadUnits[] = {
    {"tok/s", 1.0, false},
    {"tok/min", 1.0 / scale::kSecondsPerMinute, false},
    {"tok/h", 1.0 / scale::kSecondsPerHour, false},
    {"tokens/s", 1.0, false},
    {"tokens/min", 1.0 / scale::kSecondsPerMinute, false},
    {"tokens/h", 1.0 / scale::kSecondsPerHour, false},
    {"req/s", 1.0, true},
    {"req/min", 1.0 / scale::kSecondsPerMinute, true},
    {"req/h", 1.0 / scale::kSecondsPerHour, true},
};

constexpr const char* kLoadForm =
    "output tokens or requests per unit time such as \"2M tok/min\", \"30000 tok/s\" or "
    "\"5 req/s\" (multipliers k, M, G; units tok/s, tok/min, tok/h, req/s, req/min, req/h)";

constexpr std::string_view kSlaKeys[kSlaMetricCount] = {"ttft_p50", "ttft_p90", "ttft_p99",
                                                        "tpot_p50", "tpot_p90", "tpot_p99",
                                                        "e2e_p90",  "e2e_p99",  "tok_s_per_user"};

std::string trim(std::string_view s) {
  std::size_t a = 0;
  std::size_t b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a])) != 0) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1])) != 0) --b;
  return std::string(s.substr(a, b - a));
}

/// A leading decimal number of `text` (>= 0, finite); the characters used in `used`.
std::optional<double> leading_number(const std::string& text, std::size_t& used) {
  if (text.empty() || (std::isdigit(static_cast<unsigned char>(text[0])) == 0 && text[0] != '.')) {
    return std::nullopt;
  }
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  used = static_cast<std::size_t>(end - text.c_str());
  if (used == 0 || !std::isfinite(v)) return std::nullopt;
  return v;
}

/// a * b and a + b on counts; replicas_needed() keeps them far from overflow (2^53 GPUs at most,
/// times a domain size), so an overflow is a broken invariant, never a wrapped count.
std::int64_t mul(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  MOESIM_ASSERT(!__builtin_mul_overflow(a, b, &r), "GPU count overflows int64");
  return r;
}
std::int64_t add(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  MOESIM_ASSERT(!__builtin_add_overflow(a, b, &r), "GPU count overflows int64");
  return r;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

std::int64_t round_up(std::int64_t n, std::int64_t unit) { return mul(ceil_div(n, unit), unit); }

/// Replicas above which replicas x GPUs per replica could leave the exact range of a double.
constexpr double kMaxExactCount = 9007199254740992.0;  // 2^53

bool is_time_metric(SlaMetric m) { return m != SlaMetric::kTokSPerUser; }

}  // namespace

Load parse_load(std::string_view text, std::optional<double> output_tokens_per_request,
                const std::string& option) {
  const std::string t = trim(text);
  std::size_t used = 0;
  const std::optional<double> number = leading_number(t, used);
  if (!number || *number <= 0.0) throw ConfigError(kCommandLine, option, kLoadForm, t);
  std::size_t i = used;
  while (i < t.size() && t[i] == ' ') ++i;
  double multiplier = 1.0;
  if (i < t.size()) {
    switch (t[i]) {
      case 'k':
      case 'K': multiplier = scale::kKilo; break;
      case 'M': multiplier = scale::kMega; break;
      case 'G': multiplier = scale::kGiga; break;
      default: break;
    }
    if (multiplier != 1.0) ++i;
  }
  const std::string unit = trim(std::string_view(t).substr(i));
  for (const LoadUnit& u : kLoadUnits) {
    if (unit != u.text) continue;
    double per_s = *number * multiplier * u.per_second;
    if (u.requests) {
      if (!output_tokens_per_request || *output_tokens_per_request <= 0.0) {
        throw ConfigError(kCommandLine, option,
                          "output tokens per unit time (a request rate needs --osl or --workload)",
                          t);
      }
      per_s *= *output_tokens_per_request;
    }
    if (!(per_s <= kMaxLoadTokS)) {
      throw ConfigError(kCommandLine, option,
                        "a load of at most 1e12 output tok/s (about a thousand times every public "
                        "LLM service together; beyond it GPU counts stop being exact)",
                        t + " = " + format_number(per_s, 4) + " tok/s");
    }
    return Load{per_s, t};
  }
  std::vector<std::string> names;
  for (const LoadUnit& u : kLoadUnits) names.emplace_back(u.text);
  throw ConfigError(kCommandLine, option, kLoadForm, t, closest_match(unit, names));
}

std::string_view sla_key(SlaMetric metric) { return kSlaKeys[static_cast<std::size_t>(metric)]; }

std::string SlaConstraint::describe() const {
  if (!is_time_metric(metric)) {
    return std::string(sla_key(metric)) + ">" + format_number(min_tok_s_per_user);
  }
  return std::string(sla_key(metric)) + "<" + format_number(to_milliseconds(max_time)) + " ms";
}

std::vector<SlaConstraint> parse_sla(std::string_view text, const std::string& option) {
  std::vector<SlaConstraint> out;
  const std::string all = trim(text);
  const std::vector<std::string> keys(std::begin(kSlaKeys), std::end(kSlaKeys));
  std::size_t start = 0;
  while (start <= all.size()) {
    const std::size_t comma = std::min(all.find(',', start), all.size());
    const std::string item = trim(std::string_view(all).substr(start, comma - start));
    start = comma + 1;
    const std::size_t op = item.find_first_of("<>");
    const std::string key = trim(std::string_view(item).substr(0, op));
    if (op == std::string::npos) {
      throw ConfigError(kCommandLine, option,
                        "constraints such as \"tpot_p90<40ms,ttft_p99<2s,tok_s_per_user>20\"",
                        item.empty() ? all : item);
    }
    const auto found = std::find(keys.begin(), keys.end(), key);
    if (found == keys.end()) {
      throw ConfigError(kCommandLine, option + "." + key,
                        "one of ttft_p50, ttft_p90, ttft_p99, tpot_p50, tpot_p90, tpot_p99, "
                        "e2e_p90, e2e_p99, tok_s_per_user",
                        key, closest_match(key, keys));
    }
    SlaConstraint c;
    c.metric = static_cast<SlaMetric>(found - keys.begin());
    const bool upper = item[op] == '<';
    std::size_t v = op + 1;
    if (v < item.size() && item[v] == '=') ++v;
    const std::string value = trim(std::string_view(item).substr(v));
    const std::string where = option + "." + key;
    if (is_time_metric(c.metric)) {
      if (!upper) throw ConfigError(kCommandLine, where, "'<' (an upper limit on a time)", item);
      try {
        c.max_time = parse_duration(value);
      } catch (const UnitError& e) {
        throw ConfigError(kCommandLine, where, e.expected(), e.found());
      }
      if (c.max_time <= Duration::zero()) {
        throw ConfigError(kCommandLine, where, "a positive time", value);
      }
    } else {
      if (upper) throw ConfigError(kCommandLine, where, "'>' (a lower limit on tok/s)", item);
      std::size_t used = 0;
      const std::optional<double> n = leading_number(value, used);
      if (!n || *n <= 0.0 || trim(std::string_view(value).substr(used)) != "") {
        throw ConfigError(kCommandLine, where, "a positive number of tokens/s per user", value);
      }
      c.min_tok_s_per_user = *n;
    }
    for (const SlaConstraint& other : out) {
      if (other.metric == c.metric) {
        throw ConfigError(kCommandLine, where, "each metric once", all);
      }
    }
    out.push_back(c);
  }
  return out;
}

std::vector<SlaConstraint> class_sla_constraints(const serve::Sla& sla) {
  std::vector<SlaConstraint> out;
  if (sla.tpot) out.push_back({SlaMetric::kTpotP90, *sla.tpot, 0.0});
  if (sla.ttft) out.push_back({SlaMetric::kTtftP99, *sla.ttft, 0.0});
  return out;
}

SlaValues sla_values(const serve::Summary& ttft_ms, const serve::Summary& tpot_ms,
                     const serve::Summary& e2e_ms, std::optional<double> tok_s_per_user) {
  auto of = [](const serve::Summary& s, double v) {
    return s.count > 0 ? std::optional<double>(v) : std::nullopt;
  };
  SlaValues v;
  v[static_cast<std::size_t>(SlaMetric::kTtftP50)] = of(ttft_ms, ttft_ms.p50);
  v[static_cast<std::size_t>(SlaMetric::kTtftP90)] = of(ttft_ms, ttft_ms.p90);
  v[static_cast<std::size_t>(SlaMetric::kTtftP99)] = of(ttft_ms, ttft_ms.p99);
  v[static_cast<std::size_t>(SlaMetric::kTpotP50)] = of(tpot_ms, tpot_ms.p50);
  v[static_cast<std::size_t>(SlaMetric::kTpotP90)] = of(tpot_ms, tpot_ms.p90);
  v[static_cast<std::size_t>(SlaMetric::kTpotP99)] = of(tpot_ms, tpot_ms.p99);
  v[static_cast<std::size_t>(SlaMetric::kE2eP90)] = of(e2e_ms, e2e_ms.p90);
  v[static_cast<std::size_t>(SlaMetric::kE2eP99)] = of(e2e_ms, e2e_ms.p99);
  v[static_cast<std::size_t>(SlaMetric::kTokSPerUser)] = tok_s_per_user;
  return v;
}

std::int64_t SizingCandidate::replica_gpus() const {
  std::int64_t n = 0;
  for (const InstanceGroup& g : replica) {
    n += static_cast<std::int64_t>(g.gpus_per_instance) * g.count;
  }
  return n;
}

std::int64_t replicas_needed(const SizingCandidate& c, const Load& load) {
  const double per_replica = c.output_tok_s_per_gpu * static_cast<double>(c.replica_gpus());
  if (!(per_replica > 0.0)) return 0;
  const double r = std::ceil(load.output_tok_s / per_replica * (1.0 - kReplicaSlack));
  if (!(r * static_cast<double>(c.replica_gpus()) < kMaxExactCount)) {
    throw ConfigError(kCommandLine, "--load",
                      "a load that " + c.deployment + " serves with fewer than 2^53 GPUs (at " +
                          format_number(c.output_tok_s_per_gpu, 3) + " output tok/s per GPU)",
                      load.text);
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(r));
}

Allocation allocate(std::span<const InstanceGroup> replica, std::int64_t replicas,
                    const hw::SystemSpec& system, Rounding rounding) {
  const std::int64_t node = system.gpus_per_node;
  const std::int64_t domain = system.domain_size;
  MOESIM_ASSERT(node >= 1 && domain >= node, "system needs GPUs per node and per domain");
  Allocation a;
  a.replicas = replicas;
  for (const InstanceGroup& g : replica) {
    const std::int64_t per = g.gpus_per_instance;
    MOESIM_ASSERT(per >= 1 && g.count >= 1, "instance groups are non-empty");
    const std::int64_t n = mul(replicas, g.count);
    a.gpus_used = add(a.gpus_used, mul(n, per));
    if (per > domain) {
      // One instance takes whole domains.
      const std::int64_t domains = mul(n, ceil_div(per, domain));
      a.domains = add(a.domains, domains);
      a.gpus = add(a.gpus, rounding == Rounding::kDomain ? mul(domains, domain)
                                                         : mul(n, round_up(per, node)));
      continue;
    }
    // Instances per domain, never straddling one; the last domain is partly filled.
    const std::int64_t per_domain = domain / per;
    const std::int64_t full = n / per_domain;
    const std::int64_t rest = n % per_domain;
    const std::int64_t domains = full + (rest > 0 ? 1 : 0);
    a.domains = add(a.domains, domains);
    a.gpus = add(
        a.gpus, rounding == Rounding::kDomain
                    ? mul(domains, domain)
                    : add(mul(full, round_up(per_domain * per, node)), round_up(rest * per, node)));
  }
  a.nodes = a.gpus / node;
  return a;
}

SlaCheck check_sla(const SizingCandidate& c, std::span<const ClassSla> sla) {
  MOESIM_ASSERT(c.classes.size() == sla.size(), "one SLA value set per class");
  SlaCheck out;
  out.met = true;
  out.worst_margin = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < sla.size(); ++k) {
    for (const SlaConstraint& con : sla[k].constraints) {
      ConstraintOutcome o;
      o.class_name = sla[k].name;
      o.constraint = con;
      o.value = c.classes[k][static_cast<std::size_t>(con.metric)];
      if (!o.value) {
        o.margin = -std::numeric_limits<double>::infinity();
        out.met = false;
      } else if (is_time_metric(con.metric)) {
        const double limit = to_milliseconds(con.max_time);
        o.margin = (limit - *o.value) / limit;
      } else {
        o.margin = (*o.value - con.min_tok_s_per_user) / con.min_tok_s_per_user;
      }
      if (o.value) {
        out.met = out.met && o.margin >= 0.0;
        out.worst_margin = std::min(out.worst_margin, o.margin);
      }
      out.outcomes.push_back(o);
    }
  }
  return out;
}

SystemSizing size_candidates(std::vector<SizingCandidate> candidates, const Load& load,
                             std::span<const ClassSla> sla, const hw::SystemSpec& system,
                             const std::optional<hw::PriceEntry>& price, Rounding rounding,
                             const std::optional<PrefillSystem>& prefill) {
  SystemSizing out;
  out.system = system.name;
  out.price = price;
  out.node_name = system.node_kind == hw::NodeKind::kComputeTray ? "trays" : "servers";
  out.candidates = std::move(candidates);
  const Duration month = ceil_duration(scale::kHoursPerMonth * scale::kSecondsPerHour);
  const double mtok_per_month = load.output_tok_s * to_seconds(month) / scale::kMega;
  auto size_one = [&](std::size_t i, SlaCheck check) {
    const SizingCandidate& c = out.candidates[i];
    SizedOption o;
    o.candidate = i;
    const std::int64_t replicas = replicas_needed(c, load);
    if (c.mixed && prefill && !c.replica.empty()) {
      // Mixed hardware: the prefill instances on the prefill system, the rest on `system`.
      const std::span<const InstanceGroup> groups(c.replica);
      const Allocation pre = allocate(groups.first(1), replicas, prefill->system, rounding);
      o.allocation = allocate(groups.subspan(1), replicas, system, rounding);
      o.allocation.gpus_used = add(o.allocation.gpus_used, pre.gpus_used);
      o.allocation.gpus = add(o.allocation.gpus, pre.gpus);
      o.allocation.nodes = add(o.allocation.nodes, pre.nodes);
      o.allocation.domains = add(o.allocation.domains, pre.domains);
      o.prefill = pre;
      if (price && prefill->price) {
        const auto pre_gpus = static_cast<double>(pre.gpus);
        const auto rest = static_cast<double>(o.allocation.gpus - pre.gpus);
        o.monthly_cost =
            (prefill->price->price_per_gpu_hour * pre_gpus + price->price_per_gpu_hour * rest) *
            month;
        o.load_power =
            prefill->price->power_per_gpu_load * pre_gpus + price->power_per_gpu_load * rest;
        o.idle_power =
            prefill->price->power_per_gpu_idle * pre_gpus + price->power_per_gpu_idle * rest;
        o.usd_per_mtok = in_usd(*o.monthly_cost) / mtok_per_month;
      }
      o.check = std::move(check);
      return o;
    }
    o.allocation = allocate(c.replica, replicas, system, rounding);
    const auto gpus = static_cast<double>(o.allocation.gpus);
    if (price) {
      o.monthly_cost = price->price_per_gpu_hour * gpus * month;
      o.load_power = price->power_per_gpu_load * gpus;
      o.idle_power = price->power_per_gpu_idle * gpus;
      o.usd_per_mtok = in_usd(*o.monthly_cost) / mtok_per_month;
    }
    o.check = std::move(check);
    return o;
  };
  std::optional<std::pair<std::size_t, SlaCheck>> closest;
  for (std::size_t i = 0; i < out.candidates.size(); ++i) {
    if (!(out.candidates[i].output_tok_s_per_gpu > 0.0)) continue;
    SlaCheck check = check_sla(out.candidates[i], sla);
    if (check.met) {
      out.ranked.push_back(size_one(i, std::move(check)));
    } else if (!closest || check.worst_margin > closest->second.worst_margin) {
      closest.emplace(i, std::move(check));
    }
  }
  std::stable_sort(
      out.ranked.begin(), out.ranked.end(), [&](const SizedOption& a, const SizedOption& b) {
        if (a.monthly_cost && b.monthly_cost && *a.monthly_cost != *b.monthly_cost) {
          return *a.monthly_cost < *b.monthly_cost;
        }
        if (a.allocation.gpus != b.allocation.gpus) {
          return a.allocation.gpus < b.allocation.gpus;
        }
        if (a.check.worst_margin != b.check.worst_margin) {
          return a.check.worst_margin > b.check.worst_margin;
        }
        return out.candidates[a.candidate].deployment < out.candidates[b.candidate].deployment;
      });
  if (out.ranked.empty() && closest) out.closest = size_one(closest->first, closest->second);
  return out;
}

}  // namespace moesim::study
