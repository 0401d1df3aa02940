// KV hand-offs as flows on the cluster topology (sim/step/kv_transfer_network.hpp), on the
// shipped systems and network parameters (topologies/network.yaml). Figures used below:
//   HGX H200: 8 GPUs per NVLink domain, NVLink4 450 GB/s per direction per GPU
//     (topologies/gpus/h200.yaml, S19) x efficiency 0.824 (network.yaml, S42) = 370.8 GB/s;
//     one 400 Gb/s = 50 GB/s NIC per GPU (topologies/systems/hgx-h200.yaml, S21) x 0.94
//     (network.yaml nic_host / nic_port, S53) = 47 GB/s.
//   GB200 NVL72: 72 GPUs per domain, NVLink5 900 GB/s per direction (topologies/gpus/gb200.yaml,
//     S10) x 0.802 (S42) = 721.8 GB/s.
//   Hop latencies (network.yaml, S42): NVLink 0.3 us per hop, so GPU -> switch -> GPU is 0.6 us;
//   NIC host, NIC port and fabric 0.675 us per hop, so two GPUs on one rail (GPU -> NIC -> leaf ->
//   NIC -> GPU) are 2.7 us apart and two GPUs on different rails (through the spine core) 6 x
//   0.675 = 4.05 us.
// Times are compared to the picosecond, with 1 ps of slack for the rounding of B / (B/s).

#include "sim/step/kv_transfer_network.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "serve/serve_test_util.hpp"
#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/simulation.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/system.hpp"
#include "sim/serve/report.hpp"
#include "sim/serve/run.hpp"
#include "sim/serve/scenario.hpp"
#include "sim/step/step_models.hpp"

