#include "sim/cost/measurement.hpp"

#include <charconv>
#include <cmath>
#include <map>
#include <sstream>

#include "sim/core/csv.hpp"
#include "sim/core/suggest.hpp"
#include "sim/core/unit_parse.hpp"
#include "sim/cost/comm_measurement.hpp"
#include "sim/cost/measurement_detail.hpp"

namespace moesim::cost {
namespace detail {

std::vector<std::string> names_of(std::span<const std::string_view> v) {
  return {v.begin(), v.end()};
}

std::int64_t parse_int(std::string_view text, const SourceLocation& at, std::string_view key,
                       std::int64_t max) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 0 || v > max) {
    throw ConfigError(at, std::string(key), "a whole number from 0 to " + std::to_string(max),
                      "'" + std::string(text) + "'");
  }
  return v;
}

double parse_number(std::string_view text, const SourceLocation& at, std::string_view key) {
  double v = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  // from_chars reads "inf" and "nan" too; a time of infinity is no measurement.
  if (ec != std::errc{} || end != text.data() + text.size() || !(v > 0.0) || !std::isfinite(v)) {
    throw ConfigError(at, std::string(key), "a positive number", "'" + std::string(text) + "'");
  }
  return v;
}

Duration duration(const std::string& text, const SourceLocation& at, std::string_view key) {
  try {
    return parse_duration(text);
  } catch (const UnitError& e) {
    throw ConfigError(at, std::string(key), e.expected(), e.found());
  }
}

std::string choose(std::string_view text, std::span<const std::string_view> choices,
                   const SourceLocation& at, std::string_view key) {
  for (const std::string_view c : choices) {
    if (c == text) return std::string(c);
  }
  std::string list;
  for (const std::string_view c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  throw ConfigError(at, std::string(key), "one of " + list, "'" + std::string(text) + "'",
                    closest_match(text, names_of(choices)));
}

std::string gpu_of_system(std::string_view system, const SourceLocation& at) {
  constexpr std::string_view kSystems[] = {"b200_sxm", "gb200", "h200_sxm", "h100_sxm"};
  const std::string s = choose(system, kSystems, at, "<system> folder");
  return s.substr(0, s.find('_'));
}

TablePlace table_place(const std::filesystem::path& path, const std::string& file,
                       std::span<const std::string_view> tables, std::string_view example) {
  const std::filesystem::path version_dir = path.parent_path();
  const SourceLocation file_at{file, 0, 0};
  TablePlace out;
  out.table = path.stem().string();
  choose(out.table, tables, file_at, "<table>.csv");
  out.system = version_dir.parent_path().filename().string();
  out.gpu = gpu_of_system(out.system, file_at);
  const std::string stack = version_dir.filename().string();
  const std::size_t dash = stack.find('-');
  if (dash == std::string::npos) {
    throw ConfigError(file_at, "<backend>-<version> folder",
                      "a folder such as " + std::string(example), "'" + stack + "'");
  }
  out.framework = stack.substr(0, dash);
  out.version = stack.substr(dash + 1);
  return out;
}

std::string TableRows::text(std::size_t r, std::string_view name) const {
  const int i = t_.column(name);
  if (i >= 0) return t_.rows[r][static_cast<std::size_t>(i)];
  const auto it = c_.find(name);
  if (it != c_.end()) return it->second;
  throw ConfigError({t_.file, t_.header_line, 1}, std::string(name),
                    "a column '" + std::string(name) + "' or a manifest.csv constant", "neither");
}

std::string TableRows::text_or(std::size_t r, std::string_view name, std::string fallback) const {
  return has(name) ? text(r, name) : fallback;
}

std::int64_t TableRows::integer(std::size_t r, std::string_view name, std::int64_t max) const {
  return parse_int(text(r, name), at(r, name), name, max);
}

Duration TableRows::time(std::size_t r, std::string_view name, double unit) const {
  const double v = parse_number(text(r, name), at(r, name), name);
  if (v * unit > kMaxMeasuredSeconds) {
    throw ConfigError(at(r, name), std::string(name), "a time of at most one hour", text(r, name));
  }
  return ceil_duration(v * unit);
}

Constants manifest_constants(const std::filesystem::path& path) {
  const std::filesystem::path abs = std::filesystem::absolute(path);
  for (std::filesystem::path dir = abs.parent_path(); dir.has_relative_path();
       dir = dir.parent_path()) {
    const std::filesystem::path manifest = dir / "manifest.csv";
    if (!std::filesystem::exists(manifest)) continue;
    const CsvTable t = read_csv(manifest);
    const int csv = t.column("csv");
    const int constants = t.column("omitted_constant_columns");
    if (csv < 0 || constants < 0) return {};
    const std::string rel = std::filesystem::relative(abs, dir).generic_string();
    for (const auto& row : t.rows) {
      if (row[csv] != rel) continue;
      Constants c;
      std::string_view rest = row[constants];
      while (!rest.empty()) {
        const std::size_t semi = std::min(rest.find(';'), rest.size());
        const std::string_view kv = rest.substr(0, semi);
        const std::size_t eq = kv.find('=');
        if (eq != std::string_view::npos) c.emplace(kv.substr(0, eq), kv.substr(eq + 1));
        rest = semi < rest.size() ? rest.substr(semi + 1) : std::string_view{};
      }
      return c;
    }
    return {};
  }
  return {};
}

}  // namespace detail

