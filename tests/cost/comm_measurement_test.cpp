// Tests of the communication-table reader (sim/cost/comm_measurement.hpp) and of the traffic
// matrices comm_validation.hpp prices the MoE all-to-all tables with.

#include "sim/cost/comm_measurement.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/cost/comm_validation.hpp"
#include "sim/cost/measurement.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/collectives.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/system.hpp"
#include "test_util.hpp"

namespace moesim::cost {
namespace {

namespace fs = std::filesystem;

/// Writes `text` as <tmp>/moesim_comm_test/<rel> (the AIConfigurator layout the reader
/// expects: <system>/<backend>-<version>/<table>.csv) and returns its path.
fs::path table_file(const std::string& rel, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / "moesim_comm_test" / rel;
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
  return p;
}

TEST_CASE("an nccl_perf row reads as one collective with its nccl-tests size in bytes") {
  const fs::path p = table_file("gb200/nccl-2.29.2/nccl_perf.csv",
                                "op_name,nccl_dtype,num_gpus,message_size,latency_ms\n"
                                "all_gather,half,4,1048576,0.0215\n"
                                "alltoall,int8,2,4096,0.009\n");
  const CommMeasurementFile f = read_comm_measurements(p);
  REQUIRE(f.rows.size() == 2);
  const CommMeasurement& m = f.rows[0];
  CHECK(m.gpu == "gb200");
  CHECK(m.framework == "nccl");
  CHECK(m.version == "2.29.2");
  CHECK(m.op == CommOp::kAllGather);
  CHECK(m.gpus == 4);
  CHECK(m.dtype == DType::kFP16);
  CHECK(m.size.base() == 2 * 1048576);  // message_size is in elements of 2-byte halves
  CHECK(m.measured == ceil_duration(21.5e-6));
  CHECK(m.where.line == 2);
  CHECK(f.rows[1].op == CommOp::kAllToAll);
  CHECK(f.rows[1].size.base() == 4096);  // int8: one byte per element
}

TEST_CASE("a DeepEP low-latency row reads as a dispatch and a combine per (token, expert)") {
  const fs::path p = table_file(
      "h200_sxm/sglang-0.5.12/wideep_deepep_ll_perf.csv",
      "hidden_size,num_token,num_topk,num_experts,combine_avg_t_us,combine_bandwidth_gbps,"
      "dispatch_avg_t_us,dispatch_bandwidth_gbps\n"
      "7168,128,8,256,40.88,359.1,32.95,230.2\n");
  const CommMeasurementFile f = read_comm_measurements(p);
  REQUIRE(f.rows.size() == 2);
  CHECK(f.rows[0].op == CommOp::kMoeDispatch);
  CHECK(f.rows[0].dtype == DType::kFP8);
  CHECK(f.rows[0].measured == ceil_duration(32.95e-6));
  CHECK(f.rows[1].op == CommOp::kMoeCombine);
  CHECK(f.rows[1].dtype == DType::kBF16);
  CHECK(f.rows[1].gpus == 8);  // one HGX node
  CHECK(f.rows[1].layout == llm::DispatchLayout::kPerTokenExpert);
  CHECK(comm_shape_text(f.rows[0]) == "tokens=128 hidden=7168 experts=256 topk=8");
}

TEST_CASE("TensorRT-LLM all-to-all rows leave out the prepare phase and count it") {
  const fs::path p = table_file(
      "gb200/trtllm-1.3.0rc10/trtllm_alltoall_perf.csv",
      "op_name,kernel_source,moe_dtype,num_tokens,hidden_size,topk,num_experts,moe_ep_size,"
      "distribution,latency_ms\n"
      "alltoall_prepare,NVLinkTwoSided,nvfp4,64,7168,8,256,16,balanced,0.011\n"
      "alltoall_dispatch,NVLinkTwoSided,nvfp4,64,7168,8,256,16,balanced,0.02\n"
      "alltoall_combine_low_precision,NVLinkTwoSided,nvfp4,64,7168,8,256,16,balanced,0.03\n");
  const CommMeasurementFile f = read_comm_measurements(p);
  REQUIRE(f.rows.size() == 2);
  REQUIRE(f.skipped.size() == 1);
  CHECK(f.skipped[0].starts_with("1 rows: alltoall_prepare"));
  CHECK(f.rows[0].dtype == DType::kFP4);
  CHECK(f.rows[0].layout == llm::DispatchLayout::kPerRank);
  CHECK(f.rows[1].op == CommOp::kMoeCombine);
  CHECK(f.rows[1].kernel == "NVLinkTwoSided/low_precision");
  CHECK(f.rows[1].dtype == DType::kFP4);
}

TEST_CASE("a bad cell is a ConfigError at its file, line and column") {
  const fs::path p = table_file("h100_sxm/nccl-2.29.2/nccl_perf.csv",
                                "op_name,nccl_dtype,num_gpus,message_size,latency_ms\n"
                                "all_reduce,half,8,1024,0.01\n"
                                "all_reduse,half,8,1024,0.01\n");
  const ConfigError e = test::config_error([&] { (void)read_comm_measurements(p); });
  CHECK(e.where().file == p.string());
  CHECK(e.where().line == 3);
  CHECK(e.where().column == 1);
  CHECK(e.suggestion() == "all_reduce");

  const fs::path q = table_file("h100_sxm/nccl-2.29.2/nccl_perf.csv",
                                "op_name,nccl_dtype,num_gpus,message_size,latency_ms\n"
                                "all_reduce,half,8,1024,fast\n");
  const ConfigError e2 = test::config_error([&] { (void)read_comm_measurements(q); });
  CHECK(e2.where().line == 2);
  CHECK(e2.where().column == 5);
  CHECK(e2.key_path() == "latency_ms");

  // A time beyond an hour is an error at its cell, as in the kernel tables (1e300 ms overflowed
  // the Duration conversion, an internal error).
  const fs::path huge = table_file("h100_sxm/nccl-2.29.2/nccl_perf.csv",
                                   "op_name,nccl_dtype,num_gpus,message_size,latency_ms\n"
                                   "all_reduce,half,8,1024,1e300\n");
  const ConfigError e3 = test::config_error([&] { (void)read_comm_measurements(huge); });
  CHECK(e3.key_path() == "latency_ms");
  CHECK(e3.expected() == "a time of at most one hour");
}

TEST_CASE("the kernel reader leaves a communication table out and counts its rows") {
  const fs::path p = table_file("b200_sxm/trtllm-1.3.0rc20/custom_allreduce_perf.csv",
                                "allreduce_dtype,num_gpus,message_size,latency_ms\n"
                                "bfloat16,2,128,0.004582\n");
  const MeasurementFile f = read_measurements(p);
  CHECK(f.rows.empty());
  REQUIRE(f.skipped.size() == 1);
  CHECK(f.skipped[0].starts_with("1 rows: communication table"));
  const CommMeasurementFile c = read_comm_measurements(p);
  REQUIRE(c.rows.size() == 1);
  CHECK(c.rows[0].size.base() == 256);  // 128 bf16 elements
}

TEST_CASE("dispatch copies follow each collector's routing") {
  CommMeasurement m;
  m.tokens = 3;
  m.hidden = 7168;
  m.experts = 256;
  m.topk = 8;
  // TensorRT-LLM balanced, EP 16: two groups of 8 ranks, token i to group i mod 2: tokens 0
  // and 2 reach ranks 0-7, token 1 ranks 8-15, from every source.
  m.kernel = "NVLinkTwoSided";
  m.gpus = 16;
  std::vector<double> c = dispatch_copies(m);
  CHECK(c[0 * 16 + 3] == 2.0);
  CHECK(c[5 * 16 + 12] == 1.0);
  // EP 4 < top-k: every token reaches every rank.
  m.gpus = 4;
  c = dispatch_copies(m);
  CHECK(std::accumulate(c.begin(), c.end(), 0.0) == 4 * 4 * 3.0);
  // DeepEP low latency: a copy per (token, expert), T k / p to each rank.
  m.kernel = "deepep_ll";
  m.layout = llm::DispatchLayout::kPerTokenExpert;
  m.gpus = 8;
  c = dispatch_copies(m);
  CHECK(c[1] == doctest::Approx(3.0 * 8 / 8));
  // DeepEP normal, per rank, uniform top-8 of 256 on 8 ranks: a token misses a rank with
  // probability C(224, 8) / C(256, 8) = prod_{i<8} (224 - i) / (256 - i) = 0.33817.
  m.kernel = "deepep_normal";
  m.layout = llm::DispatchLayout::kPerRank;
  c = dispatch_copies(m);
  CHECK(c[1] == doctest::Approx(3.0 * (1.0 - 0.33817)).epsilon(1e-4));
}

TEST_CASE("an nccl all-reduce is priced as moesim collective prices it") {
  const config::Catalog catalog(fs::path{MOESIM_SOURCE_DIR});
  const hw::NetworkEfficiency network = hw::load_network_efficiency(catalog);
  const fs::path p = table_file("h200_sxm/nccl-2.29.2/nccl_perf.csv",
                                "op_name,nccl_dtype,num_gpus,message_size,latency_ms\n"
                                "all_reduce,half,8,33554432,0.4\n");
  const CommMeasurementFile f = read_comm_measurements(p);
  const std::vector<CommPrediction> pr = predict_comm(f.rows, catalog, network);
  REQUIRE(pr.size() == 1);
  const hw::SystemSpec system = hw::load_system(catalog, "hgx-h200");
  const hw::CollectiveResult r =
      hw::price_collective(hw::make_cluster(system, 1, network), network,
                           hw::CollectiveOp::kAllReduce, Bytes{2 * 33554432}, 8);
  CHECK(pr[0].predicted == r.time);
  CHECK(pr[0].error() == doctest::Approx(to_seconds(r.time) / 0.4e-3 - 1.0));
}

}  // namespace
}  // namespace moesim::cost