namespace moesim::step {
namespace {

using serve::PoolRole;

config::Catalog source_catalog() {
  return config::Catalog(std::filesystem::path{MOESIM_SOURCE_DIR});
}

std::unique_ptr<NetworkKvTransferModel> make_model(const std::string& system, KvPoolShape prefill,
                                                   KvPoolShape decode) {
  const config::Catalog catalog = source_catalog();
  return std::make_unique<NetworkKvTransferModel>(
      hw::load_network_efficiency(catalog), hw::load_system(catalog, system), prefill, decode);
}

/// `instances` instances of `gpus` GPUs, one attention-DP rank per GPU (ADP + EP).
KvPoolShape adp(std::int32_t instances, std::int32_t gpus) { return {instances, gpus, gpus, 1}; }

serve::KvTransfer kv(std::int64_t n, std::int32_t src_instance, std::int32_t src_rank,
                     std::int32_t dst_instance, std::int32_t dst_rank) {
  serve::KvTransfer t;
  t.bytes = bytes(n);
  t.source_instance = src_instance;
  t.source_rank = src_rank;
  t.dest_instance = dst_instance;
  t.dest_rank = dst_rank;
  return t;
}

/// Completion times (ps since zero) of transfers, by index; -1 until done.
struct Arrivals {
  std::vector<std::int64_t> at;
  explicit Arrivals(std::size_t n) : at(n, -1) {}
  serve::KvTransferDone note(std::size_t i) {
    return [this, i](Simulation& s) { at[i] = s.now().time_since_epoch().count(); };
  }
};

/// ceil(n / rate) in picoseconds.
std::int64_t transfer_ps(double n, double rate) {
  return static_cast<std::int64_t>(std::ceil(n / rate * scale::kPicosecondsPerSecond));
}

constexpr double kH200Nic = 50e9 * 0.94;        // B/s, see the file comment
constexpr double kH200Nvlink = 450e9 * 0.824;   // B/s
constexpr double kGb200Nvlink = 900e9 * 0.802;  // B/s
constexpr std::int64_t kRailPs = 2'700'000;     // 4 hops x 0.675 us
constexpr std::int64_t kSpinePs = 4'050'000;    // 6 hops x 0.675 us
constexpr std::int64_t kNvlinkPs = 600'000;     // 2 hops x 0.3 us

void check_near(std::int64_t got, std::int64_t want) {
  CAPTURE(got);
  CAPTURE(want);
  CHECK(std::llabs(got - want) <= 1);
}

TEST_CASE("GPUs are placed prefill first, then decode, rank by rank inside each stage") {
  // Prefill: 2 instances of tp 4 x pp 2 (8 GPUs each) with 2 attention-DP ranks of 2 GPUs per
  // stage; decode: one ADP8 instance. 16 + 8 = 24 GPUs = 3 HGX domains.
  const auto m = make_model("hgx-h200", {2, 4, 2, 2}, adp(1, 8));
  CHECK(m->cluster().domains == 3);
  CHECK(m->topology().gpu_count() == 24);
  // k = 3 of rank 1 of instance 1: stage 3 / 2 = 1, TP index 1:
  // 0 + 1 x 8 + 1 x 4 + 1 x 2 + 1 = 15.
  CHECK(m->gpu(PoolRole::kPrefill, 1, 1, 3) == 15);
  CHECK(m->gpu(PoolRole::kPrefill, 0, 0, 0) == 0);
  // k = 1 of rank 0 of instance 0: stage 0, TP index 1: GPU 1.
  CHECK(m->gpu(PoolRole::kPrefill, 0, 0, 1) == 1);
  // Decode rank 5 of instance 0: 16 + 5.
  CHECK(m->gpu(PoolRole::kDecode, 0, 5, 0) == 21);
  // One NVL72 holds 2 x 4 + 8 = 16 GPUs: one domain.
  CHECK(make_model("gb200-nvl72", adp(2, 4), adp(1, 8))->cluster().domains == 1);
}

TEST_CASE("one transfer alone takes the route latency plus its bytes over the bottleneck") {
  // GPU 0 (node 0) -> GPU 8 (node 1), both on rail 0: 2.7 us; 47e6 B at 47 GB/s = 1 ms.
  const auto m = make_model("hgx-h200", adp(1, 8), adp(1, 8));
  REQUIRE(m->gpu(PoolRole::kDecode, 0, 0, 0) == 8);
  Simulation sim(1);
  Arrivals a(1);
  m->start(sim, kv(47'000'000, 0, 0, 0, 0), a.note(0));
  CHECK(a.at[0] == -1);  // never inside start()
  CHECK(m->in_flight() == 1);
  sim.run();
  check_near(a.at[0], transfer_ps(47e6, kH200Nic) + kRailPs);
  check_near(a.at[0], 1'000'000'000 + kRailPs);
  CHECK(m->in_flight() == 0);
}

TEST_CASE("a transfer inside one NVLink domain is faster than one across nodes") {
  // 4 + 4 GPUs fit one HGX node: GPU 0 -> GPU 4 over NVLink, 0.6 us + 47e6 B / 370.8 GB/s
  // (126.75 us), against 1.0027 ms across nodes (previous test).
  const auto m = make_model("hgx-h200", adp(1, 4), adp(1, 4));
  CHECK(m->cluster().domains == 1);
  Simulation sim(1);
  Arrivals a(1);
  m->start(sim, kv(47'000'000, 0, 0, 0, 0), a.note(0));
  sim.run();
  check_near(a.at[0], transfer_ps(47e6, kH200Nvlink) + kNvlinkPs);
  CHECK(a.at[0] < 1'000'000'000 + kRailPs);
}

TEST_CASE("two transfers that share a bottleneck take twice as long as one") {
  const auto m = make_model("hgx-h200", adp(1, 8), adp(1, 8));
  SUBCASE("same route") {
    // Both GPU 0 -> GPU 8: 23.5 GB/s each, 47e6 B in 2 ms, then 2.7 us.
    Simulation sim(1);
    Arrivals a(2);
    m->start(sim, kv(47'000'000, 0, 0, 0, 0), a.note(0));
    m->start(sim, kv(47'000'000, 0, 0, 0, 0), a.note(1));
    sim.run();
    check_near(a.at[0], 2 * transfer_ps(47e6, kH200Nic) + kRailPs);
    check_near(a.at[1], a.at[0]);
  }
  SUBCASE("two prefill GPUs into one decode GPU") {
    // GPU 0 -> 8 (rail 0, 2.7 us) and GPU 1 -> 8 (rail 1 to rail 0 through the spines, 4.05 us)
    // share GPU 8's NIC port and host link: 23.5 GB/s each, data done at 2 ms.
    Simulation sim(1);
    Arrivals a(2);
    m->start(sim, kv(47'000'000, 0, 0, 0, 0), a.note(0));
    m->start(sim, kv(47'000'000, 0, 1, 0, 0), a.note(1));
    sim.run();
    check_near(a.at[0], 2'000'000'000 + kRailPs);
    check_near(a.at[1], 2'000'000'000 + kSpinePs);
  }
  SUBCASE("disjoint pairs do not share on a non-blocking rail fabric") {
    // GPU 0 -> 8 on rail 0 and GPU 1 -> 9 on rail 1: 1 ms each.
    Simulation sim(1);
    Arrivals a(2);
    m->start(sim, kv(47'000'000, 0, 0, 0, 0), a.note(0));
    m->start(sim, kv(47'000'000, 0, 1, 0, 1), a.note(1));
    sim.run();
    check_near(a.at[0], 1'000'000'000 + kRailPs);
    check_near(a.at[1], 1'000'000'000 + kRailPs);
  }
  SUBCASE("a later transfer slows an earlier one from its start") {
    // GPU 0 -> 8 alone for 0.5 ms (23.5e6 B moved), then shared at 23.5 GB/s: the first's last
    // 23.5e6 B and the second's first 23.5e6 B take 1 ms; the first's data ends at 1.5 ms, then
    // the second runs alone: 23.5e6 B in 0.5 ms, data done at 2 ms.
    Simulation sim(1);
    Arrivals a(2);
    NetworkKvTransferModel* model = m.get();
    m->start(sim, kv(47'000'000, 0, 0, 0, 0), a.note(0));
    sim.schedule_at(TimePoint{} + microseconds(500), [model, &a](Simulation& s) {
      model->start(s, kv(47'000'000, 0, 0, 0, 0), a.note(1));
    });
    sim.run();
    check_near(a.at[0], 1'500'000'000 + kRailPs);
    CHECK(std::llabs(a.at[1] - (2'000'000'000 + kRailPs)) <= 2);
  }
}

TEST_CASE("every GPU of a wide source rank sends its share, sharing where the shares meet") {
  // Prefill rank 1 of an instance of tp 8 with 2 ranks holds GPUs 4..7; the decode rank is
  // GPU 8 alone. Four flows of 47e6 B (rails 4..7 -> rail 0, 4.05 us) share GPU 8's 47 GB/s:
  // 4 x 1 ms, then 4.05 us.
  const auto m = make_model("hgx-h200", {1, 8, 2, 1}, adp(1, 8));
  CHECK(m->gpu(PoolRole::kPrefill, 0, 1, 0) == 4);
  Simulation sim(1);
  Arrivals a(1);
  m->start(sim, kv(47'000'000, 0, 1, 0, 0), a.note(0));
  sim.run();
  check_near(a.at[0], 4 * transfer_ps(47e6, kH200Nic) + kSpinePs);
}

TEST_CASE("a wide destination rank receives one flow per source GPU") {
  // Source GPU 0 -> first GPU of decode rank 1 of a tp 8, 2-rank instance: 8 + 4 = GPU 12
  // (rail 0 -> rail 4: 4.05 us). One flow: 1 ms.
  const auto m = make_model("hgx-h200", adp(1, 8), {1, 8, 2, 1});
  CHECK(m->gpu(PoolRole::kDecode, 0, 1, 0) == 12);
  Simulation sim(1);
  Arrivals a(1);
  m->start(sim, kv(47'000'000, 0, 0, 0, 1), a.note(0));
  sim.run();
  check_near(a.at[0], 1'000'000'000 + kSpinePs);
}

TEST_CASE("a zero-byte transfer completes after the route latency, from an event") {
  const auto m = make_model("hgx-h200", adp(1, 8), adp(1, 8));
  Simulation sim(1);
  Arrivals a(1);
  m->start(sim, kv(0, 0, 0, 0, 0), a.note(0));
  CHECK(a.at[0] == -1);
  sim.run();
  CHECK(a.at[0] == kRailPs);
}

/// Six transfers on two HGX nodes, started at 0, 0, 0.2, 0.2, 0.7 and 1.1 ms; returns their
/// completion times (-1: not done). The run stops at `stop`, maybe with transfers in flight.
std::vector<std::int64_t> pattern(NetworkKvTransferModel& m, std::uint64_t seed, TimePoint stop) {
  struct Start {
    std::int64_t at_us;
    serve::KvTransfer transfer;
  };
  const std::vector<Start> starts = {
      {0, kv(30'000'000, 0, 0, 0, 0)},   {0, kv(20'000'000, 0, 1, 0, 0)},
      {200, kv(40'000'000, 0, 2, 0, 3)}, {200, kv(10'000'000, 0, 0, 0, 3)},
      {700, kv(25'000'000, 0, 3, 0, 0)}, {1100, kv(5'000'000, 0, 2, 0, 1)}};
  // The simulation is destroyed first (declared last), then the arrivals it wrote to.
  Arrivals a(starts.size());
  Simulation sim(seed);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    NetworkKvTransferModel* model = &m;
    const Start* s = &starts[i];
    Arrivals* arrivals = &a;
    sim.schedule_at(TimePoint{} + microseconds(s->at_us), [model, s, arrivals, i](Simulation& sm) {
      model->start(sm, s->transfer, arrivals->note(i));
    });
  }
  sim.run_until(stop);
  return a.at;
}

TEST_CASE("transfers are deterministic, and a new simulation starts from an empty network") {
  const TimePoint end = TimePoint{} + milliseconds(100);
  const auto first = make_model("hgx-h200", adp(1, 8), adp(1, 8));
  const std::vector<std::int64_t> reference = pattern(*first, 1, end);
  for (const std::int64_t at : reference) CHECK(at > 0);
  // A second model gives the same times, bit for bit.
  CHECK(pattern(*make_model("hgx-h200", adp(1, 8), adp(1, 8)), 1, end) == reference);
  // Reuse one model: a run stopped at 0.3 ms leaves transfers in flight; the next simulation
  // must not see them (their callbacks are dropped), so it reproduces the reference.
  const auto reused = make_model("hgx-h200", adp(1, 8), adp(1, 8));
  const std::vector<std::int64_t> cut = pattern(*reused, 1, TimePoint{} + microseconds(300));
  CHECK(reused->in_flight() > 0);
  CHECK(cut[0] == -1);
  CHECK(pattern(*reused, 1, end) == reference);
  CHECK(reused->in_flight() == 0);
  // The seed of the simulation (the next replica) does not change the network.
  CHECK(pattern(*reused, 2, end) == reference);
}

TEST_CASE(
    "a 1k-token DeepSeek-R1 KV cache moves in about 0.77 ms across H200 nodes, 50 us in an "
    "NVL72") {
  // MLA FP8 KV: 576 values x 61 layers x 1 B = 35136 B per token; 1024 tokens = 35,979,264 B.
  const std::int64_t n = 35136 * 1024;
  Simulation sim(1);
  Arrivals a(2);
  const auto h200 = make_model("hgx-h200", adp(1, 8), adp(1, 8));
  const auto nvl72 = make_model("gb200-nvl72", adp(1, 8), adp(1, 8));
  h200->start(sim, kv(n, 0, 0, 0, 0), a.note(0));
  nvl72->start(sim, kv(n, 0, 0, 0, 0), a.note(1));
  sim.run();
  // H200 across nodes: 2.7 us + 35,979,264 / 47e9 s = 2.7 + 765.52 = 768.22 us.
  check_near(a.at[0], transfer_ps(static_cast<double>(n), kH200Nic) + kRailPs);
  // GB200 inside one NVL72: 0.6 us + 35,979,264 / 721.8e9 s = 0.6 + 49.85 = 50.45 us.
  check_near(a.at[1], transfer_ps(static_cast<double>(n), kGb200Nvlink) + kNvlinkPs);
  MESSAGE("DSR1 1024-token KV: H200 across nodes " << static_cast<double>(a.at[0]) * 1e-6
                                                   << " us, GB200 NVL72 "
                                                   << static_cast<double>(a.at[1]) * 1e-6 << " us");
}

std::unique_ptr<NetworkKvTransferModel> make_mixed(const std::string& prefill,
                                                   const std::string& decode, KvPoolShape p,
                                                   KvPoolShape d) {
  const config::Catalog catalog = source_catalog();
  return std::make_unique<NetworkKvTransferModel>(hw::load_network_efficiency(catalog),
                                                  hw::load_system(catalog, prefill),
                                                  hw::load_system(catalog, decode), p, d);
}

TEST_CASE("pools on different systems meet only on the scale-out network, at the slower NIC") {
  // HGX H200 prefill (one 400 Gb/s NIC per GPU, hgx-h200.yaml S21) and GB300 NVL72 decode (one
  // 800 Gb/s NIC per GPU, gb300-nvl72.yaml S28): the H200 side is slower, so the cluster is of
  // HGX domains; 4 prefill GPUs fill half a domain and the decode pool starts at the next
  // domain, GPU 8, never sharing an NVLink switch with the prefill GPUs.
  const auto m = make_mixed("hgx-h200", "gb300-nvl72", adp(1, 4), adp(1, 8));
  CHECK(m->decode_first() == 8);
  CHECK(m->gpu(PoolRole::kDecode, 0, 0, 0) == 8);
  CHECK(m->cluster().system.name == "hgx-h200");
  CHECK(m->cluster().domains == 2);
  // Every prefill -> decode route leaves through NICs and no route has an NVLink hop; the
  // bottleneck is the 400 Gb/s NIC x 0.94 = 47 GB/s.
  for (int src = 0; src < 4; ++src) {
    for (int dst = 8; dst < 16; ++dst) {
      CHECK(m->topology().route_capacity(src, dst).base() == doctest::Approx(kH200Nic));
      for (const hw::LinkId l : m->topology().route(src, dst).links) {
        CHECK(m->topology().link(l).kind != hw::LinkKind::kNvlink);
      }
    }
  }
  // The same four prefill GPUs on one system (GB300 NVL72) reach decode over NVLink instead.
  const auto same = make_model("gb300-nvl72", adp(1, 4), adp(1, 8));
  CHECK(same->gpu(PoolRole::kDecode, 0, 0, 0) == 4);
  CHECK(same->cluster().domains == 1);
  // One transfer: rail latency + 47e6 B / 47 GB/s = 1 ms, as across two H200 nodes.
  Simulation sim(1);
  Arrivals a(1);
  m->start(sim, kv(47'000'000, 0, 0, 0, 0), a.note(0));
  sim.run();
  check_near(a.at[0], transfer_ps(47e6, kH200Nic) + kRailPs);
  CHECK(m->describe().find("mixed hardware hgx-h200 -> gb300-nvl72") != std::string::npos);
  // The other way round (GB300 prefill, H200 decode) the H200 side is still the slower one.
  const auto back = make_mixed("gb300-nvl72", "hgx-h200", adp(1, 8), adp(1, 8));
  CHECK(back->cluster().system.name == "hgx-h200");
  CHECK(back->topology().route_capacity(0, back->decode_first()).base() ==
        doctest::Approx(kH200Nic));
}

/// The disaggregated analytic test scenario (tests/data/serve/disagg_analytic.yaml) without
/// `kv_transfer`, with a short workload.
serve::Scenario network_scenario(const config::Catalog& catalog) {
  const char* yaml = R"(
name: disagg-network
model: deepseek-r1
system: gb200-nvl72
seed: 4
deployment:
  prefill: {instances: 2, tp: 4, ep: 4, attention_dp: 4, max_batch_size: 16,
            max_num_tokens: 8192, chunked_prefill_size: 8192, kv_capacity_tokens: 1000000}
  decode: {instances: 1, tp: 8, ep: 8, attention_dp: 8, max_batch_size: 128,
           max_num_tokens: 512, kv_capacity_tokens: 8000000}
  kv_bytes_per_token: "35136 B"
step_model: {impl: analytic, fixed: "5 ms", per_token: "2 us", per_kv_token: "1 ns"}
workload:
  preset: random-1k1k
  overrides: {requests: 80, warmup: 8}
)";
  return serve::parse_scenario(config::ConfigNode::parse(yaml, "test"), catalog);
}

/// Runs `sc` on `built`: some requests hand their KV over, each taking at least `fixed_ps` +
/// its bytes (35,136 B per input token) at `rate` B/s, and a second run on the same models (a
/// new Simulation) is identical.
void check_transfers(const serve::Scenario& sc, const BuiltModels& built, double rate,
                     std::int64_t fixed_ps) {
  const serve::EngineConfig engine = sc.engine_config();
  const serve::test::RunWithRequests r = serve::test::run_with_requests(
      engine, sc.workload, built.models.view(), sc.seed, std::nullopt);
  REQUIRE(r.result.metrics.kv_transfer_ms);
  CHECK(r.result.metrics.kv_transfer_ms->count > 0);
  int transfers = 0;
  for (const serve::RequestRecord& q : r.requests) {
    if (q.decode_instance < 0 || !q.completed) continue;
    ++transfers;
    const std::int64_t alone = transfer_ps(35136.0 * q.input_tokens, rate) + fixed_ps - 1;
    CHECK((q.decode_ready - q.decode_admit).count() >= alone);
  }
  CHECK(transfers > 0);
  const serve::test::RunWithRequests again = serve::test::run_with_requests(
      engine, sc.workload, built.models.view(), sc.seed, std::nullopt);
  REQUIRE(again.requests.size() == r.requests.size());
  for (std::size_t i = 0; i < r.requests.size(); ++i) {
    CHECK(again.requests[i].decode_ready == r.requests[i].decode_ready);
  }
}

TEST_CASE("a disaggregated scenario without kv_transfer moves KV on the network") {
  const config::Catalog catalog = source_catalog();
  serve::Scenario sc = network_scenario(catalog);
  const BuiltModels built = build_step_models(sc, catalog);
  const std::string d = built.models.kv_transfer->describe();
  CHECK(d.find("network flows (max_min) on gb200-nvl72") == 0);
  // One NVL72: a transfer takes at least 0.6 us + ISL x 35136 B / 721.8 GB/s (more when it
  // shares a GPU's NVLink with others).
  check_transfers(sc, built, kGb200Nvlink, kNvlinkPs);
}

TEST_CASE("a scenario's kv_transfer keeps the fixed rate") {
  const config::Catalog catalog = source_catalog();
  serve::Scenario sc = serve::load_scenario(
      std::filesystem::path{MOESIM_TEST_DATA_DIR} / "serve" / "disagg_analytic.yaml", {}, catalog);
  const BuiltModels built = build_step_models(sc, catalog);
  CHECK(built.models.kv_transfer->describe().find("network") == std::string::npos);
}

TEST_CASE("a mixed-hardware scenario moves KV over the NICs and runs deterministically") {
  const config::Catalog catalog = source_catalog();
  serve::Scenario sc = network_scenario(catalog);
  // Prefill on HGX H200 (8 GPUs), decode on the scenario's GB200 NVL72. Both have 400 Gb/s
  // NICs: on the tie the cluster is of the decode system's domains, the prefill pool in the
  // first NVL72 domain and the decode pool from the second, GPU 72.
  sc = serve::parse_scenario(config::with_setting(sc.root, "deployment.prefill.system=hgx-h200",
                                                  "--set", config::MissingKeys::kAdd),
                             catalog);
  REQUIRE(sc.mixed());
  const BuiltModels built = build_step_models(sc, catalog);
  const std::string d = built.models.kv_transfer->describe();
  CAPTURE(d);
  CHECK(d.find("decode GPUs 72-79") != std::string::npos);
  CHECK(d.find("mixed hardware hgx-h200 -> gb200-nvl72") != std::string::npos);
  // Both sides have 400 Gb/s NICs (47 GB/s achieved); each transfer takes at least the rail
  // latency + ISL x 35136 B / 47 GB/s, some 15 times the NVLink time of the same-system run.
  check_transfers(sc, built, kH200Nic, kRailPs);
}

TEST_CASE("pools naming the top-level system run bit for bit as without a pool system") {
  const config::Catalog catalog = source_catalog();
  serve::Scenario plain = network_scenario(catalog);
  serve::Scenario named = plain;
  config::ConfigNode root = plain.root;
  for (const char* s :
       {"deployment.prefill.system=gb200-nvl72", "deployment.decode.system=gb200-nvl72"}) {
    root = config::with_setting(root, s, "--set", config::MissingKeys::kAdd);
  }
  named = serve::parse_scenario(root, catalog);
  REQUIRE_FALSE(named.mixed());
  const BuiltModels a = build_step_models(plain, catalog);
  const BuiltModels b = build_step_models(named, catalog);
  CHECK(a.notes == b.notes);
  const serve::RunResult ra = serve::run_serving(plain.engine_config(), plain.workload,
                                                 a.models.view(), plain.seed, std::nullopt);
  const serve::RunResult rb = serve::run_serving(named.engine_config(), named.workload,
                                                 b.models.view(), named.seed, std::nullopt);
  CHECK(serve::metrics_json(ra.metrics, {}) == serve::metrics_json(rb.metrics, {}));
}

TEST_CASE("in a mixed layout a named stack prices only the pools whose GPU it covers") {
  // trtllm-1.2 is calibrated on B200 only (topologies/stacks/calibrated/trtllm-1.2.0rc5.yaml):
  // the B200 decode pool uses it, the H200 prefill pool its system's stack (trtllm).
  const config::Catalog catalog = source_catalog();
  const std::vector<std::string> settings{"stack=trtllm-1.2", "deployment.decode.system=hgx-b200"};
  serve::Scenario sc = serve::load_scenario(std::filesystem::path{MOESIM_SOURCE_DIR} / "scenarios" /
                                                "mixed-h200-prefill-nvl72-decode.yaml",
                                            settings, catalog);
  REQUIRE(sc.mixed());
  const BuiltModels built = build_step_models(sc, catalog);
  auto noted = [&](const std::string& text) {
    for (const std::string& n : built.notes) {
      if (n.find(text) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(
      noted("prefill: stack trtllm-1.2 has no calibration for h200: the pool uses its "
            "system's stack trtllm"));
  CHECK(noted("prefill: on hgx-h200, kernels priced by stack trtllm "));
  CHECK(noted("decode: on hgx-b200, kernels priced by stack trtllm-1.2 "));
}

}  // namespace
}  // namespace moesim::step
