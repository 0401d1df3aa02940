// Reading a study file (study.hpp): every key checked, every name looked up in the catalog and
// every error located at its key.
#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/cost/stack.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/hw/system.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/precision.hpp"
#include "sim/study/study.hpp"

namespace moesim::study {
namespace {

using config::ConfigNode;

/// Runs `check`; a ConfigError it throws is moved to `node` (the study file's key), keeping
/// what was expected, found and suggested.
template <typename Fn>
void at_node(const ConfigNode& node, Fn&& check) {
  try {
    check();
  } catch (const ConfigError& e) {
    const std::string inner = e.key_path().empty() ? "" : " (" + e.key_path() + ")";
    throw ConfigError(node.location(), node.key_path() + inner, e.expected(), e.found(),
                      e.suggestion());
  }
}

/// A sequence of strings, or one string as a one-item list; at least one item.
std::vector<std::string> names(const ConfigNode& node) {
  std::vector<std::string> out;
  if (node.is_scalar()) {
    out.push_back(node.as_string());
    return out;
  }
  if (!node.is_sequence() || node.size() == 0) node.fail("a name or a non-empty list of names");
  for (const ConfigNode& item : node.items()) out.push_back(item.as_string());
  return out;
}

/// Integers in [min, max] from a sequence (empty allowed when `allow_empty`).
std::vector<std::int32_t> int_list(const ConfigNode& node, std::int64_t min, bool allow_empty) {
  if (!node.is_sequence() || (!allow_empty && node.size() == 0)) {
    node.fail(std::string("a list of integers >= ") + std::to_string(min) +
              (allow_empty ? " ([] for none)" : ""));
  }
  std::vector<std::int32_t> out;
  for (const ConfigNode& item : node.items()) {
    const std::int64_t v = item.as_int();
    if (v < min || v > std::numeric_limits<std::int32_t>::max()) {
      item.fail("an integer from " + std::to_string(min) + " to 2147483647");
    }
    out.push_back(static_cast<std::int32_t>(v));
  }
  return out;
}

std::int64_t positive(const ConfigNode& node, std::int64_t max) {
  const std::int64_t v = node.as_int();
  if (v < 1 || v > max) node.fail("an integer from 1 to " + std::to_string(max));
  return v;
}

/// A precision as written: "checkpoint", "weights=nvfp4,kv_cache=fp8", "{weights: nvfp4}" or a
/// map of scalars; as a YAML flow map ("" for the checkpoint).
std::string precision_of(const ConfigNode& node) {
  if (node.is_map()) {
    std::string out = "{";
    for (const auto& [key, value] : node.entries()) {
      if (!value.is_scalar()) value.fail("a data type name such as nvfp4 or fp8");
      out += (out.size() > 1 ? ", " : "") + key + ": " + value.as_string();
    }
    return out + "}";
  }
  const std::string text = node.as_string();
  if (text == "checkpoint") return "";
  std::string out;
  at_node(node, [&] { out = precision_yaml(text, node.key_path()); });
  return out;
}

void parse_space(const ConfigNode& node, StudySpec& spec) {
  node.check_keys({"preset", "tp", "ep", "max_batch", "mtp", "disagg", "max_concurrency",
                   "ladder_stride", "dense_ladder_until", "prune"});
  if (const auto p = node.get("preset")) {
    spec.space = p->as_choice({"standard", "quick"}) == "quick" ? SweepSpace::quick()
                                                                : SweepSpace::standard();
  }
  SweepSpace& s = spec.space;
  if (const auto v = node.get("tp")) s.tp_sizes = int_list(*v, 1, true);
  if (const auto v = node.get("ep")) s.ep_widths = int_list(*v, 2, true);
  if (const auto v = node.get("max_batch")) s.max_batch_sizes = int_list(*v, 1, false);
  if (const auto v = node.get("mtp")) {
    s.mtp_draft_tokens = int_list(*v, 0, false);
    for (std::size_t i = 0; i < s.mtp_draft_tokens.size(); ++i) {
      if (s.mtp_draft_tokens[i] > 3) (*v)[i].fail("0 to 3 draft tokens");
    }
  }
  if (const auto v = node.get("disagg")) {
    if (!v->is_sequence()) v->fail("a list of \"P:D\" instance ratios ([] for none)");
    s.disagg_ratios.clear();
    for (const ConfigNode& item : v->items()) {
      const std::string text = item.as_string();
      const std::size_t colon = text.find(':');
      DisaggRatio r;
      try {
        std::size_t used_p = 0, used_d = 0;
        if (colon == std::string::npos) throw std::invalid_argument(text);
        const std::string ps = text.substr(0, colon), ds = text.substr(colon + 1);
        r.prefill = std::stoi(ps, &used_p);
        r.decode = std::stoi(ds, &used_d);
        if (used_p != ps.size() || used_d != ds.size() || r.prefill < 1 || r.decode < 1) {
          throw std::invalid_argument(text);
        }
      } catch (const std::exception&) {
        item.fail("a prefill:decode instance ratio such as \"1:2\"");
      }
      s.disagg_ratios.push_back(r);
    }
  }
  const std::int64_t int_max = std::numeric_limits<std::int32_t>::max();
  if (const auto v = node.get("max_concurrency")) {
    s.max_concurrency = static_cast<std::int32_t>(positive(*v, int_max));
  }
  if (const auto v = node.get("ladder_stride")) {
    s.ladder_stride = static_cast<std::int32_t>(positive(*v, 30));
  }
  if (const auto v = node.get("dense_ladder_until")) {
    s.dense_ladder_until = static_cast<std::int32_t>(positive(*v, int_max));
  }
  if (const auto v = node.get("prune")) spec.prune = v->as_bool();
}

void parse_report(const ConfigNode& node, StudySpec& spec) {
  node.check_keys({"levels", "compare", "sla"});
  if (const auto v = node.get("sla")) {
    v->check_keys({"ttft_p99", "tpot_p90"});
    auto limit = [](const ConfigNode& n) {
      const double ms = std::chrono::duration<double, std::milli>(n.as_duration()).count();
      if (ms <= 0.0) n.fail("a positive time such as \"2 s\" or \"50 ms\"");
      return ms;
    };
    if (const auto t = v->get("ttft_p99")) spec.sla_ttft_p99_ms = limit(*t);
    if (const auto t = v->get("tpot_p90")) spec.sla_tpot_p90_ms = limit(*t);
  }
  if (const auto v = node.get("levels")) {
    if (!v->is_sequence()) v->fail("a list of tok/s per user levels");
    spec.levels.clear();
    for (const ConfigNode& item : v->items()) {
      const double level = item.as_double();
      if (level <= 0.0) item.fail("a positive tok/s per user");
      spec.levels.push_back(level);
    }
  }
  if (const auto v = node.get("compare")) {
    if (!v->is_sequence()) v->fail("a list of {a: SYSTEM, b: SYSTEM} comparisons");
    for (const ConfigNode& item : v->items()) {
      item.check_keys({"a", "b", "a_precision", "b_precision"});
      StudyCompare c;
      auto system = [&](std::string_view key) {
        const ConfigNode n = item.at(key);
        const std::string name = n.as_string();
        if (std::find(spec.systems.begin(), spec.systems.end(), name) == spec.systems.end()) {
          n.fail("one of the study's systems", "", spec.systems.front());
        }
        return name;
      };
      auto precision = [&](std::string_view key) -> std::optional<std::string> {
        const auto n = item.get(key);
        if (!n) return std::nullopt;
        const std::string p = precision_of(*n);
        if (std::find(spec.precisions.begin(), spec.precisions.end(), p) == spec.precisions.end()) {
          n->fail("one of the study's precisions", "", spec.precision_names.front());
        }
        return p;
      };
      c.a = system("a");
      c.b = system("b");
      c.a_precision = precision("a_precision");
      c.b_precision = precision("b_precision");
      spec.compares.push_back(c);
    }
  }
}

}  // namespace

StudySpec load_study(const std::filesystem::path& file, const config::Catalog& catalog) {
  StudySpec spec = parse_study(ConfigNode::load_file(file), catalog);
  spec.file = file.string();
  return spec;
}

StudySpec parse_study(const ConfigNode& root, const config::Catalog& catalog) {
  if (!root.is_map()) root.fail("a study: a map with systems: and the other keys of --help");
  root.check_keys({"name", "models", "systems", "precisions", "stacks", "workloads", "replicas",
                   "seed", "prices", "space", "report", "extra_scenario", "extra_pool"});
  StudySpec spec;
  spec.file = root.location().file;
  if (const auto v = root.get("name")) spec.name = v->as_string();
  const std::optional<ConfigNode> models_node = root.get("models");
  if (models_node) spec.models = names(*models_node);
  const ConfigNode systems_node = root.at("systems");
  spec.systems = names(systems_node);
  // The node of item i of a list given as a sequence or as one name.
  auto item_of = [](const ConfigNode& list, std::size_t i) {
    return list.is_sequence() ? list[i] : list;
  };
  std::vector<llm::ModelSpec> models;
  for (std::size_t i = 0; i < spec.models.size(); ++i) {
    auto load = [&] { models.push_back(llm::load_model(catalog, spec.models[i])); };
    if (models_node) {
      at_node(item_of(*models_node, i), load);
    } else {
      load();
    }
  }
  for (std::size_t i = 0; i < spec.systems.size(); ++i) {
    at_node(item_of(systems_node, i), [&] { hw::load_system(catalog, spec.systems[i]); });
  }
  if (const auto v = root.get("precisions")) {
    const std::vector<ConfigNode> items = v->is_sequence() ? v->items() : std::vector{*v};
    if (items.empty()) v->fail("a non-empty list of precisions (checkpoint for the checkpoint's)");
    spec.precisions.clear();
    spec.precision_names.clear();
    for (const ConfigNode& item : items) {
      const std::string yaml = precision_of(item);
      // The parser `moesim run` applies to a scenario's precision:, for every model, so that a
      // precision a model rejects fails here and not in the middle of the study.
      if (!yaml.empty()) {
        for (const llm::ModelSpec& m : models) {
          at_node(item, [&] { llm::parse_precision(ConfigNode::parse(yaml, spec.file), m); });
        }
      }
      spec.precisions.push_back(yaml);
      spec.precision_names.push_back(yaml.empty() ? "checkpoint" : yaml);
    }
  }
  if (const auto v = root.get("stacks")) {
    spec.stacks.clear();
    const std::vector<std::string> given = names(*v);
    for (std::size_t i = 0; i < given.size(); ++i) {
      const ConfigNode n = v->is_sequence() ? (*v)[i] : *v;
      if (given[i] == "default") {
        spec.stacks.push_back("");
        continue;
      }
      at_node(n, [&] { cost::load_stack(catalog, given[i]); });
      spec.stacks.push_back(given[i]);
    }
  }
  if (const auto v = root.get("workloads")) {
    if (!v->is_sequence() || v->size() == 0) v->fail("a non-empty list of {isl: N, osl: N}");
    spec.workloads.clear();
    for (const ConfigNode& item : v->items()) {
      item.check_keys({"isl", "osl"});
      const std::int64_t kMaxTokens = std::int64_t{1} << 24;  // 16 Mi tokens: far past any context
      spec.workloads.push_back(
          {positive(item.at("isl"), kMaxTokens), positive(item.at("osl"), kMaxTokens)});
    }
  }
  if (const auto v = root.get("replicas"))
    spec.replicas = static_cast<std::int32_t>(positive(*v, 1000));
  if (const auto v = root.get("seed")) {
    const std::int64_t s = v->as_int();
    if (s < 0) v->fail("a seed >= 0");
    spec.seed = static_cast<std::uint64_t>(s);
  }
  if (const auto v = root.get("prices")) {
    spec.price_sheet = v->as_string();
    at_node(*v, [&] { hw::load_price_sheet(catalog, spec.price_sheet); });
  }
  if (const auto v = root.get("space")) parse_space(*v, spec);
  if (const auto v = root.get("report")) parse_report(*v, spec);
  if (const auto v = root.get("extra_scenario")) spec.extra_scenario = v->as_string();
  if (const auto v = root.get("extra_pool")) spec.extra_pool = v->as_string();
  return spec;
}

}  // namespace moesim::study
