// hwval: measures on a real GPU; it never predicts. `hwval info` reports the device properties
// and library versions, `hwval gemm` times cuBLASLt GEMMs (gemm.cpp), both as YAML; the other
// StepPlan runners (grouped GEMMs, attention, NCCL) arrive with the calibration work.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "copy.hpp"
#include "gemm.hpp"

namespace {

constexpr int kExitNoDevice = 1;
constexpr int kExitUsage = 2;

void print_usage(std::ostream& out) {
  out << "usage: hwval info | gemm | copy\n"
         "  info   print the CUDA devices, runtime, cuBLASLt and NCCL versions as YAML\n"
         "  gemm   time cuBLASLt BF16 and FP8 GEMMs (decode-sized and large) as YAML\n"
         "  copy   device-to-device copy bandwidth of HBM as YAML\n";
}

int print_info() {
  int runtime = 0;
  int driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  int nccl = 0;
  ncclGetVersion(&nccl);
  std::cout << "cuda_runtime_version: " << runtime << "\n"
            << "cuda_driver_version: " << driver << "\n"
            << "cublaslt_version: " << cublasLtGetVersion() << "\n"
            << "nccl_version: " << nccl << "\n";
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    std::cout << "devices: []\n";
    std::cerr << "hwval: no CUDA device available (" << cudaGetErrorString(err)
              << "); nothing can be measured here\n";
    return kExitNoDevice;
  }
  std::cout << "devices:\n";
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p{};
    cudaGetDeviceProperties(&p, d);
    int sm_clock_khz = 0;
    int mem_clock_khz = 0;
    int bus_bits = 0;
    cudaDeviceGetAttribute(&sm_clock_khz, cudaDevAttrClockRate, d);
    cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, d);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, d);
    std::cout << "  - index: " << d << "\n"
              << "    name: \"" << p.name << "\"\n"
              << "    compute_capability: \"" << p.major << "." << p.minor << "\"\n"
              << "    sms: " << p.multiProcessorCount << "\n"
              << "    memory: \"" << p.totalGlobalMem << " B\"\n"
              << "    l2: \"" << p.l2CacheSize << " B\"\n"
              << "    sm_clock: \"" << sm_clock_khz << " kHz\"\n"
              << "    memory_clock: \"" << mem_clock_khz << " kHz\"\n"
              << "    memory_bus_width_bits: " << bus_bits << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    print_usage(std::cerr);
    return kExitUsage;
  }
  const std::string_view cmd = argv[1];
  if (cmd == "info") return print_info();
  if (cmd == "gemm") return hwval::run_gemm(std::cout);
  if (cmd == "copy") return hwval::run_copy(std::cout);
  if (cmd == "--help" || cmd == "-h") {
    print_usage(std::cout);
    return 0;
  }
  std::cerr << "hwval: unknown command '" << cmd << "'\n";
  print_usage(std::cerr);
  return kExitUsage;
}
