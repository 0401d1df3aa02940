#pragma once
/// \file
/// Communication measurements: NVIDIA's multi-GPU tables of the AIConfigurator performance
/// database (topologies/measured/aiconfigurator/README.md), read as one collective each, for
/// `moesim validate` to set the network model's price beside them (sim/cost/comm_validation.hpp).
/// They live in sim/cost, beside the per-op kernel measurements, because pricing the MoE
/// all-to-alls takes the lowering's traffic layouts and payload sizes (sim/llm) as well as the
/// network model (sim/hw).
///
/// Tables read, found by their path <system>/<backend>-<version>/<table>.csv (system b200_sxm,
/// gb200, h200_sxm or h100_sxm), one measurement per row unless stated:
///   nccl_perf              nccl-tests all_reduce, all_gather, reduce_scatter, alltoall;
///                          message_size in elements of nccl_dtype (half: 2 B, int8: 1 B), the
///                          nccl-tests size: the whole buffer for all_gather and reduce_scatter,
///                          the per-rank buffer for all_reduce and alltoall.
///   custom_allreduce_perf  the framework's all-reduce of bf16, message_size in elements per rank
///                          (kernel: the `backend` column where there is one, sglang_graph or
///                          sglang_eager, else the manifest's kernel_source, TRTLLM).
///   trtllm_alltoall_perf   TensorRT-LLM's MoE all-to-all over NVLink (GB200): the dispatch,
///                          combine and combine_low_precision phases (kernel: NVLinkTwoSided or
///                          NVLinkOneSided); dispatch carries moe_dtype, combine bf16, the
///                          low-precision combine nvfp4. Routing: the collector's balanced
///                          pattern (comm_validation.hpp). The prepare phase (routing metadata
///                          only) has no moesim op: left out, counted.
///   wideep_deepep_ll_perf  DeepEP low-latency dispatch (fp8) and combine (bf16): two
///                          measurements per row, over one node (8 GPUs; 4 on GB200).
///   wideep_deepep_normal_perf  DeepEP normal dispatch (fp8: the collector records the first
///                          tuned payload, FP8 where DeepEP is built for SM90) and combine
///                          (bf16), transmit + notify time, two measurements per row; rows with
///                          an SM budget other than DeepEP's default of 20 are left out (the
///                          network model has no SM term), counted.
/// Bad rows (unknown op names or types, bad numbers) are ConfigErrors at file:line:column.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/dtype.hpp"
#include "sim/core/error.hpp"
#include "sim/core/units.hpp"
#include "sim/llm/placement.hpp"

namespace moesim::cost {

/// The communication ops a measurement can time.
enum class CommOp : std::uint8_t {
  kAllReduce,      ///< "all_reduce"
  kAllGather,      ///< "all_gather"
  kReduceScatter,  ///< "reduce_scatter"
  kAllToAll,       ///< "alltoall": nccl-tests' uniform all-to-all
  kMoeDispatch,    ///< "moe_dispatch": tokens to the ranks of their experts
  kMoeCombine,     ///< "moe_combine": expert outputs back to their tokens' ranks
};

/// "all_reduce", "all_gather", "reduce_scatter", "alltoall", "moe_dispatch", "moe_combine".
std::string_view to_string(CommOp op);

/// One measured collective.
struct CommMeasurement {
  std::string system;     ///< AIConfigurator system folder: b200_sxm, gb200, h200_sxm, h100_sxm
  std::string gpu;        ///< GPU catalog name (b200, gb200, h200, h100)
  std::string framework;  ///< nccl, trtllm, sglang (the folder's backend)
  std::string version;
  std::string table;   ///< the table's name, e.g. "nccl_perf"
  std::string kernel;  ///< NCCL, TRTLLM, sglang_graph, NVLinkTwoSided, deepep_ll, ...
  CommOp op = CommOp::kAllReduce;
  int gpus = 0;                ///< ranks taking part
  DType dtype = DType::kBF16;  ///< element type (collectives) or payload type (MoE)
  Bytes size{};                ///< collectives: nccl-tests' size (see the file comment)
  std::int64_t tokens = 0;     ///< MoE: tokens per rank
  std::int64_t hidden = 0;     ///< MoE: hidden size
  std::int64_t experts = 0;    ///< MoE: routed experts
  std::int64_t topk = 0;       ///< MoE: experts per token
  llm::DispatchLayout layout = llm::DispatchLayout::kPerRank;  ///< MoE: traffic layout
  Duration measured{0};                                        ///< measured time, > 0
  SourceLocation where;                                        ///< file and line of the row
};

/// The rows of one file, and what was left out ("N rows: reason", once per reason).
struct CommMeasurementFile {
  std::vector<CommMeasurement> rows;
  std::vector<std::string> skipped;
};

/// Whether `table` (a file stem such as "nccl_perf") is a communication table read here.
bool is_comm_table(std::string_view table);

/// Reads one communication table (file comment). Unknown tables or system folders, missing
/// columns and bad cells are ConfigErrors at file:line:column with a did-you-mean.
CommMeasurementFile read_comm_measurements(const std::filesystem::path& path);

/// The shape of `m` in words, e.g. "bytes=1048576" or "tokens=128 hidden=7168 experts=256
/// topk=8", for per-row reports.
std::string comm_shape_text(const CommMeasurement& m);

}  // namespace moesim::cost
