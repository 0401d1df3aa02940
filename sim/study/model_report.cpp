#include "sim/study/model_report.hpp"

#include <string>
#include <utility>
#include <vector>

#include "sim/core/dtype.hpp"
#include "sim/core/units.hpp"
#include "sim/llm/param_count.hpp"

namespace moesim::study {
namespace {

std::string num(double v) { return format_number(v, 4); }
std::string count(std::int64_t v) { return std::to_string(v); }
std::string billions(std::int64_t v) { return num(static_cast<double>(v) / scale::kGiga); }

/// The checkpoint with the transformer blocks' linear layers in `f`, as a scenario's
/// `precision: {weights: <format>}` sets them (sim/llm/precision.hpp).
llm::CheckpointPrecision blocks_in(const llm::ModelSpec& m, llm::WeightFormat f) {
  llm::CheckpointPrecision p = m.checkpoint;
  for (auto c : {llm::TensorClass::kAttention, llm::TensorClass::kDenseFfn,
                 llm::TensorClass::kRoutedExperts, llm::TensorClass::kSharedExperts}) {
    p.set(c, f);
  }
  return p;
}

void add_architecture(Table& t, const llm::ModelSpec& m) {
  t.add_row({"layers", count(m.num_layers())});
  t.add_row({"dense layers", count(m.num_dense_layers())});
  t.add_row({"MoE layers", count(m.num_moe_layers())});
  t.add_row({"hidden size", count(m.hidden_size)});
  t.add_row({"vocabulary size", count(m.vocab_size)});
  t.add_row({"tied embeddings", m.tie_word_embeddings ? "yes" : "no"});
  std::int64_t sliding = 0;
  std::int64_t chunked = 0;
  for (const auto& l : m.layers) {
    sliding += l.span == llm::AttentionSpan::kSliding ? 1 : 0;
    chunked += l.span == llm::AttentionSpan::kChunked ? 1 : 0;
  }
  if (sliding > 0) t.add_row({"sliding-window layers", count(sliding)});
  if (chunked > 0) t.add_row({"chunked-attention layers", count(chunked)});

  const auto& a = m.attention;
  t.add_section("attention");
  t.add_row({"attention kind", std::string(llm::to_string(a.kind))});
  t.add_row({"query heads", count(a.num_heads)});
  if (a.kind == llm::AttentionKind::kMla) {
    t.add_row({"q LoRA rank", count(a.q_lora_rank)});
    t.add_row({"KV LoRA rank", count(a.kv_lora_rank)});
    t.add_row({"qk nope head dim", count(a.qk_nope_head_dim)});
    t.add_row({"qk rope head dim", count(a.qk_rope_head_dim)});
    t.add_row({"v head dim", count(a.v_head_dim)});
  } else {
    t.add_row({"KV heads", count(a.num_kv_heads)});
    t.add_row({"head dim", count(a.head_dim)});
  }
  t.add_row({"attention bias", std::string(llm::to_string(a.bias))});
  t.add_row({"qk norm", std::string(llm::to_string(a.qk_norm))});
  t.add_row({"attention sinks", a.sinks ? "yes" : "no"});
  t.add_row({"KV values per token per layer", count(a.kv_values_per_token())});

  const auto& p = m.position;
  t.add_row({"RoPE theta", num(p.rope_theta)});
  t.add_row({"RoPE scaling", p.scaling_type});
  if (p.scaling_type != "none") {
    t.add_row({"RoPE scaling factor", num(p.scaling_factor)});
    t.add_row({"original max position embeddings", count(p.original_max_position_embeddings)});
  }
  t.add_row({"max position embeddings (tokens)", count(p.max_position_embeddings)});

  if (m.dense_ffn) {
    t.add_section("dense FFN");
    t.add_row({"intermediate size", count(m.dense_ffn->intermediate_size)});
    t.add_row({"activation", std::string(llm::to_string(m.dense_ffn->activation))});
  }
  if (m.moe) {
    const auto& e = *m.moe;
    t.add_section("MoE");
    t.add_row({"routed experts", count(e.num_experts)});
    t.add_row({"experts per token (top-k)", count(e.experts_per_token)});
    t.add_row({"expert intermediate size", count(e.expert.intermediate_size)});
    t.add_row({"expert activation", std::string(llm::to_string(e.expert.activation))});
    t.add_row({"shared experts", count(e.num_shared_experts)});
    if (e.num_shared_experts > 0) {
      t.add_row({"shared expert intermediate size", count(e.shared_intermediate_size)});
    }
    t.add_row({"router scoring", std::string(llm::to_string(e.router.scoring))});
    t.add_row({"router groups (n_group)", count(e.router.n_group)});
    t.add_row({"groups per token (topk_group)", count(e.router.topk_group)});
  }
  t.add_row({"MTP layers", count(m.mtp_layers)});
}

}  // namespace

Table model_report(const llm::ModelSpec& m) {
  Table t({"field", "value"});
  t.add_row({"name", m.name});
  t.add_row({"Hugging Face repository", m.hf_repo.empty() ? "-" : m.hf_repo});
  add_architecture(t, m);

  const llm::ParamCounts pc = llm::count_parameters(m);
  t.add_section("parameters (models/README.md, \"Parameter counts\")");
  t.add_row({"total parameters (B)", billions(pc.total)});
  t.add_row({"active parameters per token (B)", billions(pc.active)});
  t.add_row({"active with input embedding (B)", billions(pc.active_with_embedding)});
  if (m.mtp_layers > 0) t.add_row({"MTP module parameters (B)", billions(pc.mtp_total)});

  t.add_section("KV cache per token, every layer (elements only, no scales)");
  for (DType kv : {DType::kBF16, DType::kFP8}) {
    const Bytes b = llm::kv_cache_bytes_per_token(m, kv);
    t.add_row({"KV bytes per token " + std::string(to_string(kv)) + " (B)",
               std::to_string(static_cast<std::int64_t>(in_bytes(b)))});
  }

  t.add_section("weights of the main model, scales included (MTP module excluded)");
  std::vector<std::pair<std::string, llm::CheckpointPrecision>> precisions;
  for (const auto c : llm::kAllTensorClasses) {
    t.add_row({"checkpoint format " + std::string(llm::to_string(c)),
               std::string(llm::to_string(m.checkpoint.of(c)))});
  }
  precisions.emplace_back("checkpoint", m.checkpoint);
  for (auto f :
       {llm::WeightFormat::kBF16, llm::WeightFormat::kFP8Block128, llm::WeightFormat::kNVFP4}) {
    precisions.emplace_back(std::string(llm::to_string(f)) + " block linear layers",
                            blocks_in(m, f));
  }
  for (const auto& [label, precision] : precisions) {
    const llm::WeightBytes w = llm::weight_bytes(m, precision);
    t.add_row({"weights " + label + " (GB)", num(in_gigabytes(w.total))});
    t.add_row({"weights " + label + " (GiB)", num(in_gibibytes(w.total))});
  }
  return t;
}

}  // namespace moesim::study
