// `moesim calibrate` (fit a stack's kernel families to per-op measurements) and `moesim
// validate` (predicted against measured time per op).
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/core/error.hpp"
#include "sim/cost/calibration.hpp"
#include "sim/cost/comm_measurement.hpp"
#include "sim/cost/comm_validation.hpp"
#include "sim/cost/kernel_probe.hpp"
#include "sim/cost/measurement.hpp"
#include "sim/cost/stack.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/study/table.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

/// Measurements of every file named, in order, and what the readers left out.
struct Loaded {
  std::vector<cost::Measurement> rows;
  std::vector<std::string> skipped;
};

Loaded load_measurements(const std::vector<std::string>& files) {
  if (files.empty()) {
    throw ConfigError(kCommandLine, "MEASUREMENTS",
                      "one or more measurement files (moesim schema or AIConfigurator CSV)",
                      "none");
  }
  Loaded out;
  for (const std::string& f : files) {
    cost::MeasurementFile m = cost::read_measurements(f);
    for (const std::string& s : m.skipped) out.skipped.push_back(f + ": " + s);
    std::move(m.rows.begin(), m.rows.end(), std::back_inserter(out.rows));
  }
  return out;
}

/// A share as a percentage number (columns say "_pct"), or "-" where there are no points.
std::string percent(double v, std::size_t points = 1) {
  return points > 0 ? study::format_number(100.0 * v, 3) : std::string("-");
}

bool wants_help(const std::vector<std::string>& words) {
  return std::any_of(words.begin(), words.end(),
                     [](const std::string& w) { return w == "--help" || w == "-h"; });
}

/// The fitted terms beside fixed, stream and compute, e.g. "per_expert 0.31us k_wave 0.5ns";
/// token_bytes is a multiplier of the roofline time, the others are durations.
std::string other_terms(const cost::FamilyFit& f) {
  std::string out;
  for (std::size_t i = 0; i < cost::kTerms; ++i) {
    const auto term = static_cast<cost::Term>(i);
    const double c = f.coef[i];
    if (c <= 0.0 || term == cost::Term::kFixed || term == cost::Term::kStream ||
        term == cost::Term::kCompute) {
      continue;
    }
    out += (out.empty() ? "" : " ") + std::string(cost::to_string(term)) + " ";
    if (term == cost::Term::kTokenBytes) {
      out += "x" + study::format_number(c, 3);
    } else if (c < 1e-6) {
      out += study::format_number(c / 1e-9, 3) + "ns";
    } else {
      out += study::format_number(c / 1e-6, 3) + "us";
    }
  }
  return out.empty() ? "-" : out;
}

using cost::held_back;

/// Whether every file named is a communication table (sim/cost/comm_measurement.hpp).
bool all_comm_tables(const std::vector<std::string>& files) {
  return !files.empty() && std::all_of(files.begin(), files.end(), [](const std::string& f) {
    return cost::is_comm_table(std::filesystem::path(f).stem().string());
  });
}

/// The rows of communication tables `files`; what their readers left out goes to `skipped`.
std::vector<cost::CommMeasurement> load_comm(const std::vector<std::string>& files,
                                             std::vector<std::string>& skipped) {
  std::vector<cost::CommMeasurement> rows;
  for (const std::string& f : files) {
    cost::CommMeasurementFile m = cost::read_comm_measurements(f);
    for (const std::string& s : m.skipped) skipped.push_back(f + ": " + s);
    std::move(m.rows.begin(), m.rows.end(), std::back_inserter(rows));
  }
  return rows;
}

/// "2:1.6 4:1.2 8:1.08": a fit's transfer scales by GPU count.
std::string transfer_scales(const hw::MeasuredCollective& m) {
  std::string out;
  for (const auto& [gpus, v] : m.transfer_scale) {
    out += (out.empty() ? "" : " ") + std::to_string(gpus) + ":" + study::format_number(v, 4);
  }
  return out;
}