namespace {

using namespace detail;

constexpr std::string_view kOpNames[] = {"gemm",        "bmm",        "moe",        "mla_decode",
                                         "mla_prefill", "gqa_decode", "gqa_prefill"};
constexpr std::string_view kWeightDtypes[] = {"bf16",  "fp8",         "fp8_block",
                                              "nvfp4", "w4a16_mxfp4", "w4a8_mxfp4"};
constexpr std::string_view kAttentionDtypes[] = {"bf16", "fp8"};

MeasuredOp op_of(std::string_view name, const SourceLocation& at) {
  const std::string op = choose(name, kOpNames, at, "op");
  for (const MeasuredOp o : kAllMeasuredOps) {
    if (to_string(o) == op) return o;
  }
  return MeasuredOp::kGemm;
}

bool is_attention(MeasuredOp op) {
  return op == MeasuredOp::kMlaDecode || op == MeasuredOp::kMlaPrefill ||
         op == MeasuredOp::kGqaDecode || op == MeasuredOp::kGqaPrefill;
}

/// The shape keys each op kind requires, in the order the schema writes them.
std::vector<std::string_view> shape_keys(MeasuredOp op) {
  switch (op) {
    case MeasuredOp::kGemm: return {"m", "n", "k"};
    case MeasuredOp::kBmm: return {"m", "n", "k", "batch"};
    case MeasuredOp::kMoe: return {"tokens", "hidden", "inter", "experts", "topk", "ep", "tp"};
    case MeasuredOp::kMlaDecode:
    case MeasuredOp::kMlaPrefill: return {"sequences", "heads", "q_len", "kv_len"};
    case MeasuredOp::kGqaDecode:
    case MeasuredOp::kGqaPrefill:
      return {"sequences", "heads", "kv_heads", "q_len", "kv_len", "head_dim"};
  }
  return {};
}

/// The shape keys an op kind may leave out (0 when absent), in the order the schema writes
/// them after the required ones.
std::vector<std::string_view> optional_shape_keys(MeasuredOp op) {
  if (op == MeasuredOp::kMoe) return {"groups", "topk_groups"};
  return {};
}

std::int64_t* field(MeasuredShape& s, std::string_view key) {
  if (key == "m") return &s.m;
  if (key == "n") return &s.n;
  if (key == "k") return &s.k;
  if (key == "batch") return &s.batch;
  if (key == "tokens") return &s.tokens;
  if (key == "hidden") return &s.hidden;
  if (key == "inter") return &s.inter;
  if (key == "experts") return &s.experts;
  if (key == "topk") return &s.topk;
  if (key == "ep") return &s.ep;
  if (key == "tp") return &s.tp;
  if (key == "groups") return &s.groups;
  if (key == "topk_groups") return &s.topk_groups;
  if (key == "sequences") return &s.sequences;
  if (key == "heads") return &s.heads;
  if (key == "kv_heads") return &s.kv_heads;
  if (key == "q_len") return &s.q_len;
  if (key == "kv_len") return &s.kv_len;
  if (key == "head_dim") return &s.head_dim;
  return nullptr;
}

/// Checks what every measurement must satisfy, whichever form it came from.
void check(const Measurement& m) {
  const SourceLocation& at = m.where;
  const std::string op{to_string(m.op)};
  const MeasuredShape& s = m.shape;
  auto positive = [&](std::string_view key, std::int64_t v) {
    if (v <= 0) {
      throw ConfigError(at, "shape." + std::string(key),
                        "a positive " + std::string(key) + " for op " + op, std::to_string(v));
    }
  };
  MeasuredShape copy = s;
  for (const std::string_view key : shape_keys(m.op)) positive(key, *field(copy, key));
  if (m.op == MeasuredOp::kMoe) {
    if (s.experts % s.ep != 0 || s.inter % s.tp != 0 || s.topk > s.experts) {
      throw ConfigError(at, "shape", "ep dividing experts, tp dividing inter, topk <= experts",
                        "experts " + std::to_string(s.experts) + ", ep " + std::to_string(s.ep) +
                            ", inter " + std::to_string(s.inter) + ", tp " + std::to_string(s.tp) +
                            ", topk " + std::to_string(s.topk));
    }
    const bool grouped = s.groups != 0 || s.topk_groups != 0;
    if (grouped && (s.groups <= 0 || s.experts % s.groups != 0 || s.topk_groups <= 0 ||
                    s.topk_groups > s.groups || s.topk > s.topk_groups * (s.experts / s.groups))) {
      throw ConfigError(at, "shape.groups",
                        "groups dividing experts and 0 < topk_groups <= groups holding topk "
                        "experts (or neither key)",
                        "groups " + std::to_string(s.groups) + ", topk_groups " +
                            std::to_string(s.topk_groups) + ", experts " +
                            std::to_string(s.experts) + ", topk " + std::to_string(s.topk));
    }
  }
  if (is_attention(m.op) && s.q_len > s.kv_len) {
    throw ConfigError(at, "shape.q_len", "q_len <= kv_len", std::to_string(s.q_len));
  }
  if (m.median <= Duration::zero()) {
    throw ConfigError(at, "median", "a positive time", "0");
  }
}

// ---- the moesim schema ----------------------------------------------------------------

MeasurementFile read_schema(const CsvTable& t) {
  for (std::size_t c = 0; c < t.header.size(); ++c) {
    bool known = false;
    for (const std::string_view k : kSchemaColumns) known = known || k == t.header[c];
    if (!known) {
      throw ConfigError({t.file, t.header_line, static_cast<int>(c) + 1}, t.header[c],
                        "a column of the measurement schema", "'" + t.header[c] + "'",
                        closest_match(t.header[c], names_of(kSchemaColumns)));
    }
  }
  std::vector<int> col;
  for (const std::string_view k : kSchemaColumns) {
    const int i = t.column(k);
    if (i < 0) {
      throw ConfigError({t.file, t.header_line, 1}, std::string(k),
                        "a column named '" + std::string(k) + "' in the header", "none");
    }
    col.push_back(i);
  }
  MeasurementFile out;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    auto cell = [&](std::size_t i) -> const std::string& { return row[col[i]]; };
    auto at = [&](std::size_t i) { return t.where(r, col[i]); };
    Measurement m;
    m.where = {t.file, t.lines[r], 1};
    m.gpu = cell(0);
    m.framework = cell(1);
    m.version = cell(2);
    m.kernel = cell(3);
    m.op = op_of(cell(4), at(4));
    for (std::size_t i : {std::size_t{0}, std::size_t{1}}) {
      if (cell(i).empty()) {
        throw ConfigError(at(i), std::string(kSchemaColumns[i]), "a name", "an empty cell");
      }
    }
    m.dtype = is_attention(m.op) ? choose(cell(5), kAttentionDtypes, at(5), "dtype")
                                 : choose(cell(5), kWeightDtypes, at(5), "dtype");
    if (is_attention(m.op)) m.kv_dtype = choose(cell(6), kAttentionDtypes, at(6), "kv_dtype");
    if (m.op == MeasuredOp::kMoe) {
      constexpr std::string_view kRoutings[] = {"balanced", "uniform"};
      m.distribution = choose(cell(7), kRoutings, at(7), "distribution");
    }
    std::istringstream words(cell(8));
    std::string word;
    std::vector<std::string_view> keys = shape_keys(m.op);
    for (const std::string_view k : optional_shape_keys(m.op)) keys.push_back(k);
    while (words >> word) {
      const std::size_t eq = word.find('=');
      const std::string key = word.substr(0, eq);
      bool allowed = false;
      for (const std::string_view k : keys) allowed = allowed || k == key;
      if (eq == std::string::npos || !allowed) {
        throw ConfigError(at(8), "shape." + key,
                          "key=value pairs with keys of op " + std::string(to_string(m.op)),
                          "'" + word + "'",
                          closest_match(key, std::vector<std::string>(keys.begin(), keys.end())));
      }
      *field(m.shape, key) =
          parse_int(std::string_view(word).substr(eq + 1), at(8), "shape." + key);
    }
    if (m.op == MeasuredOp::kMlaDecode || m.op == MeasuredOp::kMlaPrefill) m.shape.kv_heads = 1;
    m.median = duration(cell(9), at(9), "median");
    if (!cell(10).empty()) m.spread = duration(cell(10), at(10), "spread");
    check(m);
    out.rows.push_back(std::move(m));
  }
  return out;
}

