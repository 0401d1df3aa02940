#pragma once
/// \file
/// AnalyticStepModel: a closed-form step time for tests and quick what-ifs, with no hardware
/// behind it. For an instance with R attention-DP ranks, rank r carrying T_r new tokens and
/// C_r context tokens (sum of context_tokens over its sequences):
///
///   work_r   = per_token x T_r + per_kv_token x C_r
///   duration = fixed + max_r work_r
///
/// With one rank this is fixed + per_token x (new tokens) + per_kv_token x (sum of contexts).
/// Breakdown (sums exactly to duration): memory = fixed (the per-step weight-read floor) +
/// per_kv_token x C_mean, compute = per_token x T_mean, idle = max_r work_r - mean work, where the
/// means are over ranks in whole picoseconds (rounded down); communication and host overhead
/// are zero. imbalance = max_r work_r / mean work (1 when no rank has work). All arithmetic is
/// exact integer picoseconds.
///
/// YAML (`step_model:` in a scenario):
///   impl: analytic
///   fixed: "5 ms"          # per step
///   per_token: "20 us"     # per new token
///   per_kv_token: "1 ns"   # per context token (KV read)

#include <string>

#include "sim/config/config_node.hpp"
#include "sim/serve/step_time_model.hpp"

namespace moesim::serve {

/// The parameters of AnalyticStepModel, each >= 0.
struct AnalyticStepParams {
  Duration fixed{};         ///< per step
  Duration per_token{};     ///< per new token (prefill chunk token or decode token)
  Duration per_kv_token{};  ///< per context token after the step
};

/// See the file comment.
class AnalyticStepModel final : public StepTimeModel {
 public:
  explicit AnalyticStepModel(AnalyticStepParams params);
  /// Reads {impl: analytic, fixed, per_token, per_kv_token} (all three durations required);
  /// unknown keys and malformed values throw ConfigError.
  static AnalyticStepModel from_config(const config::ConfigNode& node);

  void price(const StepBatch& batch, const StepContext& ctx, StepTiming& out) override;
  std::string describe() const override;
  const AnalyticStepParams& params() const { return params_; }

 private:
  AnalyticStepParams params_;
};

}  // namespace moesim::serve
