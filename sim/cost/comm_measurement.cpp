#include "sim/cost/comm_measurement.hpp"

#include <map>

#include "sim/core/csv.hpp"
#include "sim/cost/measurement_detail.hpp"

namespace moesim::cost {
namespace {

/// Largest nccl-tests message a table may state, in elements: 2^36 (128 GiB of half), far above
/// the 8 GiB the shipped tables reach and far below what would overflow a transfer's Duration.
constexpr std::int64_t kMaxMessageElements = std::int64_t{1} << 36;

using namespace detail;

constexpr std::string_view kCommTables[] = {"nccl_perf", "custom_allreduce_perf",
                                            "trtllm_alltoall_perf", "wideep_deepep_ll_perf",
                                            "wideep_deepep_normal_perf"};

constexpr std::string_view kCommOpNames[] = {"all_reduce", "all_gather",   "reduce_scatter",
                                             "alltoall",   "moe_dispatch", "moe_combine"};

/// GPUs of the single-node DeepEP tables: a whole node, 8 GPUs, or one 4-GPU GB200 tray
/// (topologies/measured/aiconfigurator/README.md, wideep_deepep_ll_perf).
constexpr int kDeepEpNodeGpus = 8;
constexpr int kDeepEpGb200TrayGpus = 4;
/// DeepEP's default SM budget (deep_ep.Buffer.num_sms = 20), the only one AIConfigurator
/// reads for a single node (collector/wideep/sglang/collect_deepep_normal.py).
constexpr std::int64_t kDeepEpDefaultSms = 20;

/// An element or payload type of the tables' spellings.
DType dtype_of(std::string_view aic, const SourceLocation& at, std::string_view key) {
  constexpr std::string_view kNames[] = {"half", "int8", "bfloat16", "fp8", "nvfp4"};
  const std::string d = choose(aic, kNames, at, key);
  if (d == "half") return DType::kFP16;
  if (d == "int8") return DType::kINT8;
  if (d == "fp8") return DType::kFP8;
  if (d == "nvfp4") return DType::kFP4;
  return DType::kBF16;
}

/// Positive, or a ConfigError at `at`.
std::int64_t positive(std::int64_t v, const SourceLocation& at, std::string_view key) {
  if (v <= 0) throw ConfigError(at, std::string(key), "a positive whole number", "0");
  return v;
}

}  // namespace

std::string_view to_string(CommOp op) { return kCommOpNames[static_cast<std::size_t>(op)]; }

bool is_comm_table(std::string_view table) {
  for (const std::string_view t : kCommTables) {
    if (t == table) return true;
  }
  return false;
}

CommMeasurementFile read_comm_measurements(const std::filesystem::path& path) {
  const CsvTable t = read_csv(path);
  const TablePlace place = table_place(path, t.file, kCommTables, "nccl-2.29.2");
  const std::string& table = place.table;
  const TableRows rows(t, manifest_constants(path));
  CommMeasurementFile out;
  std::map<std::string, std::int64_t> skipped;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    CommMeasurement m;
    m.system = place.system;
    m.gpu = place.gpu;
    m.framework = place.framework;
    m.version = place.version;
    m.table = table;
    m.where = {t.file, rows.line(r), 1};
    auto moe_shape = [&](std::string_view tokens_key, std::string_view topk_key) {
      m.tokens = positive(rows.integer(r, tokens_key), rows.at(r, tokens_key), tokens_key);
      m.hidden = positive(rows.integer(r, "hidden_size"), rows.at(r, "hidden_size"), "hidden_size");
      m.experts =
          positive(rows.integer(r, "num_experts"), rows.at(r, "num_experts"), "num_experts");
      m.topk = positive(rows.integer(r, topk_key), rows.at(r, topk_key), topk_key);
      if (m.topk > m.experts || m.experts % m.gpus != 0) {
        throw ConfigError(rows.at(r, "num_experts"), "num_experts",
                          "experts divisible by the GPUs and at least top-k",
                          std::to_string(m.experts) + " experts, " + std::to_string(m.gpus) +
                              " GPUs, top-" + std::to_string(m.topk));
      }
    };
    if (table == "nccl_perf" || table == "custom_allreduce_perf") {
      const bool nccl = table == "nccl_perf";
      if (nccl) {
        constexpr std::string_view kOps[] = {"all_reduce", "all_gather", "reduce_scatter",
                                             "alltoall"};
        const std::string op =
            choose(rows.text(r, "op_name"), kOps, rows.at(r, "op_name"), "op_name");
        m.op = op == "all_reduce"       ? CommOp::kAllReduce
               : op == "all_gather"     ? CommOp::kAllGather
               : op == "reduce_scatter" ? CommOp::kReduceScatter
                                        : CommOp::kAllToAll;
        m.kernel = rows.text_or(r, "kernel_source", "NCCL");
      } else {
        m.op = CommOp::kAllReduce;
        m.kernel = rows.has_column("backend") ? rows.text(r, "backend")
                                              : rows.text_or(r, "kernel_source", m.framework);
      }
      const std::string dtype_key = nccl ? "nccl_dtype" : "allreduce_dtype";
      m.dtype = dtype_of(rows.text(r, dtype_key), rows.at(r, dtype_key), dtype_key);
      m.gpus = static_cast<int>(
          positive(rows.integer(r, "num_gpus"), rows.at(r, "num_gpus"), "num_gpus"));
      const std::int64_t elements = positive(rows.integer(r, "message_size", kMaxMessageElements),
                                             rows.at(r, "message_size"), "message_size");
      m.size = Bytes{elements * bits_of(m.dtype) / 8};
      m.measured = rows.time(r, "latency_ms", scale::kMilli);
      out.rows.push_back(std::move(m));
    } else if (table == "trtllm_alltoall_perf") {
      constexpr std::string_view kPhases[] = {"alltoall_prepare", "alltoall_dispatch",
                                              "alltoall_combine", "alltoall_combine_low_precision"};
      const std::string phase =
          choose(rows.text(r, "op_name"), kPhases, rows.at(r, "op_name"), "op_name");
      if (phase == "alltoall_prepare") {
        ++skipped["alltoall_prepare rows (routing metadata exchange; no moesim op)"];
        continue;
      }
      constexpr std::string_view kBalanced[] = {"balanced"};
      choose(rows.text(r, "distribution"), kBalanced, rows.at(r, "distribution"), "distribution");
      m.kernel = rows.text(r, "kernel_source");
      m.gpus = static_cast<int>(
          positive(rows.integer(r, "moe_ep_size"), rows.at(r, "moe_ep_size"), "moe_ep_size"));
      moe_shape("num_tokens", "topk");
      // Dispatch carries the run's payload type; combine returns bf16 expert outputs, or
      // nvfp4 in the low-precision combine (collect_trtllm_alltoall.py, OP_TO_PHASE_DTYPE).
      const DType payload =
          dtype_of(rows.text(r, "moe_dtype"), rows.at(r, "moe_dtype"), "moe_dtype");
      m.op = phase == "alltoall_dispatch" ? CommOp::kMoeDispatch : CommOp::kMoeCombine;
      m.dtype = phase == "alltoall_dispatch"  ? payload
                : phase == "alltoall_combine" ? DType::kBF16
                                              : DType::kFP4;
      if (phase == "alltoall_combine_low_precision") m.kernel += "/low_precision";
      m.layout = llm::DispatchLayout::kPerRank;
      m.measured = rows.time(r, "latency_ms", scale::kMilli);
      out.rows.push_back(std::move(m));
    } else {
      const bool ll = table == "wideep_deepep_ll_perf";
      if (!ll) {
        const std::int64_t sms = rows.integer(r, "dispatch_sms");
        if (sms != kDeepEpDefaultSms || rows.integer(r, "combine_sms") != kDeepEpDefaultSms) {
          ++skipped
              ["DeepEP normal rows with an SM budget other than the default 20 (no SM term "
               "in the network model)"];
          continue;
        }
      }
      m.kernel = ll ? "deepep_ll" : "deepep_normal";
      m.gpus = place.system == "gb200" ? kDeepEpGb200TrayGpus : kDeepEpNodeGpus;
      moe_shape("num_token", "num_topk");
      // DeepEP low-latency mode sends a copy per (token, expert); normal mode a token once per
      // destination rank (DeepEP README; topologies/stacks/sglang-wideep.yaml).
      m.layout = ll ? llm::DispatchLayout::kPerTokenExpert : llm::DispatchLayout::kPerRank;
      CommMeasurement combine = m;
      m.op = CommOp::kMoeDispatch;
      m.dtype = DType::kFP8;
      combine.op = CommOp::kMoeCombine;
      combine.dtype = DType::kBF16;
      if (ll) {
        m.measured = rows.time(r, "dispatch_avg_t_us", scale::kMicro);
        combine.measured = rows.time(r, "combine_avg_t_us", scale::kMicro);
      } else {
        auto sum = [&](std::string_view transmit, std::string_view notify) {
          const Duration n =
              rows.text(r, notify) == "0" ? Duration::zero() : rows.time(r, notify, scale::kMicro);
          return rows.time(r, transmit, scale::kMicro) + n;
        };
        m.measured = sum("dispatch_transmit_us", "dispatch_notify_us");
        combine.measured = sum("combine_transmit_us", "combine_notify_us");
      }
      out.rows.push_back(std::move(m));
      out.rows.push_back(std::move(combine));
    }
  }
  for (const auto& [why, n] : skipped) out.skipped.push_back(std::to_string(n) + " rows: " + why);
  return out;
}

std::string comm_shape_text(const CommMeasurement& m) {
  if (m.op == CommOp::kMoeDispatch || m.op == CommOp::kMoeCombine) {
    return "tokens=" + std::to_string(m.tokens) + " hidden=" + std::to_string(m.hidden) +
           " experts=" + std::to_string(m.experts) + " topk=" + std::to_string(m.topk);
  }
  return "bytes=" + std::to_string(m.size.base());
}

}  // namespace moesim::cost
