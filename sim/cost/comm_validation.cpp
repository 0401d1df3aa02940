#include "sim/cost/comm_validation.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <sstream>

#include "sim/cost/calibration.hpp"
#include "sim/cost/measurement_detail.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/collectives.hpp"
#include "sim/hw/network_model.hpp"
#include "sim/hw/system.hpp"
#include "sim/hw/topology.hpp"
#include "sim/llm/precision.hpp"

namespace moesim::cost {
namespace {

/// One system's network, built once.
struct SystemNetwork {
  hw::ClusterSpec cluster;
  hw::Topology topology;
  std::unique_ptr<hw::NetworkModel> model;
  std::unique_ptr<hw::Collectives> collectives;
};

hw::CollectiveOp collective_of(CommOp op) {
  switch (op) {
    case CommOp::kAllReduce: return hw::CollectiveOp::kAllReduce;
    case CommOp::kAllGather: return hw::CollectiveOp::kAllGather;
    case CommOp::kReduceScatter: return hw::CollectiveOp::kReduceScatter;
    default: return hw::CollectiveOp::kAllToAllV;
  }
}

/// Expected tokens of T reaching one of p ranks when each picks k distinct experts of E
/// uniformly at random and every rank holds E / p of them: T (1 - C(E - E/p, k) / C(E, k)).
double reach(std::int64_t tokens, std::int64_t experts, std::int64_t topk, std::int64_t ranks) {
  const std::int64_t elsewhere = experts - experts / ranks;
  double miss = 1.0;
  for (std::int64_t i = 0; i < topk; ++i) {
    miss *= static_cast<double>(std::max<std::int64_t>(elsewhere - i, 0)) /
            static_cast<double>(experts - i);
  }
  return static_cast<double>(tokens) * (1.0 - miss);
}

}  // namespace

std::string system_of(std::string_view aic_system, const SourceLocation& at) {
  constexpr std::string_view kSystems[] = {"b200_sxm", "gb200", "h200_sxm", "h100_sxm"};
  const std::string s = detail::choose(aic_system, kSystems, at, "<system> folder");
  if (s == "gb200") return "gb200-nvl72";
  return "hgx-" + s.substr(0, s.find('_'));
}

double CommPrediction::error() const {
  return to_seconds(predicted) / to_seconds(measurement->measured) - 1.0;
}

std::vector<double> dispatch_copies(const CommMeasurement& m) {
  const auto p = static_cast<std::size_t>(m.gpus);
  std::vector<double> c(p * p, 0.0);
  std::vector<double> to(p, 0.0);  // copies each source sends each destination
  if (m.layout == llm::DispatchLayout::kPerTokenExpert) {
    std::fill(to.begin(), to.end(),
              static_cast<double>(m.tokens * m.topk) / static_cast<double>(m.gpus));
  } else if (m.kernel.starts_with("NVLink")) {
    if (m.gpus <= m.topk) {
      std::fill(to.begin(), to.end(), static_cast<double>(m.tokens));
    } else {
      const std::int64_t groups = m.gpus / m.topk;
      for (std::size_t d = 0; d < p; ++d) {
        const auto g = static_cast<std::int64_t>(d) / m.topk;
        if (g < groups && g < m.tokens) {
          to[d] = static_cast<double>((m.tokens - g + groups - 1) / groups);
        }
      }
    }
  } else {
    std::fill(to.begin(), to.end(), reach(m.tokens, m.experts, m.topk, m.gpus));
  }
  for (std::size_t s = 0; s < p; ++s) {
    for (std::size_t d = 0; d < p; ++d) c[s * p + d] = to[d];
  }
  return c;
}

std::vector<CommPrediction> predict_comm(std::span<const CommMeasurement> rows,
                                         const config::Catalog& catalog,
                                         const hw::NetworkEfficiency& network) {
  std::map<std::string, std::unique_ptr<SystemNetwork>> systems;
  std::vector<CommPrediction> out;
  out.reserve(rows.size());
  std::vector<int> group;
  std::vector<Bytes> matrix;
  for (const CommMeasurement& m : rows) {
    const std::string name = system_of(m.system, m.where);
    auto& net = systems[name];
    if (!net) {
      net = std::make_unique<SystemNetwork>();
      net->cluster = hw::make_cluster(hw::load_system(catalog, name), 1, network);
      net->topology = hw::build_topology(net->cluster, network);
      net->model = hw::make_network_model(network.impl, net->topology);
      net->collectives =
          std::make_unique<hw::Collectives>(net->cluster, net->topology, network, *net->model);
    }
    if (m.gpus < 2 || m.gpus > net->cluster.gpu_count()) {
      throw ConfigError(m.where, "gpus",
                        "2 to " + std::to_string(net->cluster.gpu_count()) + " GPUs of " + name,
                        std::to_string(m.gpus));
    }
    group.resize(static_cast<std::size_t>(m.gpus));
    std::iota(group.begin(), group.end(), 0);
    hw::CollectiveResult r;
    if (m.op == CommOp::kMoeDispatch || m.op == CommOp::kMoeCombine) {
      const auto p = static_cast<std::size_t>(m.gpus);
      const std::vector<double> copies = dispatch_copies(m);
      const double payload =
          static_cast<double>(llm::payload_bytes_per_token(m.hidden, m.dtype).base());
      matrix.assign(p * p, Bytes{0});
      for (std::size_t s = 0; s < p; ++s) {
        for (std::size_t d = 0; d < p; ++d) {
          if (s == d) continue;
          // Combine returns what dispatch sent: the transpose.
          const double n = m.op == CommOp::kMoeDispatch ? copies[s * p + d] : copies[d * p + s];
          matrix[s * p + d] = Bytes{static_cast<std::int64_t>(std::llround(n * payload))};
        }
      }
      r = net->collectives->all_to_all_v(group, matrix);
    } else {
      r = net->collectives->run(collective_of(m.op), group, m.size);
    }
    out.push_back({&m, r.time, r.latency, r.transfer,
                   std::string(hw::to_string(r.algorithm)) + "/" +
                       std::string(hw::to_string(r.protocol)) + (r.measured ? "+measured" : "")});
  }
  return out;
}

bool held_back(const CommMeasurement& m) { return m.where.line % kHoldBackEvery == 0; }

namespace {

/// Messages from this size (nccl-tests size, bytes) set the asymptotic transfer scale.
constexpr std::int64_t kLargeMessage = std::int64_t{256} << 20;
/// Terms fitted in step 2: fixed latency, latency scale, ramp scale.
constexpr std::size_t kNetworkTerms = 3;
using Coef = std::array<double, kNetworkTerms>;

/// The normal equations of one group's relative-error least squares.
struct Normal {
  std::array<Coef, kNetworkTerms> ata{};  // sum f f^T
  Coef atb{};                             // sum f t (targets t)
  double tt = 0.0;                        // sum t^2
};

/// Non-negative least squares by enumeration: every subset of the terms solved on its normal
/// equations (Gaussian elimination with partial pivoting), the feasible solution of least
/// residual sum (c . f - t)^2 = c^T A c - 2 c . b + t . t kept (exact for a few terms).
std::pair<Coef, double> nnls(const Normal& g) {
  Coef best{};
  double best_residual = g.tt;  // every term 0
  for (unsigned mask = 1; mask < (1u << kNetworkTerms); ++mask) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < kNetworkTerms; ++i) {
      if (mask & (1u << i)) idx.push_back(i);
    }
    const std::size_t k = idx.size();
    std::vector<std::vector<double>> a(k, std::vector<double>(k + 1));
    for (std::size_t r = 0; r < k; ++r) {
      for (std::size_t c = 0; c < k; ++c) a[r][c] = g.ata[idx[r]][idx[c]];
      a[r][k] = g.atb[idx[r]];
    }
    bool singular = false;
    for (std::size_t c = 0; c < k && !singular; ++c) {
      std::size_t pivot = c;
      for (std::size_t r = c + 1; r < k; ++r) {
        if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
      }
      std::swap(a[c], a[pivot]);
      singular = !(std::abs(a[c][c]) > 1e-12 * g.ata[idx[c]][idx[c]]);
      for (std::size_t r = 0; r < k && !singular; ++r) {
        if (r == c) continue;
        const double factor = a[r][c] / a[c][c];
        for (std::size_t cc = c; cc <= k; ++cc) a[r][cc] -= factor * a[c][cc];
      }
    }
    if (singular) continue;
    Coef coef{};
    bool feasible = true;
    for (std::size_t r = 0; r < k; ++r) {
      coef[idx[r]] = a[r][k] / a[r][r];
      feasible = feasible && coef[idx[r]] >= 0.0;
    }
    if (!feasible) continue;
    double residual = g.tt;
    for (std::size_t i = 0; i < kNetworkTerms; ++i) {
      residual -= 2.0 * coef[i] * g.atb[i];
      for (std::size_t j = 0; j < kNetworkTerms; ++j) residual += coef[i] * g.ata[i][j] * coef[j];
    }
    if (residual < best_residual) {
      best_residual = residual;
      best = coef;
    }
  }
  return {best, best_residual};
}

}  // namespace

