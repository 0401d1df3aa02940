#pragma once
/// \file
/// The fuzz test's suite: how many cases of each family, the catalog files it mutates and the
/// commands that read them, and all_cases(), every case in order (tests/fuzz/fuzz_test.cpp runs
/// them). Every case is generated from kSeed (or the seed given, to explore beyond the fixed
/// cases); see fuzz_cases.hpp for the generators.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_cases.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_mutate.hpp"
#include "tests/fuzz/fuzz_runner.hpp"

namespace moesim::fuzz {

/// The source tree: scenarios, catalog and test data.
inline std::filesystem::path source_dir() { return MOESIM_SOURCE_DIR; }

/// A file of the source tree, whole.
inline std::string read_source(const std::string& rel) { return slurp(source_dir() / rel); }

/// The per-case-family counts; the total is what the test runs in the release build.
inline constexpr int kScenarioCases = 1000;
inline constexpr int kCatalogCases = 1100;
inline constexpr int kImportCases = 150;
inline constexpr int kMeasureCases = 150;
inline constexpr int kArgsCases = 1000;
inline constexpr int kSetCases = 600;

inline std::string numbered(const std::string& family, int n) {
  std::string s = std::to_string(n);
  return family + "-" + std::string(4 - std::min<std::size_t>(4, s.size()), '0') + s;
}

/// The JSON-related arguments (--json, --format and their values, --help), which decide whether
/// standard output holds JSON.
inline std::vector<std::string> output_args(const std::vector<std::string>& args) {
  std::vector<std::string> r;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--json", 0) == 0 || a.rfind("--format", 0) == 0 || a == "--help" || a == "-h") {
      r.push_back(a);
      if ((a == "--json" || a == "--format") && i + 1 < args.size()) r.push_back(args[i + 1]);
    }
  }
  return r;
}

/// The small scenarios, by file stem.
inline std::map<std::string, std::string> small_scenarios() {
  std::map<std::string, std::string> s;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() / "scenarios")) {
    if (e.path().extension() == ".yaml") {
      s[e.path().stem().string()] = shrink_scenario(slurp(e.path()));
    }
  }
  return s;
}

/// A catalog file and the commands that read it.
struct Target {
  std::string file;
  int weight;
  std::vector<std::vector<std::string>> commands;
};

