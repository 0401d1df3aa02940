#include "sim/cost/calibration.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "sim/core/assert.hpp"
#include "sim/core/suggest.hpp"
#include "sim/cost/kernel_probe.hpp"

namespace moesim::cost {
namespace {

/// The terms a family of `op` uses (kernel_family.hpp equations).
std::vector<Term> terms_of(MeasuredOp op) {
  switch (op) {
    case MeasuredOp::kGemm:
    case MeasuredOp::kBmm:
      return {Term::kFixed,   Term::kStream, Term::kTokenBytes,
              Term::kCompute, Term::kKWave,  Term::kPerRow};
    case MeasuredOp::kMoe:
      return {Term::kFixed,     Term::kStream, Term::kTokenBytes, Term::kCompute,
              Term::kPerExpert, Term::kKWave,  Term::kPerRoute};
    default:
      return {Term::kFixed,       Term::kStream,  Term::kCompute,
              Term::kPerSequence, Term::kPerWave, Term::kKWave};
  }
}

bool is_duration(Term t) {
  return t != Term::kStream && t != Term::kTokenBytes && t != Term::kCompute;
}

/// The overlapped parts of the max form (kernel_family.hpp): memory and compute.
bool is_memory(Term t) { return t == Term::kStream; }
bool is_compute(Term t) { return t == Term::kCompute || t == Term::kKWave; }

/// min ||A x - b|| subject to x >= 0: Lawson and Hanson's active-set method (1974, ch. 23).
Eigen::VectorXd nnls(const Eigen::MatrixXd& a, const Eigen::VectorXd& b) {
  const Eigen::Index n = a.cols();
  Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
  std::vector<bool> passive(static_cast<std::size_t>(n), false);
  constexpr double kTol = 1e-12;
  for (int outer = 0; outer < 3 * static_cast<int>(n) + 10; ++outer) {
    const Eigen::VectorXd w = a.transpose() * (b - a * x);
    Eigen::Index best = -1;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (!passive[static_cast<std::size_t>(j)] && w(j) > kTol && (best < 0 || w(j) > w(best))) {
        best = j;
      }
    }
    if (best < 0) break;
    passive[static_cast<std::size_t>(best)] = true;
    for (int inner = 0; inner < 3 * static_cast<int>(n) + 10; ++inner) {
      std::vector<Eigen::Index> cols;
      for (Eigen::Index j = 0; j < n; ++j) {
        if (passive[static_cast<std::size_t>(j)]) cols.push_back(j);
      }
      Eigen::MatrixXd sub(a.rows(), static_cast<Eigen::Index>(cols.size()));
      for (std::size_t c = 0; c < cols.size(); ++c) {
        sub.col(static_cast<Eigen::Index>(c)) = a.col(cols[c]);
      }
      const Eigen::VectorXd s_sub = sub.colPivHouseholderQr().solve(b);
      Eigen::VectorXd s = Eigen::VectorXd::Zero(n);
      for (std::size_t c = 0; c < cols.size(); ++c) {
        s(cols[c]) = s_sub(static_cast<Eigen::Index>(c));
      }
      bool feasible = true;
      for (const Eigen::Index j : cols) feasible = feasible && s(j) > kTol;
      if (feasible) {
        x = s;
        break;
      }
      double alpha = 1.0;
      for (const Eigen::Index j : cols) {
        if (s(j) <= kTol) alpha = std::min(alpha, x(j) / (x(j) - s(j)));
      }
      x += alpha * (s - x);
      for (const Eigen::Index j : cols) {
        if (x(j) <= kTol) {
          x(j) = 0.0;
          passive[static_cast<std::size_t>(j)] = false;
        }
      }
    }
  }
  return x;
}

/// One family's equations, collected before the solve.
struct FamilyRows {
  std::vector<Features> x;
  std::vector<double> y;  ///< measured minus the other ops, seconds
  std::vector<double> measured;
  ShapeRange range{};
  std::set<std::string> kernels;
  bool any = false;
};

void widen(ShapeRange& r, const RangeVars& v, bool first) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (first) {
      r[i] = {v[i], v[i]};
    } else {
      r[i][0] = std::min(r[i][0], v[i]);
      r[i][1] = std::max(r[i][1], v[i]);
    }
  }
}

