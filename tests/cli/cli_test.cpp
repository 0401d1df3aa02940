// End-to-end tests of the moesim executable: exit codes, error message shape, and the commands
// of the foundation (list, show, compare). They run the built binary with std::system.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sim/config/config_node.hpp"
#include "test_util.hpp"
#include "tests/cli/cli_test_util.hpp"

using moesim::cli_test::contains;
using moesim::cli_test::Result;
using moesim::cli_test::run_moesim;

TEST_CASE("compare --hardware prints GB200 NVL72 beside HGX H200 with the ratio") {
  const Result r = run_moesim("compare --hardware");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "gb200-nvl72"));
  CHECK(contains(r.output, "hgx-h200"));
  CHECK(contains(r.output, "gb200-nvl72 / hgx-h200"));
  // The NVL72 domain's dense FP4 rate: 72 x 10 PFLOP/s = 720 PFLOP/s (topologies/gpus/gb200.yaml).
  CHECK(contains(r.output, "720"));
}

TEST_CASE("compare --hardware writes CSV and JSON when asked") {
  const Result csv = run_moesim("compare --hardware --format csv");
  CHECK(csv.status == 0);
  CHECK(contains(csv.output, "figure,gb200-nvl72,hgx-h200"));
  const Result json = run_moesim("compare --hardware --format=json");
  CHECK(json.status == 0);
  CHECK(contains(json.output, "\"figure\": \"GPUs\""));
}

TEST_CASE("show prints a GPU and a system, and list names every catalog entry") {
  const Result gpu = run_moesim("show gpu h200");
  CHECK(gpu.status == 0);
  CHECK(contains(gpu.output, "HBM bandwidth (TB/s)"));
  const Result sys = run_moesim("show system gb200-nvl72");
  CHECK(sys.status == 0);
  CHECK(contains(sys.output, "GPUs per NVLink domain"));
  const Result list = run_moesim("list");
  CHECK(list.status == 0);
  for (const char* name : {"h100", "h200", "b200", "gb200", "b300", "gb300", "hgx-h200",
                           "gb200-nvl72", "gb300-nvl72", "deepseek-r1"}) {
    CHECK_MESSAGE(contains(list.output, name), name);
  }
}

namespace {

/// The entry names `moesim list` prints under the section whose heading starts with `heading`
/// (each entry is a line "  NAME  description"; the section ends at a blank line).
std::vector<std::string> listed_under(const std::string& output, const std::string& heading) {
  std::vector<std::string> names;
  const std::size_t at = output.find("\n" + heading);
  if (at == std::string::npos) return names;
  std::size_t line = output.find('\n', at + 1) + 1;
  while (line < output.size() && output.compare(line, 2, "  ") == 0) {
    const std::size_t end = output.find_first_of(" \n", line + 2);
    names.push_back(output.substr(line + 2, end - line - 2));
    line = output.find('\n', line);
    if (line == std::string::npos) break;
    ++line;
  }
  return names;
}

}  // namespace

TEST_CASE("show model prints DeepSeek-R1's parameters and KV bytes per token, in JSON too") {
  const Result text = run_moesim("show model deepseek-r1");
  REQUIRE(text.status == 0);
  CHECK(contains(text.output, "mla"));
  CHECK(contains(text.output, "max position embeddings (tokens)"));
  CHECK(contains(text.output, "163840"));

  const Result json = run_moesim("show model deepseek-r1 --format json");
  REQUIRE(json.status == 0);
  // JSON is YAML, so the config parser reads it back.
  const moesim::config::ConfigNode rows = moesim::config::ConfigNode::parse(json.output, "json");
  REQUIRE(rows.is_sequence());
  auto value = [&](const std::string& field) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].at("field").as_string() == field) return rows[i].at("value").as_string();
    }
    FAIL("no field " << field);
    return std::string{};
  };
  // DeepSeek-R1 README: 671B total, 37B activated. count_parameters() gives 671.03B total and
  // 36.6B active without the input embedding (tests/llm/model_test.cpp).
  CHECK(std::stod(value("total parameters (B)")) == doctest::Approx(671.0).epsilon(0.02));
  CHECK(std::stod(value("active parameters per token (B)")) == doctest::Approx(37.0).epsilon(0.03));
  // MLA caches kv_lora_rank 512 + qk_rope_head_dim 64 = 576 values per layer; 61 layers;
  // BF16 is 2 B: 576 x 2 x 61 = 70,272 B; FP8 half of that.
  CHECK(value("KV bytes per token bf16 (B)") == "70272");
  CHECK(value("KV bytes per token fp8 (B)") == "35136");
  CHECK(value("MoE layers") == "58");
  CHECK(value("experts per token (top-k)") == "8");

  const Result bad = run_moesim("show modle deepseek-r1");
  CHECK(bad.status == 2);
  CHECK(contains(bad.output, "did you mean 'model'?"));
}

