// Tests of software-stack profiles (sim/cost/stack.hpp): the shipped stacks load, the engine
// keys are read, bad files are located errors, and a stack's model prices a fitted family with
// its calibration and everything else with the roofline.

#include "sim/cost/stack.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "sim/cost/efficiency.hpp"

namespace moesim::cost {
namespace {

namespace fs = std::filesystem;

const config::Catalog& catalog() {
  static const config::Catalog c(fs::path{MOESIM_SOURCE_DIR});
  return c;
}

/// The ConfigError message of loading a stack file with `yaml` ("" if none).
std::string error_of(const std::string& yaml) {
  const fs::path p = fs::temp_directory_path() / "moesim_stack_test.yaml";
  std::ofstream(p) << yaml;
  try {
    (void)load_stack(catalog(), p.string());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("the shipped stacks load with their calibrations and engine behaviour") {
  const StackProfile trtllm = load_stack(catalog(), "trtllm");
  CHECK(trtllm.name == "trtllm");
  REQUIRE(trtllm.calibration.has_value());
  for (const char* gpu : {"b200", "gb200", "h200", "h100"}) {
    CAPTURE(gpu);
    CHECK(trtllm.calibration->gpu(gpu) != nullptr);
  }
  CHECK(trtllm.all_to_all.decode == llm::DispatchLayout::kPerRank);
  const StackProfile wide = load_stack(catalog(), "sglang-wideep");
  CHECK(wide.all_to_all.prefill == llm::DispatchLayout::kPerRank);
  CHECK(wide.all_to_all.decode == llm::DispatchLayout::kPerTokenExpert);
  const StackProfile roofline = load_stack(catalog(), "roofline");
  CHECK_FALSE(roofline.calibration.has_value());
  const StackProfile older = load_stack(catalog(), "trtllm-1.2");
  REQUIRE(older.calibration.has_value());
  CHECK(older.calibration->gpu("b200") != nullptr);
  CHECK(older.calibration->gpu("h200") == nullptr);
}

TEST_CASE("a stack read again comes from the cache until its file changes") {
  const fs::path p = fs::temp_directory_path() / "moesim_stack_cache_test.yaml";
  std::ofstream(p) << "description: first\n";
  fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(1));
  CHECK(load_stack(catalog(), p.string()).description == "first");
  CHECK(load_stack(catalog(), p.string()).description == "first");
  std::ofstream(p) << "description: second\n";
  fs::last_write_time(p, fs::file_time_type::clock::now());
  CHECK(load_stack(catalog(), p.string()).description == "second");
  // A stack's engine scheduler is kept for the serving engine to read.
  const StackProfile sglang = load_stack(catalog(), "sglang");
  REQUIRE(sglang.scheduler.has_value());
  CHECK(sglang.scheduler->at("dp_routing").as_string() == "round_robin");
}

TEST_CASE("bad stack files are located errors with a did-you-mean") {
  CHECK(error_of("framework: x\nengin: {}\n").find("did you mean 'engine'") != std::string::npos);
  CHECK(error_of("engine: {all_to_all: per_tokn_expert}\n").find("per_token_expert") !=
        std::string::npos);
  CHECK(error_of("engine: {all_to_all: {decod: per_rank}}\n").find("did you mean 'decode'") !=
        std::string::npos);
  CHECK(error_of("calibration: calibrated/nope.yaml\n").find("nope.yaml") != std::string::npos);
}

TEST_CASE("a stack without fits for a GPU prices with the roofline and flags family ops") {
  const hw::GpuSpec h200 = hw::load_gpu(catalog(), "h200");
  const EfficiencyParams params = EfficiencyTable::load(catalog()).resolve(h200);
  const auto older = make_stack_model(load_stack(catalog(), "trtllm-1.2"), h200, params, {});
  const auto roofline = make_stack_model(load_stack(catalog(), "roofline"), h200, params, {});
  llm::GemmOp g;
  g.m = 64;
  g.n = 4096;
  g.k = 4096;
  g.a_type = DType::kFP8;
  g.b_format = llm::WeightFormat::kFP8Block128;
  g.compute = DType::kFP8;
  const llm::Op op{"gemm", 0, 0, llm::StreamKind::kCompute, g, {}};
  const OpCost a = older->price(op);
  const OpCost b = roofline->price(op);
  CHECK(a.time == b.time);
  CHECK(a.extrapolated);
  CHECK_FALSE(b.extrapolated);
}

}  // namespace
}  // namespace moesim::cost