std::vector<CommFit> fit_network(std::span<const CommPrediction> predictions,
                                 const std::string& source) {
  // Ramp sizes tried: 64 KiB to 1 GiB in steps of 4 (the knee is not linear in the terms).
  std::vector<std::int64_t> ramps;
  for (std::int64_t h = std::int64_t{1} << 16; h <= std::int64_t{1} << 30; h *= 4) {
    ramps.push_back(h);
  }
  struct Group {
    std::vector<const CommPrediction*> rows;
  };
  std::map<std::pair<std::string, CommOp>, Group> groups;
  for (const CommPrediction& p : predictions) {
    const CommMeasurement& m = *p.measurement;
    // nccl-tests' alltoall is not fitted: moesim's AllToAllV is the MoE dispatch and combine,
    // which DeepEP's and TensorRT-LLM's own kernels run, not NCCL's.
    if (m.table != "nccl_perf" || m.op == CommOp::kAllToAll || held_back(m)) continue;
    Group& g = groups[{system_of(m.system, m.where), m.op}];
    g.rows.push_back(&p);
  }
  std::vector<CommFit> out;
  for (const auto& [key, g] : groups) {
    // 1. The asymptotic bandwidth per GPU count from the large messages: (y - L) / y = s_x X / y.
    std::map<int, std::pair<double, double>> large;  // GPUs: sum x^2, sum x t
    for (const CommPrediction* p : g.rows) {
      if (p->measurement->size < Bytes{kLargeMessage}) continue;
      const double y = to_seconds(p->measurement->measured);
      const double x = to_seconds(p->transfer) / y;
      auto& [xx, xt] = large[p->measurement->gpus];
      xx += x * x;
      xt += x * (1.0 - to_seconds(p->latency) / y);
    }
    std::map<int, double> transfer_scale;
    for (const auto& [gpus, sums] : large) {
      if (sums.first > 0.0 && sums.second > 0.0) transfer_scale[gpus] = sums.second / sums.first;
    }
    if (transfer_scale.empty()) continue;  // no large messages: the NCCL model stays
    // 2. The rest on every row, for each ramp size.
    Coef best{};
    double best_residual = 0.0;
    std::int64_t best_ramp = 0;
    for (const std::int64_t h : ramps) {
      Normal normal;
      for (const CommPrediction* p : g.rows) {
        const auto scale = transfer_scale.find(p->measurement->gpus);
        if (scale == transfer_scale.end()) continue;
        const double y = to_seconds(p->measurement->measured);
        const double x = to_seconds(p->transfer);
        const double n = static_cast<double>(p->measurement->size.base());
        const double hh = static_cast<double>(h);
        const Coef f = {1.0 / y, to_seconds(p->latency) / y, x * hh / (hh + n) / y};
        const double t = 1.0 - scale->second * x / y;
        for (std::size_t i = 0; i < kNetworkTerms; ++i) {
          normal.atb[i] += f[i] * t;
          for (std::size_t j = 0; j < kNetworkTerms; ++j) normal.ata[i][j] += f[i] * f[j];
        }
        normal.tt += t * t;
      }
      const auto [coef, residual] = nnls(normal);
      if (best_ramp == 0 || residual < best_residual) {
        best = coef;
        best_residual = residual;
        best_ramp = h;
      }
    }
    CommFit f;
    f.system = key.first;
    f.op = key.second;
    f.params.latency = ceil_duration(best[0]);
    f.params.latency_scale = best[1];
    f.params.transfer_scale = transfer_scale;
    f.params.ramp_scale = best[2];
    f.params.ramp_size = Bytes{best_ramp};
    f.params.source = source;
    f.points = g.rows.size();
    out.push_back(std::move(f));
  }
  return out;
}

