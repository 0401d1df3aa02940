#pragma once
/// \file
/// The cases of the fuzz test, generated from a fixed seed: mutated scenarios, mutated catalog
/// files (run against a copy of the catalog given with --data-dir), mutated input files of
/// `import hf`, `calibrate` and `validate`, and abused command lines. Each case draws from its
/// own Rng stream (seed kSeed, stream = the case id), so a case does not change when another is
/// added.
///
/// Arguments may hold three placeholders, replaced when the case runs: @C, the case's folder
/// (its files and the odd files of odd_files()); @D, the case's copy of the catalog; @S, the
/// source tree.

#include <cctype>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_mutate.hpp"

namespace moesim::fuzz {

/// The seed of every case.
inline constexpr std::uint64_t kSeed = 20261207;

/// One run of moesim.
struct Case {
  std::string id;                                          ///< "scenario-0042": family and number
  std::string what;                                        ///< what was mutated or abused
  std::vector<std::string> args;                           ///< after "moesim", with placeholders
  std::vector<std::pair<std::string, std::string>> files;  ///< written to @C: (name, content)
  std::string catalog_file;  ///< path below @D that holds catalog_text instead ("" for none)
  std::string catalog_text;
  Expect expect = Expect::kText;
  bool must_succeed = false;  ///< an unmutated base case: exit status 0 only
};

/// Where a measurement table goes in a case folder: calibrate and validate take the GPU and the
/// stack from the folders of an AIConfigurator table.
inline std::string measured_path(const std::string& table) {
  return "h200_sxm/trtllm-1.3.0rc20/" + table;
}

/// Files of every case folder that are odd as inputs: a folder named like a YAML file, empty
/// files, a byte-order mark alone, binary bytes, a NUL byte, YAML that is a sequence or a scalar,
/// a 256 KiB line, deep nesting, nested aliases.
inline const std::vector<std::pair<std::string, std::string>>& odd_files() {
  static const std::vector<std::pair<std::string, std::string>> files = [] {
    std::string binary;
    Rng rng(kSeed, stream_id("binary"));
    for (int i = 0; i < 4096; ++i) binary += static_cast<char>(rng.uniform_int(256));
    std::string anchors = "a0: &a0 [x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 8; ++i) {
      const std::string p = "*a" + std::to_string(i - 1);
      anchors += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + p + ", " + p + ", " +
                 p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + "]\n";
    }
    return std::vector<std::pair<std::string, std::string>>{
        {"empty.yaml", ""},
        {"empty.csv", ""},
        {"empty.json", ""},
        {"bom.yaml", "\xEF\xBB\xBF"},
        {"binary.yaml", binary},
        {"nul.yaml", std::string("name: a\0b\n", 10)},
        {"list.yaml", "- 1\n- 2\n"},
        {"scalar.yaml", "42\n"},
        {"longline.yaml", "name: " + std::string(1 << 18, 'a') + "\n"},
        {"deep.yaml", std::string(20000, '[') + std::string(20000, ']') + "\n"},
        {"anchors.yaml", anchors},
        {"header.csv", "gemm_dtype,m,n,k,latency_ms\n"}};
  }();
  return files;
}

/// Folders made in every case folder (odd inputs and outputs).
inline std::vector<std::string> odd_dirs() { return {"dir.yaml", "dir"}; }

/// Paths of odd files for an argument that names a file, an entry or an output.
inline const std::vector<std::string>& odd_paths() {
  static const std::vector<std::string> v = {"@C/dir.yaml",
                                             "@C/dir",
                                             "@C/",
                                             "@C/empty.yaml",
                                             "@C/empty.csv",
                                             "@C/empty.json",
                                             "/dev/null",
                                             "@C/nope.yaml",
                                             "@C/bom.yaml",
                                             "@C/binary.yaml",
                                             "@C/nul.yaml",
                                             "@C/list.yaml",
                                             "@C/scalar.yaml",
                                             "@C/longline.yaml",
                                             "@C/deep.yaml",
                                             "@C/anchors.yaml",
                                             "/dev/full",
                                             "/nonexistent/dir/x.json",
                                             "-",
                                             "@C/header.csv",
                                             "@C/dir/",
                                             ".",
                                             "/"};
  return v;
}

