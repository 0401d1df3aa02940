#include "sim/llm/precision.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/model.hpp"

namespace moesim::llm {
namespace {

config::Catalog repo() { return config::Catalog(MOESIM_SOURCE_DIR); }

ModelSpec model(std::string_view name) { return load_model(repo(), name); }

/// The lowering's view of a catalog GPU (what the lead's adapter from hw::GpuSpec does).
TargetGpu gpu(std::string_view name) {
  const hw::GpuSpec g = hw::load_gpu(repo(), name);
  return TargetGpu{g.name, g.peak_dense, g.hbm.capacity};
}

Precision parse(std::string_view yaml, const ModelSpec& m) {
  return parse_precision(config::ConfigNode::parse(yaml, "precision.yaml"), m);
}

bool has_note(const ResolvedPrecision& r, std::string_view text) {
  for (const std::string& n : r.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("the checkpoint precision of DeepSeek-R1 runs W8A8 FP8 on H200 without notes") {
  const ModelSpec m = model("deepseek-r1");
  const ResolvedPrecision r = resolve_precision(checkpoint_precision(m), gpu("h200"));
  const GemmPrecision& experts = r.of(TensorClass::kRoutedExperts);
  CHECK(experts.weights == WeightFormat::kFP8Block128);
  CHECK(experts.activations == DType::kFP8);
  CHECK(experts.compute == DType::kFP8);
  CHECK(experts.out == DType::kBF16);
  // The router stays BF16 (checkpoint) and writes FP32 logits.
  CHECK(r.of(TensorClass::kRouter).compute == DType::kBF16);
  CHECK(r.of(TensorClass::kRouter).out == DType::kFP32);
  CHECK(r.kv_cache == DType::kBF16);
  CHECK(r.dispatch == DType::kFP8);
  CHECK(r.combine == DType::kBF16);
  CHECK(r.notes.empty());
}

TEST_CASE("NVFP4 weights run W4A4 at the FP4 rate on B200 and fall back to W4A8 on H200") {
  const ModelSpec m = model("deepseek-r1");
  const Precision p = parse("{weights: nvfp4, kv_cache: fp8}", m);
  // A bare format sets the block linear layers and keeps embedding, head and router.
  CHECK(p.weights.of(TensorClass::kRoutedExperts) == WeightFormat::kNVFP4);
  CHECK(p.weights.of(TensorClass::kAttention) == WeightFormat::kNVFP4);
  CHECK(p.weights.of(TensorClass::kEmbedding) == WeightFormat::kBF16);
  CHECK(p.weights.of(TensorClass::kRouter) == WeightFormat::kBF16);
  CHECK(p.kv_cache == DType::kFP8);

  const ResolvedPrecision b200 = resolve_precision(p, gpu("b200"));
  CHECK(b200.of(TensorClass::kRoutedExperts).compute == DType::kFP4);
  CHECK(b200.of(TensorClass::kRoutedExperts).activations == DType::kFP4);
  CHECK(b200.notes.empty());

  const ResolvedPrecision h200 = resolve_precision(p, gpu("h200"));
  const GemmPrecision& e = h200.of(TensorClass::kRoutedExperts);
  CHECK(e.weights == WeightFormat::kNVFP4);  // bytes read stay FP4
  CHECK(e.compute == DType::kFP8);
  CHECK(e.activations == DType::kFP8);
  REQUIRE(h200.notes.size() == 1);
  CHECK(has_note(h200, "h200 has no FP4 tensor cores"));
  CHECK(has_note(h200, "routed_experts"));
  CHECK(has_note(h200, "W4A8"));
  CHECK(has_note(h200, "at the FP8 rate"));
}

TEST_CASE("a weights map overrides classes on top of a default") {
  const ModelSpec m = model("deepseek-r1");
  const Precision p =
      parse("{weights: {default: nvfp4, attention: bf16, router: fp32}, activations: fp8}", m);
  CHECK(p.weights.of(TensorClass::kRoutedExperts) == WeightFormat::kNVFP4);
  CHECK(p.weights.of(TensorClass::kDenseFfn) == WeightFormat::kNVFP4);
  CHECK(p.weights.of(TensorClass::kAttention) == WeightFormat::kBF16);
  CHECK(p.weights.of(TensorClass::kRouter) == WeightFormat::kFP32);
  REQUIRE(p.activations.has_value());
  const ResolvedPrecision r = resolve_precision(p, gpu("b200"));
  // W4A8 by choice: FP8 activations with FP4 weights run at the FP8 rate, no fallback note.
  CHECK(r.of(TensorClass::kRoutedExperts).compute == DType::kFP8);
  // BF16 weights with FP8 activations: the wider type wins.
  CHECK(r.of(TensorClass::kAttention).compute == DType::kBF16);
  // FP32 router weights run on TF32 tensor cores and read FP32 activations.
  CHECK(r.of(TensorClass::kRouter).compute == DType::kTF32);
  CHECK(r.of(TensorClass::kRouter).activations == DType::kFP32);
  CHECK(r.notes.empty());
}

TEST_CASE("gpt-oss MXFP4 experts run W4A16 at the BF16 rate on Hopper without a fallback") {
  const ModelSpec m = model("gpt-oss-120b");
  const ResolvedPrecision r = resolve_precision(checkpoint_precision(m), gpu("h200"));
  const GemmPrecision& e = r.of(TensorClass::kRoutedExperts);
  CHECK(e.weights == WeightFormat::kMXFP4);
  CHECK(e.activations == DType::kBF16);
  CHECK(e.compute == DType::kBF16);
  CHECK(r.notes.empty());
}

TEST_CASE("FP8 attention on a GPU without FP8 falls back to BF16 with a note") {
  TargetGpu old{"bf16-only", {}, gibibytes(80)};
  old.peak_dense.set(DType::kBF16, teraflop_per_second(312.0));
  const ModelSpec m = model("llama-3.3-70b");
  const Precision p = parse("{weights: fp8_tensor, attention: fp8, kv_cache: fp8}", m);
  const ResolvedPrecision r = resolve_precision(p, old);
  CHECK(r.attention == DType::kBF16);
  CHECK(r.of(TensorClass::kDenseFfn).compute == DType::kBF16);
  CHECK(has_note(r, "bf16-only has no FP8 tensor cores: attention runs at the BF16 rate"));
  CHECK(has_note(r, "W8A16"));
}

TEST_CASE("precision keys and values are checked with a did-you-mean") {
  const ModelSpec m = model("deepseek-r1");
  CHECK_THROWS_WITH_AS(parse("{kv_cahce: fp8}", m), doctest::Contains("kv_cache"), ConfigError);
  CHECK_THROWS_WITH_AS(parse("{weights: nvfp5}", m), doctest::Contains("nvfp4"), ConfigError);
  CHECK_THROWS_WITH_AS(parse("{weights: {routed_expert: nvfp4}}", m),
                       doctest::Contains("routed_experts"), ConfigError);
  CHECK_THROWS_AS(parse("{kv_cache: fp4}", m), ConfigError);
}

TEST_CASE("the weight names users type map onto the formats moesim models") {
  const ModelSpec m = model("deepseek-r1");
  // fp8 = fp8_block128 (DeepSeek-V3/R1's and Qwen3's FP8 checkpoints), fp4 = nvfp4.
  CHECK(parse("{weights: fp8}", m).weights.of(TensorClass::kRoutedExperts) ==
        WeightFormat::kFP8Block128);
  CHECK(parse("{weights: fp4}", m).weights.of(TensorClass::kAttention) == WeightFormat::kNVFP4);
  // int4 = mxfp4 with auto (BF16) activations: W4A16.
  const Precision int4 = parse("{weights: {routed_experts: int4}}", m);
  CHECK(int4.weights.of(TensorClass::kRoutedExperts) == WeightFormat::kMXFP4);
  CHECK_FALSE(int4.activations.has_value());
  CHECK(resolve_precision(int4, gpu("h200")).of(TensorClass::kRoutedExperts).compute ==
        DType::kBF16);
  // w4a8 = mxfp4 weights and FP8 activations: the FP8 rate on H200, no fallback note.
  const Precision w4a8 = parse("{weights: w4a8}", m);
  CHECK(w4a8.weights.of(TensorClass::kRoutedExperts) == WeightFormat::kMXFP4);
  CHECK(w4a8.activations == DType::kFP8);
  const ResolvedPrecision r = resolve_precision(w4a8, gpu("h200"));
  CHECK(r.of(TensorClass::kRoutedExperts).compute == DType::kFP8);
  CHECK(r.notes.empty());
  CHECK(parse("{weights: w4a8, activations: auto}", m).activations == DType::kFP8);
  CHECK_THROWS_WITH_AS(parse("{weights: w4a8, activations: bf16}", m),
                       doctest::Contains("means FP8 activations: W4A8"), ConfigError);
  // The names are those of the weights key only: model cards keep the exact format names.
  CHECK_THROWS_AS(parse("{kv_cache: int4}", m), ConfigError);
}

TEST_CASE("an unknown weight format lists the common names and suggests by prefix or swap") {
  const ModelSpec m = model("deepseek-r1");
  // Before: "fp8" was unknown and the did-you-mean was fp16 (two edits) over fp8_block128.
  // Now an unknown name's message states what each common name means.
  try {
    parse("{weights: fp6}", m);
    FAIL("fp6 is not a weight format");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.expected()).find("fp8 (= fp8_block128)") != std::string::npos);
    CHECK(std::string(e.expected()).find("int4 (= mxfp4") != std::string::npos);
  }
  // A swap of two characters: f8p -> fp8, not fp4 (two substitutions).
  CHECK_THROWS_WITH_AS(parse("{weights: f8p}", m), doctest::Contains("did you mean 'fp8'"),
                       ConfigError);
  // A truncated name: nvf -> nvfp4; a name in capitals: FP8 -> fp8.
  CHECK_THROWS_WITH_AS(parse("{weights: nvf}", m), doctest::Contains("did you mean 'nvfp4'"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse("{weights: FP8}", m), doctest::Contains("did you mean 'fp8'"),
                       ConfigError);
}

TEST_CASE("dispatch and combine payloads carry their scale factors") {
  // FP8: 7,168 values + one FP32 scale per 128 = 7,168 + 4 x 56 = 7,392 B.
  CHECK(payload_bytes_per_token(7168, DType::kFP8) == bytes(7392));
  // BF16: 2 x 7,168 = 14,336 B.
  CHECK(payload_bytes_per_token(7168, DType::kBF16) == bytes(14336));
  // NVFP4: 3,584 B of values + one E4M3 per 16 = 448 B.
  CHECK(payload_bytes_per_token(7168, DType::kFP4) == bytes(4032));
}

}  // namespace
}  // namespace moesim::llm
