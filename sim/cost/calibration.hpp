#pragma once
/// \file
/// Calibrations: the fitted parameters of the kernel families (sim/cost/kernel_family.hpp) per
/// GPU, what `moesim calibrate` writes and a software-stack profile (topologies/stacks/) names.
///
/// Fit (fit_calibration): per (GPU, family), the measurements not held back give one equation
/// each, measured time = sum over the probe's family ops of coef . features + the base model's
/// price of the probe's other ops (sim/cost/kernel_probe.hpp). The coefficients solve the
/// non-negative least-squares problem (Lawson and Hanson, "Solving Least Squares Problems",
/// 1974, ch. 23) on errors relative to the measured time, so that a 5 us and a 5 ms kernel
/// count alike. Non-negativity keeps every term physical (no negative fixed cost, no
/// bandwidth above infinity); a term the data cannot see stays 0.
/// Split: a measurement is held back from the fit when its line number in its file is a
/// multiple of kHoldBackEvery (every fifth row); errors are reported on those rows only.
///
/// File format (YAML; every duration with its unit):
///   framework: trtllm            # the stack whose kernels were measured
///   versions: [1.3.0rc20]
///   split: "..."                 # how held-back rows were chosen
///   source: "..."                # required: the fit and the measurements behind it
///   gpus:
///     <gpu catalog name>:
///       <family, e.g. moe.nvfp4>:
///         fixed: "4.2 us"        # per kernel
///         stream: 1.31           # multiplies D / B (1 / fraction of HBM bandwidth)
///         token_bytes: 2.0       # moe: multiplies (D - W) / B; gemm, bmm: Q / B
///         compute: 2.9           # multiplies F / (P u) (1 / fraction of dense peak)
///         per_expert: "0.3 us"   # moe: per expert with tokens
///         per_route: "0.002 us"  # moe: per (token, top-k slot) entering the module
///         per_row: "0.002 us"    # gemm, bmm: per activation row quantized
///         k_wave: "0.0018 us"    # per reduction element (attention: key) per wave
///         per_sequence: "0.05 us"  # attention: per sequence
///         per_wave: "1.2 us"     # attention: per wave of query-row blocks
///         combine: max           # memory and compute parts: max (overlapped) or sum
///         range: {m: [1, 16384], n: [1024, 16384], k: [1024, 16384]}  # shapes fitted
///         fit: {...}             # points, held back, errors before/after (information only)
/// A term left out is 0.

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/cost/compute_model.hpp"
#include "sim/cost/kernel_family.hpp"
#include "sim/cost/measurement.hpp"

namespace moesim::cost {

/// Every kHoldBackEvery-th line of a measurement file is held back from the fit.
inline constexpr int kHoldBackEvery = 5;
/// Whether `m` is held back from fitting (its line is a multiple of kHoldBackEvery).
inline bool held_back(const Measurement& m) { return m.where.line % kHoldBackEvery == 0; }

/// The shapes one family's fit covered: per range quantity (range_names), [lo, hi].
using ShapeRange = std::array<std::array<std::int64_t, 2>, 3>;

/// Error statistics of predictions against measurements: |predicted / measured - 1|.
struct ErrorStats {
  std::size_t points = 0;
  double median = 0.0;
  double p90 = 0.0;
};
/// Median and 90th percentile (nearest rank) of `errors` (|relative errors|).
ErrorStats error_stats(std::vector<double> errors);

/// The fitted parameters of one family on one GPU.
struct FamilyFit {
  FamilyKey key;
  /// per term: seconds (fixed, per_expert, per_sequence, per_wave, per_route, per_row,
  /// k_wave) or multipliers
  Features coef{};
  /// How the memory and compute parts combine: their sum, or the larger (roofline overlap);
  /// the fit keeps whichever form has the smaller median error on the fitted rows.
  bool overlap = false;
  ShapeRange range{};
  std::string kernels;     ///< kernel sources measured, comma-separated
  std::size_t fitted = 0;  ///< measurements in the fit
  ErrorStats before;       ///< held back, base (roofline) model
  ErrorStats after;        ///< held back, this fit
  /// Whether `vars` (Featurizer::range_vars) lie inside `range`.
  bool covers(const RangeVars& vars) const;
};

/// The fits of one GPU.
struct GpuCalibration {
  std::string gpu;
  std::vector<FamilyFit> families;
  /// The fit of `key`, or nullptr.
  const FamilyFit* find(FamilyKey key) const;
};

/// A calibration file.
struct Calibration {
  std::string framework;
  std::vector<std::string> versions;
  std::string split;
  /// Where the numbers come from: the tool and the measurements it fitted (required in a file).
  std::string source;
  std::vector<GpuCalibration> gpus;
  /// The fits of GPU `name`, or nullptr.
  const GpuCalibration* gpu(std::string_view name) const;
};

/// Parses a calibration file (format in the file comment); unknown keys and families (with a
/// did-you-mean), negative coefficients, bare numbers for durations and malformed ranges are
/// ConfigErrors at the offending node.
Calibration parse_calibration(const config::ConfigNode& root);

/// The YAML text of `c`, `comments` first as '#' lines.
std::string write_calibration(const Calibration& c, std::span<const std::string> comments);

/// The models fit_calibration and predict use for one GPU.
struct GpuModels {
  const ComputeModel* model = nullptr;  ///< prices every op of a probe
  const Featurizer* features = nullptr;
};
/// Models for a GPU catalog name; throws ConfigError for an unknown GPU.
using GpuModelLookup = std::function<GpuModels(const Measurement&)>;

/// Fits every (GPU, family) with enough measurements (more than the family's terms, rows not
/// held back) from `measurements`; `base` prices the probes' non-family ops. The result has
/// no error statistics yet (see predict and summarize). Measurements of several frameworks
/// are a ConfigError naming both.
Calibration fit_calibration(std::span<const Measurement> measurements, const GpuModelLookup& base);

/// One measurement and its prediction.
struct Prediction {
  const Measurement* measurement = nullptr;
  FamilyKey family;
  Duration predicted{0};
  bool extrapolated = false;  ///< some op of the probe was priced outside a fitted range
  /// predicted / measured - 1
  double error() const;
};

/// Prices each measurement's probe with `models` (a calibrated or a roofline model per GPU).
std::vector<Prediction> predict(std::span<const Measurement> measurements,
                                const GpuModelLookup& models);

/// Fills each family's `before` or `after` statistics in `c` from predictions of the
/// held-back measurements.
void record_errors(Calibration& c, std::span<const Prediction> predictions, bool after);

}  // namespace moesim::cost