TEST_CASE("list files the efficiency and network tables apart from the price sheets") {
  // Before: both appeared under "price sheets (topologies/)", beside prices.
  const Result list = run_moesim("list");
  REQUIRE(list.status == 0);
  CHECK(listed_under(list.output, "price sheets") == std::vector<std::string>{"prices"});
  CHECK(listed_under(list.output, "model parameters") ==
        std::vector<std::string>{"efficiency", "network"});
  // Each line carries the file's description.
  CHECK(contains(list.output, "  efficiency  Default kernel efficiencies"));
}

TEST_CASE("a path to a YAML file is accepted wherever a catalog name is") {
  const Result r = run_moesim(std::string("show system ") + MOESIM_SOURCE_DIR +
                              "/topologies/systems/hgx-h200.yaml");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "hgx-h200"));
}

TEST_CASE("a misspelt catalog name exits with status 2 and suggests the right one") {
  const Result r = run_moesim("show system gb200-nvl27");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "moesim: error: <command line>"));
  CHECK(contains(r.output, "did you mean 'gb200-nvl72'?"));
}

TEST_CASE("an unknown command or option exits with status 2 and suggests, never a stack trace") {
  const Result cmd = run_moesim("compair");
  CHECK(cmd.status == 2);
  CHECK(contains(cmd.output, "did you mean 'compare'?"));
  const Result opt = run_moesim("compare --sytem hgx-h100");
  CHECK(opt.status == 2);
  CHECK(contains(opt.output, "did you mean '--system'?"));
  const Result fmt = run_moesim("compare --format jsn");
  CHECK(fmt.status == 2);
  CHECK(contains(fmt.output, "did you mean 'json'?"));
}

TEST_CASE("a YAML error names the file, line, column and key path") {
  const Result r = run_moesim(std::string("show gpu ") + MOESIM_TEST_DATA_DIR +
                              "/config/errors/broken_gpu.yaml");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "broken_gpu.yaml:"));
  CHECK(contains(r.output, "expected"));
  CHECK(contains(r.output, "found"));
}

TEST_CASE("collective prints nccl-tests figures and sweeps message sizes") {
  const Result one =
      run_moesim("collective --system gb200-nvl72 --op alltoall --bytes \"64 MiB\" --ranks 72");
  CHECK(one.status == 0);
  CHECK(contains(one.output, "busbw_GBps"));
  const Result sweep = run_moesim(
      "collective --system hgx-h200 --op allreduce --sweep --min \"1 MiB\" --max "
      "\"4 MiB\" --format csv");
  CHECK(sweep.status == 0);
  // 1, 2 and 4 MiB: a header and three rows.
  CHECK(contains(sweep.output, "1048576,"));
  CHECK(contains(sweep.output, "2097152,"));
  CHECK(contains(sweep.output, "4194304,"));
  const Result bad = run_moesim("collective --op allreduse --bytes \"1 MiB\"");
  CHECK(bad.status == 2);
  const Result unit = run_moesim("collective --op allreduce --bytes 1048576");
  CHECK(unit.status == 2);
  CHECK(contains(unit.output, "--bytes"));
}

TEST_CASE("show system --graph prints the topology as DOT") {
  const Result r = run_moesim("show system hgx-h200 --graph");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "digraph"));
}