namespace moesim::cost {
namespace {

TEST_CASE("a measured fit rescales NCCL's latency and transfer for the GPU counts it covers") {
  const config::Catalog catalog(fs::path{MOESIM_SOURCE_DIR});
  hw::NetworkEfficiency base = hw::load_network_efficiency(catalog);
  base.measured.clear();
  const hw::ClusterSpec cluster = hw::make_cluster(hw::load_system(catalog, "hgx-h200"), 1, base);
  const Bytes size{64 << 20};
  const hw::CollectiveResult plain =
      hw::price_collective(cluster, base, hw::CollectiveOp::kAllReduce, size, 8);
  hw::NetworkEfficiency fitted = base;
  hw::MeasuredCollective m;
  m.latency = ceil_duration(1e-6);
  m.latency_scale = 2.0;
  m.transfer_scale = {{8, 1.5}};
  m.ramp_scale = 1.0;
  m.ramp_size = size;  // h = n: the ramp adds ramp_scale / 2
  fitted.measured["hgx-h200"][hw::CollectiveOp::kAllReduce] = m;
  const hw::CollectiveResult r =
      hw::price_collective(cluster, fitted, hw::CollectiveOp::kAllReduce, size, 8);
  CHECK(r.measured);
  CHECK(r.algorithm == plain.algorithm);  // NCCL's model still chooses
  CHECK(r.protocol == plain.protocol);
  // latency = 1 us + 2 L; transfer = X (1.5 + 1.0 x h / (h + n)) = 2 X.
  CHECK(r.latency == ceil_duration(1e-6) + ceil_duration(2.0 * to_seconds(plain.latency)));
  CHECK(to_seconds(r.transfer) == doctest::Approx(2.0 * to_seconds(plain.transfer)));
  // Four GPUs: no transfer scale for them, so NCCL's model stands.
  const hw::CollectiveResult four =
      hw::price_collective(cluster, fitted, hw::CollectiveOp::kAllReduce, size, 4);
  CHECK_FALSE(four.measured);
}

TEST_CASE("fit_network recovers the coefficients that generated its rows") {
  // Rows made by the model itself: y = 2 us + 1.2 L + 1.3 X for every size (no ramp), so the
  // fit must find transfer scale 1.3 (from the large messages) and latency scale 1.2.
  const config::Catalog catalog(fs::path{MOESIM_SOURCE_DIR});
  hw::NetworkEfficiency base = hw::load_network_efficiency(catalog);
  base.measured.clear();
  std::string text = "op_name,nccl_dtype,num_gpus,message_size,latency_ms\n";
  for (std::int64_t n = 1024; n <= (std::int64_t{1} << 29); n *= 4) {
    text += "all_gather,int8,8," + std::to_string(n) + ",1\n";
  }
  const fs::path p = table_file("h200_sxm/nccl-2.29.2/nccl_perf.csv", text);
  CommMeasurementFile f = read_comm_measurements(p);
  const std::vector<CommPrediction> model = predict_comm(f.rows, catalog, base);
  for (std::size_t i = 0; i < f.rows.size(); ++i) {
    f.rows[i].measured = ceil_duration(2e-6 + 1.2 * to_seconds(model[i].latency) +
                                       1.3 * to_seconds(model[i].transfer));
  }
  const std::vector<CommPrediction> again = predict_comm(f.rows, catalog, base);
  const std::vector<CommFit> fits = fit_network(again, "test");
  REQUIRE(fits.size() == 1);
  CHECK(fits[0].system == "hgx-h200");
  // Step 1 subtracts L, not 2 us + 1.2 L, from the large messages, so it attributes that
  // small remainder to the transfer (1 % here); step 2 absorbs the rest in the latency terms.
  CHECK(fits[0].params.transfer_scale.at(8) == doctest::Approx(1.3).epsilon(0.02));
  CHECK(fits[0].params.latency_scale == doctest::Approx(1.2).epsilon(0.05));
  CHECK(fits[0].params.ramp_scale < 0.05);
}

}  // namespace
}  // namespace moesim::cost

namespace moesim::cost {
namespace {

TEST_CASE("a bad measured entry in the network parameters is a located ConfigError") {
  std::ifstream in(fs::path{MOESIM_SOURCE_DIR} / "topologies" / "network.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The first measured entry's first GPU count becomes "two".
  const std::string key = "transfer_scale: {\"";
  const std::size_t at = text.find(key);
  REQUIRE(at != std::string::npos);
  const std::size_t end = text.find('"', at + key.size());
  text.replace(at + key.size(), end - at - key.size(), "two");
  const int line = static_cast<int>(std::count(text.begin(), text.begin() + at, '\n')) + 1;
  const ConfigError e = test::config_error(
      [&] { (void)hw::parse_network_efficiency(config::ConfigNode::parse(text, "network.yaml")); });
  CHECK(e.where().file == "network.yaml");
  CHECK(e.where().line == line);
  CHECK(e.key_path().find("transfer_scale") != std::string::npos);
}

}  // namespace
}  // namespace moesim::cost
