// hwval copy: the achieved HBM streaming bandwidth, as cudaMemcpyDeviceToDevice of large
// buffers (the copy kernel reads and writes every byte: traffic = 2 x size). Median of 9 timed
// copies after 2 warm-up copies, CUDA events.
#include "copy.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

namespace hwval {

int run_copy(std::ostream& out) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::cerr << "hwval copy: no CUDA device available; nothing can be measured here\n";
    return 1;
  }
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  out << "device: \"" << p.name << "\"\n"
      << "method: \"cudaMemcpy device to device, traffic 2 x size, median of 9 after 2 warm-up\"\n"
      << "copies:\n";
  for (const std::size_t mib : {std::size_t{256}, std::size_t{1024}, std::size_t{4096}}) {
    const std::size_t bytes = mib << 20;
    void* src = nullptr;
    void* dst = nullptr;
    if (cudaMalloc(&src, bytes) != cudaSuccess || cudaMalloc(&dst, bytes) != cudaSuccess) {
      std::cerr << "hwval copy: cannot allocate 2 x " << mib << " MiB\n";
      cudaFree(src);
      return 1;
    }
    cudaMemset(src, 1, bytes);
    cudaEvent_t start = nullptr;
    cudaEvent_t stop = nullptr;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    for (int i = 0; i < 2; ++i) cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice);
    std::vector<double> ms;
    for (int i = 0; i < 9; ++i) {
      cudaEventRecord(start);
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice);
      cudaEventRecord(stop);
      cudaEventSynchronize(stop);
      float t = 0.0f;
      cudaEventElapsedTime(&t, start, stop);
      ms.push_back(static_cast<double>(t));
    }
    std::sort(ms.begin(), ms.end());
    const double median_ms = ms[ms.size() / 2];
    const double gbps = 2.0 * static_cast<double>(bytes) / (median_ms * 1e-3) / 1e9;
    char line[160];
    std::snprintf(line, sizeof(line),
                  "  - {size: \"%zu MiB\", time: \"%.3f us\", traffic_gb_s: %.1f}\n", mib,
                  median_ms * 1000.0, gbps);
    out << line << std::flush;
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaFree(src);
    cudaFree(dst);
  }
  return 0;
}

}  // namespace hwval