// ---- AIConfigurator tables --------------------------------------------------------------

constexpr std::string_view kAicTables[] = {"gemm_perf",
                                           "moe_perf",
                                           "generation_mla_perf",
                                           "context_mla_perf",
                                           "mla_bmm_perf",
                                           "wideep_context_moe_perf",
                                           "wideep_generation_moe_perf",
                                           "generation_attention_perf",
                                           "context_attention_perf"};

std::string weight_dtype(std::string_view aic, const SourceLocation& at) {
  if (aic == "bfloat16") return "bf16";
  if (aic == "w4a8_mxfp4_mxfp8") return "w4a8_mxfp4";
  constexpr std::string_view kAic[] = {"bfloat16", "fp8",         "fp8_block",
                                       "nvfp4",    "w4a16_mxfp4", "w4a8_mxfp4_mxfp8"};
  return choose(aic, kAic, at, "dtype");
}

std::string attention_dtype(std::string_view aic, const SourceLocation& at) {
  constexpr std::string_view kAic[] = {"bfloat16", "fp8"};
  return choose(aic, kAic, at, "dtype") == "fp8" ? "fp8" : "bf16";
}

// DeepSeek-V3's routed experts and router (models/deepseek-r1.yaml; config.json hidden_size,
// n_routed_experts, num_experts_per_tok, n_group, topk_group).
constexpr std::int64_t kDeepSeekV3Hidden = 7168;
constexpr std::int64_t kDeepSeekV3Experts = 256;
constexpr std::int64_t kDeepSeekV3Topk = 8;
constexpr std::int64_t kDeepSeekV3Groups = 8;
constexpr std::int64_t kDeepSeekV3TopkGroups = 4;

