// End-to-end tests of `moesim calibrate`, `moesim validate` and the --stack option: the
// commands run on the small AIConfigurator fixture (tests/data/cost/aic) and on the shipped
// tables, write what they say, and bad input exits with status 2 and a located message.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_test_util.hpp"
#include "test_util.hpp"

namespace moesim::cli_test {
namespace {

namespace fs = std::filesystem;

const std::string kData = MOESIM_TEST_DATA_DIR;
const std::string kSource = MOESIM_SOURCE_DIR;
const std::string kGemmTable =
    kSource + "/topologies/measured/aiconfigurator/h200_sxm/trtllm-1.3.0rc20/gemm_perf.csv";

using ::moesim::test::read_file;

TEST_CASE("calibrate fits a published table, writes a calibration and reports held-back errors") {
  const fs::path out = fs::temp_directory_path() / "moesim_calibrate_cli_test.yaml";
  fs::remove(out);
  const Result r = run_moesim("calibrate " + kGemmTable + " -o " + out.string());
  CHECK(r.status == 0);
  CHECK(contains(r.output, "calibrated trtllm"));
  CHECK(contains(r.output, "gemm.fp8_block"));
  CHECK(contains(r.output, "median_after"));
  const std::string yaml = read_file(out);
  CHECK(contains(yaml, "framework: trtllm"));
  CHECK(contains(yaml, "  h200:"));
  CHECK(contains(yaml, "    gemm.fp8:"));
  CHECK(contains(yaml, "range: {m: [1, "));
  // The file it wrote is a stack's calibration: validate prices the same table with it.
  const fs::path stack = fs::temp_directory_path() / "moesim_calibrate_cli_stack.yaml";
  std::ofstream(stack) << "framework: trtllm\nversion: test\ncalibration: " << out.string() << "\n";
  const Result v = run_moesim("validate " + kGemmTable + " --stack " + stack.string());
  CHECK(v.status == 0);
  CHECK(contains(v.output, "held_median"));
  CHECK(contains(v.output, "gemm.bf16"));
}

TEST_CASE("validate lists every measurement with --per-op and writes CSV") {
  const Result r = run_moesim("validate " + kData +
                              "/cost/aic/h200_sxm/trtllm-1.3.0rc20/generation_mla_perf.csv "
                              "--stack trtllm --per-op --format csv");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "file_line,gpu,family,kernel,shape,measured_us,predicted_us,error"));
  CHECK(contains(r.output, "mla_decode.fp8"));
  CHECK(contains(r.output, "generation_mla_perf.csv:3,h200"));
}

TEST_CASE("validate and calibrate on communication tables price and fit the network") {
  const std::string nccl =
      kSource + "/topologies/measured/aiconfigurator/gb200/nccl-2.29.2/nccl_perf.csv";
  const Result v = run_moesim("validate " + nccl + " --format csv");
  CHECK(v.status == 0);
  CHECK(contains(v.output,
                 "gpu,table,kernel,op,gpus,points,median_error_pct,p90_error_pct,"
                 "signed_median_pct"));
  CHECK(contains(v.output, "gb200,nccl-2.29.2/nccl_perf,NCCL,all_reduce,4,42,"));
  const Result p = run_moesim("validate " + nccl + " --per-op --format csv");
  CHECK(p.status == 0);
  CHECK(contains(p.output, "nccl_perf.csv:2,gb200,nccl_perf,NCCL,all_gather,2,fp16,bytes=512,"));
  const fs::path out = fs::temp_directory_path() / "moesim_network_fit_cli_test.yaml";
  fs::remove(out);
  const Result c = run_moesim("calibrate " + nccl + " -o " + out.string());
  CHECK(c.status == 0);
  CHECK(contains(c.output, "median_after_pct"));
  const std::string yaml = read_file(out);
  CHECK(contains(yaml, "measured:\n  gb200-nvl72:\n    allreduce: {latency: "));
  CHECK_FALSE(contains(yaml, "alltoallv"));  // nccl-tests' alltoall is not fitted
}

TEST_CASE("bad measurement files and stack names exit with status 2 and say where") {
  const fs::path bad = fs::temp_directory_path() / "moesim_validate_bad.csv";
  std::ofstream(bad) << "gpu,framework,version,kernel,op,dtype,kv_dtype,distribution,shape,median,"
                        "spread\nh200,hwval,1,,gemm,fp8,,,m=1 n=2 k=3,12,\n";
  const Result unit = run_moesim("validate " + bad.string());
  CHECK(unit.status == 2);
  CHECK(contains(unit.output, bad.string() + ":2:10: median"));
  const Result stack = run_moesim("validate " + kGemmTable + " --stack trtlm");
  CHECK(stack.status == 2);
  CHECK(contains(stack.output, "did you mean 'trtllm'"));
  const Result none = run_moesim("calibrate -o /tmp/x.yaml");
  CHECK(none.status == 2);
  CHECK(contains(none.output, "MEASUREMENTS"));
  const Result run =
      run_moesim("run " + kSource + "/scenarios/dsr1-h200-aggregated.yaml --stack sglng");
  CHECK(run.status == 2);
  CHECK(contains(run.output, "did you mean 'sglang'"));
}

TEST_CASE("explain names the stack and flags ops priced outside the measured shapes") {
  const Result r = run_moesim(
      "explain --system gb200-nvl72 --precision '{weights: nvfp4}' --batch 8 --stack trtllm");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "trtllm: TensorRT-LLM 1.3.0rc20"));
  CHECK(contains(r.output, "extrapolated"));
  const Result roofline = run_moesim(
      "explain --system gb200-nvl72 --precision '{weights: nvfp4}' --batch 8 --stack roofline");
  CHECK(roofline.status == 0);
  CHECK(contains(roofline.output, "slowest rank: ops priced by extrapolation"));
  CHECK_FALSE(contains(roofline.output, "priced outside the shapes"));
}

}  // namespace
}  // namespace moesim::cli_test
