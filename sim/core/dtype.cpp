#include "sim/core/dtype.hpp"

#include <cctype>
#include <string>

namespace moesim {

std::string_view to_string(DType t) {
  switch (t) {
    case DType::kFP4: return "fp4";
    case DType::kFP6: return "fp6";
    case DType::kFP8: return "fp8";
    case DType::kINT8: return "int8";
    case DType::kBF16: return "bf16";
    case DType::kFP16: return "fp16";
    case DType::kTF32: return "tf32";
    case DType::kFP32: return "fp32";
    case DType::kFP64: return "fp64";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (DType t : kAllDTypes) {
    if (to_string(t) == lower) return t;
  }
  return std::nullopt;
}

void PeakRates::set(DType t, FlopRate r) {
  MOESIM_ASSERT(r.base() > 0.0, "peak rate must be positive");
  rates_[static_cast<std::size_t>(t)] = r;
}

}  // namespace moesim
