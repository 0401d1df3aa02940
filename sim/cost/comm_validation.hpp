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
  std::string how;      ///< algorithm/protocol chosen, e.g. "nvls/simple"; "+measured" if fitted

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

/// Whether `m` is held back from fits: its line is a multiple of 5, as `moesim calibrate`
/// holds kernel rows back (sim/cost/calibration.hpp, kHoldBackEvery).
bool held_back(const CommMeasurement& m);

/// A measured collective cost fitted on one system's nccl-tests rows.
struct CommFit {
  std::string system;  ///< catalog system, e.g. "hgx-b200"
  CommOp op = CommOp::kAllReduce;
  hw::MeasuredCollective params;
  std::size_t points = 0;  ///< rows fitted
};

/// Fits, per (system, op) of the nccl-tests all-reduce, all-gather and reduce-scatter rows (table
/// nccl_perf) of `predictions` that are not held back, the coefficients of hw::MeasuredCollective,
/// time = a + s_l L + X (s_x[p] + s_r h / (h + n)), with L, X the prediction's latency and transfer
/// terms, n the nccl-tests size and y the measured time, on relative errors:
///   1. s_x per GPU count, the asymptotic bandwidth, from the messages of 256 MiB and more:
///      least squares of (y - L) / y = s_x X / y (a GPU count without such rows gets no fit);
///   2. a, s_l, s_r >= 0 on every row: for each ramp size h in 64 KiB, 256 KiB, ..., 1 GiB,
///      non-negative least squares of sum ((a + s_l L + s_r X h / (h + n)) / y - (1 - s_x X /
///      y))^2, every subset of the three terms solved on its normal equations and the feasible one
///      of least residual kept (exact NNLS); the h of least residual wins.
/// nccl-tests' alltoall is not fitted (moesim's AllToAllV is the MoE dispatch and combine, run
/// by DeepEP's and TensorRT-LLM's own kernels). The predictions must come from network
/// parameters without measured fits. `source` names the fit in each result.
std::vector<CommFit> fit_network(std::span<const CommPrediction> predictions,
                                 const std::string& source);

/// `network` with `fits` added to its measured collectives (replacing those of the same system
/// and op).
hw::NetworkEfficiency with_fits(hw::NetworkEfficiency network, std::span<const CommFit> fits);

/// The YAML `measured:` section of topologies/network.yaml holding `fits`, `comments` first as
/// '#' lines.
std::string write_network_fits(std::span<const CommFit> fits,
                               std::span<const std::string> comments);

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
