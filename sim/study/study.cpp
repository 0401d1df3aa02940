// Planning, simulating and assembling studies (study.hpp).
#include "sim/study/study.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/study/parallel.hpp"

namespace moesim::study {
namespace {

/// FNV-1a, 64 bits (offset basis and prime from the FNV reference,
/// http://www.isthe.com/chongo/tech/comp/fnv/).
constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

void fnv1a(std::uint64_t& h, std::string_view text) {
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
}

/// The shortest decimal that reads back as exactly `v` (std::to_chars).
std::string exact(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

bool read_double(std::string_view s, double& v) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::string stack_name(const SweepBase& b) { return b.stack.empty() ? "default" : b.stack; }

/// The columns naming a cell in the output tables.
const std::vector<std::string> kCellColumns{"model", "system", "precision", "stack",
                                            "isl",   "osl",    "replica",   "seed"};

std::vector<std::string> cell_cells(const StudyCell& c) {
  return {c.base.model,
          c.base.system,
          c.precision_name,
          stack_name(c.base),
          std::to_string(c.base.isl),
          std::to_string(c.base.osl),
          std::to_string(c.replica),
          std::to_string(c.base.seed)};
}

/// `prefix` then `table`'s header / rows, into one table.
Table prefixed(const std::vector<std::string>& prefix, const std::vector<std::string>& header) {
  std::vector<std::string> h = prefix;
  h.insert(h.end(), header.begin(), header.end());
  return Table(h);
}

void append(Table& out, const std::vector<std::string>& prefix, const Table& rows) {
  for (std::vector<std::string> r : rows.data_rows()) {
    r.insert(r.begin(), prefix.begin(), prefix.end());
    out.add_row(std::move(r));
  }
}

bool has_sla(const StudySpec& spec) { return spec.sla_ttft_p99_ms || spec.sla_tpot_p90_ms; }

/// Whether simulated point `p` meets the study's SLA (every simulated point when there is none).
bool meets_sla(const StudySpec& spec, const SweepPoint& p) {
  return p.simulated && (!spec.sla_ttft_p99_ms || p.ttft_p99_ms <= *spec.sla_ttft_p99_ms) &&
         (!spec.sla_tpot_p90_ms || p.tpot_p90_ms <= *spec.sla_tpot_p90_ms);
}

/// `rows` (sweep_table rows of `points`, in order) with the meets_sla column appended.
Table with_sla(const StudySpec& spec, Table rows, const std::vector<const SweepPoint*>& points) {
  std::vector<std::string> header = rows.header();
  header.push_back("meets_sla");
  Table out(header);
  std::vector<std::vector<std::string>> data = rows.data_rows();
  for (std::size_t i = 0; i < data.size(); ++i) {
    const SweepPoint& p = *points[i];
    data[i].push_back(!has_sla(spec) || !p.simulated ? "-" : meets_sla(spec, p) ? "yes" : "no");
    out.add_row(std::move(data[i]));
  }
  return out;
}

/// `r` with the points that miss the SLA unsimulated, for the comparisons.
SweepResult within_sla(const StudySpec& spec, SweepResult r) {
  for (SweepPoint& p : r.points) {
    if (!meets_sla(spec, p)) p.simulated = false;
  }
  return r;
}

}  // namespace

std::string escape_field(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

bool unescape_field(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return false;
    switch (text[i]) {
      case '\\': out += '\\'; break;
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      default: return false;
    }
  }
  return true;
}

std::size_t StudyPlan::points() const {
  std::size_t n = 0;
  for (const SweepPlan& s : sweeps) n += s.result.points.size();
  return n;
}

double StudyPlan::cost(std::size_t k) const {
  return point_cost(sweeps[todo[k].cell], todo[k].point);
}

std::string StudyPlan::describe(std::size_t k) const {
  const StudyCell& c = cells[todo[k].cell];
  return c.base.model + " on " + c.base.system + ", " + c.precision_name + ", stack " +
         stack_name(c.base) + ", " + std::to_string(c.base.isl) + "/" + std::to_string(c.base.osl) +
         ", replica " + std::to_string(c.replica) + ": " +
         sweeps[todo[k].cell].result.points[todo[k].point].label;
}

StudyPlan plan_study(const StudySpec& spec, const config::Catalog& catalog, unsigned jobs,
                     const ProbeRunner& probes) {
  StudyPlan plan;
  plan.spec = spec;
  for (const std::string& model : spec.models) {
    for (const std::string& system : spec.systems) {
      for (std::size_t p = 0; p < spec.precisions.size(); ++p) {
        for (const std::string& stack : spec.stacks) {
          for (const StudySpec::Workload& w : spec.workloads) {
            for (std::int32_t r = 0; r < spec.replicas; ++r) {
              StudyCell c;
              c.base.model = model;
              c.base.system = system;
              c.base.precision = spec.precisions[p];
              c.base.isl = w.isl;
              c.base.osl = w.osl;
              c.base.price_sheet = spec.price_sheet;
              c.base.stack = stack;
              c.base.seed = spec.seed + static_cast<std::uint64_t>(r);
              c.base.extra_yaml = spec.extra_scenario;
              c.base.extra_pool_yaml = spec.extra_pool;
              c.precision_name = spec.precision_names[p];
              c.replica = r;
              plan.cells.push_back(c);
            }
          }
        }
      }
    }
  }
  // Probe the deployments of every replica-0 cell at once, so that a runner can share them all.
  plan.sweeps.resize(plan.cells.size());
  struct Task {
    std::size_t cell = 0;
    std::size_t deployment = 0;
  };
  std::vector<Task> tasks;
  for (std::size_t i = 0; i < plan.cells.size(); ++i) {
    if (plan.cells[i].replica != 0) continue;
    plan.sweeps[i] = start_sweep_plan(plan.cells[i].base, spec.space, catalog);
    for (std::size_t d = 0; d < plan.sweeps[i].result.deployments.size(); ++d) {
      tasks.push_back({i, d});
    }
  }
  const auto probe_one = [&](std::size_t t) {
    const SweepPlan& s = plan.sweeps[tasks[t].cell];
    return probe_deployment(s.result.base, s.result.deployments[tasks[t].deployment], catalog);
  };
  std::vector<SweepProbe> found;
  if (probes) {
    found = probes(tasks.size(), probe_one);
  } else {
    found.resize(tasks.size());
    parallel_for(tasks.size(), jobs > 0 ? jobs : std::max(1u, std::thread::hardware_concurrency()),
                 [&](std::size_t t) { found[t] = probe_one(t); });
  }
  MOESIM_ASSERT(found.size() == tasks.size(), "one probe per deployment");
  for (std::size_t t = 0; t < tasks.size();) {
    const std::size_t cell = tasks[t].cell;
    const auto n = plan.sweeps[cell].result.deployments.size();
    const std::vector<SweepProbe> mine(found.begin() + static_cast<std::ptrdiff_t>(t),
                                       found.begin() + static_cast<std::ptrdiff_t>(t + n));
    finish_sweep_plan(plan.sweeps[cell], spec.space, mine, spec.prune);
    t += n;
  }
  std::uint64_t hash = kFnvOffset;
  for (std::size_t i = 0; i < plan.cells.size(); ++i) {
    const StudyCell& c = plan.cells[i];
    if (c.replica != 0) {  // the probe does not depend on the seed: replica 0's plan, reseeded
      plan.sweeps[i] = plan.sweeps[i - static_cast<std::size_t>(c.replica)];
      plan.sweeps[i].result.base.seed = c.base.seed;
    }
    const SweepPlan& s = plan.sweeps[i];
    for (const std::size_t point : s.todo()) {
      plan.todo.push_back({i, point});
      const SweepPoint& p = s.result.points[point];
      fnv1a(hash,
            scenario_yaml(s.result.base, s.result.deployments[p.deployment], s.per_unit[point]));
      fnv1a(hash, "\n");
    }
  }
  plan.fingerprint = hash;
  return plan;
}

std::string simulate_study_point(const StudyPlan& plan, std::size_t k,
                                 const config::Catalog& catalog) {
  const StudyPlan::Ref ref = plan.todo[k];
  const SweepPlan& sweep = plan.sweeps[ref.cell];
  SweepPoint p = sweep.result.points[ref.point];
  simulate_point(sweep, ref.point, p, catalog);
  return encode_point(k, p);
}

std::string encode_point(std::size_t k, const SweepPoint& p) {
  auto opt = [](const std::optional<double>& v) { return v ? exact(*v) : std::string("-"); };
  return std::to_string(k) + "\t" + (p.simulated ? "1" : "0") + "\t" +
         exact(p.output_tok_s_per_gpu) + "\t" + exact(p.tok_s_per_user) + "\t" +
         exact(p.ttft_p90_ms) + "\t" + exact(p.ttft_p99_ms) + "\t" + exact(p.tpot_p90_ms) + "\t" +
         opt(p.cost_usd_per_mtok) + "\t" + opt(p.joules_per_token) + "\t" +
         exact(p.extrapolated_share) + "\t" + escape_field(p.pruned);
}

bool decode_point(std::string_view line, std::size_t& k, SweepPoint& p) {
  std::vector<std::string_view> f;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    f.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  constexpr std::size_t kFields = 11;
  if (f.size() != kFields) return false;
  const auto r = std::from_chars(f[0].data(), f[0].data() + f[0].size(), k);
  if (r.ec != std::errc() || r.ptr != f[0].data() + f[0].size()) return false;
  if (f[1] != "0" && f[1] != "1") return false;
  SweepPoint q = p;
  q.simulated = f[1] == "1";
  auto opt = [](std::string_view s, std::optional<double>& v) {
    if (s == "-") {
      v.reset();
      return true;
    }
    double d = 0.0;
    if (!read_double(s, d)) return false;
    v = d;
    return true;
  };
  if (!read_double(f[2], q.output_tok_s_per_gpu) || !read_double(f[3], q.tok_s_per_user) ||
      !read_double(f[4], q.ttft_p90_ms) || !read_double(f[5], q.ttft_p99_ms) ||
      !read_double(f[6], q.tpot_p90_ms) || !opt(f[7], q.cost_usd_per_mtok) ||
      !opt(f[8], q.joules_per_token) || !read_double(f[9], q.extrapolated_share) ||
      !unescape_field(f[10], q.pruned)) {
    return false;
  }
  p = q;
  return true;
}

StudyReport assemble_study(const StudyPlan& plan, const std::vector<std::string>& records) {
  MOESIM_ASSERT(records.size() == plan.todo.size(), "one record per point to simulate");
  std::vector<SweepResult> results;
  results.reserve(plan.sweeps.size());
  for (const SweepPlan& s : plan.sweeps) results.push_back(s.result);
  for (std::size_t k = 0; k < records.size(); ++k) {
    const StudyPlan::Ref ref = plan.todo[k];
    std::size_t read = 0;
    const bool ok = decode_point(records[k], read, results[ref.cell].points[ref.point]);
    MOESIM_ASSERT(ok && read == k, "records are whole and in point order");
  }
  for (SweepResult& r : results) mark_frontier(r);

  std::vector<std::string> sweep_header = sweep_table(results.front(), true).header();
  sweep_header.push_back("meets_sla");
  StudyReport out{
      prefixed(kCellColumns, sweep_header), prefixed(kCellColumns, sweep_header),
      prefixed(
          {"model", "stack", "isl", "osl", "replica", "a", "a_precision", "b", "b_precision"},
          {"tok_s_per_user_min", "a_tok_s_per_gpu", "b_tok_s_per_gpu", "throughput_a_over_b",
           "a_usd_per_mtok", "b_usd_per_mtok", "cost_b_over_a", "a_deployment", "b_deployment"}),
      ""};
  std::string& text = out.summary;
  std::size_t simulated = 0;
  for (const SweepResult& r : results) simulated += r.simulated();
  text += "Study " + (plan.spec.name.empty() ? plan.spec.file : plan.spec.name) + ": " +
          std::to_string(plan.cells.size()) + " cells, " + std::to_string(plan.points()) +
          " points: " + std::to_string(simulated) + " simulated, " +
          std::to_string(plan.points() - simulated) + " pruned\n\n";
  Table cells({"cell", "points", "simulated", "frontier", "best tok_s_per_gpu",
               "best tok_s_per_user", "stack"});
  for (std::size_t i = 0; i < results.size(); ++i) {
    const StudyCell& c = plan.cells[i];
    const SweepResult& r = results[i];
    std::vector<const SweepPoint*> all, frontier;
    for (const SweepPoint& p : r.points) all.push_back(&p);
    for (const std::size_t f : r.frontier) frontier.push_back(&r.points[f]);
    append(out.points, cell_cells(c), with_sla(plan.spec, sweep_table(r, true), all));
    append(out.frontiers, cell_cells(c), with_sla(plan.spec, sweep_table(r, false), frontier));
    double best_gpu = 0.0, best_user = 0.0;
    for (const std::size_t f : r.frontier) {
      best_gpu = std::max(best_gpu, r.points[f].output_tok_s_per_gpu);
      best_user = std::max(best_user, r.points[f].tok_s_per_user);
    }
    cells.add_row({c.base.model + " on " + r.system_name + ", " + c.precision_name + ", " +
                       std::to_string(c.base.isl) + "/" + std::to_string(c.base.osl) +
                       (plan.spec.replicas > 1 ? ", replica " + std::to_string(c.replica) : ""),
                   std::to_string(r.points.size()), std::to_string(r.simulated()),
                   std::to_string(r.frontier.size()),
                   r.frontier.empty() ? "-" : format_number(best_gpu),
                   r.frontier.empty() ? "-" : format_number(best_user), r.stack});
  }
  text += cells.to_text();
  if (has_sla(plan.spec)) {
    text += "\ncomparisons use only the points that meet the SLA:";
    if (plan.spec.sla_ttft_p99_ms)
      text += " TTFT p99 <= " + format_number(*plan.spec.sla_ttft_p99_ms) + " ms";
    if (plan.spec.sla_tpot_p90_ms)
      text += " TPOT p90 <= " + format_number(*plan.spec.sla_tpot_p90_ms) + " ms";
    text += "\n";
  }

  // Comparisons: cells of a and b alike in model, stack, workload and replica, and in precision
  // unless the comparison names each side's.
  for (const StudyCompare& cmp : plan.spec.compares) {
    for (std::size_t i = 0; i < plan.cells.size(); ++i) {
      const StudyCell& a = plan.cells[i];
      if (a.base.system != cmp.a) continue;
      if (cmp.a_precision && a.base.precision != *cmp.a_precision) continue;
      for (std::size_t j = 0; j < plan.cells.size(); ++j) {
        const StudyCell& b = plan.cells[j];
        if (b.base.system != cmp.b || b.base.model != a.base.model ||
            b.base.stack != a.base.stack || b.base.isl != a.base.isl || b.base.osl != a.base.osl ||
            b.replica != a.replica) {
          continue;
        }
        if (cmp.b_precision ? b.base.precision != *cmp.b_precision
                            : (!cmp.a_precision && b.base.precision != a.base.precision)) {
          continue;
        }
        const Table t = compare_table(within_sla(plan.spec, results[i]),
                                      within_sla(plan.spec, results[j]), plan.spec.levels);
        append(out.compare,
               {a.base.model, stack_name(a.base), std::to_string(a.base.isl),
                std::to_string(a.base.osl), std::to_string(a.replica), a.base.system,
                a.precision_name, b.base.system, b.precision_name},
               t);
        text += "\n" + a.base.model + ", " + std::to_string(a.base.isl) + "/" +
                std::to_string(a.base.osl) +
                (plan.spec.replicas > 1 ? ", replica " + std::to_string(a.replica) : "") + ": " +
                results[i].system_name + " (" + a.precision_name + ") vs " +
                results[j].system_name + " (" + b.precision_name + ")\n" + t.to_text();
      }
    }
  }
  return out;
}

}  // namespace moesim::study