/// `text` with the number after each `key` (as in "requests: 2048") replaced by `value`.
inline std::string replace_numbers_after(std::string text, const std::string& key,
                                         const std::string& value) {
  for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
    const std::size_t begin = at + key.size();
    std::size_t end = begin;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])) != 0) ++end;
    if (end > begin) text.replace(begin, end - begin, value);
    at = begin;
  }
  return text;
}

/// A scenario made cheap to simulate: few requests, no warm-up, short outputs. The text keeps
/// its layout, so mutations still hit the same keys.
inline std::string shrink_scenario(const std::string& text) {
  std::string t = replace_numbers_after(text, "requests: ", "8");
  t = replace_numbers_after(t, "warmup: ", "0");
  t = replace_numbers_after(t, "concurrency: ", "8");
  t = replace_numbers_after(t, "isl: ", "256");
  return replace_numbers_after(t, "osl: ", "32");
}

/// A measurement table made small: its header and `rows` rows.
inline std::string head_lines(const std::string& text, std::size_t rows) {
  std::size_t at = 0;
  for (std::size_t n = 0; n <= rows && at != std::string::npos; ++n) {
    at = text.find('\n', at);
    if (at != std::string::npos) ++at;
  }
  return at == std::string::npos ? text : text.substr(0, at);
}

/// One mutation of a CSV table: a cell replaced by a bad number or text, a column or a line
/// deleted, a line duplicated, the header changed, the table truncated, a byte-order mark.
inline Mutated mutate_csv(const std::string& text, Rng& rng) {
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t e = line_end(text, at);
    lines.push_back(text.substr(at, e - at));
    at = e + 1;
  }
  auto join = [](const std::vector<std::string>& ls) {
    std::string s;
    for (const auto& l : ls) s += l + "\n";
    return s;
  };
  auto cells = [](const std::string& line) {
    std::vector<std::string> c;
    std::size_t at = 0;
    for (std::size_t comma; (comma = line.find(',', at)) != std::string::npos; at = comma + 1) {
      c.push_back(line.substr(at, comma - at));
    }
    c.push_back(line.substr(at));
    return c;
  };
  auto unsplit = [](const std::vector<std::string>& c) {
    std::string s;
    for (std::size_t i = 0; i < c.size(); ++i) s += (i == 0 ? "" : ",") + c[i];
    return s;
  };
  if (lines.empty()) return {text, "nothing"};
  const std::uint64_t kind = rng.uniform_int(100);
  const std::size_t row = rng.uniform_int(lines.size());
  if (kind < 55) {
    std::vector<std::string> c = cells(lines[row]);
    const std::size_t col = rng.uniform_int(c.size());
    const std::string v = rng.bernoulli(0.8) ? pick(rng, bad_numbers()) : pick(rng, bad_values());
    c[col] = v;
    lines[row] = unsplit(c);
    return {join(lines),
            "row " + std::to_string(row) + " column " + std::to_string(col) + " = " + shorten(v)};
  }
  if (kind < 65) {
    const std::size_t col = rng.uniform_int(cells(lines[0]).size());
    for (auto& l : lines) {
      std::vector<std::string> c = cells(l);
      if (col < c.size()) c.erase(c.begin() + static_cast<std::ptrdiff_t>(col));
      l = unsplit(c);
    }
    return {join(lines), "column " + std::to_string(col) + " deleted"};
  }
  if (kind < 72) {
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(row));
    return {join(lines), "row " + std::to_string(row) + " deleted"};
  }
  if (kind < 79) {
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(row), lines[row]);
    return {join(lines), "row " + std::to_string(row) + " duplicated"};
  }
  if (kind < 86) {
    std::vector<std::string> c = cells(lines[0]);
    const std::size_t col = rng.uniform_int(c.size());
    c[col] = near_miss(rng, c[col]);
    lines[0] = unsplit(c);
    return {join(lines), "header column " + std::to_string(col) + " = " + c[col]};
  }
  if (kind < 93) {
    const std::size_t at = rng.uniform_int(text.size());
    return {text.substr(0, at), "truncated at byte " + std::to_string(at)};
  }
  if (kind < 96) return {"\xEF\xBB\xBF" + text, "byte-order mark"};
  lines[row] += ",extra";
  return {join(lines), "row " + std::to_string(row) + " has an extra cell"};
}

