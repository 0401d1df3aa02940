// hwval gemm: D[m x n] = A[m x k] . B[k x n] with cuBLASLt, A and B in BF16 or FP8 E4M3 (the
// FP8 "TN" layout Hopper requires: A and B stored k-major), FP32 accumulation, D in BF16, as
// the decode and prefill GEMMs of a step plan (sim/llm/step_plan.hpp GemmOp). Each shape: the
// best cuBLASLt heuristic algorithm with a 64 MiB workspace, 5 warm-up runs, then the median of
// 11 timed batches of `reps` runs (CUDA events), reps chosen so a batch lasts >= 2 ms. Inputs
// hold small pseudo-random values (zeros would draw less power and run faster).
#include "gemm.hpp"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace hwval {
namespace {

struct Shape {
  std::int64_t m, n, k;
};

// Decode-sized GEMMs of DeepSeek-R1 (M = tokens per GPU; N x K of o_proj 7168 x 16384/8 ...,
// the expert down projection 7168 x 2048, the fused q/kv_a 2112 x 7168) and square GEMMs.
const Shape kShapes[] = {
    {64, 7168, 2048},   {128, 7168, 2048},  {256, 7168, 2048},  {512, 7168, 2048},
    {1024, 7168, 2048}, {64, 2112, 7168},   {256, 2112, 7168},  {1024, 4096, 7168},
    {4096, 4096, 4096}, {4096, 7168, 2048}, {8192, 8192, 8192},
};

bool ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::cerr << "hwval gemm: " << what << ": " << cudaGetErrorString(e) << "\n";
  return false;
}

bool ok(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return true;
  std::cerr << "hwval gemm: " << what << ": cuBLASLt status " << static_cast<int>(s) << "\n";
  return false;
}

/// Fills `bytes` of device memory with small pseudo-random values of `type` (BF16: |x| < 1;
/// FP8 E4M3: exponents 0110-0111, |x| in [0.125, 0.47]).
bool fill(void* dst, std::size_t bytes, cudaDataType type) {
  std::vector<std::uint8_t> host(bytes);
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (std::size_t i = 0; i < bytes; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    host[i] = static_cast<std::uint8_t>(x);
  }
  if (type == CUDA_R_8F_E4M3) {
    for (auto& b : host) b = static_cast<std::uint8_t>((b & 0x87) | 0x30);
  } else {
    for (std::size_t i = 1; i < bytes; i += 2)
      host[i] = static_cast<std::uint8_t>((host[i] & 0x80) | 0x3E);
  }
  return ok(cudaMemcpy(dst, host.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
}

/// Median time of one GEMM in microseconds, or a negative value on failure.
double time_gemm(cublasLtHandle_t lt, const Shape& s, cudaDataType ab, void* workspace,
                 std::size_t workspace_bytes, std::string& algo) {
  const std::size_t elem = ab == CUDA_R_8F_E4M3 ? 1 : 2;
  void* a = nullptr;
  void* b = nullptr;
  void* d = nullptr;
  const auto a_bytes = static_cast<std::size_t>(s.m * s.k) * elem;
  const auto b_bytes = static_cast<std::size_t>(s.k * s.n) * elem;
  const auto d_bytes = static_cast<std::size_t>(s.m * s.n) * 2;
  double result = -1.0;
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  do {
    if (!ok(cudaMalloc(&a, a_bytes), "cudaMalloc A") ||
        !ok(cudaMalloc(&b, b_bytes), "cudaMalloc B") ||
        !ok(cudaMalloc(&d, d_bytes), "cudaMalloc D") || !fill(a, a_bytes, ab) ||
        !fill(b, b_bytes, ab)) {
      break;
    }
    if (!ok(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "MatmulDescCreate"))
      break;
    // cuBLASLt is column-major: D (m x n, leading dimension m) = op(A) . B with A stored
    // k x m and transposed (op T) and B stored k x n, both k-major: the "TN" layout FP8 needs.
    const cublasOperation_t ta = CUBLAS_OP_T;
    const cublasOperation_t tb = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
    if (!ok(cublasLtMatrixLayoutCreate(&la, ab, static_cast<std::uint64_t>(s.k),
                                       static_cast<std::uint64_t>(s.m), s.k),
            "layout A") ||
        !ok(cublasLtMatrixLayoutCreate(&lb, ab, static_cast<std::uint64_t>(s.k),
                                       static_cast<std::uint64_t>(s.n), s.k),
            "layout B") ||
        !ok(cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, static_cast<std::uint64_t>(s.m),
                                       static_cast<std::uint64_t>(s.n), s.m),
            "layout D")) {
      break;
    }
    if (!ok(cublasLtMatmulPreferenceCreate(&pref), "PreferenceCreate")) break;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                         &workspace_bytes, sizeof(workspace_bytes));
    cublasLtMatmulHeuristicResult_t heur{};
    int found = 0;
    if (!ok(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1, &heur, &found),
            "AlgoGetHeuristic") ||
        found == 0) {
      std::cerr << "hwval gemm: no cuBLASLt algorithm for " << s.m << "x" << s.n << "x" << s.k
                << "\n";
      break;
    }
    int algo_id = 0;
    std::size_t written = 0;
    cublasLtMatmulAlgoConfigGetAttribute(&heur.algo, CUBLASLT_ALGO_CONFIG_ID, &algo_id,
                                         sizeof(algo_id), &written);
    algo = std::to_string(algo_id);
    const float alpha = 1.0f;
    const float beta = 0.0f;
    auto run = [&] {
      return cublasLtMatmul(lt, op, &alpha, a, la, b, lb, &beta, d, ld, d, ld, &heur.algo,
                            workspace, workspace_bytes, nullptr);
    };
    bool failed = false;
    for (int i = 0; i < 5 && !failed; ++i) failed = !ok(run(), "cublasLtMatmul");
    if (failed || !ok(cudaDeviceSynchronize(), "warm-up")) break;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    // Reps per batch: enough for >= 2 ms per batch, from one timed run.
    cudaEventRecord(start);
    run();
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float one_ms = 0.0f;
    cudaEventElapsedTime(&one_ms, start, stop);
    const int reps = std::clamp(static_cast<int>(2.0f / std::max(one_ms, 1e-4f)) + 1, 1, 2000);
    std::vector<double> batches;
    for (int t = 0; t < 11 && !failed; ++t) {
      cudaEventRecord(start);
      for (int r = 0; r < reps; ++r) run();
      cudaEventRecord(stop);
      failed = !ok(cudaEventSynchronize(stop), "timing");
      float ms = 0.0f;
      cudaEventElapsedTime(&ms, start, stop);
      batches.push_back(1000.0 * static_cast<double>(ms) / reps);
    }
    if (failed) break;
    std::sort(batches.begin(), batches.end());
    result = batches[batches.size() / 2];
  } while (false);
  if (start != nullptr) cudaEventDestroy(start);
  if (stop != nullptr) cudaEventDestroy(stop);
  if (pref != nullptr) cublasLtMatmulPreferenceDestroy(pref);
  if (la != nullptr) cublasLtMatrixLayoutDestroy(la);
  if (lb != nullptr) cublasLtMatrixLayoutDestroy(lb);
  if (ld != nullptr) cublasLtMatrixLayoutDestroy(ld);
  if (op != nullptr) cublasLtMatmulDescDestroy(op);
  cudaFree(a);
  cudaFree(b);
  cudaFree(d);
  return result;
}

}  // namespace