/// `moesim calibrate` on communication tables only: fits measured collective costs per system
/// and op on the nccl-tests rows not held back and writes the `measured:` section of
/// topologies/network.yaml; reports errors before and after on the held-back rows of every
/// table given.
int calibrate_comm(const Args& args, const config::Catalog& catalog, const std::string& output) {
  std::vector<std::string> skipped;
  const std::vector<cost::CommMeasurement> rows = load_comm(args.positional(), skipped);
  hw::NetworkEfficiency base = hw::load_network_efficiency(
      catalog, args.value("network").value_or(std::string(hw::kDefaultNetworkParams)));
  base.measured.clear();  // fit the NCCL model's own transfer term
  const auto before = cost::predict_comm(rows, catalog, base);
  const std::string source = "moesim calibrate on " + std::to_string(args.positional().size()) +
                             " communication tables (nccl_perf rows not on every fifth line)";
  const std::vector<cost::CommFit> fits = cost::fit_network(before, source);
  const hw::NetworkEfficiency fitted = cost::with_fits(base, fits);
  const auto after = cost::predict_comm(rows, catalog, fitted);
  // (GPU, table kernel op): held-back errors before, after
  std::map<std::pair<std::string, std::string>, std::pair<std::vector<double>, std::vector<double>>>
      held;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!held_back(rows[i])) continue;
    const cost::CommGroupKey k = cost::group_key(rows[i]);
    auto& h = held[{std::get<0>(k), std::get<1>(k) + " " + std::get<2>(k) + " " + std::get<3>(k)}];
    h.first.push_back(before[i].error());
    h.second.push_back(after[i].error());
  }
  std::vector<std::string> comments = {"Written by moesim calibrate from " +
                                       std::to_string(rows.size()) + " measurements of:"};
  for (const std::string& f : args.positional()) comments.push_back("  " + f);
  comments.push_back(
      "Fit per system and op: least squares on |predicted / measured - 1| of the nccl_perf rows "
      "not held back (line % 5 != 0); equations in sim/cost/comm_validation.hpp.");
  write_text_file(output, cost::write_network_fits(fits, comments), "--output");

  study::Table t({"system", "op", "points", "latency_us", "latency_scale", "transfer_scale",
                  "ramp_scale", "ramp_KiB"});
  for (const cost::CommFit& f : fits) {
    t.add_row({f.system, std::string(cost::to_string(f.op)), std::to_string(f.points),
               study::format_number(to_microseconds(f.params.latency), 4),
               study::format_number(f.params.latency_scale, 4), transfer_scales(f.params),
               study::format_number(f.params.ramp_scale, 4),
               std::to_string(f.params.ramp_size.base() / 1024)});
  }
  study::Table e({"gpu", "table_kernel_op", "held_back", "median_before_pct", "p90_before_pct",
                  "signed_before_pct", "median_after_pct", "p90_after_pct", "signed_after_pct"});
  for (const auto& [key, h] : held) {
    const cost::CommErrorStats b = cost::comm_error_stats(h.first);
    const cost::CommErrorStats a = cost::comm_error_stats(h.second);
    e.add_row({key.first, key.second, std::to_string(b.points), percent(b.median), percent(b.p90),
               percent(b.signed_median), percent(a.median), percent(a.p90),
               percent(a.signed_median)});
  }
  const bool text = args.value("format").value_or("text") == "text";
  if (text) {
    std::cout << "fitted measured collectives from " << rows.size()
              << " measurements (nccl_perf rows not on every fifth line)\n";
    for (const std::string& s : skipped) std::cout << "left out: " << s << "\n";
    std::cout << "\n";
  }
  print_table(args, t);
  if (text) std::cout << "\nheld-back rows (every fifth line), errors before and after:\n\n";
  print_table(args, e);
  if (output != "-" && text) std::cout << "\nwrote " << output << "\n";
  return 0;
}