/// NNLS on relative errors of the rows in `fr` for `terms`. With `overlap`, the stream and
/// compute terms combine as a max: each row keeps only the term that is larger under the
/// previous solution (first the sum's), re-solved until the assignment settles (at most 20
/// rounds). std::nullopt when the problem is empty.
std::optional<Features> solve(const FamilyRows& fr, const std::vector<Term>& terms, bool overlap) {
  const auto n = static_cast<Eigen::Index>(fr.y.size());
  const auto k = static_cast<Eigen::Index>(terms.size());
  if (n == 0) return std::nullopt;
  std::vector<bool> compute_bound(fr.y.size(), false);
  Features coef{};
  for (int round = 0; round < (overlap ? 20 : 1); ++round) {
    Eigen::MatrixXd a(n, k);
    Eigen::VectorXd b(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto r = static_cast<std::size_t>(i);
      for (Eigen::Index j = 0; j < k; ++j) {
        const Term term = terms[static_cast<std::size_t>(j)];
        double v = fr.x[r][static_cast<std::size_t>(term)];
        if (overlap && round > 0 &&
            ((is_memory(term) && compute_bound[r]) || (is_compute(term) && !compute_bound[r]))) {
          v = 0.0;
        }
        a(i, j) = v / fr.measured[r];
      }
      b(i) = fr.y[r] / fr.measured[r];
    }
    Eigen::VectorXd scale(k);
    for (Eigen::Index j = 0; j < k; ++j) {
      const double norm = a.col(j).norm();
      scale(j) = norm > 0.0 ? norm : 1.0;
      a.col(j) /= scale(j);
    }
    const Eigen::VectorXd sol = nnls(a, b);
    coef = Features{};
    for (Eigen::Index j = 0; j < k; ++j) {
      coef[static_cast<std::size_t>(terms[static_cast<std::size_t>(j)])] = sol(j) / scale(j);
    }
    bool changed = false;
    for (std::size_t r = 0; r < fr.y.size(); ++r) {
      const FamilyTime parts = family_time(coef, fr.x[r]);
      const bool bound = parts.compute >= parts.memory;
      changed = changed || bound != compute_bound[r];
      compute_bound[r] = bound;
    }
    if (round > 0 && !changed) break;
  }
  return coef;
}

std::string format_us(double seconds) {
  std::ostringstream o;
  o.precision(6);
  o << seconds / scale::kMicro << " us";
  return o.str();
}

std::string format_number(double v, int digits = 6) {
  std::ostringstream o;
  o.precision(digits);
  o << v;
  return o.str();
}

}  // namespace

ErrorStats error_stats(std::vector<double> errors) {
  ErrorStats s;
  s.points = errors.size();
  if (errors.empty()) return s;
  std::sort(errors.begin(), errors.end());
  auto rank = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(errors.size())));
    return errors[std::max<std::size_t>(i, 1) - 1];
  };
  s.median = rank(0.5);
  s.p90 = rank(0.9);
  return s;
}

bool FamilyFit::covers(const RangeVars& vars) const {
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (vars[i] < range[i][0] || vars[i] > range[i][1]) return false;
  }
  return true;
}

