// Tests of the per-op measurement schema and the AIConfigurator importer
// (sim/cost/measurement.hpp) and of what a measured op is in StepPlan terms
// (sim/cost/kernel_probe.hpp).

#include "sim/cost/measurement.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sim/cost/kernel_probe.hpp"

namespace moesim::cost {
namespace {

namespace fs = std::filesystem;

const fs::path kAic = fs::path{MOESIM_TEST_DATA_DIR} / "cost" / "aic";

/// Writes `text` to a fresh file under the temporary directory and returns its path.
fs::path temp_csv(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / "moesim_measurement_test";
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p;
}

/// The message of the ConfigError reading `text` throws ("" if none).
std::string error_of(const std::string& text) {
  try {
    (void)read_measurements(temp_csv("bad.csv", text));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const std::string kHeader =
    "gpu,framework,version,kernel,op,dtype,kv_dtype,distribution,shape,median,spread\n";

TEST_CASE("the moesim schema round-trips through write and read") {
  Measurement m;
  m.gpu = "h200";
  m.framework = "hwval";
  m.version = "0.1";
  m.kernel = "cublaslt";
  m.op = MeasuredOp::kGemm;
  m.dtype = "fp8";
  m.shape.m = 64;
  m.shape.n = 7168;
  m.shape.k = 2048;
  m.median = ceil_duration(6.899e-6);
  m.spread = ceil_duration(0.1e-6);
  const std::vector<Measurement> rows{m};
  const std::vector<std::string> comments{"source: test"};
  const fs::path p = temp_csv("roundtrip.csv", write_measurements_csv(rows, comments));
  const MeasurementFile back = read_measurements(p);
  REQUIRE(back.rows.size() == 1);
  const Measurement& r = back.rows[0];
  CHECK(r.gpu == "h200");
  CHECK(r.op == MeasuredOp::kGemm);
  CHECK(r.dtype == "fp8");
  CHECK(r.shape.m == 64);
  CHECK(r.shape.n == 7168);
  CHECK(r.shape.k == 2048);
  CHECK(to_microseconds(r.median) == doctest::Approx(6.899));
  CHECK(to_microseconds(r.spread) == doctest::Approx(0.1));
  CHECK(r.where.line == 3);  // one comment line, the header, then the row
}

TEST_CASE("schema errors name the file, line, column and key, with a did-you-mean") {
  const std::string bad_op = error_of(kHeader + "h200,hwval,1,k,gemmm,fp8,,,m=1 n=2 k=3,5 us,\n");
  CHECK(bad_op.find("bad.csv:2:5") != std::string::npos);
  CHECK(bad_op.find("did you mean 'gemm'") != std::string::npos);
  const std::string bad_key = error_of(kHeader + "h200,hwval,1,k,gemm,fp8,,,m=1 n=2 kk=3,5 us,\n");
  CHECK(bad_key.find("shape.kk") != std::string::npos);
  CHECK(bad_key.find("did you mean 'k'") != std::string::npos);
  const std::string bare = error_of(kHeader + "h200,hwval,1,k,gemm,fp8,,,m=1 n=2 k=3,5,\n");
  CHECK(bare.find("unit") != std::string::npos);
  const std::string dtype = error_of(kHeader + "h200,hwval,1,k,gemm,fp9,,,m=1 n=2 k=3,5 us,\n");
  CHECK(dtype.find("did you mean 'fp8'") != std::string::npos);
  const std::string column =
      error_of("gpu,framework,version,kernel,op,dtype,kv_dtype,distribution,shape,medain,spread\n");
  CHECK(column.find("did you mean 'median'") != std::string::npos);
  const std::string missing = error_of(kHeader + "h200,hwval,1,k,gemm,fp8,,,m=1 n=2,5 us,\n");
  CHECK(missing.find("shape.k") != std::string::npos);
  CHECK(error_of("a,b\n1,2\n").find("measurement table") != std::string::npos);
}

TEST_CASE("an AIConfigurator table takes its omitted columns from the manifest") {
  const MeasurementFile f =
      read_measurements(kAic / "h200_sxm" / "trtllm-1.3.0rc20" / "generation_mla_perf.csv");
  REQUIRE(f.rows.size() == 3);
  const Measurement& m = f.rows[1];
  CHECK(m.gpu == "h200");
  CHECK(m.framework == "trtllm");
  CHECK(m.version == "1.3.0rc20");
  CHECK(m.kernel == "default");
  CHECK(m.op == MeasuredOp::kMlaDecode);
  CHECK(m.dtype == "bf16");  // mla_dtype bfloat16, a manifest constant
  CHECK(m.kv_dtype == "fp8");
  // isl 1 (manifest) + step 1023: the KV length AIConfigurator queries.
  CHECK(m.shape.kv_len == 1024);
  CHECK(m.shape.q_len == 1);
  CHECK(m.shape.sequences == 8);
  CHECK(m.shape.heads == 64);
  CHECK(to_microseconds(m.median) == doctest::Approx(20.0));
}

TEST_CASE(
    "an AIConfigurator latency of infinity or beyond an hour, or a dimension beyond 2^20, is a "
    "ConfigError at its cell") {
  // Found by the fuzz test: both failed the Duration conversion's assertion (an internal error).
  const fs::path dir =
      fs::temp_directory_path() / "moesim_measurement_test" / "h200_sxm" / "trtllm-1.3.0rc20";
  fs::create_directories(dir);
  for (const char* latency : {"inf", "nan", "9223372036854775807", "3600001"}) {
    std::ofstream(dir / "gemm_perf.csv")
        << "gemm_dtype,m,n,k,latency_ms\nbfloat16,8,16384,16384," << latency << "\n";
    try {
      (void)read_measurements(dir / "gemm_perf.csv");
      FAIL("no ConfigError for latency_ms " << latency);
    } catch (const ConfigError& e) {
      CHECK(e.key_path() == "latency_ms");
      CHECK(e.where().line == 2);
    }
  }
  // A dimension above 2^20 too: an m of 2^63 - 1 priced the op beyond a Duration's range.
  std::ofstream(dir / "gemm_perf.csv")
      << "gemm_dtype,m,n,k,latency_ms\nbfloat16,9223372036854775807,16384,16384,1\n";
  try {
    (void)read_measurements(dir / "gemm_perf.csv");
    FAIL("no ConfigError for m 2^63 - 1");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "m");
    CHECK(e.expected() == "a whole number from 0 to 1048576");
  }
}

TEST_CASE("MoE rows with power-law routing are left out and counted") {
  const MeasurementFile f =
      read_measurements(kAic / "h200_sxm" / "trtllm-1.3.0rc20" / "moe_perf.csv");
  REQUIRE(f.rows.size() == 1);
  CHECK(f.rows[0].distribution == "balanced");
  REQUIRE(f.skipped.size() == 2);
  CHECK(f.skipped[0].find("1 rows") == 0);
}

TEST_CASE("a balanced MoE probe deals token-expert pairs round-robin over all experts") {
  const MeasurementFile f =
      read_measurements(kAic / "h200_sxm" / "trtllm-1.3.0rc20" / "moe_perf.csv");
  const Probe p = make_probe(f.rows[0]);
  CHECK(p.family.name() == "moe.fp8_block");
  // 1024 tokens x top-8 = 8192 pairs over 256 experts = 32 each; EP 8 leaves 32 local experts.
  std::int64_t grouped = 0;
  for (const llm::Op& op : p.ops) {
    if (const auto* g = std::get_if<llm::GroupedGemmOp>(&op.body)) {
      ++grouped;
      CHECK(g->tokens_per_expert.size() == 32);
      CHECK(g->total_tokens() == 32 * 32);
      CHECK(g->active_experts() == 32);
    }
  }
  CHECK(grouped == 2);  // gate_up and down
}

TEST_CASE("probes put each measured op in its family") {
  Measurement m;
  m.op = MeasuredOp::kBmm;
  m.dtype = "fp8";
  m.shape = {.m = 16, .n = 512, .k = 128, .batch = 128};
  CHECK(make_probe(m).family.name() == "bmm.fp8");
  m.op = MeasuredOp::kGqaDecode;
  m.dtype = "bf16";
  m.kv_dtype = "fp8";
  m.shape = {};
  m.shape.sequences = 4;
  m.shape.heads = 8;
  m.shape.kv_heads = 1;
  m.shape.q_len = 1;
  m.shape.kv_len = 100;
  m.shape.head_dim = 128;
  CHECK(make_probe(m).family.name() == "gqa_decode.fp8");
}

}  // namespace
}  // namespace moesim::cost