TEST_CASE("explain prints one DeepSeek-R1 step on HGX H200 in FP8 and on GB200 NVL72 in NVFP4") {
  const Result h200 = run_moesim(
      "explain --model deepseek-r1 --system hgx-h200 --plan '{attention_dp: 8, ep: 8}' "
      "--batch 16");
  CHECK(h200.status == 0);
  CHECK(contains(h200.output, "moe.dispatch"));
  CHECK(contains(h200.output, "step time (ms)"));
  const Result nvl = run_moesim(
      "explain --model deepseek-r1 --system gb200-nvl72 --precision '{weights: nvfp4}' --json");
  CHECK(nvl.status == 0);
  CHECK(contains(nvl.output, "\"loads\""));
  // NVFP4 on Hopper runs on a supported path and says so.
  const Result fp4 = run_moesim(
      "explain --model deepseek-r1 --system hgx-h200 --precision '{weights: nvfp4}' --plan "
      "'{attention_dp: 8, ep: 8}' --batch 8");
  CHECK(fp4.status == 0);
  CHECK(contains(fp4.output, "note:"));
}

TEST_CASE("explain --schema documents the scenario keys") {
  const Result r = run_moesim("explain --schema");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "workload"));
  CHECK(contains(r.output, "seed"));
}

TEST_CASE("run simulates an analytic scenario and writes JSON with the documented keys") {
  const Result r =
      run_moesim(std::string("run ") + MOESIM_TEST_DATA_DIR + "/serve/agg_analytic.yaml --json -");
  CHECK(r.status == 0);
  for (const char* key : {"output_tok_s_per_gpu", "total_tok_s_per_gpu", "tok_s_per_user",
                          "ttft_ms", "tpot_ms", "gpus"}) {
    CHECK_MESSAGE(contains(r.output, key), key);
  }
}

TEST_CASE("run with --replicas varies the routing per seed and refuses per-run files") {
  // Fixed lengths and a closed loop: only the routing draws differ between the seeds, so a
  // non-zero spread shows that each replica drew its own (none reuses the last one's).
  const std::string scenario = std::string(MOESIM_TEST_DATA_DIR) + "/serve/dsr1_h200_plan.yaml";
  const Result r = run_moesim("run " + scenario + " --replicas 2 --json -");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "\"ci95_low\""));
  const std::size_t at = r.output.find("\"output_tok_s_per_gpu\": {");
  REQUIRE(at != std::string::npos);
  const std::string stddev = "\"stddev\": ";
  const std::size_t sd = r.output.find(stddev, at);
  REQUIRE(sd != std::string::npos);
  CHECK(std::stod(r.output.substr(sd + stddev.size())) > 0.0);
  const Result csv = run_moesim("run " + scenario + " --replicas 2 --csv /dev/null");
  CHECK(csv.status == 2);
  CHECK(contains(csv.output, "--csv: expected one run"));
}

TEST_CASE("import hf turns a published config.json into a model card that loads") {
  const std::string card = std::string(MOESIM_BINARY_DIR) + "/imported-deepseek-r1.yaml";
  const Result r = run_moesim(std::string("import hf ") + MOESIM_TEST_DATA_DIR +
                              "/models/deepseek-r1.json --output " + card);
  CHECK(r.status == 0);
  // The card is accepted wherever a model name is: explain one step with it.
  const Result e = run_moesim("explain --model " + card +
                              " --system hgx-h200 --plan '{attention_dp: 8, ep: 8}' --batch 4");
  CHECK(e.status == 0);
  const Result bad = run_moesim("import hf /nonexistent/config.json");
  CHECK(bad.status == 2);
}

TEST_CASE("import hf accepts an old config that leaves keys to their transformers defaults") {
  // meta-llama/Llama-2-70b-hf's config.json has no attention_bias, mlp_bias or rope_theta.
  const std::string card = std::string(MOESIM_BINARY_DIR) + "/imported-llama-2-70b.yaml";
  const Result r = run_moesim(std::string("import hf ") + MOESIM_TEST_DATA_DIR +
                              "/models/hf/llama-2-70b-hf.json --output " + card);
  CHECK(r.status == 0);
  const std::string text = moesim::test::read_file(card);
  CHECK(contains(text, "# transformers default (LlamaConfig): attention_bias absent"));
  CHECK(contains(text, "# transformers default (LlamaConfig): rope_theta absent"));
}