const FamilyFit* GpuCalibration::find(FamilyKey key) const {
  for (const FamilyFit& f : families) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

const GpuCalibration* Calibration::gpu(std::string_view name) const {
  for (const GpuCalibration& g : gpus) {
    if (g.gpu == name) return &g;
  }
  return nullptr;
}

double Prediction::error() const {
  return to_seconds(predicted) / to_seconds(measurement->median) - 1.0;
}

Calibration fit_calibration(std::span<const Measurement> measurements, const GpuModelLookup& base) {
  Calibration c;
  std::map<std::string, std::map<std::size_t, FamilyRows>> rows;  // gpu -> family -> rows
  std::set<std::string> versions;
  for (const Measurement& m : measurements) {
    if (c.framework.empty()) c.framework = m.framework;
    if (m.framework != c.framework) {
      throw ConfigError(m.where, "framework",
                        "measurements of one software stack (" + c.framework + ")",
                        "'" + m.framework + "': calibrate each framework into its own profile");
    }
    versions.insert(m.version);
    if (held_back(m)) continue;
    const GpuModels models = base(m);
    const Probe p = make_probe(m);
    Features x{};
    double other = 0.0;
    FamilyRows& fr = rows[m.gpu][p.family.index()];
    for (const llm::Op& op : p.ops) {
      const std::optional<FamilyKey> f = family_of(op.body);
      if (f && *f == p.family) {
        const Features fx = models.features->features(op.body, op.flops(), op.min_bytes());
        for (std::size_t t = 0; t < kTerms; ++t) x[t] += fx[t];
        widen(fr.range, Featurizer::range_vars(op.body), !fr.any);
        fr.any = true;
      } else {
        other += to_seconds(models.model->price(op).time);
      }
    }
    fr.x.push_back(x);
    fr.y.push_back(to_seconds(m.median) - other);
    fr.measured.push_back(to_seconds(m.median));
    if (!m.kernel.empty()) fr.kernels.insert(m.kernel);
  }
  c.versions.assign(versions.begin(), versions.end());
  c.source = "fit by moesim calibrate (sim/cost/calibration.cpp) to " +
             std::to_string(measurements.size()) + " per-op measurements";
  c.split = "rows on lines that are multiples of " + std::to_string(kHoldBackEvery) +
            " of each file held back (20%); errors are on those rows";
  for (auto& [gpu, families] : rows) {
    GpuCalibration g;
    g.gpu = gpu;
    for (auto& [index, fr] : families) {
      const FamilyKey key{static_cast<MeasuredOp>(index / kFamilyDtypes.size()),
                          static_cast<std::uint8_t>(index % kFamilyDtypes.size())};
      const std::vector<Term> terms = terms_of(key.op);
      if (fr.y.size() <= terms.size()) continue;
      FamilyFit fit;
      fit.key = key;
      double best = -1.0;
      for (const bool overlap : {false, true}) {
        const std::optional<Features> coef = solve(fr, terms, overlap);
        if (!coef) continue;
        std::vector<double> errors;
        for (std::size_t r = 0; r < fr.y.size(); ++r) {
          const double t = family_time(*coef, fr.x[r]).total(overlap);
          errors.push_back(std::abs((t - fr.y[r]) / fr.measured[r]));
        }
        const double median = error_stats(errors).median;
        if (best < 0.0 || median < best) {
          best = median;
          fit.coef = *coef;
          fit.overlap = overlap;
        }
      }
      fit.range = fr.range;
      fit.fitted = fr.y.size();
      for (const std::string& kern : fr.kernels) {
        fit.kernels += (fit.kernels.empty() ? "" : ",") + kern;
      }
      g.families.push_back(std::move(fit));
    }
    c.gpus.push_back(std::move(g));
  }
  return c;
}

std::vector<Prediction> predict(std::span<const Measurement> measurements,
                                const GpuModelLookup& models) {
  std::vector<Prediction> out;
  out.reserve(measurements.size());
  for (const Measurement& m : measurements) {
    const GpuModels g = models(m);
    const Probe p = make_probe(m);
    Prediction pr;
    pr.measurement = &m;
    pr.family = p.family;
    for (const llm::Op& op : p.ops) {
      const OpCost cost = g.model->price(op);
      pr.predicted += cost.time;
      pr.extrapolated = pr.extrapolated || cost.extrapolated;
    }
    out.push_back(pr);
  }
  return out;
}

void record_errors(Calibration& c, std::span<const Prediction> predictions, bool after) {
  std::map<std::pair<std::string, std::size_t>, std::vector<double>> errors;
  for (const Prediction& p : predictions) {
    if (!held_back(*p.measurement)) continue;
    errors[{p.measurement->gpu, p.family.index()}].push_back(std::abs(p.error()));
  }
  for (GpuCalibration& g : c.gpus) {
    for (FamilyFit& f : g.families) {
      const auto it = errors.find({g.gpu, f.key.index()});
      const ErrorStats s = error_stats(it == errors.end() ? std::vector<double>{} : it->second);
      (after ? f.after : f.before) = s;
    }
  }
}

Calibration parse_calibration(const config::ConfigNode& root) {
  static constexpr std::string_view kTop[] = {"description", "framework", "versions",
                                              "split",       "source",    "gpus"};
  root.check_keys(kTop);
  Calibration c;
  c.framework = root.at("framework").as_string();
  if (const auto v = root.get("versions")) {
    for (const config::ConfigNode& item : v->items()) c.versions.push_back(item.as_string());
  }
  if (const auto s = root.get("split")) c.split = s->as_string();
  if (const auto s = root.get("source")) c.source = s->as_string();
  const std::vector<std::string> families = family_names();
  for (const auto& [gpu, node] : root.at("gpus").entries()) {
    GpuCalibration g;
    g.gpu = gpu;
    for (const auto& [name, fam] : node.entries()) {
      const std::optional<FamilyKey> key = parse_family(name);
      if (!key) {
        throw ConfigError(fam.location(), fam.key_path(), "a kernel family such as moe.nvfp4",
                          "'" + name + "'", closest_match(name, families));
      }
      FamilyFit f;
      f.key = *key;
      std::vector<std::string_view> allowed = {"range", "fit", "combine"};
      for (const Term t : terms_of(key->op)) allowed.push_back(to_string(t));
      fam.check_keys(allowed);
      for (const Term t : terms_of(key->op)) {
        const auto v = fam.get(to_string(t));
        if (!v) continue;
        double value = 0.0;
        if (is_duration(t)) {
          value = to_seconds(v->as_duration());
        } else {
          value = v->as_double();
        }
        if (value < 0.0) {
          throw ConfigError(v->location(), v->key_path(), "a value >= 0", v->as_string());
        }
        f.coef[static_cast<std::size_t>(t)] = value;
      }
      if (const auto form = fam.get("combine")) {
        static constexpr std::string_view kForms[] = {"sum", "max"};
        f.overlap = form->as_choice(kForms) == "max";
      }
      const auto names = range_names(key->op);
      const config::ConfigNode range = fam.at("range");
      range.check_keys(names);
      for (std::size_t i = 0; i < names.size(); ++i) {
        const config::ConfigNode r = range.at(names[i]);
        if (!r.is_sequence() || r.size() != 2 || r[0].as_int() > r[1].as_int()) {
          throw ConfigError(r.location(), r.key_path(), "[lo, hi] with lo <= hi", r.describe());
        }
        f.range[i] = {r[0].as_int(), r[1].as_int()};
      }
      g.families.push_back(f);
    }
    c.gpus.push_back(std::move(g));
  }
  // Checked last, so that a file's other mistakes are reported first.
  if (c.source.empty()) {
    throw ConfigError(root.location(), "source",
                      "a `source:` naming the tool and the measurements behind the numbers",
                      "none");
  }
  return c;
}

std::string write_calibration(const Calibration& c, std::span<const std::string> comments) {
  std::ostringstream o;
  for (const std::string& line : comments) o << "# " << line << '\n';
  o << "framework: " << c.framework << '\n' << "versions: [";
  for (std::size_t i = 0; i < c.versions.size(); ++i) {
    o << (i ? ", " : "") << '"' << c.versions[i] << '"';
  }
  o << "]\n"
    << "split: \"" << c.split << "\"\n"
    << "source: \"" << c.source << "\"\n"
    << "gpus:\n";
  for (const GpuCalibration& g : c.gpus) {
    o << "  " << g.gpu << ":\n";
    for (const FamilyFit& f : g.families) {
      o << "    " << f.key.name() << ":\n";
      for (const Term t : terms_of(f.key.op)) {
        const double v = f.coef[static_cast<std::size_t>(t)];
        o << "      " << to_string(t) << ": ";
        if (is_duration(t)) {
          o << '"' << format_us(v) << '"';
        } else {
          o << format_number(v);
          if (v > 0.0) o << "  # " << format_number(100.0 / v, 3) << "% of the roofline rate";
        }
        o << '\n';
      }
      o << "      combine: " << (f.overlap ? "max" : "sum") << '\n';
      const auto names = range_names(f.key.op);
      o << "      range: {";
      for (std::size_t i = 0; i < names.size(); ++i) {
        o << (i ? ", " : "") << names[i] << ": [" << f.range[i][0] << ", " << f.range[i][1] << "]";
      }
      o << "}\n";
      o << "      fit: {kernels: \"" << f.kernels << "\", points: " << f.fitted
        << ", held_back: " << f.after.points
        << ", median_error_before: " << format_number(f.before.median, 3)
        << ", p90_error_before: " << format_number(f.before.p90, 3)
        << ", median_error_after: " << format_number(f.after.median, 3)
        << ", p90_error_after: " << format_number(f.after.p90, 3) << "}\n";
    }
  }
  return o.str();
}

}  // namespace moesim::cost