MeasurementFile read_aic(const std::filesystem::path& path, const CsvTable& t) {
  const TablePlace place = table_place(path, t.file, kAicTables, "trtllm-1.3.0rc20");
  const std::string& table = place.table;
  const TableRows rows(t, manifest_constants(path));
  MeasurementFile out;
  std::map<std::string, std::int64_t> skipped;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    Measurement m;
    m.gpu = place.gpu;
    m.framework = place.framework;
    m.version = place.version;
    m.kernel = rows.has("kernel_source") ? rows.text(r, "kernel_source") : "";
    m.where = {t.file, rows.line(r), 1};
    m.median = rows.time(r, "latency_ms", scale::kMilli);
    MeasuredShape& s = m.shape;
    if (table == "gemm_perf") {
      const std::string d = rows.text(r, "gemm_dtype");
      if (d == "fp8_static") {
        ++skipped["fp8_static GEMMs (static activation scale, no moesim weight format)"];
        continue;
      }
      m.op = MeasuredOp::kGemm;
      m.dtype = weight_dtype(d, rows.at(r, "gemm_dtype"));
      s.m = rows.integer(r, "m");
      s.n = rows.integer(r, "n");
      s.k = rows.integer(r, "k");
    } else if (table == "moe_perf" || table.ends_with("_moe_perf")) {
      m.op = MeasuredOp::kMoe;
      m.distribution = rows.text(r, "distribution");
      // SGLang's DeepEP collector's "uniform" rows give every local expert the same load, set
      // by the collector's code (sim/cost/kernel_probe.hpp). Its two tables time two kernels
      // (normal-mode contiguous, low-latency masked): the kernel names the phase, as
      // "moe_context/deepepmoe" or "moe_generation/deepepmoe".
      if (table.starts_with("wideep_")) m.kernel = rows.text(r, "op_name") + "/" + m.kernel;
      if (m.distribution != "balanced" && m.distribution != "uniform") {
        ++skipped["MoE rows with random routing (" + m.distribution +
                  ": per-expert loads not recorded)"];
        continue;
      }
      if (m.kernel == "moe_torch_flow_min_latency") {
        ++skipped["low-latency NVFP4 MoE rows (timed without the finalize step)"];
        continue;
      }
      m.dtype = weight_dtype(rows.text(r, "moe_dtype"), rows.at(r, "moe_dtype"));
      s.tokens = rows.integer(r, "num_tokens");
      s.hidden = rows.integer(r, "hidden_size");
      s.inter = rows.integer(r, "inter_size");
      s.experts = rows.integer(r, "num_experts");
      s.topk = rows.integer(r, "topk");
      s.ep = rows.integer(r, "moe_ep_size");
      s.tp = rows.integer(r, "moe_tp_size");
      // SGLang's collector runs each model's own router: for DeepSeek-V3 (the only 256-expert
      // top-8 shape, hidden 7168) sigmoid scores with a zero correction bias through the
      // group-limited top-k of 8 groups, best 4 (AIConfigurator collector/cases/models/
      // DeepseekV3ForCausalLM_cases.yaml, sglang_moe_num_expert_group 8, sglang_moe_topk_group
      // 4; collector/sglang/collect_moe.py passes them to SGLang's TopK). The TensorRT-LLM
      // collector routes these rows with a plain top-k (RenormalizeMoeRoutingMethod).
      if (place.framework == "sglang" && table == "moe_perf" && s.hidden == kDeepSeekV3Hidden &&
          s.experts == kDeepSeekV3Experts && s.topk == kDeepSeekV3Topk) {
        s.groups = kDeepSeekV3Groups;
        s.topk_groups = kDeepSeekV3TopkGroups;
      }
    } else if (table == "mla_bmm_perf") {
      m.op = MeasuredOp::kBmm;
      const std::string phase = rows.text(r, "op_name");
      constexpr std::string_view kPhases[] = {"mla_gen_pre", "mla_gen_post"};
      choose(phase, kPhases, rows.at(r, "op_name"), "op_name");
      m.kernel = phase + (m.kernel.empty() ? "" : "/" + m.kernel);
      m.dtype = attention_dtype(rows.text(r, "bmm_dtype"), rows.at(r, "bmm_dtype"));
      // DeepSeek-V3 geometry: q_nope (128 per head) x W_UK -> kv_lora (512), and back.
      constexpr std::int64_t kNope = 128;
      constexpr std::int64_t kLora = 512;
      s.m = rows.integer(r, "num_tokens");
      s.batch = rows.integer(r, "num_heads");
      s.k = phase == "mla_gen_pre" ? kNope : kLora;
      s.n = phase == "mla_gen_pre" ? kLora : kNope;
    } else {
      const bool mla = table.find("mla") != std::string::npos;
      const bool decode = table.starts_with("generation");
      m.op = mla ? (decode ? MeasuredOp::kMlaDecode : MeasuredOp::kMlaPrefill)
                 : (decode ? MeasuredOp::kGqaDecode : MeasuredOp::kGqaPrefill);
      const std::string dtype_key = mla ? "mla_dtype" : "attn_dtype";
      m.dtype = attention_dtype(rows.text(r, dtype_key), rows.at(r, dtype_key));
      m.kv_dtype = attention_dtype(rows.text(r, "kv_cache_dtype"), rows.at(r, "kv_cache_dtype"));
      s.sequences = rows.integer(r, "batch_size");
      s.heads = rows.integer(r, "num_heads");
      s.kv_heads = mla ? 1 : rows.integer(r, "num_key_value_heads");
      if (!mla) s.head_dim = rows.integer(r, "head_dim");
      const std::int64_t isl = rows.integer(r, "isl");
      // Generation: the KV length AIConfigurator queries is isl + step (README, MLA tables).
      s.q_len = decode ? 1 : isl;
      s.kv_len = decode ? isl + rows.integer(r, "step") : isl;
    }
    check(m);
    out.rows.push_back(std::move(m));
  }
  for (const auto& [why, n] : skipped) out.skipped.push_back(std::to_string(n) + " rows: " + why);
  return out;
}

}  // namespace

