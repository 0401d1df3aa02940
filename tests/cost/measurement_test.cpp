// Tests of the per-op measurement schema and the AIConfigurator importer
// (sim/cost/measurement.hpp) and of what a measured op is in StepPlan terms
// (sim/cost/kernel_probe.hpp).

#include "sim/cost/measurement.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

/// The per-expert rows of the gate_up GroupedGemmOp of `m`'s probe.
std::vector<std::int32_t> expert_rows(const Measurement& m) {
  for (const llm::Op& op : make_probe(m).ops) {
    if (const auto* g = std::get_if<llm::GroupedGemmOp>(&op.body)) return g->tokens_per_expert;
  }
  return {};
}

TEST_CASE("SGLang's DeepSeek-V3 MoE rows read as routed by a group-limited top-k, no others") {
  const MeasurementFile sglang =
      read_measurements(kAic / "h200_sxm" / "sglang-0.5.14" / "moe_perf.csv");
  REQUIRE(sglang.rows.size() == 2);
  // DeepSeek-V3 (hidden 7168, 256 experts, top-8): SGLang's collector routes with the model's
  // 8 groups, best 4.
  CHECK(sglang.rows[0].shape.groups == 8);
  CHECK(sglang.rows[0].shape.topk_groups == 4);
  CHECK(shape_text(sglang.rows[0]).ends_with(" groups=8 topk_groups=4"));
  // Qwen3-235B (128 experts): a plain top-k.
  CHECK(sglang.rows[1].shape.groups == 0);
  CHECK(shape_text(sglang.rows[1]).find("groups") == std::string::npos);
  // TensorRT-LLM's collector routes DeepSeek-V3 with a plain top-k too.
  const MeasurementFile trtllm =
      read_measurements(kAic / "h200_sxm" / "trtllm-1.3.0rc20" / "moe_perf.csv");
  CHECK(trtllm.rows[0].shape.groups == 0);
}

TEST_CASE("a group-limited router on balanced logits keeps the lowest groups and experts") {
  const MeasurementFile f = read_measurements(kAic / "h200_sxm" / "sglang-0.5.14" / "moe_perf.csv");
  Measurement m = f.rows[0];  // 32 tokens, 256 experts in 8 groups of 32, top-8, best 4 groups
  // Token i's balanced logits mark experts i + 32 g, one in each group, so all eight groups
  // tie and groups 0-3 are kept: the token takes i, i + 32, i + 64, i + 96 and the four
  // lowest unmarked experts, {0, 1, 2, 3, 4} without i. Experts 0-3: 31 tokens unmarked + 1
  // marked = 32 rows each; expert 4: tokens 0-3 + its own mark = 5; experts 5-127: their own
  // mark, 1 each; experts 128-255: none. 32 x 8 = 256 rows.
  const std::vector<std::int32_t> ep1 = expert_rows(m);
  REQUIRE(ep1.size() == 256);
  for (int e = 0; e < 4; ++e) CHECK(ep1[e] == 32);
  CHECK(ep1[4] == 5);
  for (int e = 5; e < 128; ++e) CHECK(ep1[e] == 1);
  for (int e = 128; e < 256; ++e) CHECK(ep1[e] == 0);
  // EP 2: rank 0 holds experts 0-127, so it runs exactly the EP 1 work (as the tables show:
  // H100 fp8_block, 32 tokens, 1.899 ms at EP 1 and 1.905 ms at EP 2).
  m.shape.ep = 2;
  const std::vector<std::int32_t> ep2 = expert_rows(m);
  REQUIRE(ep2.size() == 128);
  CHECK(std::equal(ep2.begin(), ep2.end(), ep1.begin()));
  // One token: experts 0, 32, 64, 96 marked, 1-4 unmarked; 8 experts, one row each.
  m.shape.ep = 1;
  m.shape.tokens = 1;
  const std::vector<std::int32_t> one = expert_rows(m);
  std::vector<int> active;
  for (int e = 0; e < 256; ++e) {
    if (one[static_cast<std::size_t>(e)] > 0) active.push_back(e);
  }
  CHECK(active == std::vector<int>{0, 1, 2, 3, 4, 32, 64, 96});
}

TEST_CASE("a MoE row's router groups round-trip through the schema; bad groups are located") {
  Measurement m;
  m.gpu = "h100";
  m.framework = "sglang";
  m.version = "0.5.14";
  m.op = MeasuredOp::kMoe;
  m.dtype = "fp8_block";
  m.distribution = "balanced";
  m.shape.tokens = 64;
  m.shape.hidden = 7168;
  m.shape.inter = 2048;
  m.shape.experts = 256;
  m.shape.topk = 8;
  m.shape.ep = 4;
  m.shape.tp = 1;
  m.shape.groups = 8;
  m.shape.topk_groups = 4;
  m.median = ceil_duration(0.5e-3);
  const std::vector<Measurement> rows{m};
  const fs::path p = temp_csv("groups.csv", write_measurements_csv(rows, {}));
  const MeasurementFile back = read_measurements(p);
  REQUIRE(back.rows.size() == 1);
  CHECK(back.rows[0].shape.groups == 8);
  CHECK(back.rows[0].shape.topk_groups == 4);
  CHECK(expert_rows(back.rows[0]) == expert_rows(m));
  const std::string moe = "h100,sglang,1,k,moe,fp8_block,,balanced,";
  const std::string dims = "tokens=64 hidden=7168 inter=2048 experts=256 topk=8 ep=4 tp=1";
  // 3 groups do not divide 256 experts; topk_groups without groups; more groups kept than
  // there are. One kept group of 32 experts can hold a top-8, so that one is valid.
  for (const char* groups :
       {" groups=3 topk_groups=1", " topk_groups=4", " groups=8 topk_groups=9"}) {
    const std::string e = error_of(kHeader + moe + dims + groups + ",5 us,\n");
    CAPTURE(groups);
    CHECK(e.find("bad.csv:2") != std::string::npos);
    CHECK(e.find("shape.groups") != std::string::npos);
  }
  CHECK(error_of(kHeader + moe + dims + " groups=8 topk_groups=1,5 us,\n").empty());
  CHECK(error_of(kHeader + moe + dims + " group=8,5 us,\n").find("did you mean 'groups'") !=
        std::string::npos);
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
