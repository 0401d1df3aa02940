/// \file
/// The calibrated compute model: an op of a family the calibration fitted costs the family
/// equation of sim/cost/kernel_family.hpp with the fitted coefficients,
///   t = fixed + per_expert x E + per_sequence x S + per_wave x A + per_route x R
///     + per_row x M                                          (overhead)
///     + token_bytes x (D - W)/B                              (never overlapped)
///     + combine(stream x W/B, compute x F/(P u) + k_wave x V k)  (memory and compute parts)
/// where combine is their sum or their max, whichever the fit chose for the family (FamilyFit::
/// overlap). The larger of the memory and compute parts names the bound; OpCost keeps
/// kernel_time() equal to the kernel's time by giving it to the larger part. Ops of other
/// families, Memory ops and collectives go to the base model; a family op without a fit, or
/// outside its fitted shapes, is flagged `extrapolated`.
/// Host launch and per-step host overhead are the base model's (the stack's engine options).

#include "sim/cost/impl/calibrated.hpp"

#include <array>
#include <optional>

#include "sim/core/assert.hpp"

namespace moesim::cost {
namespace {

class CalibratedModel final : public ComputeModel {
 public:
  CalibratedModel(std::unique_ptr<ComputeModel> base, const GpuCalibration& fits,
                  const EfficiencyParams& params)
      : base_(std::move(base)), features_(base_->gpu(), params) {
    for (const FamilyFit& f : fits.families) fits_[f.key.index()] = f;
    // The host-side issue cost is the engine's: the base model's price of an empty kernel.
    host_ = base_->price(llm::MemoryOp{}, Flops{0.0}, Bytes{0}).host_time;
  }

  std::string_view name() const override { return "calibrated"; }
  const hw::GpuSpec& gpu() const override { return base_->gpu(); }

  OpCost price(const llm::OpBody& body, Flops flops, Bytes bytes) const override {
    const std::optional<FamilyKey> family = family_of(body);
    if (!family) return base_->price(body, flops, bytes);
    const std::optional<FamilyFit>& fit = fits_[family->index()];
    if (!fit) {
      OpCost c = base_->price(body, flops, bytes);
      c.extrapolated = true;
      return c;
    }
    const FamilyTime t = family_time(fit->coef, features_.features(body, flops, bytes));
    const double kernel = t.kernel(fit->overlap);
    const bool compute_bound = t.compute >= t.memory;
    OpCost c;
    c.overhead = ceil_duration(t.overhead);
    // kernel_time() is the larger part: give it the whole kernel time.
    c.compute_time = ceil_duration(compute_bound ? kernel : t.compute);
    c.memory_time = ceil_duration(compute_bound ? t.memory : kernel);
    c.host_time = host_;
    const Duration gpu_side = c.kernel_time() + c.overhead;
    c.time = std::max(gpu_side, c.host_time);
    if (c.host_time > gpu_side || c.overhead > c.kernel_time()) {
      c.bound = Bound::kOverhead;
    } else {
      c.bound = compute_bound ? Bound::kCompute : Bound::kMemory;
    }
    c.extrapolated = !fit->covers(Featurizer::range_vars(body));
    return c;
  }

  Duration step_host_overhead(Duration gpu_step_time) const override {
    return base_->step_host_overhead(gpu_step_time);
  }

 private:
  std::unique_ptr<ComputeModel> base_;
  Featurizer features_;
  std::array<std::optional<FamilyFit>, kFamilies> fits_{};
  Duration host_{0};
};

}  // namespace

std::unique_ptr<ComputeModel> make_calibrated_model(std::unique_ptr<ComputeModel> base,
                                                    const GpuCalibration& fits,
                                                    const EfficiencyParams& params) {
  MOESIM_ASSERT(base != nullptr, "a calibrated model needs a base model");
  return std::make_unique<CalibratedModel>(std::move(base), fits, params);
}

}  // namespace moesim::cost
