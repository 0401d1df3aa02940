#include "sim/serve/scenario.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/serve/report.hpp"
#include "sim/serve/run.hpp"
#include "test_util.hpp"

namespace moesim::serve {
namespace {

const config::Catalog& catalog() {
  static const config::Catalog c{MOESIM_SOURCE_DIR};
  return c;
}

std::string fixture(const std::string& name) {
  return std::string(MOESIM_TEST_DATA_DIR) + "/serve/" + name;
}

using ::moesim::test::config_error;

Scenario load(const std::string& name, std::vector<std::string> settings = {}) {
  return load_scenario(fixture(name), settings, catalog());
}

TEST_CASE("an aggregated scenario parses into the engine configuration") {
  const Scenario s = load("agg_analytic.yaml");
  CHECK(s.name == "agg-analytic");
  CHECK(s.system_name == "hgx-h200");
  CHECK(s.seed == 3);
  CHECK_FALSE(s.disaggregated);
  CHECK(s.primary.tp == 8);
  CHECK(s.primary.pool.gpus_per_instance == 8);  // tp x pp
  CHECK(s.primary.pool.attention_dp == 8);
  CHECK(s.primary.pool.kv_policy == KvPolicy::kMaxUtilization);
  CHECK(s.primary.pool.kv_block_size == kDefaultKvBlockSize);
  CHECK(s.primary.kv_memory_fraction == kDefaultKvMemoryFraction);
  CHECK(s.spec.acceptance == std::vector<double>{0.8, 0.6});
  CHECK(s.host.step_overhead == microseconds(200));
  CHECK(s.host.overlap_scheduler);
  CHECK(s.workload.requests == 200);
  const EngineConfig c = s.engine_config();
  CHECK(c.gpus() == 16);
  CHECK(c.primary.kv_capacity_tokens == 4'000'000);
}

TEST_CASE("--set overrides a scenario key with its location") {
  const Scenario s = load("agg_analytic.yaml",
                          {"deployment.aggregated.instances=3", "workload.arrival.concurrency=8"});
  CHECK(s.primary.pool.instances == 3);
  CHECK(s.workload.concurrency == 8);
  const ConfigError e = config_error([] { load("agg_analytic.yaml", {"seed=-1"}); });
  CHECK(e.key_path() == "seed");
  CHECK(e.where().file == "--set");
  CHECK(config_error([] {
          load("agg_analytic.yaml", {"deployment.aggregated.attention_dp=3"});
        }).key_path() == "deployment.aggregated.attention_dp");
  CHECK(config_error([] {
          load("agg_analytic.yaml", {"speculative.acceptance=[0.5]"});
        }).key_path() == "speculative.acceptance");
}

TEST_CASE("MTP acceptance defaults to the model card's rates") {
  // deepseek-r1's card: mtp.acceptance [0.92, 0.717391, 0.363636] (TensorRT-LLM tech blog 1).
  const Scenario s = load("agg_analytic.yaml", {"speculative={method: mtp, draft_tokens: 3}"});
  CHECK(s.spec.acceptance == std::vector<double>{0.92, 0.717391, 0.363636});
  const Scenario two = load("agg_analytic.yaml", {"speculative={method: mtp, draft_tokens: 2}"});
  CHECK(two.spec.acceptance == std::vector<double>{0.92, 0.717391});
  // An explicit acceptance wins over the card.
  CHECK(load("agg_analytic.yaml").spec.acceptance == std::vector<double>{0.8, 0.6});
  const ConfigError e = config_error(
      [] { load("agg_analytic.yaml", {"speculative={method: mtp, draft_tokens: 4}"}); });
  CHECK(e.key_path() == "speculative.acceptance");
  const std::string what = e.what();
  CHECK(what.find("4 draft tokens") != std::string::npos);
  CHECK(what.find("deepseek-r1 gives 3") != std::string::npos);
  CHECK(what.find("give acceptance: explicitly") != std::string::npos);
  // The validation scenario keeps its own (rounded) rates.
  const Scenario v = load_scenario(
      std::string(MOESIM_TEST_DATA_DIR) + "/validation/serving/trtllm-dsr1-b200x8-minlat-mtp3.yaml",
      {}, catalog());
  CHECK(v.spec.acceptance == std::vector<double>{0.92, 0.717, 0.364});
}

TEST_CASE("--set adds an optional key the scenario leaves out, and still catches a typo") {
  // agg_analytic.yaml has no routing section: these settings add it.
  const Scenario s = load("agg_analytic.yaml", {"routing.popularity={kind: zipf, exponent: 0.8}"});
  REQUIRE(s.popularity.has_value());
  CHECK(s.popularity->at("exponent").as_double() == 0.8);
  CHECK(s.popularity->location().file == "--set");
  CHECK_FALSE(load("agg_analytic.yaml").popularity.has_value());
  const ConfigError e =
      config_error([] { load("agg_analytic.yaml", {"routing.popularty=uniform"}); });
  CHECK(e.key_path() == "routing.popularty");
  CHECK(e.suggestion() == "popularity");
  CHECK(e.where().file == "--set");
  CHECK(e.where().column == 9);
  CHECK(config_error([] {
          load("agg_analytic.yaml", {"routng.popularity=uniform"});
        }).suggestion() == "routing");
}

TEST_CASE("a disaggregated scenario takes a catalog workload with overrides") {
  const Scenario s = load("disagg_analytic.yaml");
  CHECK(s.disaggregated);
  CHECK(s.workload_name == "random-1k1k");
  CHECK(s.workload.requests == 300);
  CHECK(s.workload.classes[0].isl.min == 819);
  CHECK(*s.kv_bytes_per_token == bytes(35136));
  const EngineConfig c = s.engine_config();
  CHECK(c.gpus() == 2 * 4 + 8);
  CHECK(c.decode.limits.max_num_tokens == 512);
}

TEST_CASE("a missing KV capacity is reported when the engine configuration is built") {
  const config::ConfigNode root = config::ConfigNode::parse(
      "model: m\nsystem: s\nseed: 1\n"
      "deployment: {aggregated: {max_batch_size: 8, max_num_tokens: 512}}\n"
      "workload: {requests: 1, arrival: {process: closed_loop, concurrency: 1}, isl: 1, osl: 1}\n",
      "s.yaml");
  const Scenario s = parse_scenario(root, catalog());
  CHECK(config_error([&] { (void)s.engine_config(); }).key_path() ==
        "deployment.aggregated.kv_capacity_tokens");
  CHECK(config_error([&] { (void)analytic_models(s); }).key_path() == "step_model");
}

TEST_CASE("a request too long for a rank's KV cache is an error at the workload key") {
  // Engine::submit refused it as the request arrived, at "<engine config>" and
  // deployment.aggregated.kv_capacity_tokens, when the workload was what asked for too much.
  // agg_analytic.yaml: attention_dp 8, KV blocks of 32 tokens, 2 MTP draft tokens, isl up to
  // 1500, osl up to 200: a request reserves up to 1500 + 200 + 2 = 1702 tokens.
  auto what = [](const ConfigError& e) { return std::string(e.what()); };
  // 12800 tokens / 8 ranks = 1600 per rank (50 blocks): 1500 + 1 + 2 input-side fits, the
  // output does not: at most 1600 - 1500 - 2 = 98 output tokens, at workload.osl (line 37).
  const Scenario osl =
      load("agg_analytic.yaml", {"deployment.aggregated.kv_capacity_tokens=12800"});
  const ConfigError e = config_error([&] { (void)osl.engine_config(); });
  CHECK(e.key_path() == "workload.osl");
  CHECK(e.where().file == fixture("agg_analytic.yaml"));
  CHECK(e.where().line == 37);
  CHECK(what(e).find("at most 98 output tokens") != std::string::npos);
  CHECK(what(e).find("1600 tokens") != std::string::npos);
  CHECK(what(e).find("deployment.aggregated") != std::string::npos);
  CHECK(what(e).find("less attention_dp") != std::string::npos);
  // 8000 / 8 = 1000 per rank (31 whole blocks: 992): the input alone does not fit, at
  // workload.isl: at most 992 - 1 - 2 = 989 input tokens.
  const Scenario isl = load("agg_analytic.yaml", {"deployment.aggregated.kv_capacity_tokens=8000"});
  const ConfigError i = config_error([&] { (void)isl.engine_config(); });
  CHECK(i.key_path() == "workload.isl");
  CHECK(what(i).find("at most 989 input tokens") != std::string::npos);
  // 54 blocks per rank (1728 tokens) hold 1702; 53 (1696) do not.
  CHECK_NOTHROW((void)load("agg_analytic.yaml", {"deployment.aggregated.kv_capacity_tokens=13824"})
                    .engine_config());
  CHECK(config_error([&] {
          (void)load("agg_analytic.yaml", {"deployment.aggregated.kv_capacity_tokens=13823"})
              .engine_config();
        }).key_path() == "workload.osl");
  // A prefill pool holds the input only: random-1k1k's isl goes up to 1024; 3968 tokens over
  // 4 ranks is 992 per rank, at the preset's isl (workloads/random-1k1k.yaml).
  const Scenario pre = load("disagg_analytic.yaml", {"deployment.prefill.kv_capacity_tokens=3968"});
  const ConfigError p = config_error([&] { (void)pre.engine_config(); });
  CHECK(p.key_path() == "workload.isl");
  CHECK(p.where().file.find("random-1k1k.yaml") != std::string::npos);
  CHECK(what(p).find("deployment.prefill") != std::string::npos);
  CHECK(what(p).find("at most 992 input tokens") != std::string::npos);
}

TEST_CASE("a deployment of more GPUs than the simulator holds is refused at instances") {
  // 100,000 decode instances of 8 GPUs exhausted memory. kMaxDeploymentGpus (65536) in all
  // pools is the most: disagg_analytic.yaml's prefill pool has 2 x 4 = 8, so (65536 - 8) / 8 =
  // 8191 decode instances of 8 GPUs fit.
  const ConfigError e = config_error(
      [&] { (void)load("disagg_analytic.yaml", {"deployment.decode.instances=100000"}); });
  CHECK(e.key_path() == "deployment.decode.instances");
  CHECK(std::string(e.what()).find("at most 8191 instances") != std::string::npos);
  CHECK_NOTHROW((void)load("disagg_analytic.yaml", {"deployment.decode.instances=8191"}));
  CHECK(config_error([&] {
          (void)load("disagg_analytic.yaml", {"deployment.decode.instances=8192"});
        }).key_path() == "deployment.decode.instances");
  // Without kv_transfer the KV hand-offs are routed over a cluster of every GPU, which holds
  // hw::kMaxClusterGpus (4096): (4096 - 8) / 8 = 511 decode instances.
  auto routed = [](int decode_instances) {
    return parse_scenario(
        config::ConfigNode::parse(
            "model: m\nsystem: s\nseed: 1\ndeployment:\n"
            "  prefill: {instances: 2, tp: 4, max_batch_size: 8, max_num_tokens: 512}\n"
            "  decode: {instances: " +
                std::to_string(decode_instances) +
                ", tp: 8, max_batch_size: 8, max_num_tokens: 512}\n"
                "workload: {requests: 1, arrival: {process: closed_loop, concurrency: 1}, isl: 1, "
                "osl: 1}\n",
            "s.yaml"),
        catalog());
  };
  CHECK_NOTHROW((void)routed(511));
  const ConfigError r = config_error([&] { (void)routed(512); });
  CHECK(r.key_path() == "deployment.decode.instances");
  CHECK(r.where().line == 6);
  CHECK(std::string(r.what()).find("at most 511 instances") != std::string::npos);
  CHECK(std::string(r.what()).find("kv_transfer") != std::string::npos);
  // tp x pp past int32 was an overflow.
  CHECK(config_error([&] {
          (void)load("agg_analytic.yaml", {"deployment.aggregated.pp=2147483647"});
        }).key_path() == "deployment.aggregated.pp");
}

TEST_CASE("scenario errors point at the key") {
  auto parse = [](const std::string& text) {
    return parse_scenario(config::ConfigNode::parse(text, "s.yaml"), catalog());
  };
  const std::string tail =
      "workload: {requests: 1, arrival: {process: closed_loop, concurrency: 1}, isl: 1, osl: 1}\n";
  const std::string pool = "{max_batch_size: 8, max_num_tokens: 512}";
  CHECK(config_error([&] {
          parse("model: m\nsystem: s\nseed: 1\ndeployment: {aggregated: " + pool +
                ", prefill: " + pool + "}\n" + tail);
        }).key_path() == "deployment");
  CHECK(config_error([&] {
          parse("model: m\nsystem: s\nseed: 1\ndeployment: {prefill: " + pool + "}\n" + tail);
        }).key_path() == "deployment");
  const ConfigError typo = config_error([&] {
    parse(
        "model: m\nsystem: s\nseed: 1\ndeployment: {aggregated: {max_batch_size: 8, "
        "max_num_tokens: 512, chunked_prefil_size: 5}}\n" +
        tail);
  });
  CHECK(typo.suggestion() == "chunked_prefill_size");
  CHECK(config_error([&] {
          parse("model: m\nsystem: s\nseed: 1\ndeployment: {aggregated: " + pool + "}\n" +
                "workload: no-such-workload\n");
        }).key_path() == "workload");
}

TEST_CASE("a pool's own system makes mixed hardware, and its errors point at the key") {
  // disagg_analytic.yaml runs on gb200-nvl72; its prefill pool moves to hgx-h200.
  const Scenario mixed = load("disagg_analytic.yaml", {"deployment.prefill.system=hgx-h200"});
  CHECK(mixed.mixed());
  CHECK(mixed.primary_system_name == "hgx-h200");
  CHECK(mixed.decode_system_name == "gb200-nvl72");
  CHECK(mixed.system_of(mixed.primary).as_string() == "hgx-h200");
  CHECK(mixed.system_of(mixed.decode).as_string() == "gb200-nvl72");
  // Both pools naming the top-level system is not mixed.
  const Scenario same = load("disagg_analytic.yaml", {"deployment.prefill.system=gb200-nvl72",
                                                      "deployment.decode.system=gb200-nvl72"});
  CHECK_FALSE(same.mixed());
  CHECK_FALSE(load("disagg_analytic.yaml").mixed());
  // An unknown system: at the pool's key, with the nearest catalog name.
  const ConfigError typo = config_error(
      [&] { (void)load("disagg_analytic.yaml", {"deployment.decode.system=hgx-h20"}); });
  CHECK(typo.key_path() == "deployment.decode.system");
  CHECK(typo.suggestion() == "hgx-h200");
  // An aggregated pool runs on the top-level system only.
  const ConfigError agg = config_error(
      [&] { (void)load("agg_analytic.yaml", {"deployment.aggregated.system=gb200-nvl72"}); });
  CHECK(agg.key_path() == "deployment.aggregated.system");
  CHECK(std::string(agg.what()).find("no `system` on an aggregated pool") != std::string::npos);
}

TEST_CASE("mixed hardware prices each pool's GPU-hours and energy at its own system's entry") {
  // Analytic steps and a fixed-rate KV transfer: the prices alone differ between the runs.
  const Scenario same = load("disagg_analytic.yaml");
  const Scenario mixed = load("disagg_analytic.yaml", {"deployment.prefill.system=hgx-h200"});
  const hw::PriceSheet sheet = hw::load_price_sheet(catalog());
  const std::optional<Pricing> p =
      pricing_for(sheet, mixed.primary_system_name, mixed.decode_system_name);
  REQUIRE(p.has_value());
  REQUIRE(p->decode != nullptr);
  CHECK(p->of(PoolRole::kPrefill).price_per_gpu == sheet.at("hgx-h200").price_per_gpu_hour);
  CHECK(p->of(PoolRole::kDecode).price_per_gpu == sheet.at("gb200-nvl72").price_per_gpu_hour);
  CHECK_FALSE(pricing_for(sheet, "hgx-h200", "no-such-system").has_value());
  const ScenarioModels models = analytic_models(same);
  const RunResult a = run_serving(same.engine_config(), same.workload, models.view(), same.seed,
                                  pricing_from(sheet.at("gb200-nvl72")));
  const RunResult b =
      run_serving(mixed.engine_config(), mixed.workload, models.view(), mixed.seed, p);
  REQUIRE(a.metrics.cost_usd_per_mtok);
  REQUIRE(b.metrics.cost_usd_per_mtok);
  CHECK(b.metrics.output_tok_s_per_gpu == a.metrics.output_tok_s_per_gpu);
  // 8 prefill GPUs at $6.31/h and 8 decode GPUs at $10.50/h (topologies/prices.yaml): a mean
  // of $8.405 per GPU-hour against $10.50, and the cost per token in the same ratio.
  REQUIRE(b.metrics.price_usd_per_gpu_hour);
  CHECK(*b.metrics.price_usd_per_gpu_hour == doctest::Approx((8 * 6.31 + 8 * 10.50) / 16));
  CHECK(*b.metrics.cost_usd_per_mtok ==
        doctest::Approx(*a.metrics.cost_usd_per_mtok * 8.405 / 10.50).epsilon(1e-12));
  // Energy: each pool at its own system's powers, so the mixed run's joules differ by exactly
  // the prefill pool's share: 8 GPUs x W x (idle + (load - idle) x busy) with H200's figures
  // (1275 W load, 650 W idle) instead of GB200's (1666.7 W, 632.7 W).
  REQUIRE(a.metrics.joules_per_token);
  REQUIRE(b.metrics.joules_per_token);
  const PoolMetrics& pre = b.metrics.pools.at(0);
  REQUIRE(pre.role == PoolRole::kPrefill);
  const double w = b.metrics.window_s;
  auto pool_j = [&](double load, double idle) {
    return 8 * w * (idle + (load - idle) * pre.busy_fraction);
  };
  const double tokens = b.metrics.output_tok_s * w;
  CHECK(*b.metrics.joules_per_token - *a.metrics.joules_per_token ==
        doctest::Approx((pool_j(1275, 650) - pool_j(1666.7, 632.7)) / tokens));
}

TEST_CASE("runtime.scheduler sets the engine's scheduling, and its errors point at the key") {
  const Scenario s =
      load("agg_analytic.yaml",
           {"runtime.scheduler={dp_routing: round_robin, adp_balance: {timeout_iters: 50, "
            "batching_wait_iters: 10}, prefill_interval: 4, mixed_batches: false}"});
  REQUIRE(s.scheduling.has_value());
  const EngineConfig c = s.engine_config();
  CHECK(c.scheduling.dp_routing == SchedulingConfig::DpRouting::kRoundRobin);
  CHECK(c.scheduling.adp_balance);
  CHECK(c.scheduling.timeout_iters == 50);
  CHECK(c.scheduling.batching_wait_iters == 10);
  CHECK(c.scheduling.prefill_interval == 4);
  CHECK_FALSE(c.scheduling.mixed_batches);
  CHECK(describe(c.scheduling).find("round_robin") != std::string::npos);
  // Without the key: the engine's defaults (a stack's engine.scheduler is applied by the
  // step-time adapter, sim/step/step_models.cpp).
  CHECK(load("agg_analytic.yaml").engine_config().scheduling.dp_routing ==
        SchedulingConfig::DpRouting::kLeastLoaded);
  const ConfigError typo = config_error(
      [] { load("agg_analytic.yaml", {"runtime.scheduler={dp_routng: round_robin}"}); });
  CHECK(typo.key_path() == "runtime.scheduler.dp_routng");
  CHECK(typo.suggestion() == "dp_routing");
  CHECK(config_error([] {
          load("agg_analytic.yaml", {"runtime.scheduler={dp_routing: random}"});
        }).key_path() == "runtime.scheduler.dp_routing");
  CHECK(config_error([] {
          load("agg_analytic.yaml", {"runtime.scheduler={adp_balance: true}"});
        }).key_path() == "runtime.scheduler.adp_balance");
  CHECK(config_error([] {
          load("agg_analytic.yaml", {"runtime.scheduler={prefill_interval: 0}"});
        }).key_path() == "runtime.scheduler.prefill_interval");
}

TEST_CASE("the schema documents every scenario key") {
  const std::string schema = scenario_schema();
  for (const char* key : {"model",
                          "system",
                          "precision",
                          "seed",
                          "prices",
                          "deployment",
                          "aggregated",
                          "prefill",
                          "decode",
                          "kv_bytes_per_token",
                          "kv_transfer",
                          "instances",
                          "tp",
                          "ep",
                          "attention_dp",
                          "pp",
                          "max_batch_size",
                          "max_num_tokens",
                          "chunked_prefill_size",
                          "kv_block_size",
                          "kv_policy",
                          "kv_memory_fraction",
                          "kv_capacity_tokens",
                          "plan",
                          "speculative",
                          "draft_tokens",
                          "acceptance",
                          "runtime",
                          "step_overhead",
                          "overlap_scheduler",
                          "cuda_graphs",
                          "scheduler",
                          "dp_routing",
                          "adp_balance",
                          "prefill_interval",
                          "mixed_batches",
                          "step_model",
                          "per_kv_token",
                          "workload",
                          "requests",
                          "warmup",
                          "arrival",
                          "concurrency",
                          "rate",
                          "trace",
                          "classes",
                          "weight",
                          "isl",
                          "osl",
                          "sla"}) {
    CAPTURE(key);
    bool documented = false;
    for (const char* indent : {"", "  ", "    "}) {  // a line that starts with the key
      documented |= schema.find("\n" + std::string(indent) + key + " ") != std::string::npos;
    }
    CHECK(documented);
  }
}

TEST_CASE("a scenario runs end to end with the price sheet") {
  const Scenario s = load("disagg_analytic.yaml");
  const ScenarioModels models = analytic_models(s);
  const hw::PriceSheet sheet = hw::load_price_sheet(catalog());
  const RunResult r = run_serving(s.engine_config(), s.workload, models.view(), s.seed,
                                  pricing_from(sheet.at(s.system_name)));
  CHECK(r.metrics.measured_requests == 270);
  CHECK(r.metrics.gpus == 16);
  CHECK(r.metrics.cost_usd_per_mtok.has_value());
  CHECK(r.metrics.kv_transfer_ms.has_value());
  // Each transfer moves ~900 prompt tokens x 35,136 B over 50 GB/s: 0.02 + 0.63 ms.
  CHECK(r.metrics.kv_transfer_ms->mean > 0.4);
  CHECK(r.metrics.kv_transfer_ms->mean < 0.8);
  const std::string json = metrics_json(r.metrics, {{"scenario", s.name}});
  for (const char* key :
       {"\"output_tok_s_per_gpu\"", "\"total_tok_s_per_gpu\"", "\"tok_s_per_user\"",
        "\"ttft_ms\": {", "\"tpot_ms\": {", "\"p50\"", "\"p90\"", "\"p99\"",
        "\"cost_usd_per_mtok\"", "\"joules_per_token\"", "\"gpus\"",
        "\"output_tok_s_per_decode_gpu\"", "\"step_time_breakdown\""}) {
    CAPTURE(key);
    CHECK(json.find(key) != std::string::npos);
  }
}

}  // namespace
TEST_CASE("the README documents every scenario key exactly as explain --schema prints them") {
  // The README's "Scenario keys" section is the schema text; a key added to the schema and not
  // to the README (or edited in one only) fails here.
  std::ifstream in(std::filesystem::path{MOESIM_SOURCE_DIR} / "README.md");
  REQUIRE(in.good());
  std::stringstream readme;
  readme << in.rdbuf();
  const std::string schema = scenario_schema();
  CHECK(readme.str().find(schema) != std::string::npos);
}

}  // namespace moesim::serve