/// Scenario keys for `moesim run --set KEY=VALUE` (moesim explain --schema), with POOL standing
/// for a pool of the deployment and W for the workload map, each with values of its type that
/// are well formed but extreme: zero or tiny times and rates, degenerate distributions, a step
/// model that takes no time, a scheduler that never admits, huge widths.
struct SetKey {
  std::string key;
  std::vector<std::string> values;
};

inline const std::vector<SetKey>& set_keys() {
  const std::vector<std::string> counts = {
      "1", "2", "3", "7", "16", "64", "1000", "100000", "2147483647", "9223372036854775807"};
  const std::vector<std::string> times = {"\"0 s\"",   "\"1 ps\"",    "\"1e-30 s\"",
                                          "\"1e6 s\"", "\"1e300 s\"", "\"9e6 s\""};
  const std::vector<std::string> lengths = {
      "1",
      "100000",
      "{dist: uniform, min: 1, max: 1}",
      "{dist: uniform, min: 5, max: 1}",
      "{dist: normal, mean: 0, stdev: 0}",
      "{dist: normal, mean: -100, stdev: 1e300}",
      "{dist: lognormal, mean: 1e300, stdev: 1e300}",
      "{dist: lognormal, p50: 10, p90: 5}",
      "{dist: lognormal, p50: 1e-300, p90: 1e-300}",
      "{dist: lognormal, mean: 100, stdev: 100, min: 50, max: 10}",
      "{dist: lognormal, mean: 1, stdev: 1e-300}",
      "{dist: empirical, file: /dev/null}"};
  const std::vector<std::string> dtypes = {"nvfp4", "fp4",  "int4", "w4a8",       "mxfp4", "bf16",
                                           "fp8",   "fp32", "fp16", "checkpoint", "auto"};
  static const std::vector<SetKey> v = {
      {"seed", {"0", "18446744073709551615", "9223372036854775807"}},
      {"model", {"mixtral-8x7b", "llama-3.3-70b", "gpt-oss-120b", "kimi-k2", "qwen3-235b-a22b"}},
      {"system", {"hgx-h100", "hgx-b200", "gb300-nvl72", "hgx-b300"}},
      {"stack", {"roofline", "sglang", "sglang-wideep", "trtllm-1.2"}},
      {"precision",
       {"{weights: fp8, kv_cache: nvfp4}", "{}", "{weights: bf16, kv_cache: bf16}",
        "{dispatch: fp4, combine: fp8}"}},
      {"precision.weights", dtypes},
      {"precision.kv_cache", dtypes},
      {"precision.activations", dtypes},
      {"precision.dispatch", dtypes},
      {"POOL.instances", counts},
      {"POOL.tp", counts},
      {"POOL.ep", counts},
      {"POOL.attention_dp", counts},
      {"POOL.pp", counts},
      {"POOL.max_batch_size", counts},
      {"POOL.max_num_tokens", counts},
      {"POOL.chunked_prefill_size", counts},
      {"POOL.kv_block_size", counts},
      {"POOL.kv_policy", {"max_utilization", "guaranteed_no_evict"}},
      {"POOL.kv_memory_fraction", {"1", "1e-300", "0.999999", "0.0001"}},
      {"POOL.kv_capacity_tokens", counts},
      {"POOL.plan",
       {"{redundant_experts: 1000000}", "{redundant_experts: 1}", "{micro_batches: 1000000}",
        "{}"}},
      {"deployment.kv_bytes_per_token", {"\"0 B\"", "\"1 B\"", "\"1e18 B\"", "\"1 EB\""}},
      {"deployment.kv_transfer",
       {"{latency: \"0 s\", bandwidth: \"0 B/s\"}", "{latency: \"0 s\", bandwidth: \"1e-300 B/s\"}",
        "{latency: \"1e6 s\", bandwidth: \"1e300 B/s\"}",
        "{latency: \"0 s\", bandwidth: \"1 B/s\"}"}},
      {"speculative",
       {"{method: mtp, draft_tokens: 3}", "{method: mtp, draft_tokens: 1000000}",
        "{method: mtp, draft_tokens: 3, acceptance: 1}",
        "{method: mtp, draft_tokens: 3, acceptance: 1e-300}",
        "{method: mtp, draft_tokens: 2, acceptance: [1, 0]}", "{method: none}"}},
      {"runtime.step_overhead", times},
      {"runtime.overlap_scheduler", {"true", "false"}},
      {"runtime.cuda_graphs", {"false"}},
      {"runtime.scheduler",
       {"{prefill_interval: 9223372036854775807}", "{mixed_batches: false}",
        "{adp_balance: {timeout_iters: 0, batching_wait_iters: 0}}",
        "{adp_balance: {timeout_iters: 9223372036854775807, batching_wait_iters: "
        "9223372036854775807}}",
        "{dp_routing: round_robin}"}},
      {"routing.popularity",
       {"{kind: zipf, exponent: 0}", "{kind: zipf, exponent: 1e300}", "{kind: zipf, exponent: -1}",
        "{kind: zipf, exponent: 1e-300}", "{kind: zipf, exponent: 1, order: identity}",
        "{kind: zipf, exponent: 1, seed: 18446744073709551615}",
        "{kind: counts, file: /dev/null}"}},
      {"step_model",
       {"{impl: analytic, fixed: \"0 s\", per_token: \"0 s\", per_kv_token: \"0 s\"}",
        "{impl: analytic, fixed: \"1 ps\", per_token: \"0 s\", per_kv_token: \"0 s\"}",
        "{impl: analytic, fixed: \"1e6 s\", per_token: \"1e6 s\", per_kv_token: \"1e6 s\"}",
        "{impl: analytic, fixed: \"1e300 s\", per_token: \"0 s\", per_kv_token: \"0 s\"}"}},
      {"W.warmup", {"0", "7", "8", "1000"}},
      {"W.arrival",
       {"{process: poisson, rate: \"1e-300 req/s\"}", "{process: poisson, rate: \"1e300 req/s\"}",
        "{process: poisson, rate: \"0 req/s\"}", "{process: poisson, rate: \"1e-9 req/min\"}",
        "{process: closed_loop, concurrency: 1}", "{process: trace}"}},
      {"W.arrival.concurrency", counts},
      {"W.isl", lengths},
      {"W.osl", lengths},
      {"W.classes",
       {"[{name: a, weight: 0, isl: 8, osl: 8}]",
        "[{name: a, weight: 1e300, isl: 8, osl: 8}, {name: b, weight: 1e-300, isl: 8, osl: 8}]",
        "[{name: a, isl: 8, osl: 8, sla: {ttft: \"0 s\", tpot: \"0 s\"}}]", "[]"}},
      {"W.trace", {"/dev/null", "/"}},
      {"workload",
       {"fixed-1k1k",
        "{preset: fixed-1k1k, overrides: {requests: 4, arrival: {process: "
        "closed_loop, concurrency: 4}, isl: 8, osl: 8}}"}}};
  return v;
}