std::string_view to_string(MeasuredOp op) { return kOpNames[static_cast<std::size_t>(op)]; }

MeasurementFile read_measurements(const std::filesystem::path& path) {
  const CsvTable t = read_csv(path);
  if (is_comm_table(path.stem().string()) && t.column("shape") < 0) {
    // Multi-GPU communication tables are priced by the network model, not by a kernel family
    // (sim/cost/comm_measurement.hpp; `moesim validate` on these files alone).
    return {{},
            {std::to_string(t.rows.size()) +
             " rows: communication table (network model; `moesim validate` it on its own)"}};
  }
  if (t.column("shape") >= 0 && t.column("op") >= 0) return read_schema(t);
  if (t.column("latency_ms") >= 0) return read_aic(path, t);
  throw ConfigError({t.file, t.header_line, 1}, "",
                    "a measurement table: the moesim schema (columns gpu, framework, ..., "
                    "median) or an AIConfigurator table (a latency_ms column)",
                    "a header without either");
}

std::string shape_text(const Measurement& m) {
  std::string out;
  MeasuredShape s = m.shape;
  for (const std::string_view key : shape_keys(m.op)) {
    out += (out.empty() ? "" : " ") + std::string(key) + "=" + std::to_string(*field(s, key));
  }
  for (const std::string_view key : optional_shape_keys(m.op)) {
    if (*field(s, key) != 0) out += " " + std::string(key) + "=" + std::to_string(*field(s, key));
  }
  return out;
}

std::string write_measurements_csv(std::span<const Measurement> rows,
                                   std::span<const std::string> comments) {
  std::ostringstream o;
  for (const std::string& c : comments) o << "# " << c << '\n';
  for (std::size_t i = 0; i < std::size(kSchemaColumns); ++i) {
    o << (i ? "," : "") << kSchemaColumns[i];
  }
  o << '\n';
  for (const Measurement& m : rows) {
    const std::string shape = shape_text(m);
    auto us = [](Duration d) {
      std::ostringstream v;
      v.precision(6);
      v << to_microseconds(d) << " us";
      return v.str();
    };
    o << m.gpu << ',' << m.framework << ',' << m.version << ',' << m.kernel << ','
      << to_string(m.op) << ',' << m.dtype << ',' << m.kv_dtype << ',' << m.distribution << ','
      << shape << ',' << us(m.median) << ',' << (m.spread > Duration::zero() ? us(m.spread) : "")
      << '\n';
  }
  return o.str();
}

}  // namespace moesim::cost
