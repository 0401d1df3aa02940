#include "sim/llm/precision.hpp"

#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::llm {

namespace {

using config::ConfigNode;

constexpr std::int64_t kFp8ScaleGroup = 128;  // DeepEP: one FP32 scale per 128 values
constexpr std::int64_t kFp4ScaleGroup = 16;   // NVFP4: one E4M3 scale per 16 values
constexpr std::int64_t kFp32Bytes = 4;
constexpr std::int64_t kHalfBytes = 2;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// The classes a bare `weights: <format>` (or `default:`) sets: the transformer blocks' linear
/// layers.
constexpr std::array<TensorClass, 4> kBlockLinearClasses = {
    TensorClass::kAttention, TensorClass::kDenseFfn, TensorClass::kRoutedExperts,
    TensorClass::kSharedExperts};

/// A weight format as users commonly name it, mapped onto one moesim models. The meanings are
/// stated in the schema (sim/serve/scenario_schema.cpp) and in the error for an unknown name.
struct FormatAlias {
  std::string_view name;
  WeightFormat format;
  bool fp8_activations;  ///< the name also says FP8 activations (W4A8)
  std::string_view meaning;
};

/// fp8: 128 x 128 block scales, the FP8 checkpoints of DeepSeek-V3/R1 and Qwen3. fp4: NVFP4,
/// NVIDIA's FP4 checkpoints. int4: 4-bit weight-only quantization (AWQ/GPTQ) runs W4A16; moesim
/// models it as MXFP4 (4 bits plus one scale per 32 values; int4 with one FP16 scale per 128
/// values stores 4.125 bits against MXFP4's 4.25). w4a8: MXFP4 weights with FP8 activations
/// (TensorRT-LLM's W4A8 MXFP4 x FP8 MoE).
constexpr FormatAlias kFormatAliases[] = {
    {"fp8", WeightFormat::kFP8Block128, false, "fp8_block128"},
    {"fp4", WeightFormat::kNVFP4, false, "nvfp4"},
    {"int4", WeightFormat::kMXFP4, false, "mxfp4 with BF16 activations, W4A16"},
    {"w4a8", WeightFormat::kMXFP4, true, "mxfp4 weights with FP8 activations"},
};

/// A weight format read from YAML, and whether its name asked for FP8 activations.
struct FormatChoice {
  WeightFormat format = WeightFormat::kBF16;
  bool fp8_activations = false;
};

std::string weight_format_expected() {
  std::string out = "a weight format: ";
  for (std::size_t i = 0; i < kAllWeightFormats.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::string(to_string(kAllWeightFormats[i]));
  }
  out += "; or ";
  for (std::size_t i = 0; i < std::size(kFormatAliases); ++i) {
    const FormatAlias& a = kFormatAliases[i];
    out += (i == 0 ? "" : ", ") + std::string(a.name) + " (= " + std::string(a.meaning) + ")";
  }
  return out;
}

FormatChoice read_format(const ConfigNode& v) {
  if (!v.is_scalar()) v.fail(weight_format_expected());
  const std::string s = v.as_string();
  for (const WeightFormat f : kAllWeightFormats) {
    if (to_string(f) == s) return {f, false};
  }
  for (const FormatAlias& a : kFormatAliases) {
    if (a.name == s) return {a.format, a.fp8_activations};
  }
  std::vector<std::string> names;
  for (const WeightFormat f : kAllWeightFormats) names.emplace_back(to_string(f));
  for (const FormatAlias& a : kFormatAliases) names.emplace_back(a.name);
  v.fail(weight_format_expected(), v.describe(), closest_match(s, names));
}

DType read_dtype(const ConfigNode& v, std::initializer_list<std::string_view> allowed) {
  const std::string s = v.as_choice(allowed);
  const std::optional<DType> t = parse_dtype(s);
  MOESIM_ASSERT(t.has_value(), "every allowed choice is a dtype name");
  return *t;
}

/// The weights of a `precision:` map, and the node of a format whose name asked for FP8
/// activations (w4a8), if any.
struct WeightsChoice {
  CheckpointPrecision weights;
  std::optional<ConfigNode> fp8_activations_from;
};

WeightsChoice read_weights(const ConfigNode& v, const CheckpointPrecision& checkpoint) {
  WeightsChoice out{checkpoint, std::nullopt};
  const auto set = [&](const ConfigNode& node, std::span<const TensorClass> classes) {
    const FormatChoice f = read_format(node);
    for (const TensorClass c : classes) out.weights.set(c, f.format);
    if (f.fp8_activations && !out.fp8_activations_from) out.fp8_activations_from = node;
  };
  if (v.is_scalar()) {
    if (v.as_string() != "checkpoint") set(v, kBlockLinearClasses);
    return out;
  }
  if (!v.is_map()) v.fail("'checkpoint', a weight format, or a map of formats per tensor class");
  std::vector<std::string_view> keys = {"default"};
  for (const TensorClass c : kAllTensorClasses) keys.push_back(to_string(c));
  v.check_keys(std::span<const std::string_view>(keys.data(), keys.size()));
  if (const auto d = v.get("default")) set(*d, kBlockLinearClasses);
  for (const TensorClass c : kAllTensorClasses) {
    if (const auto f = v.get(to_string(c))) set(*f, std::span<const TensorClass>(&c, 1));
  }
  return out;
}

/// auto activations: the type a weight format's usual recipe feeds its GEMMs.
DType auto_activation(WeightFormat f) {
  switch (f) {
    case WeightFormat::kFP8Tensor:
    case WeightFormat::kFP8Block128: return DType::kFP8;
    case WeightFormat::kNVFP4: return DType::kFP4;
    case WeightFormat::kMXFP4: return DType::kBF16;
    case WeightFormat::kFP16: return DType::kFP16;
    case WeightFormat::kFP32: return DType::kFP32;
    case WeightFormat::kBF16: return DType::kBF16;
  }
  return DType::kBF16;
}

/// The tensor-core type a GEMM of these operand types wants: the wider one (the weight's on a
/// tie); FP32 operands run on TF32 tensor cores.
DType wanted_compute(DType weight, DType act) {
  const DType t = bits_of(act) > bits_of(weight) ? act : weight;
  return t == DType::kFP32 ? DType::kTF32 : t;
}

/// The next wider type to try when `t` is not native.
std::optional<DType> wider_fallback(DType t) {
  switch (t) {
    case DType::kFP4:
    case DType::kFP6: return DType::kFP8;
    case DType::kFP8:
    case DType::kINT8:
    case DType::kFP16:
    case DType::kTF32: return DType::kBF16;
    default: return std::nullopt;
  }
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

/// "W4A8" style label of a weight element type and an activation type.
std::string wa_label(DType weight, DType act) {
  return "W" + std::to_string(bits_of(weight)) + "A" + std::to_string(bits_of(act));
}

}  // namespace

Precision checkpoint_precision(const ModelSpec& model) {
  Precision p;
  p.weights = model.checkpoint;
  return p;
}

Precision parse_precision(const ConfigNode& node, const ModelSpec& model) {
  node.check_keys({"weights", "activations", "kv_cache", "attention", "dispatch", "combine"});
  Precision p = checkpoint_precision(model);
  std::optional<ConfigNode> fp8_activations_from;
  if (const auto w = node.get("weights")) {
    const WeightsChoice c = read_weights(*w, model.checkpoint);
    p.weights = c.weights;
    fp8_activations_from = c.fp8_activations_from;
  }
  if (const auto a = node.get("activations")) {
    if (a->as_choice({"auto", "bf16", "fp16", "fp8", "fp4"}) != "auto") {
      p.activations = read_dtype(*a, {"bf16", "fp16", "fp8", "fp4"});
    }
    if (fp8_activations_from && p.activations && *p.activations != DType::kFP8) {
      const SourceLocation& w = fp8_activations_from->location();
      a->fail("fp8 or auto (weights " + fp8_activations_from->as_string() + ", at " + w.file + ":" +
              std::to_string(w.line) + ":" + std::to_string(w.column) +
              ", means FP8 activations: W4A8)");
    }
  }
  if (fp8_activations_from) p.activations = DType::kFP8;
  if (const auto v = node.get("kv_cache")) p.kv_cache = read_dtype(*v, {"bf16", "fp16", "fp8"});
  if (const auto v = node.get("attention")) p.attention = read_dtype(*v, {"bf16", "fp8"});
  if (const auto v = node.get("dispatch")) p.dispatch = read_dtype(*v, {"fp8", "bf16", "fp4"});
  if (const auto v = node.get("combine")) p.combine = read_dtype(*v, {"bf16", "fp8"});
  return p;
}

ResolvedPrecision resolve_precision(const Precision& p, const TargetGpu& gpu) {
  ResolvedPrecision r;
  r.kv_cache = p.kv_cache;
  r.dispatch = p.dispatch;
  r.combine = p.combine;

  // (format, wanted, got) -> classes, for one note per distinct fallback.
  std::map<std::tuple<WeightFormat, DType, DType>, std::vector<TensorClass>> fallbacks;
  const auto native = [&](DType want) -> DType {
    DType t = want;
    while (!gpu.peak_dense.has(t)) {
      const std::optional<DType> next = wider_fallback(t);
      if (!next) {
        throw ConfigError({gpu.name, 0, 0}, "gpu.peak_dense",
                          "a tensor-core rate for " + std::string(to_string(want)) +
                              " or a wider type it can fall back to",
                          "none for " + std::string(to_string(t)) + " on " + gpu.name);
      }
      t = *next;
    }
    return t;
  };

  for (const TensorClass c : kAllTensorClasses) {
    GemmPrecision& g = r.gemm[static_cast<std::size_t>(c)];
    g.weights = p.weights.of(c);
    const DType welem = element_type(g.weights);
    const DType act = p.activations.value_or(auto_activation(g.weights));
    const DType want = wanted_compute(welem, act);
    g.compute = native(want);
    g.activations = g.compute == DType::kTF32 ? DType::kFP32 : g.compute;
    g.out = c == TensorClass::kRouter ? DType::kFP32 : DType::kBF16;
    if (g.compute != want && c != TensorClass::kNorm) {
      fallbacks[{g.weights, want, g.compute}].push_back(c);
    }
  }
  for (const auto& [key, classes] : fallbacks) {
    const auto& [format, want, got] = key;
    std::string names;
    for (const TensorClass c : classes) {
      if (!names.empty()) names += ", ";
      names += to_string(c);
    }
    const DType welem = element_type(format);
    std::string how = wa_label(welem, got);
    if (bits_of(welem) < bits_of(got)) {
      how += " (" + upper(to_string(welem)) + " weights stay " + std::string(to_string(format)) +
             " in memory and are dequantized in the kernel; " + upper(to_string(got)) +
             " activations)";
    }
    r.notes.push_back(gpu.name + " has no " + upper(to_string(want)) +
                      " tensor cores: " + std::string(to_string(format)) + " " + names +
                      " weights run as " + how + " at the " + upper(to_string(got)) + " rate");
  }

  r.attention = native(p.attention);
  if (r.attention != p.attention) {
    r.notes.push_back(gpu.name + " has no " + upper(to_string(p.attention)) +
                      " tensor cores: attention runs at the " + upper(to_string(r.attention)) +
                      " rate");
  }
  return r;
}

Bytes payload_bytes_per_token(std::int64_t hidden, DType type) {
  MOESIM_ASSERT(hidden > 0, "a hidden size is positive");
  switch (type) {
    case DType::kFP8: return Bytes{hidden + kFp32Bytes * ceil_div(hidden, kFp8ScaleGroup)};
    case DType::kFP4: return Bytes{ceil_div(hidden, 2) + ceil_div(hidden, kFp4ScaleGroup)};
    case DType::kBF16:
    case DType::kFP16: return Bytes{kHalfBytes * hidden};
    default: break;
  }
  return Bytes{ceil_div(hidden * bits_of(type), static_cast<std::int64_t>(scale::kBitsPerByte))};
}

}  // namespace moesim::llm