inline std::vector<Target> catalog_targets() {
  const std::vector<std::string> run_h200 = {"run", "@C/h200-agg.yaml", "--json", "-"};
  const std::vector<std::string> run_h200d = {"run", "@C/h200-disagg.yaml", "--json", "-"};
  const std::vector<std::string> run_nvl72 = {"run", "@C/nvl72-agg.yaml", "--json", "-"};
  const std::vector<std::string> run_nvl72d = {"run", "@C/nvl72-disagg.yaml", "--json", "-"};
  const std::vector<std::string> run_longtail = {"run", "@C/longtail.yaml", "--json", "-"};
  const std::vector<std::string> explain = {"explain", "--system", "hgx-h200", "--json"};
  const std::vector<std::string> coll_h200 = {"collective", "--system", "hgx-h200",
                                              "--op",       "alltoall", "--bytes",
                                              "1 MiB",      "--format", "json"};
  const std::vector<std::string> coll_nvl72 = {"collective", "--system",  "gb200-nvl72",
                                               "--op",       "allreduce", "--bytes",
                                               "1 MiB",      "--format",  "json"};
  const std::vector<std::string> validate = {"validate", "@C/" + measured_path("gemm_perf.csv"),
                                             "--format", "json"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  auto model = [&](const std::string& name, int weight) {
    const std::vector<std::string> plan = name == "llama-3.3-70b"
                                              ? std::vector<std::string>{"--plan", "{tp: 8}"}
                                              : std::vector<std::string>{};
    return Target{"models/" + name + ".yaml",
                  weight,
                  {with(with(explain, {"--model", name}), plan),
                   {"show", "model", name, "--format", "json"}}};
  };
  return {
      {"models/deepseek-r1.yaml",
       12,
       {run_h200,
        with(explain, {"--model", "deepseek-r1"}),
        {"show", "model", "deepseek-r1", "--format", "json"},
        run_nvl72}},
      model("mixtral-8x7b", 3),
      model("qwen3-235b-a22b", 3),
      model("gpt-oss-120b", 3),
      model("kimi-k2", 3),
      model("llama-4-maverick", 3),
      model("llama-3.3-70b", 3),
      {"topologies/gpus/h200.yaml",
       10,
       {{"show", "gpu", "h200", "--format", "json"}, explain, run_h200, coll_h200}},
      {"topologies/gpus/gb200.yaml",
       6,
       {{"show", "gpu", "gb200", "--format", "json"}, run_nvl72, coll_nvl72}},
      {"topologies/systems/hgx-h200.yaml",
       10,
       {{"show", "system", "hgx-h200"},
        coll_h200,
        run_h200d,
        explain,
        with(coll_h200, {"--domains", "2"})}},
      {"topologies/systems/gb200-nvl72.yaml",
       8,
       {{"show", "system", "gb200-nvl72"}, coll_nvl72, run_nvl72d, run_longtail}},
      {"topologies/prices.yaml",
       8,
       {{"show", "system", "hgx-h200"},
        run_h200,
        {"compare", "--hardware", "--format", "json"},
        {"sweep",    "--system", "hgx-h200", "--tp",  "8",           "--ep",   "none",
         "--disagg", "none",     "--mtp",    "0",     "--max-batch", "8",      "--max-concurrency",
         "2",        "--isl",    "64",       "--osl", "8",           "--json", "-"}}},
      {"topologies/network.yaml",
       8,
       {with(coll_h200, {"--domains", "2"}), coll_nvl72, run_h200d,
        with(explain, {"--domains", "2", "--plan", "{attention_dp: 16, ep: 16}"})}},
      {"topologies/efficiency.yaml",
       8,
       {with(explain, {"--stack", "roofline"}), with(run_h200, {"--stack", "roofline"}),
        with(validate, {"--stack", "roofline"})}},
      {"topologies/stacks/trtllm.yaml",
       6,
       {run_h200, explain, with(validate, {"--stack", "trtllm"})}},
      {"topologies/stacks/calibrated/trtllm-1.3.0rc20.yaml",
       6,
       {explain, run_h200, with(validate, {"--stack", "trtllm"})}},
      {"topologies/stacks/sglang.yaml",
       3,
       {with(explain, {"--stack", "sglang"}), with(run_h200, {"--stack", "sglang"})}},
      {"workloads/longtail-chat.yaml", 6, {run_longtail}},
  };
}

/// Every case, in order.
inline std::vector<Case> all_cases(std::uint64_t seed = kSeed) {
  const auto scen = small_scenarios();
  std::vector<std::string> scen_names;
  for (const auto& [name, text] : scen) scen_names.push_back(name);
  const std::string gemm = head_lines(
      read_source("topologies/measured/aiconfigurator/h200_sxm/trtllm-1.3.0rc20/gemm_perf.csv"),
      40);
  const std::string moe = head_lines(
      read_source("topologies/measured/aiconfigurator/h200_sxm/trtllm-1.3.0rc20/moe_perf.csv"), 40);
  // Files every case folder gets: the small scenarios under short names and a gemm table.
  const std::vector<std::pair<std::string, std::string>> common = {
      {"h200-agg.yaml", scen.at("dsr1-h200-aggregated")},
      {"h200-disagg.yaml", scen.at("dsr1-h200-disaggregated")},
      {"nvl72-agg.yaml", scen.at("dsr1-nvl72-aggregated")},
      {"nvl72-disagg.yaml", scen.at("dsr1-nvl72-disaggregated")},
      {"longtail.yaml", scen.at("dsr1-gb200x8-longtail")},
      {measured_path("gemm_perf.csv"), gemm}};

  std::vector<Case> cases;
  for (int i = 0; i < kScenarioCases; ++i) {
    Case c;
    c.id = numbered("scenario", i);
    moesim::Rng rng(seed, moesim::stream_id(c.id));
    const std::string& name = scen_names[static_cast<std::size_t>(i) % scen_names.size()];
    Mutated m = mutate(scen.at(name), rng);
    c.what = name + ": " + m.what;
    c.files = {{"s.yaml", std::move(m.text)}};
    c.args = {"run", "@C/s.yaml", "--json", "-"};
    if (rng.bernoulli(0.1)) c.args.insert(c.args.end(), {"--csv", "@C/out.csv"});
    if (rng.bernoulli(0.05)) c.args.insert(c.args.end(), {"--trace", "@C/trace.json"});
    c.expect = Expect::kJson;
    cases.push_back(std::move(c));
  }

  const std::vector<Target> targets = catalog_targets();
  std::vector<std::size_t> wheel;  // target indices, each as often as its weight
  for (std::size_t t = 0; t < targets.size(); ++t) {
    for (int w = 0; w < targets[t].weight; ++w) wheel.push_back(t);
  }
  std::map<std::size_t, std::size_t> uses;
  for (int i = 0; i < kCatalogCases; ++i) {
    Case c;
    c.id = numbered("catalog", i);
    moesim::Rng rng(seed, moesim::stream_id(c.id));
    const std::size_t t = wheel[static_cast<std::size_t>(i) % wheel.size()];
    const Target& target = targets[t];
    const auto& cmd = target.commands[uses[t]++ % target.commands.size()];
    Mutated m = mutate(read_source(target.file), rng);
    c.what = target.file + ": " + m.what;
    c.catalog_file = target.file;
    c.catalog_text = std::move(m.text);
    c.args = cmd;
    c.args.insert(c.args.end(), {"--data-dir", "@D"});
    c.files = common;
    c.expect = output_args(c.args).empty() ? Expect::kText : Expect::kJson;
    cases.push_back(std::move(c));
  }

  std::vector<std::string> configs;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() / "tests/data/models")) {
    if (e.path().extension() == ".json") configs.push_back(e.path().string());
  }
  std::sort(configs.begin(), configs.end());
  for (int i = 0; i < kImportCases; ++i) {
    Case c;
    c.id = numbered("import", i);
    moesim::Rng rng(seed, moesim::stream_id(c.id));
    const std::string& file = configs[static_cast<std::size_t>(i) % configs.size()];
    Mutated m = mutate(slurp(file), rng);
    c.what = std::filesystem::path(file).filename().string() + ": " + m.what;
    c.files = {{"config.json", std::move(m.text)}};
    c.args = {"import", "hf", "@C/config.json"};
    if (i % 2 == 1) c.args.insert(c.args.end(), {"--output", "@C/card.yaml"});
    cases.push_back(std::move(c));
  }

  for (int i = 0; i < kMeasureCases; ++i) {
    Case c;
    c.id = numbered("measure", i);
    moesim::Rng rng(seed, moesim::stream_id(c.id));
    const bool is_moe = i % 3 == 2;
    Mutated m = mutate_csv(is_moe ? moe : gemm, rng);
    if (rng.bernoulli(0.2)) {
      Mutated again = mutate_csv(m.text, rng);
      m.what += "; " + again.what;
      m.text = std::move(again.text);
    }
    const std::string name = measured_path(is_moe ? "moe_perf.csv" : "gemm_perf.csv");
    c.what = name + ": " + m.what;
    c.files = {{name, std::move(m.text)}};
    if (i % 2 == 0) {
      c.args = {"calibrate", "@C/" + name, "-o", "@C/cal.yaml", "--format", "json"};
    } else {
      c.args = {"validate", "@C/" + name, "--stack", "trtllm", "--format", "json"};
    }
    c.expect = Expect::kJson;
    cases.push_back(std::move(c));
  }

  const std::vector<Command> bases =
      base_commands(scen.at("dsr1-h200-aggregated"), gemm, slurp(configs.front()));
  // size and compare simulate a few deployments even when small: fewer of them.
  std::vector<std::size_t> base_wheel;
  for (std::size_t b = 0; b < bases.size(); ++b) {
    const std::string& cmd = bases[b].groups[0][0];
    const int weight = cmd == "size" ? 2 : cmd == "run" || cmd == "explain" ? 5 : 3;
    for (int w = 0; w < weight; ++w) base_wheel.push_back(b);
  }
  for (int i = 0; i < kArgsCases; ++i) {
    moesim::Rng rng(seed, moesim::stream_id(numbered("args", i)));
    const Command& base = bases[base_wheel[static_cast<std::size_t>(i) % base_wheel.size()]];
    Case c = abuse(base, rng);
    c.id = numbered("args", i);
    if (output_args(c.args) != output_args(flatten(base.groups))) c.expect = Expect::kText;
    cases.push_back(std::move(c));
  }

  for (int i = 0; i < kSetCases; ++i) {
    const std::string id = numbered("set", i);
    moesim::Rng rng(seed, moesim::stream_id(id));
    const std::string& name = scen_names[static_cast<std::size_t>(i) % scen_names.size()];
    Case c = set_case(name, scen.at(name), rng);
    c.id = id;
    cases.push_back(std::move(c));
  }

  // The unmutated bases, which must succeed: a base that fails would make its mutations test
  // nothing but that failure.
  std::vector<Case> bases_unmutated;
  auto add_base = [&](std::string what, std::vector<std::string> args,
                      std::vector<std::pair<std::string, std::string>> files) {
    Case c;
    c.what = std::move(what);
    c.args = std::move(args);
    c.files = std::move(files);
    bases_unmutated.push_back(std::move(c));
  };
  for (const auto& [name, text] : scen) {
    add_base(name, {"run", "@C/s.yaml", "--json", "-"}, {{"s.yaml", text}});
  }
  for (const Target& target : targets) {
    for (auto cmd : target.commands) {
      cmd.insert(cmd.end(), {"--data-dir", "@D"});
      add_base(target.file + " (not mutated)", cmd, common);
    }
  }
  for (const Command& base : bases) add_base("base command line", flatten(base.groups), base.files);
  for (const auto& file : configs) {
    add_base(std::filesystem::path(file).filename().string(), {"import", "hf", "@C/config.json"},
             {{"config.json", slurp(file)}});
  }
  for (const auto& [table, text] : {std::pair{"gemm_perf.csv", gemm}, {"moe_perf.csv", moe}}) {
    const std::string path = measured_path(table);
    add_base(table, {"calibrate", "@C/" + path, "-o", "@C/cal.yaml", "--format", "json"},
             {{path, text}});
    add_base(table, {"validate", "@C/" + path, "--stack", "trtllm", "--format", "json"},
             {{path, text}});
  }
  for (std::size_t i = 0; i < bases_unmutated.size(); ++i) {
    Case& c = bases_unmutated[i];
    c.id = numbered("base", static_cast<int>(i));
    c.expect = output_args(c.args).empty() ? Expect::kText : Expect::kJson;
    c.must_succeed = true;
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace moesim::fuzz