/// `moesim validate` on communication tables only: the network model's price per row.
int validate_comm(const Args& args, const config::Catalog& catalog) {
  std::vector<std::string> skipped;
  std::vector<cost::CommMeasurement> rows = load_comm(args.positional(), skipped);
  if (args.flag("held-back")) std::erase_if(rows, [](const auto& m) { return !held_back(m); });
  const hw::NetworkEfficiency network = hw::load_network_efficiency(
      catalog, args.value("network").value_or(std::string(hw::kDefaultNetworkParams)));
  const std::vector<cost::CommPrediction> predictions = cost::predict_comm(rows, catalog, network);
  if (args.flag("per-op")) {
    study::Table t({"file_line", "gpu", "table", "kernel", "op", "gpus", "dtype", "shape",
                    "measured_us", "predicted_us", "latency_us", "transfer_us", "error_pct",
                    "algorithm", "held_back"});
    for (const cost::CommPrediction& p : predictions) {
      const cost::CommMeasurement& m = *p.measurement;
      t.add_row({m.where.file + ":" + std::to_string(m.where.line), m.gpu, m.table, m.kernel,
                 std::string(cost::to_string(m.op)), std::to_string(m.gpus),
                 std::string(to_string(m.dtype)), cost::comm_shape_text(m),
                 study::format_number(to_microseconds(m.measured), 4),
                 study::format_number(to_microseconds(p.predicted), 4),
                 study::format_number(to_microseconds(p.latency), 4),
                 study::format_number(to_microseconds(p.transfer), 4), percent(p.error()), p.how,
                 held_back(m) ? "yes" : "no"});
    }
    print_table(args, t);
    return 0;
  }
  std::map<cost::CommGroupKey, std::pair<std::vector<double>, std::vector<double>>> groups;
  for (const cost::CommPrediction& p : predictions) {
    auto& g = groups[cost::group_key(*p.measurement)];
    g.first.push_back(p.error());
    if (held_back(*p.measurement)) g.second.push_back(p.error());
  }
  study::Table t({"gpu", "table", "kernel", "op", "gpus", "points", "median_error_pct",
                  "p90_error_pct", "signed_median_pct", "held_back", "held_median_pct",
                  "held_p90_pct"});
  for (const auto& [key, g] : groups) {
    const cost::CommErrorStats all = cost::comm_error_stats(g.first);
    const cost::CommErrorStats held = cost::comm_error_stats(g.second);
    t.add_row({std::get<0>(key), std::get<1>(key), std::get<2>(key), std::get<3>(key),
               std::to_string(std::get<4>(key)), std::to_string(all.points), percent(all.median),
               percent(all.p90), percent(all.signed_median), std::to_string(held.points),
               percent(held.median, held.points), percent(held.p90, held.points)});
  }
  if (args.value("format").value_or("text") == "text") {
    std::cout << "network " << network.name << ": " << rows.size()
              << " communication measurements; errors in % of predicted / measured - 1 "
                 "(signed: < 0 optimistic)\n";
    for (const std::string& s : skipped) std::cout << "left out: " << s << "\n";
    std::cout << "\n";
  }
  print_table(args, t);
  return 0;
}
}  // namespace