/// `moesim run SCENARIO --set KEY=VALUE` (sometimes two) on one of the small scenarios: KEY from
/// set_keys() for the scenario's pools and workload form, VALUE one of its extremes or a bad
/// value of any type.
inline Case set_case(const std::string& scenario_name, const std::string& text, Rng& rng) {
  const bool disaggregated = text.find("prefill:") != std::string::npos;
  const bool preset = text.find("preset:") != std::string::npos;
  Case c;
  c.files = {{"s.yaml", text}};
  c.args = {"run", "@C/s.yaml", "--json", "-"};
  c.expect = Expect::kJson;
  c.what = scenario_name + ":";
  const int n = rng.bernoulli(0.8) ? 1 : 2;
  for (int i = 0; i < n; ++i) {
    const SetKey& k = pick(rng, set_keys());
    std::string key = k.key;
    if (key.rfind("POOL.", 0) == 0) {
      const std::string pool =
          disaggregated ? (rng.bernoulli(0.5) ? "prefill" : "decode") : "aggregated";
      key = "deployment." + pool + key.substr(4);
    } else if (key.rfind("W.", 0) == 0) {
      key = (preset ? "workload.overrides" : "workload") + key.substr(1);
    }
    const std::string value = rng.bernoulli(0.8) ? pick(rng, k.values) : pick(rng, bad_values());
    c.args.push_back("--set");
    c.args.push_back(key + "=" + value);
    c.what += " --set " + key + "=" + shorten(value);
  }
  return c;
}

