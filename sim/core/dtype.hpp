#pragma once
/// \file
/// Numeric data types of tensors and the per-type peak rates of a GPU.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "sim/core/units.hpp"

namespace moesim {

/// Tensor element types the simulator knows. FP4 is NVFP4/MXFP4 element storage (4 bits);
/// block scale factors are accounted for separately by the lowering.
enum class DType { kFP4, kFP6, kFP8, kINT8, kBF16, kFP16, kTF32, kFP32, kFP64 };

inline constexpr std::array<DType, 9> kAllDTypes = {DType::kFP4,  DType::kFP6,  DType::kFP8,
                                                    DType::kINT8, DType::kBF16, DType::kFP16,
                                                    DType::kTF32, DType::kFP32, DType::kFP64};

/// Bits one element occupies in memory (TF32 is stored as 32-bit).
constexpr int bits_of(DType t) {
  switch (t) {
    case DType::kFP4: return 4;
    case DType::kFP6: return 6;
    case DType::kFP8: return 8;
    case DType::kINT8: return 8;
    case DType::kBF16: return 16;
    case DType::kFP16: return 16;
    case DType::kTF32: return 32;
    case DType::kFP32: return 32;
    case DType::kFP64: return 64;
  }
  return 0;
}

/// Lower-case canonical name, as written in YAML ("fp4", "bf16", ...).
std::string_view to_string(DType t);

/// Parses a canonical name (case-insensitive); std::nullopt if unknown.
std::optional<DType> parse_dtype(std::string_view name);

/// Dense tensor-core peak per data type; a type the GPU lacks has no entry.
class PeakRates {
 public:
  /// Sets the dense peak for `t` (must be positive).
  void set(DType t, FlopRate r);
  /// The dense peak for `t`, or std::nullopt when the GPU does not run `t` natively.
  std::optional<FlopRate> get(DType t) const { return rates_[static_cast<std::size_t>(t)]; }
  bool has(DType t) const { return get(t).has_value(); }

 private:
  std::array<std::optional<FlopRate>, kAllDTypes.size()> rates_{};
};

}  // namespace moesim