int run_calibrate(const std::vector<std::string>& words) {
  const std::vector<OptionSpec> specs{
      {"output", true, "PROFILE.yaml", "where to write the calibration (required; - for stdout)"},
      {"network", true, "NAME|PATH",
       "network parameters to fit from, for communication tables (default: network.yaml)"},
      {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"},
      format_option()};
  if (wants_help(words)) {
    std::cout
        << "usage: moesim calibrate MEASUREMENTS... -o PROFILE.yaml\n\n"
           "Fits the kernel families of the cost model (gemm, bmm, moe, mla_decode,\n"
           "mla_prefill, gqa_decode, gqa_prefill, per data type; equations in\n"
           "sim/cost/kernel_family.hpp) to per-op measurements, per GPU, by non-negative\n"
           "least squares on relative errors. MEASUREMENTS are CSV files in the moesim\n"
           "measurement schema (what hwval writes) or AIConfigurator tables\n"
           "(topologies/measured/aiconfigurator/). Every fifth row of each file (by line\n"
           "number) is held back: the report gives, per GPU and family, the fitted values,\n"
           "the error of the roofline before and of the fit after on those held-back rows,\n"
           "and the shape range the fit covers. A software-stack profile\n"
           "(topologies/stacks/NAME.yaml) names the written file as its `calibration`.\n"
           "Given only communication tables (nccl_perf, ...), it fits instead, per system\n"
           "and collective, a fixed latency and scales of NCCL's modelled latency and\n"
           "transfer (and of a mid-size ramp) on the nccl-tests rows\n"
           "(sim/cost/comm_validation.hpp) and writes the `measured:` section of\n"
           "topologies/network.yaml, with errors before and after on the held-back rows.\n\n"
           "example:\n  moesim calibrate topologies/measured/aiconfigurator/*/trtllm-1.3.0rc20/"
           "*.csv \\\n    -o topologies/stacks/calibrated/trtllm-1.3.0rc20.yaml\n\n"
        << format_options(specs);
    return 0;
  }
  std::vector<std::string> spelled = words;  // -o is short for --output
  std::replace(spelled.begin(), spelled.end(), std::string("-o"), std::string("--output"));
  const Args args("calibrate", spelled, specs);
  const auto output = args.value("output");
  if (!output) throw ConfigError(kCommandLine, "--output", "a file to write (-o FILE)", "nothing");
  check_writable(*output, "--output");
  const config::Catalog catalog = open_catalog(args);
  if (all_comm_tables(args.positional())) return calibrate_comm(args, catalog, *output);
  const Loaded loaded = load_measurements(args.positional());

  cost::StackProfile roofline;
  roofline.name = cost::kRooflineStack;
  cost::StackModels base(catalog, roofline);
  cost::Calibration cal = cost::fit_calibration(loaded.rows, base.lookup());
  std::vector<std::string> folders;  // where the measurements are, for `source:`
  for (const std::string& f : args.positional()) {
    const std::string folder = std::filesystem::path(f).parent_path().string();
    if (std::find(folders.begin(), folders.end(), folder) == folders.end())
      folders.push_back(folder);
  }
  cal.source += " in " + std::to_string(args.positional().size()) + " files (listed above) of";
  for (std::size_t i = 0; i < folders.size(); ++i) cal.source += (i ? ", " : " ") + folders[i];

  cost::StackProfile fitted;
  fitted.name = "fitted";
  fitted.calibration = cal;
  cost::StackModels after(catalog, fitted);
  const auto p_before = cost::predict(loaded.rows, base.lookup());
  const auto p_after = cost::predict(loaded.rows, after.lookup());
  cost::record_errors(cal, p_before, false);
  cost::record_errors(cal, p_after, true);

  std::vector<std::string> comments = {"Written by moesim calibrate from " +
                                       std::to_string(loaded.rows.size()) + " measurements of:"};
  for (const std::string& f : args.positional()) comments.push_back("  " + f);
  for (const std::string& s : loaded.skipped) comments.push_back("left out: " + s);
  comments.push_back(
      "Family equations: sim/cost/kernel_family.hpp. Errors: |predicted / "
      "measured - 1| on held-back rows.");
  write_text_file(*output, cost::write_calibration(cal, comments), "--output");

  study::Table t({"gpu", "family", "points", "held_back", "fixed_us", "stream_eff", "compute_eff",
                  "other_terms", "combine", "median_before_pct", "p90_before_pct",
                  "median_after_pct", "p90_after_pct", "range"});
  for (const cost::GpuCalibration& g : cal.gpus) {
    for (const cost::FamilyFit& f : g.families) {
      auto eff = [&](cost::Term term) {
        const double c = f.coef[static_cast<std::size_t>(term)];
        return c > 0.0 ? study::format_number(1.0 / c, 3) : std::string("-");
      };
      std::string range;
      const auto names = cost::range_names(f.key.op);
      for (std::size_t i = 0; i < names.size(); ++i) {
        range += (i ? " " : "") + std::string(names[i]) + "=" + std::to_string(f.range[i][0]) +
                 ".." + std::to_string(f.range[i][1]);
      }
      t.add_row({g.gpu, f.key.name(), std::to_string(f.fitted), std::to_string(f.after.points),
                 study::format_number(f.coef[0] / 1e-6, 3), eff(cost::Term::kStream),
                 eff(cost::Term::kCompute), other_terms(f), f.overlap ? "max" : "sum",
                 percent(f.before.median, f.before.points), percent(f.before.p90, f.before.points),
                 percent(f.after.median, f.after.points), percent(f.after.p90, f.after.points),
                 range});
    }
  }
  if (args.value("format").value_or("text") == "text") {
    std::cout << "calibrated " << cal.framework << " from " << loaded.rows.size()
              << " measurements; held back: " << cal.split << "\n";
    for (const std::string& s : loaded.skipped) std::cout << "left out: " << s << "\n";
    std::cout << "stream_eff, compute_eff: fraction of HBM bandwidth and of dense peak "
                 "(1 / coefficient); other terms and their meaning: sim/cost/kernel_family.hpp\n\n";
  }
  print_table(args, t);
  if (*output != "-" && args.value("format").value_or("text") == "text") {
    std::cout << "\nwrote " << *output << "\n";
  }
  return 0;
}

int run_validate(const std::vector<std::string>& words) {
  const std::vector<OptionSpec> specs{
      {"stack", true, "NAME|PATH", "software-stack profile (default: roofline)"},
      {"per-op", false, "", "one row per measurement instead of the summary"},
      {"held-back", false, "", "only the rows calibrate holds back (every fifth line)"},
      {"network", true, "NAME|PATH",
       "network parameters for communication tables (default: topologies/network.yaml)"},
      {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"},
      format_option()};
  if (wants_help(words)) {
    std::cout << "usage: moesim validate MEASUREMENTS... [--stack NAME] [--per-op]\n\n"
                 "Prices each measured op with the cost model of a software stack\n"
                 "(topologies/stacks/; roofline = no calibration) and sets the prediction\n"
                 "beside the measurement. The summary gives, per GPU and op family, the\n"
                 "median and 90th percentile of |predicted / measured - 1|, on all rows and\n"
                 "on the held-back rows (those `moesim calibrate` did not fit), and how many\n"
                 "predictions were extrapolated (outside the shapes the stack was fitted on).\n"
                 "--per-op lists every measurement; --format csv|json for machines.\n"
                 "Communication tables (nccl_perf, custom_allreduce_perf,\n"
                 "trtllm_alltoall_perf, wideep_deepep_*_perf), given on their own, are priced\n"
                 "by the network model (--network) instead, summarised per GPU, table,\n"
                 "kernel, op and GPU count with the signed median (< 0: optimistic).\n\n"
                 "example:\n  moesim validate topologies/measured/aiconfigurator/h200_sxm/"
                 "trtllm-1.3.0rc20/*.csv --stack trtllm\n\n"
              << format_options(specs);
    return 0;
  }
  const Args args("validate", words, specs);
  const config::Catalog catalog = open_catalog(args);
  if (all_comm_tables(args.positional())) return validate_comm(args, catalog);
  Loaded loaded = load_measurements(args.positional());
  if (args.flag("held-back")) {
    std::erase_if(loaded.rows, [](const cost::Measurement& m) { return !cost::held_back(m); });
  }
  const cost::StackProfile stack =
      cost::load_stack(catalog, args.value("stack").value_or(std::string(cost::kRooflineStack)));
  cost::StackModels models(catalog, stack);
  const auto predictions = cost::predict(loaded.rows, models.lookup());

  if (args.flag("per-op")) {
    study::Table t({"file_line", "gpu", "family", "kernel", "shape", "measured_us", "predicted_us",
                    "error_pct", "held_back", "extrapolated"});
    for (const cost::Prediction& p : predictions) {
      const cost::Measurement& m = *p.measurement;
      t.add_row({m.where.file + ":" + std::to_string(m.where.line), m.gpu, p.family.name(),
                 m.kernel, cost::shape_text(m), study::format_number(to_microseconds(m.median), 4),
                 study::format_number(to_microseconds(p.predicted), 4), percent(p.error()),
                 cost::held_back(m) ? "yes" : "no", p.extrapolated ? "yes" : "no"});
    }
    print_table(args, t);
    return 0;
  }
  struct Group {
    std::vector<double> all;
    std::vector<double> held;
    std::size_t extrapolated = 0;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
  for (const cost::Prediction& p : predictions) {
    Group& g = groups[{p.measurement->gpu, p.family.name()}];
    const double e = std::abs(p.error());
    g.all.push_back(e);
    if (cost::held_back(*p.measurement)) g.held.push_back(e);
    if (p.extrapolated) ++g.extrapolated;
  }
  study::Table t({"gpu", "family", "points", "median_error_pct", "p90_error_pct", "held_back",
                  "held_median_pct", "held_p90_pct", "extrapolated"});
  for (const auto& [key, g] : groups) {
    const cost::ErrorStats all = cost::error_stats(g.all);
    const cost::ErrorStats held = cost::error_stats(g.held);
    t.add_row({key.first, key.second, std::to_string(all.points), percent(all.median),
               percent(all.p90), std::to_string(held.points), percent(held.median, held.points),
               percent(held.p90, held.points), std::to_string(g.extrapolated)});
  }
  if (args.value("format").value_or("text") == "text") {
    std::cout << "stack " << stack.name << ": " << loaded.rows.size()
              << " measurements; errors in % of |predicted / measured - 1|\n";
    for (const std::string& s : loaded.skipped) std::cout << "left out: " << s << "\n";
    std::cout << "\n";
  }
  print_table(args, t);
  return 0;
}

}  // namespace moesim::cli
