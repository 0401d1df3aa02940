#pragma once
/// \file
/// Internals of the lowering (lowering.hpp), shared by lowering.cpp, lower_attention.cpp and
/// lower_ffn.cpp. Not a public API.

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/llm/lowering.hpp"

namespace moesim::llm::detail {

/// One replica's share of one micro-batch.
struct MicroBatchWork {
  std::vector<SequenceWork> seqs;
  std::int64_t tokens = 0;  ///< sum of q_len
  std::int64_t logits = 0;  ///< sum of logits
};

/// Splits `seqs` into `n` (1 or 2) micro-batches of nearly equal tokens: at the sequence
/// boundary that best balances tokens, or, for a single sequence, by tokens within it.
std::vector<MicroBatchWork> split_micro_batches(const std::vector<SequenceWork>& seqs,
                                                std::int32_t n);

/// Communicator indices (into StepPlan::groups) of one rank; -1 when absent.
struct RankGroups {
  std::int32_t tp = -1;     ///< the rank's TP group (tp > 1)
  std::int32_t ep = -1;     ///< the stage's EP group (ep > 1)
  std::int32_t stage = -1;  ///< all GPUs of the stage (sharded FFNs under token shares)
  std::int32_t pp = -1;     ///< the rank's pipeline group (pp > 1)
};

/// What is fixed for a whole deployment.
struct LowerEnv {
  const ModelSpec& model;
  const ParallelPlan& plan;
  const ResolvedPrecision& precision;
  DispatchLayout dispatch_layout = DispatchLayout::kPerRank;  ///< of this step's MoE all-to-alls
};

/// One rank in one micro-batch.
struct RankStep {
  RankCoord coord;
  std::int32_t micro_batch = 0;
  std::int32_t first_layer = 0;  ///< of the rank's stage
  std::int32_t end_layer = 0;
  const MicroBatchWork* work = nullptr;  ///< the rank's replica in this micro-batch
  std::int64_t share = 0;                ///< X: tokens the rank feeds into the FFN
  std::int64_t stage_tokens = 0;         ///< tokens of all replicas of the stage
  RankGroups groups;
  /// Loads of the stage's layers in this micro-batch, indexed by layer - first_layer (empty
  /// for dense layers).
  const std::vector<MoeLayerLoadsPtr>* loads = nullptr;
};

/// The ops of one rank in one micro-batch, with a data-flow frontier: by default each new op
/// depends on the ops in `frontier`, then becomes the frontier. Each op also gets an order key
/// (position in the model, stretch of same-stream ops) for interleaving micro-batches.
class OpList {
 public:
  explicit OpList(std::int32_t micro_batch) : micro_batch_(micro_batch) {}

  /// Starts position `position` (0: before the layers, layer + 1, num_layers + 1: after).
  void begin_position(std::int32_t position) {
    position_ = position;
    stretch_ = 0;
    have_stream_ = false;
  }
  /// Appends an op depending on the frontier; it becomes the frontier. Returns its index.
  std::int32_t add(std::string_view name, std::int32_t layer, StreamKind stream, OpBody body);
  /// Appends an op depending on `deps` (not the frontier); the frontier is unchanged.
  std::int32_t add_after(std::string_view name, std::int32_t layer, StreamKind stream, OpBody body,
                         std::vector<std::int32_t> deps);
  /// Replaces the frontier.
  void set_frontier(std::vector<std::int32_t> f) { frontier_ = std::move(f); }
  const std::vector<std::int32_t>& frontier() const { return frontier_; }

  std::vector<Op>& ops() { return ops_; }
  const std::vector<std::int64_t>& keys() const { return keys_; }

 private:
  std::int32_t micro_batch_;
  std::vector<Op> ops_;
  std::vector<std::int64_t> keys_;
  std::vector<std::int32_t> frontier_;
  std::int32_t position_ = 0;
  std::int32_t stretch_ = 0;
  bool have_stream_ = false;
  StreamKind stream_ = StreamKind::kCompute;
};

/// Bytes of `values` BF16 values.
inline Bytes bf16_bytes(std::int64_t values) { return Bytes{2 * values}; }

/// Fused residual add + RMSNorm over rows x width (conventions in lowering.hpp).
MemoryOp rms_norm(std::int64_t rows, std::int64_t width, bool residual);

/// A GEMM of a weight of `cls` under the resolved precision.
GemmOp weight_gemm(const ResolvedPrecision& p, TensorClass cls, std::int64_t m, std::int64_t n,
                   std::int64_t k, std::int64_t batch = 1);

/// A collective on `group`.
CollectiveOp collective(CollectiveKind kind, std::int32_t group, Bytes bytes);

/// The attention half of `layer`: input norm through o_proj and its TP collective.
void lower_attention(OpList& ops, const LowerEnv& env, const RankStep& step, std::int32_t layer);

/// The FFN half of `layer`: post-attention norm through the dense FFN or the MoE block and its
/// collectives.
void lower_ffn(OpList& ops, const LowerEnv& env, const RankStep& step, std::int32_t layer);

}  // namespace moesim::llm::detail