hw::NetworkEfficiency with_fits(hw::NetworkEfficiency network, std::span<const CommFit> fits) {
  for (const CommFit& f : fits) network.measured[f.system][collective_of(f.op)] = f.params;
  return network;
}

std::string write_network_fits(std::span<const CommFit> fits,
                               std::span<const std::string> comments) {
  std::ostringstream o;
  for (const std::string& c : comments) o << "# " << c << '\n';
  o << "measured:\n";
  std::string system;
  for (const CommFit& f : fits) {
    if (f.system != system) {
      system = f.system;
      o << "  " << system << ":\n";
    }
    auto number = [](double v) {
      std::ostringstream t;
      t.precision(4);
      t << v;
      return t.str();
    };
    std::string scales;
    for (const auto& [gpus, v] : f.params.transfer_scale) {
      scales += (scales.empty() ? "" : ", ") + ("\"" + std::to_string(gpus) + "\": ") + number(v);
    }
    o << "    " << hw::to_string(collective_of(f.op)) << ": {latency: \""
      << number(to_microseconds(f.params.latency))
      << " us\", latency_scale: " << number(f.params.latency_scale) << ", transfer_scale: {"
      << scales << "}, ramp_scale: " << number(f.params.ramp_scale) << ", ramp_size: \""
      << f.params.ramp_size.base() / 1024 << " KiB\", source: \"" << f.params.source << "\"}\n";
  }
  return o.str();
}
CommErrorStats comm_error_stats(std::span<const double> errors) {
  CommErrorStats s;
  s.points = errors.size();
  if (errors.empty()) return s;
  std::vector<double> abs(errors.begin(), errors.end());
  for (double& e : abs) e = std::abs(e);
  std::vector<double> sorted(errors.begin(), errors.end());
  std::sort(abs.begin(), abs.end());
  std::sort(sorted.begin(), sorted.end());
  auto rank = [](const std::vector<double>& v, double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::max<std::size_t>(i, 1) - 1];
  };
  s.median = rank(abs, 0.5);
  s.p90 = rank(abs, 0.9);
  s.signed_median = rank(sorted, 0.5);
  return s;
}

CommGroupKey group_key(const CommMeasurement& m) {
  return {m.gpu, m.framework + "-" + m.version + "/" + m.table, m.kernel,
          std::string(to_string(m.op)), m.gpus};
}

std::map<CommGroupKey, std::vector<double>> group_errors(
    std::span<const CommPrediction> predictions) {
  std::map<CommGroupKey, std::vector<double>> out;
  for (const CommPrediction& p : predictions) out[group_key(*p.measurement)].push_back(p.error());
  return out;
}

}  // namespace moesim::cost