TEST_CASE("run prices a DeepSeek-R1 scenario on HGX H200 with the plan-based step model") {
  const Result r = run_moesim(std::string("run ") + MOESIM_TEST_DATA_DIR +
                              "/serve/dsr1_h200_plan.yaml --json -");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "output_tok_s_per_gpu"));
  CHECK(contains(r.output, "cost_usd_per_mtok"));
}

TEST_CASE("run names each pool's system in a mixed layout; one system throughout is unchanged") {
  const std::string src = MOESIM_SOURCE_DIR;
  const Result mixed =
      run_moesim("run " + src + "/scenarios/mixed-h200-prefill-nvl72-decode.yaml --json -");
  CHECK(mixed.status == 0);
  CHECK(contains(mixed.output, "\"prefill_system\": \"hgx-h200\""));
  CHECK(contains(mixed.output, "\"decode_system\": \"gb200-nvl72\""));
  CHECK(contains(mixed.output, "mixed hardware hgx-h200 -> gb200-nvl72"));  // the KV note
  // Both pools naming the scenario's own system: the same JSON, byte for byte (0.3 s each).
  const std::string nvl72 = "run " + src + "/scenarios/dsr1-nvl72-disaggregated.yaml --json -";
  // (notes included: they are the same too).
  const Result plain = run_moesim(nvl72);
  const Result named = run_moesim(nvl72 +
                                  " --set deployment.prefill.system=gb200-nvl72"
                                  " --set deployment.decode.system=gb200-nvl72");
  CHECK(plain.status == 0);
  CHECK(contains(plain.output, "output_tok_s_per_gpu"));
  CHECK(named.output == plain.output);
  // A misspelt pool system: status 2 at the key, with the nearest name.
  const Result typo = run_moesim(nvl72 + " --set deployment.prefill.system=hgx-h20");
  CHECK(typo.status == 2);
  CHECK(contains(typo.output, "deployment.prefill.system"));
  CHECK(contains(typo.output, "did you mean 'hgx-h200'?"));
}

TEST_CASE("sweep --help explains what is swept, the pruning and how to read the frontier") {
  const Result r = run_moesim("sweep --help");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "What is swept"));
  CHECK(contains(r.output, "Pruning"));
  CHECK(contains(r.output, "Reading the frontier"));
  CHECK(contains(r.output, "--plot"));
}

namespace {

/// Lines of `csv` whose `frontier` column (the 17th of sweep_table) is "yes".
int frontier_rows(const std::string& csv) {
  int rows = 0;
  std::size_t start = 0;
  while (start < csv.size()) {
    const std::size_t end = std::min(csv.find('\n', start), csv.size());
    if (csv.substr(start, end - start).find(",yes,") != std::string::npos) ++rows;
    start = end + 1;
  }
  return rows;
}

/// Circles inside the SVG group of the series named `name`.
int circles_in_series(const std::string& svg, const std::string& name) {
  const std::size_t begin = svg.find("data-name=\"" + name + "\"");
  if (begin == std::string::npos) return -1;
  const std::size_t end = svg.find("</g>", begin);
  int n = 0;
  for (std::size_t at = svg.find("<circle class=\"point\"", begin); at < end;
       at = svg.find("<circle class=\"point\"", at + 1)) {
    ++n;
  }
  return n;
}

using ::moesim::test::read_file;

}  // namespace

TEST_CASE("a small sweep writes every point as CSV and draws each frontier point in the SVG") {
  const std::string csv_path = std::string(MOESIM_BINARY_DIR) + "/sweep-test.csv";
  const std::string svg_path = std::string(MOESIM_BINARY_DIR) + "/sweep-test.svg";
  std::remove(csv_path.c_str());
  std::remove(svg_path.c_str());
  // DeepSeek-R1 FP8 on one HGX H200: TP8 (EP 1 and EP 8) and ADP8 EP8, max batch 8, no MTP, no
  // disaggregation, concurrency 1, 2, 4 per instance; short requests keep it fast.
  const Result r = run_moesim(
      "sweep --system hgx-h200 --precision weights=checkpoint,kv_cache=fp8 --tp 8 --ep 8 "
      "--max-batch 8 --mtp 0 --disagg none --max-concurrency 4 --isl 64 --osl 8 --csv " +
      csv_path + " --plot " + svg_path);
  CHECK(r.status == 0);
  CHECK(contains(r.output, "on the frontier"));
  const std::string csv = read_file(csv_path);
  const std::string svg = read_file(svg_path);
  // 3 deployments x 3 rungs = 9 points, plus the header line.
  CHECK(contains(csv, "point,mode,gpus,plan"));
  CHECK(contains(csv, "ADP8 EP8 mb8 c4"));
  const int rows = frontier_rows(csv);
  CHECK(rows >= 1);
  CHECK(circles_in_series(svg, "hgx-h200 frontier") == rows);
}