int run_gemm(std::ostream& out) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::cerr << "hwval gemm: no CUDA device available; nothing can be measured here\n";
    return 1;
  }
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  cublasLtHandle_t lt = nullptr;
  if (!ok(cublasLtCreate(&lt), "cublasLtCreate")) return 1;
  const std::size_t workspace_bytes = std::size_t{64} << 20;
  void* workspace = nullptr;
  if (!ok(cudaMalloc(&workspace, workspace_bytes), "cudaMalloc workspace")) return 1;
  out << "device: \"" << p.name << "\"\n"
      << "cublaslt_version: " << cublasLtGetVersion() << "\n"
      << "method: \"cuBLASLt best heuristic algorithm, 64 MiB workspace, TN layout, FP32 "
         "accumulate, BF16 output; median of 11 batches after 5 warm-up runs\"\n"
      << "gemms:\n";
  int status = 0;
  for (const cudaDataType ab : {CUDA_R_16BF, CUDA_R_8F_E4M3}) {
    for (const Shape& s : kShapes) {
      std::string algo;
      const double us = time_gemm(lt, s, ab, workspace, workspace_bytes, algo);
      if (us < 0.0) {
        status = 1;
        continue;
      }
      const double tflops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) *
                            static_cast<double>(s.k) / (us * 1e-6) / 1e12;
      char line[256];
      std::snprintf(line, sizeof(line),
                    "  - {dtype: %s, m: %lld, n: %lld, k: %lld, time: \"%.3f us\", tflops: %.1f, "
                    "algo: %s}\n",
                    ab == CUDA_R_8F_E4M3 ? "fp8" : "bf16", static_cast<long long>(s.m),
                    static_cast<long long>(s.n), static_cast<long long>(s.k), us, tflops,
                    algo.c_str());
      out << line << std::flush;
    }
  }
  cudaFree(workspace);
  cublasLtDestroy(lt);
  return status;
}

}  // namespace hwval
