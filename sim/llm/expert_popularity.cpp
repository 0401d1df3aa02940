// Expert popularity sources (uniform, Zipf, counts files) and the water-filling of inclusion
// probabilities. The file formats are documented in expert_popularity.hpp.

#include "sim/llm/expert_popularity.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "sim/core/assert.hpp"
#include "sim/core/csv.hpp"
#include "sim/core/error.hpp"
#include "sim/core/input_file.hpp"
#include "sim/core/suggest.hpp"

namespace moesim::llm {
namespace {

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

void check_row(std::span<const double> row) {
  double sum = 0.0;
  for (double w : row) {
    MOESIM_ASSERT(std::isfinite(w) && w >= 0.0, "popularity weights must be finite and >= 0");
    sum += w;
  }
  MOESIM_ASSERT(sum > 0.0 && std::isfinite(sum), "popularity weights need a positive sum");
}

std::vector<double> normalized(std::vector<double> row) {
  const double sum = std::accumulate(row.begin(), row.end(), 0.0);
  for (double& w : row) w /= sum;
  return row;
}

// ---- CSV ----

struct CsvField {
  std::string_view text;
  int column = 0;  ///< 1-based
};

std::vector<CsvField> split_fields(std::string_view line) {
  std::vector<CsvField> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? line.size() : comma;
    std::size_t b = start;
    std::size_t e = end;
    while (b < e && (line[b] == ' ' || line[b] == '\t')) ++b;
    while (e > b && (line[e - 1] == ' ' || line[e - 1] == '\t')) --e;
    fields.push_back({line.substr(b, e - b), static_cast<int>(b) + 1});
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

std::optional<double> parse_number(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double v = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::string in_quotes(std::string_view text) { return "\"" + std::string{text} + "\""; }

/// A CSV counts file parsed into rows (in MoE-layer order when `by_layer`).
struct CsvRows {
  std::vector<std::vector<double>> rows;
  std::vector<int> lines;  ///< line of each row, for errors
};

CsvRows parse_csv(const std::filesystem::path& file, std::int64_t num_experts,
                  std::int64_t num_moe_layers) {
  std::istringstream in(read_input_file(file, "counts file", kMaxCsvFileBytes));
  const std::string name = file.string();
  const auto fail = [&](int line, int column, std::string key, std::string expected,
                        std::string found, std::string suggestion = {}) {
    throw ConfigError({name, line, column}, std::move(key), std::move(expected), std::move(found),
                      std::move(suggestion));
  };
  const std::string counts_expected = std::to_string(num_experts) + " counts";

  bool seen_data = false;
  bool by_layer = false;
  std::vector<std::optional<std::vector<double>>> layer_rows;
  std::vector<int> layer_lines;
  CsvRows result;
  std::string raw;
  int line_no = 0;
  int row_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    if (line_no == 1) raw.erase(0, raw.size() - strip_utf8_bom(raw).size());
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::size_t first = raw.find_first_not_of(" \t");
    if (first == std::string::npos || raw[first] == '#') continue;
    const std::vector<CsvField> fields = split_fields(raw);
    if (!seen_data) {
      seen_data = true;
      if (!parse_number(fields.front().text)) {  // a header
        const std::string head{fields.front().text};
        if (head == "layer") {
          by_layer = true;
          layer_rows.assign(static_cast<std::size_t>(num_moe_layers), std::nullopt);
          layer_lines.assign(static_cast<std::size_t>(num_moe_layers), 0);
        } else {
          const std::string guess = closest_match(head, std::vector<std::string>{"layer"});
          if (!guess.empty()) {
            fail(line_no, fields.front().column, "header",
                 "'layer' or the name of expert 0's column", in_quotes(head), guess);
          }
        }
        const std::size_t want = static_cast<std::size_t>(num_experts) + (by_layer ? 1 : 0);
        if (fields.size() != want) {
          fail(line_no, 1, "header",
               std::to_string(want) + " column names" + (by_layer ? " (layer, then experts)" : ""),
               std::to_string(fields.size()));
        }
        continue;
      }
    }
    ++row_no;
    const std::string row_key = "row " + std::to_string(row_no);
    const std::size_t want = static_cast<std::size_t>(num_experts) + (by_layer ? 1 : 0);
    if (fields.size() != want) {
      fail(line_no, 1, row_key, by_layer ? "a layer index and " + counts_expected : counts_expected,
           std::to_string(fields.size()) + " fields");
    }
    std::size_t layer = 0;
    std::size_t offset = 0;
    if (by_layer) {
      const std::optional<double> v = parse_number(fields[0].text);
      if (!v || *v != std::floor(*v) || *v < 0.0 || *v >= static_cast<double>(num_moe_layers)) {
        fail(line_no, fields[0].column, row_key + " layer",
             "a MoE layer index in 0.." + std::to_string(num_moe_layers - 1),
             in_quotes(fields[0].text));
      }
      layer = static_cast<std::size_t>(*v);
      if (layer_rows[layer]) {
        fail(line_no, fields[0].column, row_key + " layer",
             "each layer once (layer " + std::to_string(layer) + " is also on line " +
                 std::to_string(layer_lines[layer]) + ")",
             in_quotes(fields[0].text));
      }
      offset = 1;
    }
    std::vector<double> row(static_cast<std::size_t>(num_experts));
    double sum = 0.0;
    for (std::size_t i = 0; i < row.size(); ++i) {
      const CsvField& f = fields[i + offset];
      const std::optional<double> v = parse_number(f.text);
      if (!v || !std::isfinite(*v) || *v < 0.0) {
        fail(line_no, f.column, row_key + " field " + std::to_string(i + offset + 1),
             "a count (a number >= 0)", in_quotes(f.text));
      }
      row[i] = *v;
      sum += *v;
    }
    if (!(sum > 0.0) || !std::isfinite(sum)) {
      fail(line_no, 1, row_key, "counts with a positive finite sum", "sum " + format_number(sum));
    }
    if (by_layer) {
      layer_rows[layer] = std::move(row);
      layer_lines[layer] = line_no;
    } else {
      result.rows.push_back(std::move(row));
      result.lines.push_back(line_no);
    }
  }
  if (by_layer) {
    for (std::size_t l = 0; l < layer_rows.size(); ++l) {
      if (!layer_rows[l]) {
        fail(line_no, 0, "layer",
             "a row for every MoE layer 0.." + std::to_string(num_moe_layers - 1),
             "no row for layer " + std::to_string(l));
      }
      result.rows.push_back(std::move(*layer_rows[l]));
      result.lines.push_back(layer_lines[l]);
    }
    return result;
  }
  const auto rows = static_cast<std::int64_t>(result.rows.size());
  if (rows != 1 && rows != num_moe_layers) {
    fail(line_no, 0, "rows",
         "1 row (all layers) or " + std::to_string(num_moe_layers) + " rows (one per MoE layer)",
         std::to_string(rows) + " rows");
  }
  return result;
}

// ---- YAML ----

std::vector<double> read_yaml_row(const config::ConfigNode& node, std::int64_t num_experts) {
  if (!node.is_sequence() || static_cast<std::int64_t>(node.size()) != num_experts) {
    node.fail("a sequence of " + std::to_string(num_experts) + " counts");
  }
  std::vector<double> row;
  row.reserve(static_cast<std::size_t>(num_experts));
  double sum = 0.0;
  for (const config::ConfigNode& item : node.items()) {
    const double v = item.as_double();
    if (v < 0.0) item.fail("a count (a number >= 0)");
    row.push_back(v);
    sum += v;
  }
  if (!(sum > 0.0) || !std::isfinite(sum)) {
    node.fail("counts with a positive finite sum", "sum " + format_number(sum));
  }
  return row;
}

std::vector<std::vector<double>> parse_yaml(const std::filesystem::path& file,
                                            std::int64_t num_experts, std::int64_t num_moe_layers) {
  const config::ConfigNode root = config::ConfigNode::load_file(file);
  root.check_keys({"counts", "layers", "num_experts", "source"});
  if (const auto n = root.get("num_experts"); n && n->as_int() != num_experts) {
    n->fail("the model's " + std::to_string(num_experts) + " routed experts");
  }
  if (const auto s = root.get("source")) (void)s->as_string();
  const auto counts = root.get("counts");
  const auto layers = root.get("layers");
  if (counts.has_value() == layers.has_value()) {
    root.fail("exactly one of 'counts' (all layers) and 'layers' (one row per MoE layer)",
              counts ? "both" : "neither");
  }
  if (counts) return {read_yaml_row(*counts, num_experts)};
  if (!layers->is_sequence() || static_cast<std::int64_t>(layers->size()) != num_moe_layers) {
    layers->fail("a sequence of " + std::to_string(num_moe_layers) + " rows (one per MoE layer)");
  }
  std::vector<std::vector<double>> rows;
  for (const config::ConfigNode& row : layers->items()) {
    rows.push_back(read_yaml_row(row, num_experts));
  }
  return rows;
}

}  // namespace

ExpertPopularity::ExpertPopularity(std::int64_t num_experts, std::int64_t num_moe_layers,
                                   std::vector<std::vector<double>> rows, std::string label)
    : num_experts_(num_experts),
      num_moe_layers_(num_moe_layers),
      rows_(std::move(rows)),
      label_(std::move(label)) {
  MOESIM_ASSERT(num_experts_ >= 1 && num_moe_layers_ >= 1, "popularity needs experts and layers");
  MOESIM_ASSERT(rows_.size() == 1 || static_cast<std::int64_t>(rows_.size()) == num_moe_layers_,
                "popularity needs 1 row or one row per MoE layer");
  for (std::vector<double>& row : rows_) {
    MOESIM_ASSERT(static_cast<std::int64_t>(row.size()) == num_experts_,
                  "popularity row size differs from the number of experts");
    check_row(row);
    row = normalized(std::move(row));
  }
}

ExpertPopularity ExpertPopularity::uniform(std::int64_t num_experts, std::int64_t num_moe_layers) {
  MOESIM_ASSERT(num_experts >= 1, "uniform popularity needs experts");
  return {num_experts,
          num_moe_layers,
          {std::vector<double>(static_cast<std::size_t>(num_experts), 1.0)},
          "uniform"};
}

ExpertPopularity ExpertPopularity::zipf(std::int64_t num_experts, std::int64_t num_moe_layers,
                                        double exponent, ZipfOrder order, std::uint64_t seed) {
  MOESIM_ASSERT(num_experts >= 1 && num_moe_layers >= 1, "zipf popularity needs experts, layers");
  MOESIM_ASSERT(std::isfinite(exponent) && exponent >= 0.0, "zipf exponent must be >= 0");
  const auto n = static_cast<std::size_t>(num_experts);
  std::vector<double> by_rank(n);
  for (std::size_t r = 0; r < n; ++r) {
    by_rank[r] = std::pow(static_cast<double>(r + 1), -exponent);
  }
  std::string label = "zipf(s=" + format_number(exponent);
  if (order == ZipfOrder::kIdentity) {
    return {num_experts, num_moe_layers, {by_rank}, label + ", identity)"};
  }
  std::vector<std::vector<double>> rows;
  std::vector<std::size_t> sigma(n);
  for (std::int64_t layer = 0; layer < num_moe_layers; ++layer) {
    Rng rng(seed, kZipfOrderStream + static_cast<std::uint64_t>(layer));
    std::iota(sigma.begin(), sigma.end(), std::size_t{0});
    for (std::size_t i = n - 1; i >= 1; --i) {
      std::swap(sigma[i], sigma[static_cast<std::size_t>(rng.uniform_int(i + 1))]);
    }
    std::vector<double> row(n);
    for (std::size_t e = 0; e < n; ++e) row[e] = by_rank[sigma[e]];
    rows.push_back(std::move(row));
  }
  return {num_experts, num_moe_layers, std::move(rows),
          label + ", shuffled, seed=" + std::to_string(seed) + ")"};
}

ExpertPopularity ExpertPopularity::from_weights(std::vector<std::vector<double>> rows,
                                                std::int64_t num_moe_layers, std::string label) {
  MOESIM_ASSERT(!rows.empty(), "from_weights needs a row");
  const auto num_experts = static_cast<std::int64_t>(rows.front().size());
  return {num_experts, num_moe_layers, std::move(rows), std::move(label)};
}

ExpertPopularity ExpertPopularity::load_counts(const std::filesystem::path& file,
                                               std::int64_t num_experts,
                                               std::int64_t num_moe_layers) {
  MOESIM_ASSERT(num_experts >= 1 && num_moe_layers >= 1, "counts need experts and layers");
  const std::string ext = file.extension().string();
  std::vector<std::vector<double>> rows;
  if (ext == ".csv") {
    rows = parse_csv(file, num_experts, num_moe_layers).rows;
  } else if (ext == ".yaml" || ext == ".yml") {
    rows = parse_yaml(file, num_experts, num_moe_layers);
  } else {
    throw ConfigError({file.string(), 0, 0}, "", "a counts file ending in .csv, .yaml or .yml",
                      in_quotes(ext.empty() ? file.filename().string() : ext));
  }
  return {num_experts, num_moe_layers, std::move(rows), "counts(" + file.filename().string() + ")"};
}

std::span<const double> ExpertPopularity::weights(std::int64_t moe_layer) const {
  MOESIM_ASSERT(moe_layer >= 0 && moe_layer < num_moe_layers_, "MoE layer out of range");
  return rows_[rows_.size() == 1 ? 0 : static_cast<std::size_t>(moe_layer)];
}

ExpertPopularity parse_popularity(const config::ConfigNode& node, std::int64_t num_experts,
                                  std::int64_t num_moe_layers) {
  static constexpr std::string_view kKinds[] = {"uniform", "zipf", "counts"};
  if (node.is_scalar()) {
    node.as_choice({"uniform"});
    return ExpertPopularity::uniform(num_experts, num_moe_layers);
  }
  if (!node.is_map()) node.fail("'uniform' or a map with key 'kind'");
  const std::string kind = node.at("kind").as_choice(kKinds);
  if (kind == "uniform") {
    node.check_keys({"kind"});
    return ExpertPopularity::uniform(num_experts, num_moe_layers);
  }
  if (kind == "zipf") {
    node.check_keys({"kind", "exponent", "order", "seed"});
    const config::ConfigNode s = node.at("exponent");
    const double exponent = s.as_double();
    if (exponent < 0.0) s.fail("a Zipf exponent >= 0");
    // order defaults to shuffled: each layer its own order, as real traces show (the file
    // comment); identity is the worst case for contiguous placement and must be asked for.
    const auto order = node.get("order");
    const bool identity = order && order->as_choice({"shuffled", "identity"}) == "identity";
    std::uint64_t seed = 0;
    if (const auto sn = node.get("seed")) {
      const std::int64_t v = sn->as_int();
      if (v < 0) sn->fail("a seed >= 0");
      seed = static_cast<std::uint64_t>(v);
    }
    return ExpertPopularity::zipf(num_experts, num_moe_layers, exponent,
                                  identity ? ZipfOrder::kIdentity : ZipfOrder::kShuffled, seed);
  }
  node.check_keys({"kind", "file"});
  const config::ConfigNode f = node.at("file");
  std::filesystem::path path = f.as_string();
  if (path.is_relative()) {
    const std::filesystem::path origin = f.location().file;
    if (!origin.empty() && std::filesystem::exists(origin)) path = origin.parent_path() / path;
  }
  if (!std::filesystem::exists(path)) f.fail("an existing counts file", in_quotes(path.string()));
  return ExpertPopularity::load_counts(path, num_experts, num_moe_layers);
}

std::vector<double> inclusion_probabilities(std::span<const double> weights, std::int64_t m) {
  const std::size_t n = weights.size();
  MOESIM_ASSERT(m >= 1 && static_cast<std::size_t>(m) <= n, "need 1 <= m <= items");
  std::vector<double> pi(n, 0.0);
  std::vector<std::size_t> order;  // positive items, heaviest first
  for (std::size_t i = 0; i < n; ++i) {
    MOESIM_ASSERT(std::isfinite(weights[i]) && weights[i] >= 0.0, "weights must be finite, >= 0");
    if (weights[i] > 0.0) order.push_back(i);
  }
  const auto mm = static_cast<std::size_t>(m);
  if (order.size() <= mm) {
    for (std::size_t i : order) pi[i] = 1.0;
    const double spread =
        static_cast<double>(mm - order.size()) / static_cast<double>(n - order.size());
    if (order.size() < mm) {
      for (std::size_t i = 0; i < n; ++i) {
        if (weights[i] == 0.0) pi[i] = spread;
      }
    }
    return pi;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return weights[a] > weights[b]; });
  // tail[c] = sum of the weights of order[c..], summed from the lightest up for accuracy.
  std::vector<double> tail(order.size() + 1, 0.0);
  for (std::size_t c = order.size(); c-- > 0;) tail[c] = tail[c + 1] + weights[order[c]];
  std::size_t capped = 0;
  double scale = 0.0;
  for (;;) {
    scale = static_cast<double>(mm - capped) / tail[capped];
    if (capped < mm && scale * weights[order[capped]] >= 1.0) {
      pi[order[capped]] = 1.0;
      ++capped;
      continue;
    }
    break;
  }
  for (std::size_t c = capped; c < order.size(); ++c) {
    pi[order[c]] = std::min(1.0, scale * weights[order[c]]);
  }
  return pi;
}

}  // namespace moesim::llm
