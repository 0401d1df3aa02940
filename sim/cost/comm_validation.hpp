#pragma once
/// \file
/// The network model's price beside each communication measurement (sim/cost/
/// comm_measurement.hpp), for `moesim validate`, and the error summary per table.
///
/// Each row is priced on the catalog system of its AIConfigurator folder (system_of) as one
/// NVLink domain, over its first `gpus` GPUs, by hw::Collectives with default options (the
/// fastest algorithm and protocol, as `moesim collective` and the step model do):
///   all_reduce, all_gather, reduce_scatter, alltoall: Collectives::run with the row's
///     nccl-tests size (custom all-reduce too: moesim prices NCCL's algorithms for it);
///   moe_dispatch, moe_combine: Collectives::all_to_all_v on the p x p byte matrix
///     M[s][d] = c_s,d x payload_bytes_per_token(hidden, dtype) (sim/llm/precision.hpp), where
///     c_s,d is the number of copies rank s sends rank d in the row's traffic layout (the
///     layout sim/llm/lower_ffn.cpp prices for the stack that ran it) under the collector's
///     routing, T tokens per rank, k of E experts, p ranks:
///       TensorRT-LLM, per rank, balanced (collect_trtllm_alltoall.py,
///         generate_balanced_expert_ids): p <= k: every token to every rank, c = T; p > k: the
///         ranks form G = p / k groups of k and token i goes to group i mod G, so
///         c_s,d = |{i < T : i mod G = d / k}| for every source s;
///       DeepEP normal, per rank, uniform random top-k (DeepEP test_intranode.py):
///         c = T (1 - C(E - E/p, k) / C(E, k)), the expected tokens reaching a rank;
///       DeepEP low latency, per (token, expert), uniform random top-k: c = T k / p.
///     Combine sends the transpose of dispatch's matrix. Expected copies are rounded to whole
///     bytes per pair; the diagonal stays local.
/// Errors are predicted / measured - 1: negative is optimistic (the model is faster).

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/cost/comm_measurement.hpp"
#include "sim/hw/network_efficiency.hpp"

namespace moesim::cost {

/// The catalog system of an AIConfigurator system folder: b200_sxm -> hgx-b200, h200_sxm ->
/// hgx-h200, h100_sxm -> hgx-h100, gb200 -> gb200-nvl72. Others are a ConfigError at `at`.
std::string system_of(std::string_view aic_system, const SourceLocation& at);

/// The network model's price of one measurement.
struct CommPrediction {
  const CommMeasurement* measurement = nullptr;
  Duration predicted{};
  Duration latency{};   ///< the price's latency term
  Duration transfer{};  ///< the price's transfer term
  std::string how;      ///< algorithm/protocol chosen, e.g. "nvls/simple"

  /// predicted / measured - 1.
  double error() const;
};

/// Prices `rows` (which must outlive the result) with the network parameters `network`;
/// systems are loaded from `catalog` once each.
std::vector<CommPrediction> predict_comm(std::span<const CommMeasurement> rows,
                                         const config::Catalog& catalog,
                                         const hw::NetworkEfficiency& network);

/// The copies rank s sends rank d in the dispatch of `m` (row-major p x p, the diagonal
/// included), as the file comment defines them; the byte matrix is these x payload.
std::vector<double> dispatch_copies(const CommMeasurement& m);

/// Error summary of one group of predictions.
struct CommErrorStats {
  std::size_t points = 0;
  double median = 0.0;         ///< of |error|
  double p90 = 0.0;            ///< of |error|, nearest rank
  double signed_median = 0.0;  ///< of error: < 0 optimistic, > 0 pessimistic
};
/// The statistics of `errors` (signed relative errors).
CommErrorStats comm_error_stats(std::span<const double> errors);

/// Summary key: GPU, "<backend>-<version>/<table>", kernel, op, GPUs.
using CommGroupKey = std::tuple<std::string, std::string, std::string, std::string, int>;
/// The key of `m`.
CommGroupKey group_key(const CommMeasurement& m);
/// Signed errors of `predictions` by group.
std::map<CommGroupKey, std::vector<double>> group_errors(
    std::span<const CommPrediction> predictions);

}  // namespace moesim::cost