TEST_CASE("sweep rejects a bad option or value with status 2 and a clear message") {
  const Result opt = run_moesim("sweep --system hgx-h200 --jobz 2");
  CHECK(opt.status == 2);
  CHECK(contains(opt.output, "did you mean '--jobs'?"));
  const Result isl = run_moesim("sweep --system hgx-h200 --isl 0");
  CHECK(isl.status == 2);
  CHECK(contains(isl.output, "--isl"));
  CHECK(contains(isl.output, "a positive integer"));
  const Result none = run_moesim("sweep");
  CHECK(none.status == 2);
  CHECK(contains(none.output, "--system"));
  const Result tp = run_moesim("sweep --system hgx-h200 --tp 8,x");
  CHECK(tp.status == 2);
  CHECK(contains(tp.output, "--tp"));
}

TEST_CASE("compare rejects a single system and a bad format before sweeping") {
  const Result one = run_moesim("compare --system hgx-h200");
  CHECK(one.status == 2);
  CHECK(contains(one.output, "two systems"));
  const Result fmt = run_moesim("compare --format jsn");
  CHECK(fmt.status == 2);
  CHECK(contains(fmt.output, "did you mean 'json'?"));
}

namespace {

/// `moesim run` of a test scenario with --set overrides (each a shell-quoted word).
Result run_scenario(const std::string& file, const std::string& sets) {
  return run_moesim("run " + std::string(MOESIM_TEST_DATA_DIR) + "/serve/" + file + " " + sets);
}

}  // namespace

TEST_CASE("input that overflowed the clock or stalled it is a located status-2 error") {
  // Each of these was an internal error (status 3): a duration past int64 picoseconds, or a
  // step of zero time.
  struct Case {
    const char* file;
    const char* sets;
    const char* key;
  };
  const Case cases[] = {
      {"agg_analytic.yaml", "--set 'workload.arrival={process: poisson, rate: \"1e-9 req/s\"}'",
       "workload.arrival.rate"},
      {"disagg_analytic.yaml", "--set 'deployment.kv_bytes_per_token=1 PB'",
       "deployment.kv_bytes_per_token"},
      {"disagg_analytic.yaml",
       "--set 'deployment.kv_transfer={latency: \"1 h\", bandwidth: \"1 B/s\"}'",
       "deployment.kv_transfer"},
      {"agg_analytic.yaml",
       "--set 'step_model={impl: analytic, fixed: \"0 s\", per_token: \"0 s\", per_kv_token: "
       "\"0 s\"}'",
       "step_model.fixed"},
  };
  for (const Case& c : cases) {
    const Result r = run_scenario(c.file, c.sets);
    CHECK_MESSAGE(r.status == 2, c.sets, "\n", r.output);
    CHECK_MESSAGE(contains(r.output, c.key), c.sets, "\n", r.output);
    CHECK_MESSAGE(!contains(r.output, "internal error"), c.sets);
  }
  // A 1 GiB-per-token KV cache at 50 GB/s moves a 2k-token prompt in 43 s: accepted by the
  // bounds (1 GiB, a day), refused here only for another reason, never with status 3.
  const Result big = run_scenario("disagg_analytic.yaml",
                                  "--set 'deployment.kv_bytes_per_token=1 GiB' --set "
                                  "workload.overrides.requests=40 --set "
                                  "workload.overrides.warmup=4");
  CHECK_MESSAGE(big.status != 3, big.output);
}

