// Tables and plots of sweeps and comparisons (sweep.hpp).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/study/pareto.hpp"
#include "sim/study/sweep.hpp"

namespace moesim::study {
namespace {

std::string optional_number(const std::optional<double>& v, int digits = 4) {
  return v ? format_number(*v, digits) : "-";
}

std::string instances_of(const SweepDeployment& d) {
  if (d.disaggregated) {
    return std::to_string(d.primary.instances) + "P:" + std::to_string(d.decode.instances) + "D";
  }
  return std::to_string(d.primary.instances);
}

/// Simulated points of `r` as x = tok/s per user, y = output tok/s per GPU, and their indices.
struct Cloud {
  std::vector<double> x, y;
  std::vector<std::size_t> index;
};

Cloud cloud_of(const SweepResult& r) {
  Cloud c;
  for (std::size_t i = 0; i < r.points.size(); ++i) {
    if (!r.points[i].simulated) continue;
    c.x.push_back(r.points[i].tok_s_per_user);
    c.y.push_back(r.points[i].output_tok_s_per_gpu);
    c.index.push_back(i);
  }
  return c;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

Table sweep_table(const SweepResult& r, bool all_points) {
  Table t({"point", "mode", "gpus", "plan", "decode_plan", "instances", "max_batch", "mtp",
           "concurrency", "output_tok_s_per_gpu", "tok_s_per_user", "ttft_p90_ms", "ttft_p99_ms",
           "tpot_p90_ms", "cost_usd_per_mtok", "joules_per_token", "extrapolated_share", "frontier",
           "pruned"});
  auto row = [&](const SweepPoint& p) {
    const SweepDeployment& d = r.deployments[p.deployment];
    const bool sim = p.simulated;
    t.add_row(
        {p.label, d.disaggregated ? "disaggregated" : "aggregated", std::to_string(d.gpus()),
         describe_plan(d.primary), d.disaggregated ? describe_plan(d.decode) : "-", instances_of(d),
         std::to_string(d.disaggregated ? d.decode.max_batch_size : d.primary.max_batch_size),
         std::to_string(d.mtp_draft_tokens),
         p.concurrency > 0 ? std::to_string(p.concurrency) : "-",
         sim ? format_number(p.output_tok_s_per_gpu) : "-",
         sim ? format_number(p.tok_s_per_user) : "-", sim ? format_number(p.ttft_p90_ms) : "-",
         sim ? format_number(p.ttft_p99_ms) : "-", sim ? format_number(p.tpot_p90_ms) : "-",
         sim ? optional_number(p.cost_usd_per_mtok) : "-",
         sim ? optional_number(p.joules_per_token) : "-",
         sim ? format_number(p.extrapolated_share, 3) : "-", p.on_frontier ? "yes" : "no",
         p.pruned.empty() ? "-" : p.pruned});
  };
  if (all_points) {
    for (const SweepPoint& p : r.points) row(p);
  } else {
    for (const std::size_t i : r.frontier) row(r.points[i]);
  }
  return t;
}

Table frontier_summary(const SweepResult& r) {
  Table t({"point (frontier, by tok/s per user)", "gpus", "tok_s_per_gpu", "tok_s_per_user",
           "ttft_p99_ms", "tpot_p90_ms", "usd_per_mtok", "joules_per_tok", "extrapolated"});
  for (const std::size_t i : r.frontier) {
    const SweepPoint& p = r.points[i];
    t.add_row({p.label, std::to_string(r.deployments[p.deployment].gpus()),
               format_number(p.output_tok_s_per_gpu), format_number(p.tok_s_per_user),
               format_number(p.ttft_p99_ms), format_number(p.tpot_p90_ms),
               optional_number(p.cost_usd_per_mtok, 3), optional_number(p.joules_per_token, 3),
               p.extrapolated_share > 0.0
                   ? format_number(100.0 * p.extrapolated_share, 3) + "% of kernel time"
                   : ""});
  }
  return t;
}

std::string stack_note(const SweepResult& r) {
  std::size_t simulated = 0;
  std::size_t extrapolated = 0;
  double most = 0.0;
  for (const SweepPoint& p : r.points) {
    if (!p.simulated) continue;
    ++simulated;
    if (p.extrapolated_share > 0.0) ++extrapolated;
    most = std::max(most, p.extrapolated_share);
  }
  std::string note = "kernels: stack " + r.stack;
  if (extrapolated > 0) {
    note += "; " + std::to_string(extrapolated) + " of " + std::to_string(simulated) +
            " points priced partly outside the kernel shapes it was measured at (up to " +
            format_number(100.0 * most, 3) + "% of kernel time)";
  }
  return note;
}

PlotSpec frontier_plot(std::span<const SweepResult> results, std::span<const double> levels,
                       std::string title) {
  PlotSpec spec;
  spec.title = std::move(title);
  spec.x_label = "tokens/s per user (median 1 / TPOT)";
  spec.y_label = "output tokens/s per GPU (log scale)";
  // The frontier spans three to four decades (a few tokens/s per GPU at batch 1 to thousands
  // at full batch): a log axis keeps the interactive end readable.
  spec.log_y = true;
  for (const SweepResult& r : results) {
    PlotSeries others{r.system_name + " other points", {}, {}, {}, false};
    for (const SweepPoint& p : r.points) {
      if (!p.simulated || p.on_frontier) continue;
      others.x.push_back(p.tok_s_per_user);
      others.y.push_back(p.output_tok_s_per_gpu);
    }
    PlotSeries front{r.system_name + " frontier", {}, {}, {}, true};
    for (const std::size_t i : r.frontier) {
      front.x.push_back(r.points[i].tok_s_per_user);
      front.y.push_back(r.points[i].output_tok_s_per_gpu);
      front.labels.push_back(r.points[i].label);
    }
    spec.series.push_back(std::move(front));
    if (!others.x.empty()) spec.series.push_back(std::move(others));
  }
  for (const double v : levels) {
    spec.vlines.push_back(v);
    spec.vline_labels.push_back(format_number(v, 3) + " tok/s/user");
  }
  return spec;
}

Table compare_table(const SweepResult& a, const SweepResult& b, std::span<const double> levels) {
  const std::string na = a.system_name;
  const std::string nb = b.system_name;
  Table t({"tok_s_per_user_min", na + " tok_s_per_gpu", nb + " tok_s_per_gpu",
           "throughput " + na + " / " + nb, na + " usd_per_mtok", nb + " usd_per_mtok",
           "cost " + nb + " / " + na, na + " deployment", nb + " deployment"});
  const Cloud ca = cloud_of(a);
  const Cloud cb = cloud_of(b);
  for (const double level : levels) {
    const auto ia = best_at_least(ca.x, ca.y, level);
    const auto ib = best_at_least(cb.x, cb.y, level);
    const SweepPoint* pa = ia ? &a.points[ca.index[*ia]] : nullptr;
    const SweepPoint* pb = ib ? &b.points[cb.index[*ib]] : nullptr;
    auto ratio = [](double num, double den) {
      return den > 0.0 && std::isfinite(num / den) ? format_number(num / den, 3) : "-";
    };
    std::string cost_ratio = "-";
    if (pa && pb && pa->cost_usd_per_mtok && pb->cost_usd_per_mtok) {
      cost_ratio = ratio(*pb->cost_usd_per_mtok, *pa->cost_usd_per_mtok);
    }
    t.add_row({format_number(level, 3), pa ? format_number(pa->output_tok_s_per_gpu) : "-",
               pb ? format_number(pb->output_tok_s_per_gpu) : "-",
               pa && pb ? ratio(pa->output_tok_s_per_gpu, pb->output_tok_s_per_gpu) : "-",
               pa ? optional_number(pa->cost_usd_per_mtok, 3) : "-",
               pb ? optional_number(pb->cost_usd_per_mtok, 3) : "-", cost_ratio,
               pa ? pa->label : "-", pb ? pb->label : "-"});
  }
  return t;
}

std::string nothing_simulated_reason(const SweepResult& r) {
  if (r.simulated() > 0) return "";
  if (r.deployments.empty()) return "no deployment in the search space (see --help)";
  // One reason per deployment (its first point's); reasons that differ only in the deployment
  // and in their numbers form one group, shown with its first instance.
  struct Group {
    std::size_t count = 0;
    std::string example;
  };
  std::vector<std::pair<std::string, Group>> groups;
  std::vector<bool> seen(r.deployments.size(), false);
  for (const SweepPoint& p : r.points) {
    if (p.deployment >= seen.size() || seen[p.deployment]) continue;
    seen[p.deployment] = true;
    // Without the deployment's label (reasons quote it), then with numbers masked.
    std::string reason = p.pruned;
    const std::string label = r.deployments[p.deployment].label();
    if (const auto at = reason.find(label); at != std::string::npos) reason.erase(at, label.size());
    std::string key;
    for (const char c : reason) {
      const bool digit = std::isdigit(static_cast<unsigned char>(c)) != 0;
      if (!digit)
        key += c;
      else if (key.empty() || key.back() != '#')
        key += '#';
    }
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (it == groups.end()) {
      groups.emplace_back(key, Group{0, p.pruned});
      it = std::prev(groups.end());
    }
    ++it->second.count;
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
  std::string out =
      "all " + std::to_string(r.deployments.size()) + " deployments pruned, nothing simulated:";
  for (std::size_t i = 0; i < groups.size(); ++i) {
    out += (i > 0 ? ";" : "") + std::string(" ") + std::to_string(groups[i].second.count) +
           (groups[i].second.count > 1 ? " like " : " ") + groups[i].second.example;
  }
  return out;
}

std::string precision_yaml(const std::string& text, const std::string& option) {
  const std::string s = trim(text);
  if (s.empty() || s.front() == '{') return s;
  const SourceLocation where{"<command line>", 0, 0};
  std::string out = "{";
  std::map<std::string, std::string> given;  // key -> its entry, to name both of a duplicate
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t comma = std::min(s.find(',', start), s.size());
    const std::string entry = trim(s.substr(start, comma - start));
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || trim(entry.substr(0, eq)).empty() ||
        trim(entry.substr(eq + 1)).empty()) {
      throw ConfigError(where, option,
                        "KEY=VALUE entries separated by commas (e.g. "
                        "weights=nvfp4,kv_cache=fp8) or a YAML map",
                        text);
    }
    const std::string key = trim(entry.substr(0, eq));
    if (const auto seen = given.find(key); seen != given.end()) {
      throw ConfigError(where, option + " " + key, "each key once", seen->second + " and " + entry);
    }
    given.emplace(key, entry);
    if (out.size() > 1) out += ", ";
    out += key + ": " + trim(entry.substr(eq + 1));
    start = comma + 1;
  }
  return out + "}";
}

}  // namespace moesim::study
