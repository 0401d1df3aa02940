#pragma once
// hwval gemm: times cuBLASLt GEMMs on the local GPU (see gemm.cpp).

#include <ostream>

namespace hwval {

/// Times the built-in shape list (decode-sized and large GEMMs, BF16 and FP8 E4M3 inputs, BF16
/// output) on device 0 and prints one YAML entry per shape to `out`. Returns 0, or 1 when no
/// device or a CUDA/cuBLASLt call fails (the message goes to stderr).
int run_gemm(std::ostream& out);

}  // namespace hwval
