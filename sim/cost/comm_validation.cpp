#include "sim/cost/comm_validation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

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
    out.push_back(
        {&m, r.time, r.latency, r.transfer,
         std::string(hw::to_string(r.algorithm)) + "/" + std::string(hw::to_string(r.protocol))});
  }
  return out;
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
