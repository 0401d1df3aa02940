#include "sim/llm/lowering.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/param_count.hpp"

namespace moesim::llm {
namespace {

constexpr std::int32_t kAnyLayer = -2;

config::Catalog repo() { return config::Catalog(MOESIM_SOURCE_DIR); }
ModelSpec model(std::string_view name) { return load_model(repo(), name); }
TargetGpu gpu(std::string_view name) {
  const hw::GpuSpec g = hw::load_gpu(repo(), name);
  return TargetGpu{g.name, g.peak_dense, g.hbm.capacity};
}

/// Copies of a tensor group one token reads in one decoder layer (MoE or dense).
std::int64_t copies_per_layer(const ModelSpec& m, const TensorGroup& g, bool moe_layer) {
  switch (g.tensor_class) {
    case TensorClass::kAttention: return g.active_instances / m.num_layers();
    case TensorClass::kDenseFfn: return moe_layer ? 0 : g.active_instances / m.num_dense_layers();
    case TensorClass::kRouter:
    case TensorClass::kRoutedExperts:
    case TensorClass::kSharedExperts:
      return moe_layer ? g.active_instances / m.num_moe_layers() : 0;
    default: return 0;
  }
}

/// Matrix parameters one token reads in one layer, from count_parameters' tensor list.
std::int64_t layer_matrix_params(const ModelSpec& m, bool moe_layer) {
  std::int64_t n = 0;
  for (const TensorGroup& g : weight_tensors(m)) {
    if (g.mtp || g.is_vector()) continue;
    n += g.elements() * copies_per_layer(m, g, moe_layer);
  }
  return n;
}

/// Stored bytes of the matrices one token reads in one layer.
Bytes layer_matrix_bytes(const ModelSpec& m, const CheckpointPrecision& p, bool moe_layer) {
  Bytes b{0};
  for (const TensorGroup& g : weight_tensors(m)) {
    if (g.mtp || g.is_vector()) continue;
    b += tensor_bytes(g.rows, g.cols, p.of(g.tensor_class)).total() *
         copies_per_layer(m, g, moe_layer);
  }
  return b;
}

bool is_gemm(const Op& op) {
  return std::holds_alternative<GemmOp>(op.body) || std::holds_alternative<GroupedGemmOp>(op.body);
}

/// GEMM and grouped-GEMM FLOPs of `layer` (or of every op) summed over all ranks.
double gemm_flops(const StepPlan& s, std::int32_t layer) {
  double f = 0.0;
  for (std::int32_t r = 0; r < s.ranks(); ++r) {
    for (const Op& op : s.plan_of(r).ops) {
      if (is_gemm(op) && (layer == kAnyLayer || op.layer == layer)) f += op.flops().base();
    }
  }
  return f;
}

/// Weight bytes read by `layer` (or by every op) summed over all ranks.
Bytes weights_read(const StepPlan& s, std::int32_t layer) {
  Bytes b{0};
  for (std::int32_t r = 0; r < s.ranks(); ++r) {
    for (const Op& op : s.plan_of(r).ops) {
      if (layer == kAnyLayer || op.layer == layer) b += op.weight_bytes();
    }
  }
  return b;
}

double total_flops(const StepPlan& s) {
  double f = 0.0;
  for (std::int32_t r = 0; r < s.ranks(); ++r) f += s.plan_of(r).flops().base();
  return f;
}

/// Index of the op `name` of `layer` and micro-batch `mb` in `p`, or -1.
std::int32_t index_of(const RankPlan& p, std::string_view name, std::int32_t layer,
                      std::int32_t mb = 0) {
  for (std::size_t i = 0; i < p.ops.size(); ++i) {
    const Op& op = p.ops[i];
    if (op.name == name && op.layer == layer && op.micro_batch == mb) {
      return static_cast<std::int32_t>(i);
    }
  }
  return -1;
}

const Op& get(const RankPlan& p, std::string_view name, std::int32_t layer, std::int32_t mb = 0) {
  const std::int32_t i = index_of(p, name, layer, mb);
  const std::string what = std::string(name) + " in layer " + std::to_string(layer);
  REQUIRE_MESSAGE(i >= 0, what);
  return p.ops[static_cast<std::size_t>(i)];
}

template <class T>
const T& body(const Op& op) {
  REQUIRE(std::holds_alternative<T>(op.body));
  return std::get<T>(op.body);
}

std::vector<std::string> names_of_layer(const RankPlan& p, std::int32_t layer) {
  std::vector<std::string> out;
  for (const Op& op : p.ops) {
    if (op.layer == layer) out.emplace_back(op.name);
  }
  return out;
}

/// Structural invariants every plan keeps: deps point to earlier ops of the same micro-batch,
/// collectives run on the comm stream and everything else on the compute stream, groups exist
/// and hold the rank.
void check_well_formed(const StepPlan& s) {
  REQUIRE(s.rank_plan.size() == static_cast<std::size_t>(s.ranks()));
  for (std::int32_t r = 0; r < s.ranks(); ++r) {
    const RankPlan& p = s.plan_of(r);
    for (std::size_t i = 0; i < p.ops.size(); ++i) {
      const Op& op = p.ops[i];
      for (const std::int32_t d : op.deps) {
        REQUIRE(d >= 0);
        REQUIRE(static_cast<std::size_t>(d) < i);
        REQUIRE(p.ops[static_cast<std::size_t>(d)].micro_batch == op.micro_batch);
      }
      const auto* c = std::get_if<CollectiveOp>(&op.body);
      REQUIRE((c != nullptr) == (op.stream == StreamKind::kComm));
      if (c != nullptr) {
        REQUIRE(c->group >= 0);
        REQUIRE(static_cast<std::size_t>(c->group) < s.groups.size());
        REQUIRE(s.groups[static_cast<std::size_t>(c->group)].index_of(r) >= 0);
        if (c->kind == CollectiveKind::kAllToAllV) {
          REQUIRE(c->send_bytes.size() ==
                  s.groups[static_cast<std::size_t>(c->group)].ranks.size());
        }
      }
    }
  }
}

/// One decode sequence on replica 0 of `replicas`, nothing elsewhere.
StepBatch one_sequence(std::int32_t replicas, SequenceWork s) {
  StepBatch b;
  b.replicas.resize(static_cast<std::size_t>(replicas));
  b.replicas[0].push_back(s);
  return b;
}

bool has_note(const std::vector<std::string>& notes, std::string_view text) {
  for (const std::string& n : notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("DeepSeek-R1 decode of one token: one MoE layer's GEMMs do 2 x its active parameters") {
  const ModelSpec m = model("deepseek-r1");
  const Lowering low(m, ParallelPlan::attention_dp_ep(8), checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(one_sequence(8, SequenceWork::decode(1000)));
  check_well_formed(s);
  CHECK(s.phase == StepPhase::kDecode);

  // Per MoE layer, one token reads: attention 187,105,280 (q_a 1,536 x 7,168, q_b 24,576 x
  // 1,536, kv_a 576 x 7,168, kv_b 32,768 x 512 used as absorbed W_UK/W_UV, o 7,168 x 16,384),
  // router 256 x 7,168 = 1,835,008, 8 experts x 3 x 2,048 x 7,168 = 352,321,536 and the shared
  // expert 3 x 2,048 x 7,168 = 44,040,192: 585,302,016 parameters.
  CHECK(layer_matrix_params(m, true) == 585302016);
  CHECK(gemm_flops(s, 3) == doctest::Approx(2.0 * 585302016));
  // Dense layer 0: attention + 3 x 18,432 x 7,168 = 583,467,008.
  CHECK(layer_matrix_params(m, false) == 583467008);
  CHECK(gemm_flops(s, 0) == doctest::Approx(2.0 * 583467008));
  // The weights read are those of the touched tensors, block scales included (the fused
  // qkv_a, gate_up and absorbed W_UK/W_UV hold exactly the blocks of their parts).
  CHECK(weights_read(s, 3) == layer_matrix_bytes(m, m.checkpoint, true));

  // Rank 0 runs the absorbed MLA decode and sends its token once to each of the 8 ranks that
  // hold one of its 8 experts (expected loads put one expert per rank).
  const RankPlan& r0 = s.plan_of(0);
  CHECK(names_of_layer(r0, 3) ==
        std::vector<std::string>{"attn.input_norm", "attn.qkv_a_proj",
                                 "attn.qkv_a_norm", "attn.q_b_proj",
                                 "attn.kv_write",   "attn.q_absorb",
                                 "attn.decode",     "attn.v_absorb",
                                 "attn.o_proj",     "ffn.post_attention_norm",
                                 "moe.router",      "moe.topk",
                                 "moe.dispatch",    "moe.shared_gate_up",
                                 "moe.shared_act",  "moe.shared_down",
                                 "moe.gate_up",     "moe.act",
                                 "moe.down",        "moe.combine"});
  const CollectiveOp& dispatch = body<CollectiveOp>(get(r0, "moe.dispatch", 3));
  // FP8 payload: 7,168 + 4 x 56 scale bytes = 7,392 B per (token, rank).
  CHECK(dispatch.send_bytes == std::vector<Bytes>(8, bytes(7392)));
  // Combine: rank 0 sends back the BF16 output (14,336 B) of the one token it computed, which
  // came from itself.
  std::vector<Bytes> combine(8, bytes(0));
  combine[0] = bytes(14336);
  CHECK(body<CollectiveOp>(get(r0, "moe.combine", 3)).send_bytes == combine);
  CHECK(body<GroupedGemmOp>(get(r0, "moe.gate_up", 3)).total_tokens() == 1);
  // Ranks 1-7 are alike (no attention tokens, one routed token each): two distinct lists.
  CHECK(s.plans.size() == 2);
  CHECK(s.rank_plan[7] == s.rank_plan[1]);
}

TEST_CASE("a whole decode step of one token is 2 x the active parameters plus attention") {
  const ModelSpec m = model("deepseek-r1");
  const Lowering low(m, ParallelPlan::attention_dp_ep(8), checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(one_sequence(8, SequenceWork::decode(1000)));
  // Active parameters (count_parameters: 37B, input embedding excluded) less the vectors
  // (norm weights, router correction bias), which no GEMM multiplies.
  const ParamCounts counts = count_parameters(m);
  std::int64_t vectors = 0;
  Bytes touched{0};
  for (const TensorGroup& g : weight_tensors(m)) {
    if (g.mtp) continue;
    if (g.is_vector()) {
      vectors += g.elements() * g.active_instances;
    } else {
      touched += tensor_bytes(g.rows, g.cols, m.checkpoint.of(g.tensor_class)).total() *
                 g.active_instances;
    }
  }
  CHECK(gemm_flops(s, kAnyLayer) ==
        doctest::Approx(2.0 * static_cast<double>(counts.active - vectors)));
  // Attention core: 61 layers x 2 x 128 heads x (576 + 512) x 1,000 visible keys.
  const double attention = 61.0 * 2.0 * 128.0 * 1088.0 * 1000.0;
  // Norms, top-k, activations and sampling add elementwise FLOPs well under 0.1%.
  CHECK(total_flops(s) ==
        doctest::Approx(2.0 * static_cast<double>(counts.active) + attention).epsilon(1e-3));
  // Every weight the token touches is read once, summed over the 8 GPUs.
  CHECK(weights_read(s, kAnyLayer) == touched);
}

TEST_CASE("DeepSeek-R1 prefill expands the latent and runs the non-absorbed attention") {
  const ModelSpec m = model("deepseek-r1");
  const Lowering low(m, ParallelPlan::attention_dp_ep(8), checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(one_sequence(8, SequenceWork::prefill_chunk(4096, 0, true)));
  check_well_formed(s);
  CHECK(s.phase == StepPhase::kPrefill);
  // Without a prefix every token is expanded once: GEMM FLOPs are 2 x 4,096 x the layer's
  // active parameters; expected loads give every expert exactly 4,096 x 8 / 256 = 128 tokens.
  CHECK(gemm_flops(s, 3) == doctest::Approx(2.0 * 4096.0 * 585302016.0));
  const RankPlan& r0 = s.plan_of(0);
  CHECK(index_of(r0, "attn.q_absorb", 3) < 0);
  CHECK(body<GemmOp>(get(r0, "attn.kv_b_proj", 3)).m == 4096);
  const AttentionOp& a = body<AttentionOp>(get(r0, "attn.prefill", 3));
  CHECK(a.kernel == AttentionKernel::kMlaExpanded);
  CHECK(a.kv_heads == 128);
  // Causal prefill of 4,096: 4,096 x 4,097 / 2 = 8,390,656 pairs, each 2 x (192 + 128) FLOP
  // per head.
  CHECK(get(r0, "attn.prefill", 3).flops().base() ==
        doctest::Approx(2.0 * 128.0 * 320.0 * 8390656.0));
  // Only the last position needs logits.
  CHECK(body<GemmOp>(get(r0, "head.lm_head", -1)).m == 1);
  // Every expert gets 128 tokens on its rank.
  CHECK(body<GroupedGemmOp>(get(s.plan_of(5), "moe.gate_up", 3)).tokens_per_expert ==
        std::vector<std::int32_t>(32, 128));
}

TEST_CASE("a prefill chunk after a cached prefix expands the whole visible context") {
  const ModelSpec m = model("deepseek-r1");
  const Lowering low(m, ParallelPlan::attention_dp_ep(8), checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(one_sequence(8, SequenceWork::prefill_chunk(1024, 3072, true)));
  const RankPlan& r0 = s.plan_of(0);
  // kv_b_proj decompresses all 4,096 context tokens: 2 x 4,096 x 32,768 x 512.
  CHECK(get(r0, "attn.kv_b_proj", 10).flops().base() ==
        doctest::Approx(2.0 * 4096.0 * 32768.0 * 512.0));
  const Op& a = get(r0, "attn.prefill", 10);
  // Pairs: 1,024 x 4,096 - 1,024 x 1,023 / 2 = 3,670,528.
  CHECK(a.flops().base() == doctest::Approx(2.0 * 128.0 * 320.0 * 3670528.0));
  // KV read 128 heads x 4,096 x 320 x 2 B = 335,544,320; q 128 x 1,024 x 192 x 2 B =
  // 50,331,648; output 128 x 1,024 x 128 x 2 B = 33,554,432.
  CHECK(a.min_bytes() == bytes(335544320 + 50331648 + 33554432));
}

TEST_CASE("a mixed batch runs MLA decode absorbed and prefill expanded in one layer") {
  const ModelSpec m = model("deepseek-r1");
  const Lowering low(m, ParallelPlan::attention_dp_ep(8), checkpoint_precision(m), gpu("h200"), 8);
  StepBatch b = one_sequence(8, SequenceWork::decode(500));
  b.replicas[0].push_back(SequenceWork::prefill_chunk(256, 0, true));
  const StepPlan s = low.lower(b);
  check_well_formed(s);
  CHECK(s.phase == StepPhase::kMixed);
  const RankPlan& r0 = s.plan_of(0);
  CHECK(body<GemmOp>(get(r0, "attn.qkv_a_proj", 0)).m == 257);
  CHECK(body<GemmOp>(get(r0, "attn.q_absorb", 0)).m == 1);
  CHECK(body<AttentionOp>(get(r0, "attn.decode", 0)).kv_lens == std::vector<std::int32_t>{500});
  CHECK(body<GemmOp>(get(r0, "attn.kv_b_proj", 0)).m == 256);
  CHECK(body<AttentionOp>(get(r0, "attn.prefill", 0)).q_lens == std::vector<std::int32_t>{256});
  // Logits: the decode token and the prompt's last position.
  CHECK(body<GemmOp>(get(r0, "head.lm_head", -1)).m == 2);
}

TEST_CASE("decode dispatch sends each token once per distinct rank, FP8 out and BF16 back") {
  const ModelSpec m = model("deepseek-r1");
  const Lowering low(m, ParallelPlan::attention_dp_ep(8), checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(StepBatch::same_on_every_replica(
      8, std::vector<SequenceWork>(64, SequenceWork::decode(2048))));
  check_well_formed(s);
  // Expected loads: 8 x 64 tokens x 8 / 256 experts = 16 tokens per expert.
  const RankPlan& r0 = s.plan_of(0);
  CHECK(body<GroupedGemmOp>(get(r0, "moe.gate_up", 3)).tokens_per_expert ==
        std::vector<std::int32_t>(32, 16));
  // A token has one of a rank's 32 experts with P = 1 - prod_{i<8} (224 - i) / (256 - i) =
  // 1 - 0.3382 = 0.6618; of 64 tokens, round(64 x 0.6618) = round(42.36) = 42 go to each rank.
  double miss = 1.0;
  for (int i = 0; i < 8; ++i) miss *= (224.0 - i) / (256.0 - i);
  CHECK(miss == doctest::Approx(0.3382).epsilon(1e-3));
  CHECK(std::llround(64.0 * (1.0 - miss)) == 42);
  CHECK(body<CollectiveOp>(get(r0, "moe.dispatch", 3)).send_bytes ==
        std::vector<Bytes>(8, bytes(42 * 7392)));
  CHECK(body<CollectiveOp>(get(r0, "moe.combine", 3)).send_bytes ==
        std::vector<Bytes>(8, bytes(42 * 14336)));
  // Identical batches and balanced expected loads: all 8 GPUs share one op list.
  CHECK(s.plans.size() == 1);
}

TEST_CASE("Qwen3 GQA+MoE under TP4 + EP4 shares each replica's tokens across its TP ranks") {
  const ModelSpec m = model("qwen3-235b-a22b");
  ParallelPlan plan = ParallelPlan::tensor_parallel(4);
  plan.ep = 4;
  const Lowering low(m, plan, checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(StepBatch::same_on_every_replica(
      1, std::vector<SequenceWork>(8, SequenceWork::decode(2048))));
  check_well_formed(s);
  const RankPlan& r0 = s.plan_of(0);
  CHECK(names_of_layer(r0, 0) ==
        std::vector<std::string>{"attn.input_norm", "attn.qkv_proj", "attn.qk_norm",
                                 "attn.kv_write", "attn.decode", "attn.o_proj",
                                 "attn.reduce_scatter", "ffn.post_attention_norm", "moe.router",
                                 "moe.topk", "moe.dispatch", "moe.gate_up", "moe.act", "moe.down",
                                 "moe.combine", "ffn.all_gather"});
  // 64 / 4 = 16 heads and 4 / 4 = 1 KV head of 128 per GPU: qkv n = (16 + 2) x 128 = 2,304.
  CHECK(get(r0, "attn.qkv_proj", 0).flops().base() == doctest::Approx(2.0 * 8 * 2304 * 4096));
  // Attention: 2 x 16 x 256 x 8 x 2,048 FLOPs; KV 1 head x 8 x 2,048 x 256 x 2 B, q and out
  // 16 x 8 x 128 x 2 B each.
  const Op& attn = get(r0, "attn.decode", 0);
  CHECK(attn.flops().base() == doctest::Approx(2.0 * 16 * 256 * 8 * 2048));
  CHECK(attn.min_bytes() == bytes(8388608 + 32768 + 32768));
  // o_proj partial sums reduce-scatter to 8 / 4 = 2 tokens per GPU: 8 x 4,096 x 2 B in.
  CHECK(body<CollectiveOp>(get(r0, "attn.reduce_scatter", 0)).bytes == bytes(65536));
  CHECK(body<GemmOp>(get(r0, "moe.router", 0)).m == 2);
  CHECK(body<CollectiveOp>(get(r0, "ffn.all_gather", 0)).bytes == bytes(65536));
  // Over the 4 GPUs the layer does 2 x 8 tokens x (71,303,168 attention + 524,288 router +
  // 8 x 3 x 1,536 x 4,096 experts) = 2 x 8 x 222,822,400.
  CHECK(layer_matrix_params(m, true) == 222822400);
  CHECK(gemm_flops(s, 0) == doctest::Approx(2.0 * 8 * 222822400.0));
  CHECK(s.plans.size() == 1);
}

TEST_CASE("Mixtral under TP8 shards every expert and all-reduces twice per layer") {
  const ModelSpec m = model("mixtral-8x7b");
  const Lowering low(m, ParallelPlan::tensor_parallel(8), checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(StepBatch::same_on_every_replica(
      1, std::vector<SequenceWork>(16, SequenceWork::decode(1024))));
  check_well_formed(s);
  const RankPlan& r0 = s.plan_of(0);
  CHECK(index_of(r0, "moe.dispatch", 0) < 0);
  // 16 tokens x top-2 over 8 experts: 4 tokens each, on a 14,336 / 8 = 1,792-wide slice.
  const GroupedGemmOp& gate_up = body<GroupedGemmOp>(get(r0, "moe.gate_up", 0));
  CHECK(gate_up.tokens_per_expert == std::vector<std::int32_t>(8, 4));
  CHECK(gate_up.n == 3584);
  CHECK(get(r0, "moe.gate_up", 0).flops().base() == doctest::Approx(2.0 * 3584 * 4096 * 32));
  // Each GPU reads an eighth of every expert: 8 x 3 x 14,336 x 4,096 / 8 x 2 B.
  CHECK(get(r0, "moe.gate_up", 0).weight_bytes() + get(r0, "moe.down", 0).weight_bytes() ==
        bytes(8LL * 3 * 14336 * 4096 / 8 * 2));
  CHECK(body<CollectiveOp>(get(r0, "attn.all_reduce", 0)).bytes == bytes(16 * 4096 * 2));
  CHECK(body<CollectiveOp>(get(r0, "moe.all_reduce", 0)).bytes == bytes(16 * 4096 * 2));
  // Summed over GPUs: 2 x 16 x the layer's parameters, except the 8 x 4,096 router, which
  // every GPU runs whole.
  const double router = 8.0 * 4096.0;
  CHECK(gemm_flops(s, 0) ==
        doctest::Approx(2.0 * 16 * (static_cast<double>(layer_matrix_params(m, true)) - router) +
                        8.0 * 2.0 * 16 * router));
  CHECK(s.plans.size() == 1);
}

TEST_CASE("gpt-oss sliding-window layers attend to at most 128 keys") {
  const ModelSpec m = model("gpt-oss-120b");
  const Lowering low(m, ParallelPlan::tensor_parallel(1), checkpoint_precision(m), gpu("h200"), 1);
  const StepPlan prefill = low.lower(one_sequence(1, SequenceWork::prefill_chunk(512, 0, true)));
  check_well_formed(prefill);
  const RankPlan& p = prefill.plan_of(0);
  // Layer 0 slides over 128: 128 x 129 / 2 + (512 - 128) x 128 = 57,408 pairs; layer 1 is
  // full: 512 x 513 / 2 = 131,328. Each pair costs 2 x 64 heads x (64 + 64) FLOP.
  CHECK(body<AttentionOp>(get(p, "attn.prefill", 0)).window == 128);
  CHECK(body<AttentionOp>(get(p, "attn.prefill", 1)).window == 0);
  CHECK(get(p, "attn.prefill", 0).flops().base() == doctest::Approx(2.0 * 64 * 128 * 57408));
  CHECK(get(p, "attn.prefill", 1).flops().base() == doctest::Approx(2.0 * 64 * 128 * 131328));
  // Decode at 10,000 tokens: the sliding layer reads 8 KV heads x 128 keys x 128 x 2 B =
  // 262,144 B, the full layer 8 x 10,000 x 128 x 2 B = 20,480,000 B; q and out 64 x 64 x 2 B.
  const StepPlan decode = low.lower(one_sequence(1, SequenceWork::decode(10000)));
  const RankPlan& d = decode.plan_of(0);
  CHECK(get(d, "attn.decode", 0).min_bytes() == bytes(262144 + 8192 + 8192));
  CHECK(get(d, "attn.decode", 1).min_bytes() == bytes(20480000 + 8192 + 8192));
  // MXFP4 experts on Hopper run W4A16 at the BF16 rate: no fallback note.
  CHECK(body<GroupedGemmOp>(get(d, "moe.gate_up", 0)).compute == DType::kBF16);
  CHECK(body<GroupedGemmOp>(get(d, "moe.gate_up", 0)).b_format == WeightFormat::kMXFP4);
  CHECK(decode.notes.empty());
}

TEST_CASE("Llama-3.3-70B under TP8 runs one op list on all 8 GPUs") {
  const ModelSpec m = model("llama-3.3-70b");
  const Lowering low(m, ParallelPlan::tensor_parallel(8), checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(StepBatch::same_on_every_replica(
      1, std::vector<SequenceWork>(32, SequenceWork::decode(4096))));
  check_well_formed(s);
  CHECK(s.plans.size() == 1);
  const RankPlan& r = s.plan_of(3);
  // Per GPU: 8 heads + 2 x 1 KV head of 128 = 1,280 qkv columns; o_proj 1,024 -> 8,192;
  // gate_up 2 x 28,672 / 8 = 7,168 columns; down 3,584 -> 8,192.
  const GemmOp& qkv = body<GemmOp>(get(r, "attn.qkv_proj", 0));
  CHECK((qkv.m == 32 && qkv.n == 1280 && qkv.k == 8192));
  const GemmOp& o = body<GemmOp>(get(r, "attn.o_proj", 0));
  CHECK((o.n == 8192 && o.k == 1024));
  const GemmOp& gate_up = body<GemmOp>(get(r, "ffn.gate_up", 0));
  CHECK((gate_up.n == 7168 && gate_up.k == 8192));
  const GemmOp& down = body<GemmOp>(get(r, "ffn.down", 0));
  CHECK((down.n == 8192 && down.k == 3584));
  // Two all-reduces per layer of 32 x 8,192 x 2 B.
  CHECK(body<CollectiveOp>(get(r, "attn.all_reduce", 0)).bytes == bytes(524288));
  CHECK(body<CollectiveOp>(get(r, "ffn.all_reduce", 0)).bytes == bytes(524288));
  // GEMMs over 8 GPUs = 2 x 32 x the layer's parameters; each GPU reads an eighth of them.
  CHECK(gemm_flops(s, 0) ==
        doctest::Approx(2.0 * 32 * static_cast<double>(layer_matrix_params(m, false))));
  CHECK(s.plan_of(0).weight_bytes() * 8 == weights_read(s, kAnyLayer));  // identical GPUs
  CHECK(weights_read(s, 0) == layer_matrix_bytes(m, m.checkpoint, false));
  // Vocab-parallel head: 128,256 / 8 = 16,032 rows; logits gathered: 32 x 128,256 x 2 B.
  CHECK(body<GemmOp>(get(r, "head.lm_head", -1)).n == 16032);
  CHECK(body<CollectiveOp>(get(r, "head.all_gather_logits", -1)).bytes == bytes(32 * 128256 * 2));
  CHECK(index_of(r, "embed.all_reduce", -1) >= 0);
}

TEST_CASE("FP4 weights on Hopper: the lowering says which path it took") {
  const ModelSpec m = model("deepseek-r1");
  const Precision p =
      parse_precision(config::ConfigNode::parse("{weights: nvfp4, kv_cache: fp8}", "p.yaml"), m);
  const StepBatch batch = one_sequence(8, SequenceWork::decode(100));
  const Lowering hopper(m, ParallelPlan::attention_dp_ep(8), p, gpu("h200"), 8);
  const StepPlan h = hopper.lower(batch);
  CHECK(has_note(hopper.notes(), "h200 has no FP4 tensor cores"));
  CHECK(has_note(h.notes,
                 "h200 has no FP4 tensor cores: nvfp4 attention, dense_ffn, "
                 "routed_experts, shared_experts weights run as W4A8"));
  const GroupedGemmOp& e = body<GroupedGemmOp>(get(h.plan_of(0), "moe.gate_up", 3));
  CHECK(e.b_format == WeightFormat::kNVFP4);
  CHECK(e.compute == DType::kFP8);
  CHECK(body<AttentionOp>(get(h.plan_of(0), "attn.decode", 3)).kv_type == DType::kFP8);

  const Lowering blackwell(m, ParallelPlan::attention_dp_ep(8), p, gpu("b200"), 8);
  const StepPlan b = blackwell.lower(batch);
  CHECK(b.notes.empty());
  CHECK(body<GroupedGemmOp>(get(b.plan_of(0), "moe.gate_up", 3)).compute == DType::kFP4);
}

TEST_CASE("invalid plans and batches are rejected with a ConfigError") {
  const ModelSpec m = model("deepseek-r1");
  CHECK_THROWS_WITH_AS(
      Lowering(m, ParallelPlan::tensor_parallel(3), checkpoint_precision(m), gpu("h200"), 8),
      doctest::Contains("tp dividing DeepSeek-R1's 128 attention heads"), ConfigError);
  const Lowering low(m, ParallelPlan::attention_dp_ep(8), checkpoint_precision(m), gpu("h200"), 8);
  CHECK_THROWS_WITH_AS(low.lower(one_sequence(4, SequenceWork::decode(10))),
                       doctest::Contains("one sequence list per attention-DP replica (8)"),
                       ConfigError);
  CHECK_THROWS_AS(low.lower(one_sequence(8, SequenceWork{5, 3, false, 1})), ConfigError);
}

TEST_CASE("two micro-batches interleave so one half's dispatch overlaps the other's compute") {
  const ModelSpec m = model("deepseek-r1");
  const StepBatch batch = StepBatch::same_on_every_replica(
      8, std::vector<SequenceWork>(64, SequenceWork::decode(2048)));
  const Lowering one(m, ParallelPlan::attention_dp_ep(8, 1), checkpoint_precision(m), gpu("h200"),
                     8);
  const Lowering two(m, ParallelPlan::attention_dp_ep(8, 2), checkpoint_precision(m), gpu("h200"),
                     8);
  const StepPlan s1 = one.lower(batch);
  const StepPlan s2 = two.lower(batch);
  check_well_formed(s2);
  // Same work, split: 32 + 32 tokens, 8 tokens per expert in each half.
  CHECK(total_flops(s2) == doctest::Approx(total_flops(s1)));
  const RankPlan& r = s2.plan_of(0);
  CHECK(body<GroupedGemmOp>(get(r, "moe.gate_up", 3, 1)).tokens_per_expert ==
        std::vector<std::int32_t>(32, 8));
  // Compute stream: attention of half 0, of half 1, experts of half 0, of half 1.
  CHECK(index_of(r, "attn.o_proj", 3, 0) < index_of(r, "attn.o_proj", 3, 1));
  CHECK(index_of(r, "attn.o_proj", 3, 1) < index_of(r, "moe.gate_up", 3, 0));
  CHECK(index_of(r, "moe.gate_up", 3, 0) < index_of(r, "moe.gate_up", 3, 1));
  // Comm stream: dispatch 0, dispatch 1, combine 0, combine 1.
  CHECK(index_of(r, "moe.dispatch", 3, 0) < index_of(r, "moe.dispatch", 3, 1));
  CHECK(index_of(r, "moe.dispatch", 3, 1) < index_of(r, "moe.combine", 3, 0));
  CHECK(index_of(r, "moe.combine", 3, 0) < index_of(r, "moe.combine", 3, 1));
  // Half 0's dispatch waits only for half 0's top-k, so it runs under half 1's attention.
  CHECK(get(r, "moe.dispatch", 3, 0).deps ==
        std::vector<std::int32_t>{index_of(r, "moe.topk", 3, 0)});
  CHECK(get(r, "moe.gate_up", 3, 0).deps ==
        std::vector<std::int32_t>{index_of(r, "moe.dispatch", 3, 0)});
  // The next layer's half 0 waits for half 0's combine and shared expert only.
  const std::vector<std::int32_t> next = get(r, "attn.input_norm", 4, 0).deps;
  CHECK(next == std::vector<std::int32_t>{index_of(r, "moe.shared_down", 3, 0),
                                          index_of(r, "moe.combine", 3, 0)});
}

TEST_CASE("pipeline stages receive, run their layers and send") {
  const ModelSpec m = model("llama-3.3-70b");
  ParallelPlan plan = ParallelPlan::tensor_parallel(4);
  plan.pp = 2;
  const Lowering low(m, plan, checkpoint_precision(m), gpu("h200"), 8);
  const StepPlan s = low.lower(
      StepBatch::same_on_every_replica(1, std::vector<SequenceWork>(4, SequenceWork::decode(100))));
  check_well_formed(s);
  // Each GPU's transfers name its own pipeline peers (group {i, i + 4}), so no two of the 8
  // lists are identical.
  CHECK(s.plans.size() == 8);
  const RankPlan& first = s.plan_of(0);
  const RankPlan& last = s.plan_of(4);
  CHECK(first.ops.front().name == "embed.gather");
  const CollectiveOp& send = body<CollectiveOp>(first.ops.back());
  CHECK(first.ops.back().name == "pp.send");
  CHECK((send.kind == CollectiveKind::kSendRecv && send.peer == 1 && !send.recv));
  // Hidden state and residual: 2 x 4 tokens x 8,192 x 2 B.
  CHECK(send.bytes == bytes(131072));
  CHECK(s.groups[static_cast<std::size_t>(send.group)].ranks == std::vector<std::int32_t>{0, 4});
  const CollectiveOp& recv = body<CollectiveOp>(last.ops.front());
  CHECK((recv.recv && recv.peer == 0));
  CHECK(index_of(first, "attn.o_proj", 39) >= 0);
  CHECK(index_of(first, "attn.o_proj", 40) < 0);
  CHECK(index_of(last, "attn.o_proj", 40) >= 0);
  CHECK(index_of(last, "head.lm_head", -1) >= 0);
  CHECK(index_of(first, "head.lm_head", -1) < 0);
}

TEST_CASE("DeepSeek-R1 under TP8 attention with EP8 experts gathers dense and shared FFNs") {
  const ModelSpec m = model("deepseek-r1");
  ParallelPlan plan = ParallelPlan::tensor_parallel(8);
  plan.ep = 8;
  const Lowering low(m, plan, checkpoint_precision(m), gpu("h200"), 8);
  CHECK(has_note(low.notes(), "MLA under tp 8"));
  const StepPlan s = low.lower(
      StepBatch::same_on_every_replica(1, std::vector<SequenceWork>(8, SequenceWork::decode(100))));
  check_well_formed(s);
  const RankPlan& r = s.plan_of(2);
  // The latent projections run whole on every GPU; q_b is split 128 / 8 = 16 heads.
  CHECK(body<GemmOp>(get(r, "attn.qkv_a_proj", 0)).n == 2112);
  CHECK(body<GemmOp>(get(r, "attn.q_b_proj", 0)).n == 16 * 192);
  // One token per GPU enters the FFN; the sharded dense FFN gathers all 8 first.
  CHECK(body<GemmOp>(get(r, "ffn.gate_up", 0)).m == 8);
  CHECK(body<GemmOp>(get(r, "ffn.gate_up", 0)).n == 2 * 18432 / 8);
  CHECK(body<CollectiveOp>(get(r, "ffn.all_gather_tokens", 0)).bytes == bytes(8 * 7168 * 2));
  CHECK(body<GemmOp>(get(r, "moe.router", 3)).m == 1);
  CHECK(body<GemmOp>(get(r, "moe.shared_gate_up", 3)).n == 2 * 2048 / 8);
  CHECK(index_of(r, "moe.shared_reduce_scatter", 3) >= 0);
  CHECK(index_of(r, "ffn.all_gather", 3) >= 0);
}

TEST_CASE("expected loads keep totals exact and balance redundant replicas") {
  const MoeSpec moe = *model("deepseek-r1").moe;
  // 72 EP ranks, 10 tokens each, 32 redundant slots: 288 slots, 4 per rank.
  const std::vector<std::int64_t> tokens(72, 10);
  const MoeLayerLoads l = expected_loads(moe, 32, tokens);
  REQUIRE(l.tokens_per_slot.size() == 72);
  std::int64_t total = 0;
  for (const auto& rank : l.tokens_per_slot) {
    REQUIRE(rank.size() == 4);
    for (const std::int32_t n : rank) total += n;
  }
  // 720 tokens x 8 = 5,760 assignments, every one placed.
  CHECK(total == 5760);
  // Expert 0 (slot 0, 23 tokens: 22 + 1 of the remainder) shares with its replica in slot
  // 256 (rank 64, first slot): 12 + 11.
  CHECK(l.tokens_per_slot[0][0] == 12);
  CHECK(l.tokens_per_slot[64][0] == 11);
  REQUIRE(l.dispatch_tokens.size() == 72);
  for (std::size_t dst = 0; dst < 72; ++dst) {
    std::int64_t received = 0;
    std::int64_t computed = 0;
    for (std::size_t src = 0; src < 72; ++src) received += l.dispatch_tokens[src][dst];
    for (const std::int32_t n : l.tokens_per_slot[dst]) computed += n;
    CHECK(received <= computed);
    CHECK(computed <= received * 4);
  }
}

}  // namespace
}  // namespace moesim::llm
