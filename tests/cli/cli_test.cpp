// End-to-end tests of the moesim executable: exit codes, error message shape, and the commands
// of the foundation (list, show, compare). They run the built binary with std::system.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

namespace {

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr together
};

Result run_moesim(const std::string& args) {
  const std::string cmd = std::string(MOESIM_BINARY_DIR) + "/moesim " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("compare with no arguments prints GB200 NVL72 beside HGX H200 with the ratio") {
  const Result r = run_moesim("compare");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "gb200-nvl72"));
  CHECK(contains(r.output, "hgx-h200"));
  CHECK(contains(r.output, "gb200-nvl72 / hgx-h200"));
  // The NVL72 domain's dense FP4 rate: 72 x 10 PFLOP/s = 720 PFLOP/s (topologies/gpus/gb200.yaml).
  CHECK(contains(r.output, "720"));
}

TEST_CASE("compare writes CSV and JSON when asked") {
  const Result csv = run_moesim("compare --format csv");
  CHECK(csv.status == 0);
  CHECK(contains(csv.output, "figure,gb200-nvl72,hgx-h200"));
  const Result json = run_moesim("compare --format=json");
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

TEST_CASE("run prices a DeepSeek-R1 scenario on HGX H200 with the plan-based step model") {
  const Result r = run_moesim(std::string("run ") + MOESIM_TEST_DATA_DIR +
                              "/serve/dsr1_h200_plan.yaml --json -");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "output_tok_s_per_gpu"));
  CHECK(contains(r.output, "cost_usd_per_mtok"));
}