TEST_CASE("explain refuses a chunk or context beyond the model's context length with status 2") {
  // DeepSeek-R1 has 163840 positions (models/deepseek-r1.yaml); a 1e9-token chunk asserted
  // in the expert dispatch (under 2^31 tokens a step).
  const Result chunk = run_moesim("explain --phase prefill --chunk 1000000000");
  CHECK(chunk.status == 2);
  CHECK(contains(chunk.output, "--chunk"));
  CHECK(contains(chunk.output, "163840"));
  const Result context = run_moesim("explain --context 200000");
  CHECK(context.status == 2);
  CHECK(contains(context.output, "--context"));
}

TEST_CASE("a workload longer than the model's context, or MTP on a model without it, is refused") {
  // DeepSeek-R1: 163840 positions; the test workload's osl goes up to 200.
  const Result isl = run_scenario("agg_analytic.yaml", "--set workload.isl=200000");
  CHECK(isl.status == 2);
  CHECK(contains(isl.output, "workload.isl"));
  CHECK(contains(isl.output, "163840 positions"));
  const Result osl = run_scenario("agg_analytic.yaml", "--set workload.osl=163000");
  CHECK(osl.status == 2);
  CHECK(contains(osl.output, "workload.osl"));
  CHECK(contains(osl.output, "at most 162340 output tokens"));  // 163840 - 1500
  // Qwen3-235B-A22B has no MTP layers (models/qwen3-235b-a22b.yaml); the scenario asks MTP.
  const Result mtp = run_scenario("agg_analytic.yaml", "--set model=qwen3-235b-a22b");
  CHECK(mtp.status == 2);
  CHECK(contains(mtp.output, "speculative.method"));
  CHECK(contains(mtp.output, "no MTP layers"));
}

TEST_CASE("with one output token per request TPOT and tokens/s per user are n/a, not 0") {
  // TPOT = (E2E - TTFT) / (OSL - 1) is undefined for OSL 1 (sim/serve/metrics.hpp).
  const Result json = run_scenario("agg_analytic.yaml", "--set workload.osl=1 --json -");
  CHECK(json.status == 0);
  CHECK(contains(json.output, "\"tok_s_per_user\": null"));
  CHECK(contains(json.output, "\"p90\": null"));
  const Result text = run_scenario("agg_analytic.yaml", "--set workload.osl=1");
  CHECK(text.status == 0);
  CHECK(contains(text.output, "per user     n/a"));
  CHECK(contains(text.output, "TPOT         n/a"));
}

TEST_CASE("an unknown model or system is a located status-2 error with the analytic model too") {
  // agg_analytic.yaml prices steps with `step_model: {impl: analytic}`, which needs no system.
  std::ifstream in(std::string(MOESIM_TEST_DATA_DIR) + "/serve/agg_analytic.yaml");
  std::stringstream text;
  text << in.rdbuf();
  const std::string fixture = text.str();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "moesim_analytic_names";
  std::filesystem::create_directories(dir);
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string out = fixture;
    REQUIRE(out.find(from) != std::string::npos);
    out.replace(out.find(from), from.size(), to);
    const std::filesystem::path path = dir / "scenario.yaml";
    std::ofstream(path) << out;
    return path.string();
  };
  const Result system = run_moesim("run " + with("system: hgx-h200", "system: hgx-h2000"));
  CHECK(system.status == 2);
  CHECK(contains(system.output, "scenario.yaml:5:"));
  CHECK(contains(system.output, "did you mean 'hgx-h200'?"));
  const Result model = run_moesim("run " + with("model: deepseek-r1", "model: deepseek-r2"));
  CHECK(model.status == 2);
  CHECK(contains(model.output, "scenario.yaml:4:"));
  CHECK(contains(model.output, "did you mean 'deepseek-r1'?"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a --data-dir that does not exist is a status-2 error naming it, not an empty catalog") {
  const std::vector<std::string> commands{
      "list", "show gpu h200",
      std::string("run ") + MOESIM_TEST_DATA_DIR + "/serve/agg_analytic.yaml"};
  for (const std::string& command : commands) {
    const Result r = run_moesim(command + " --data-dir /nonexistent/moesim-data");
    CHECK(r.status == 2);
    CHECK(contains(r.output, "--data-dir"));
    CHECK(contains(r.output, "/nonexistent/moesim-data"));
    CHECK_FALSE(contains(r.output, "(none)"));
  }
}