/// A command line as option groups: {"--name", "value"}, {"--flag"} or a positional {"word"}.
/// Groups listed in `pinned` are never dropped (dropping them would make a valid run slow).
struct Command {
  std::vector<std::vector<std::string>> groups;
  std::vector<std::vector<std::string>> extras;            ///< optional groups a case may add
  std::vector<std::string> pinned;                         ///< option names never dropped
  std::vector<std::pair<std::string, std::string>> files;  ///< in @C
  Expect expect = Expect::kText;
};

/// Flattens option groups into arguments.
inline std::vector<std::string> flatten(const std::vector<std::vector<std::string>>& groups) {
  std::vector<std::string> args;
  for (const auto& g : groups) args.insert(args.end(), g.begin(), g.end());
  return args;
}

/// A bad value for an option: a bad number, a quantity with a wrong unit, an odd path, a
/// near-miss of the value given, an empty or huge string, something that looks like an option.
inline std::string bad_argument(Rng& rng, const std::string& current) {
  const std::uint64_t k = rng.uniform_int(100);
  if (k < 30) return pick(rng, bad_numbers());
  if (k < 45) {
    std::string v = pick(rng, bad_numbers()) + " " + pick(rng, units());
    if (rng.bernoulli(0.5)) v = "1 " + pick(rng, units());
    return v;
  }
  if (k < 60) return pick(rng, odd_paths());
  if (k < 72) return near_miss(rng, current);
  if (k < 80) {
    std::string v = pick(rng, bad_values());
    if (v.size() > 1 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  static const std::vector<std::string> odd = {"",
                                               " ",
                                               "--json",
                                               "-",
                                               "--",
                                               "none",
                                               "1,2,,3",
                                               ",",
                                               "8:",
                                               ":4",
                                               "1:0",
                                               "0:1",
                                               "a=b",
                                               "=",
                                               "{",
                                               "}",
                                               "[",
                                               "{tp: }",
                                               "{ep: -8}",
                                               "{attention_dp: 1e300}",
                                               "tpot_p90<",
                                               "<40ms",
                                               "tpot_p90<-40ms",
                                               "tpot_p90<nanms",
                                               "weights=",
                                               "=fp8",
                                               "weights=fp8,weights=nvfp4",
                                               std::string(100000, '9'),
                                               "\xC3\x28",
                                               "\xE2\x82\xAC"};
  return pick(rng, odd);
}

/// The base command lines of the abuse cases: cheap, valid runs of every command.
inline std::vector<Command> base_commands(const std::string& small_scenario,
                                          const std::string& gemm_table,
                                          const std::string& hf_config) {
  const std::vector<std::pair<std::string, std::string>> scenario = {{"s.yaml", small_scenario}};
  std::vector<Command> c;
  c.push_back({{{"run"}, {"@C/s.yaml"}, {"--json", "-"}},
               {{"--seed", "3"},
                {"--replicas", "2"},
                {"--set", "workload.requests=6"},
                {"--set", "deployment.aggregated.max_batch_size=4"},
                {"--stack", "roofline"},
                {"--csv", "@C/out.csv"},
                {"--trace", "@C/trace.json"},
                {"--data-dir", "@S"}},
               {},
               scenario,
               Expect::kJson});
  c.push_back({{{"explain"},
                {"--model", "deepseek-r1"},
                {"--system", "hgx-h200"},
                {"--plan", "{attention_dp: 8, ep: 8}"},
                {"--batch", "32"},
                {"--context", "512"},
                {"--json"}},
               {{"--phase", "prefill"},
                {"--chunk", "256"},
                {"--domains", "2"},
                {"--popularity", "{kind: zipf, exponent: 1}"},
                {"--seed", "2"},
                {"--precision", "{weights: fp8}"},
                {"--stack", "roofline"},
                {"--data-dir", "@S"}},
               {},
               {},
               Expect::kJson});
  c.push_back({{{"collective"},
                {"--system", "hgx-h200"},
                {"--op", "alltoall"},
                {"--bytes", "1 MiB"},
                {"--format", "json"}},
               {{"--ranks", "8"},
                {"--domains", "2"},
                {"--algorithm", "ring"},
                {"--sweep"},
                {"--min", "1 KiB"},
                {"--max", "64 KiB"},
                {"--flow-model"}},
               {},
               {},
               Expect::kJson});
  c.push_back({{{"sweep"},
                {"--system", "hgx-h200"},
                {"--tp", "8"},
                {"--ep", "none"},
                {"--disagg", "none"},
                {"--mtp", "0"},
                {"--max-batch", "8"},
                {"--max-concurrency", "4"},
                {"--isl", "64"},
                {"--osl", "8"},
                {"--json", "-"}},
               {{"--jobs", "1"},
                {"--all"},
                {"--no-prune"},
                {"--seed", "2"},
                {"--precision", "weights=fp8"},
                {"--csv", "@C/points.csv"},
                {"--plot", "@C/plot.svg"}},
               {"--ep", "--disagg", "--max-concurrency", "--isl", "--osl", "--mtp", "--max-batch"},
               {},
               Expect::kJson});
  c.push_back({{{"size"},
                {"--system", "hgx-h200"},
                {"--load", "1000 tok/s"},
                {"--sla", "tpot_p90<200ms"},
                {"--isl", "64"},
                {"--osl", "8"},
                {"--max-concurrency", "4"},
                {"--json", "-"}},
               {{"--top", "1"}, {"--whole-racks"}, {"--precision", "weights=fp8"}, {"--jobs", "1"}},
               {"--max-concurrency", "--isl", "--osl"},
               {},
               Expect::kJson});
  c.push_back({{{"compare"}, {"--hardware"}, {"--format", "json"}},
               {{"--system", "hgx-h100"}, {"--system", "hgx-b200"}, {"--prices", "prices"}},
               {"--hardware"},
               {},
               Expect::kJson});
  c.push_back({{{"show"}, {"gpu"}, {"h200"}, {"--format", "json"}},
               {{"--data-dir", "@S"}},
               {},
               {},
               Expect::kJson});
  c.push_back({{{"show"}, {"system"}, {"hgx-h200"}},
               {{"--prices", "prices"}, {"--graph"}, {"--format", "csv"}},
               {},
               {},
               Expect::kText});
  c.push_back(
      {{{"show"}, {"model"}, {"deepseek-r1"}}, {{"--format", "json"}}, {}, {}, Expect::kText});
  c.push_back({{{"list"}}, {{"--format", "json"}, {"--data-dir", "@S"}}, {}, {}, Expect::kText});
  c.push_back({{{"import"}, {"hf"}, {"@C/config.json"}, {"--output", "@C/card.yaml"}},
               {},
               {},
               {{"config.json", hf_config}},
               Expect::kText});
  const std::string gemm = measured_path("gemm_perf.csv");
  c.push_back({{{"calibrate"}, {"@C/" + gemm}, {"-o", "@C/cal.yaml"}},
               {{"--format", "json"}, {"--data-dir", "@S"}},
               {},
               {{gemm, gemm_table}},
               Expect::kText});
  c.push_back({{{"validate"}, {"@C/" + gemm}, {"--stack", "trtllm"}},
               {{"--per-op"}, {"--held-back"}, {"--format", "json"}},
               {},
               {{gemm, gemm_table}},
               Expect::kText});
  return c;
}

/// An abused command line: one to three of a bad option value (also as --name=value), a missing
/// value, an unknown or misspelt option, a duplicated option, a stray word, a dropped group, a
/// value given to a flag.
inline Case abuse(const Command& base, Rng& rng) {
  Command c = base;
  for (const auto& e : base.extras) {
    if (rng.bernoulli(0.2)) c.groups.push_back(e);
  }
  std::string what;
  const int n = rng.bernoulli(0.75) ? 1 : 2 + static_cast<int>(rng.uniform_int(2));
  for (int i = 0; i < n; ++i) {
    auto& g = c.groups;
    // Options and positionals after the command word (group 0).
    const std::size_t at = g.size() > 1 ? 1 + rng.uniform_int(g.size() - 1) : 0;
    std::vector<std::string>& grp = g[at];
    const std::uint64_t k = rng.uniform_int(100);
    std::string step;
    if (k < 40 && grp.size() == 2) {
      const std::string v = bad_argument(rng, grp[1]);
      step = grp[0] + " " + shorten(v);
      grp[1] = v;
    } else if (k < 48 && grp.size() == 2) {
      const std::string v = bad_argument(rng, grp[1]);
      step = grp[0] + "=" + shorten(v);
      grp = {grp[0] + "=" + v};
    } else if (k < 55 && grp.size() == 1 && grp[0].rfind("--", 0) != 0) {
      const std::string v = rng.bernoulli(0.5) ? bad_argument(rng, grp[0]) : pick(rng, odd_paths());
      step = "positional " + shorten(grp[0]) + " -> " + shorten(v);
      grp[0] = v;
    } else if (k < 62 && grp.size() == 2) {
      step = grp[0] + " without its value";
      std::vector<std::string> moved = grp;
      g.erase(g.begin() + static_cast<std::ptrdiff_t>(at));
      g.push_back({moved[0]});
    } else if (k < 72) {
      static const std::vector<std::string> unknown = {"--zzz", "-x",   "---json", "--",    "-",
                                                       "--=",   "--=3", "-json",   "--JSON"};
      std::string o =
          rng.bernoulli(0.5)
              ? pick(rng, unknown)
              : "--" + near_miss(rng, grp[0].substr(std::min<std::size_t>(2, grp[0].size())));
      step = "unknown option " + o;
      g.insert(g.begin() + static_cast<std::ptrdiff_t>(at), {o});
    } else if (k < 82 && grp.size() <= 2) {
      std::vector<std::string> dup = grp;
      if (dup.size() == 2) dup[1] = rng.bernoulli(0.5) ? dup[1] : bad_argument(rng, dup[1]);
      step = "duplicated " + shorten(dup[0]) + (dup.size() == 2 ? " " + shorten(dup[1]) : "");
      g.push_back(dup);
    } else if (k < 88) {
      const std::string w = rng.bernoulli(0.5) ? pick(rng, odd_paths()) : "stray";
      step = "stray word " + w;
      g.insert(g.begin() + static_cast<std::ptrdiff_t>(at), {w});
    } else if (k < 95) {
      bool pinned = false;
      for (const auto& p : c.pinned) pinned = pinned || grp[0] == p;
      if (pinned || at == 0) {
        step = "nothing";
      } else {
        step = "dropped " + shorten(grp[0]);
        g.erase(g.begin() + static_cast<std::ptrdiff_t>(at));
      }
    } else if (grp.size() == 1 && grp[0].rfind("--", 0) == 0) {
      step = grp[0] + "=yes";
      grp[0] += "=yes";
    } else {
      step = "--help added";
      g.push_back({"--help"});
    }
    what += (i == 0 ? "" : "; ") + step;
  }
  Case r;
  r.args = flatten(c.groups);
  r.files = c.files;
  r.expect = c.expect;
  r.what = what;
  return r;
}

}  // namespace moesim::fuzz
