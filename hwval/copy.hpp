#pragma once
// hwval copy: device-to-device copy bandwidth of the local GPU's HBM (see copy.cpp).

#include <ostream>

namespace hwval {

/// Times cudaMemcpy device-to-device of 256 MiB, 1 GiB and 4 GiB on device 0 and prints one
/// YAML entry each (HBM traffic = 2 x bytes: read and write). Returns 0, or 1 on failure.
int run_copy(std::ostream& out);

}  // namespace hwval
