#include "sim/serve/workload.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>

#include "sim/core/csv.hpp"
#include "sim/core/error.hpp"
#include "sim/core/input_file.hpp"
#include "sim/core/suggest.hpp"
#include "sim/core/unit_parse.hpp"

namespace moesim::serve {

// ---- Sla and bounds ----

bool Sla::met(Duration ttft_value, std::optional<Duration> tpot_value) const {
  if (ttft && ttft_value > *ttft) return false;
  if (tpot && tpot_value && *tpot_value > *tpot) return false;
  return true;
}

std::int32_t WorkloadSpec::max_input_tokens() const {
  std::int32_t m = 1;
  if (!trace.empty()) {
    for (const TraceRow& r : trace) m = std::max(m, r.input_tokens);
    return m;
  }
  for (const RequestClass& c : classes) m = std::max(m, c.isl.upper_bound());
  return m;
}

std::int32_t WorkloadSpec::max_output_tokens() const {
  std::int32_t m = 1;
  if (!trace.empty()) {
    for (const TraceRow& r : trace) m = std::max(m, r.output_tokens);
    return m;
  }
  for (const RequestClass& c : classes) m = std::max(m, c.osl.upper_bound());
  return m;
}

// ---- parsing ----

double parse_request_rate(std::string_view text) {
  const std::string expected = R"(a request rate such as "2 req/s" or "90 req/min")";
  const std::string found = "\"" + std::string(text) + "\"";
  const auto space = text.find(' ');
  if (space == std::string_view::npos) throw UnitError(expected, found);
  const std::string_view number = text.substr(0, space);
  std::string_view unit = text.substr(space);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc{} || ptr != number.data() + number.size() || !std::isfinite(value) ||
      value <= 0.0) {
    throw UnitError(expected, found);
  }
  if (unit == "req/s") return value;
  if (unit == "req/min") return value / scale::kSecondsPerMinute;
  throw UnitError(expected, found);
}

namespace {

/// A request rate for messages, e.g. "0.001 req/s".
std::string format_rate(double per_s) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3g req/s", per_s);
  return buf;
}

Sla read_sla(const config::ConfigNode& node) {
  node.check_keys({"ttft", "tpot"});
  Sla sla;
  if (const auto t = node.get("ttft")) sla.ttft = t->as_duration();
  if (const auto t = node.get("tpot")) sla.tpot = t->as_duration();
  return sla;
}

/// Reads a class from a map with keys among name, weight, isl, osl, sla. `lengths` says whether
/// isl and osl are required (true) or forbidden (false, a trace gives them).
RequestClass read_class(const config::ConfigNode& node, std::string default_name, bool lengths) {
  RequestClass c;
  c.name = std::move(default_name);
  if (const auto n = node.get("name")) c.name = n->as_string();
  if (const auto w = node.get("weight")) {
    c.weight = w->as_double();
    if (!(c.weight > 0.0)) w->fail("a weight > 0");
  }
  if (lengths) {
    c.isl = parse_length(node.at("isl"));
    c.osl = parse_length(node.at("osl"));
  } else {
    for (std::string_view key : {"isl", "osl"}) {
      if (const auto k = node.get(key)) {
        k->fail("no lengths here: the trace gives them", k->describe());
      }
    }
  }
  if (const auto s = node.get("sla")) c.sla = read_sla(*s);
  return c;
}

}  // namespace

WorkloadSpec parse_workload(const config::ConfigNode& node) {
  node.check_keys({"description", "requests", "warmup", "arrival", "trace", "classes", "isl", "osl",
                   "sla", "name"});
  WorkloadSpec spec;
  if (const auto d = node.get("description")) spec.description = d->as_string();

  const auto trace_node = node.get("trace");
  const bool from_trace = trace_node.has_value();

  // Classes: a `classes` list, or a single class written directly under the workload.
  if (const auto list = node.get("classes")) {
    for (const char* key : {"isl", "osl", "sla", "name"}) {
      if (const auto k = node.get(key)) {
        k->fail("no '" + std::string(key) + "' beside 'classes' (put it inside a class)",
                k->describe());
      }
    }
    if (list->size() == 0) list->fail("at least one class");
    for (std::size_t i = 0; i < list->size(); ++i) {
      const config::ConfigNode c = (*list)[i];
      c.check_keys({"name", "weight", "isl", "osl", "sla"});
      spec.classes.push_back(read_class(c, "class" + std::to_string(i), !from_trace));
      if (spec.classes[i].name.empty() ||
          spec.classes[i].name.find_first_of(".,\" ") != std::string::npos) {
        c.at("name").fail("a class name without spaces, dots, commas or quotes");
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (spec.classes[j].name == spec.classes[i].name) {
          c.at("name").fail("a class name used once",
                            "a second class '" + spec.classes[i].name + "'");
        }
      }
    }
  } else {
    spec.classes.push_back(read_class(node, "default", !from_trace));
  }

  if (from_trace) {
    spec.trace_path = path_beside(*trace_node, trace_node->as_string()).string();
    std::vector<std::string> names;
    if (node.has("classes")) {
      for (const RequestClass& c : spec.classes) names.push_back(c.name);
    }
    spec.trace = read_trace_csv(spec.trace_path, names);
  }

  // Arrival process.
  const config::ConfigNode arrival = node.at("arrival");
  arrival.check_keys({"process", "concurrency", "rate"});
  const std::string process = arrival.at("process").as_choice({"closed_loop", "poisson", "trace"});
  if (process == "closed_loop") {
    spec.arrival = ArrivalProcess::kClosedLoop;
    const config::ConfigNode c = arrival.at("concurrency");
    spec.concurrency = c.as_int();
    if (spec.concurrency < 1) c.fail("a concurrency >= 1");
    if (const auto r = arrival.get("rate"))
      r->fail("no rate for closed_loop arrivals", r->describe());
  } else if (process == "poisson") {
    spec.arrival = ArrivalProcess::kPoisson;
    const config::ConfigNode r = arrival.at("rate");
    try {
      spec.rate_per_s = parse_request_rate(r.as_string());
    } catch (const UnitError& e) {
      r.fail(e.expected());
    }
    if (const auto c = arrival.get("concurrency")) {
      c->fail("no concurrency for poisson arrivals", c->describe());
    }
  } else {
    spec.arrival = ArrivalProcess::kTrace;
    if (!from_trace) arrival.at("process").fail("a 'trace' file beside 'arrival' for trace replay");
    for (std::size_t i = 0; i < spec.trace.size(); ++i) {
      if (!spec.trace[i].arrival) {
        arrival.at("process").fail("a trace with an arrival_s column", spec.trace_path);
      }
    }
  }

  // Counts.
  if (const auto r = node.get("requests")) {
    spec.requests = r->as_int();
    if (spec.requests < 1) r->fail("at least 1 request");
    if (spec.arrival == ArrivalProcess::kTrace &&
        spec.requests > static_cast<std::int64_t>(spec.trace.size())) {
      r->fail("at most the trace's " + std::to_string(spec.trace.size()) +
              " rows for trace replay");
    }
  } else if (from_trace) {
    spec.requests = static_cast<std::int64_t>(spec.trace.size());
  } else {
    node.at("requests");  // throws: required
  }
  if (spec.arrival == ArrivalProcess::kPoisson &&
      !(static_cast<double>(spec.requests) / spec.rate_per_s <= kMaxPoissonSpanS)) {
    const double min_rate = static_cast<double>(spec.requests) / kMaxPoissonSpanS;
    arrival.at("rate").fail(
        "a rate at which the " + std::to_string(spec.requests) +
        " requests arrive within 1e5 s (27.8 h) on average, i.e. at least " +
        format_rate(min_rate) +
        " (a longer span could overflow the simulated clock of 106 days of picoseconds)");
  }
  if (const auto w = node.get("warmup")) {
    spec.warmup = w->as_int();
    if (spec.warmup < 0 || spec.warmup >= spec.requests) {
      w->fail("a warm-up from 0 to requests - 1 (" + std::to_string(spec.requests - 1) + ")");
    }
  }
  return spec;
}

void check_max_sequence(const config::ConfigNode& node, const WorkloadSpec& spec,
                        std::int64_t max_tokens, const std::string& limit) {
  if (!spec.trace.empty()) {
    for (const TraceRow& r : spec.trace) {
      const std::int64_t n = std::int64_t{r.input_tokens} + r.output_tokens;
      if (n > max_tokens) {
        node.at("trace").fail("rows of at most " + std::to_string(max_tokens) +
                                  " input + output tokens (" + limit + ")",
                              "a row of " + std::to_string(r.input_tokens) + " + " +
                                  std::to_string(r.output_tokens) + " tokens");
      }
    }
    return;
  }
  const auto list = node.get("classes");
  for (std::size_t i = 0; i < spec.classes.size(); ++i) {
    const RequestClass& c = spec.classes[i];
    const std::int64_t isl = c.isl.upper_bound();
    const std::int64_t osl = c.osl.upper_bound();
    if (isl + osl <= max_tokens) continue;
    const config::ConfigNode cn = list ? (*list)[i] : node;
    const std::string clamp = " (a distribution's largest value counts; `max:` clamps it)";
    if (isl >= max_tokens) {
      cn.at("isl").fail("at most " + std::to_string(max_tokens - 1) +
                            " input tokens, leaving room for one output token: " + limit + clamp,
                        "up to " + std::to_string(isl) + " tokens");
    }
    cn.at("osl").fail("at most " + std::to_string(max_tokens - isl) +
                          " output tokens beside up to " + std::to_string(isl) +
                          " input tokens: " + limit + clamp,
                      "up to " + std::to_string(osl) + " tokens");
  }
}

// ---- trace CSV ----

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

struct CsvField {
  std::string_view text;
  int column = 1;  ///< 1-based character column of the field's start
};

std::vector<CsvField> split_csv(std::string_view line) {
  std::vector<CsvField> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? line.size() : comma;
    fields.push_back({trim(line.substr(start, end - start)), static_cast<int>(start) + 1});
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

}  // namespace

std::vector<TraceRow> read_trace_csv(const std::filesystem::path& path,
                                     const std::vector<std::string>& class_names) {
  const std::string file = path.string();
  std::istringstream in(read_input_file(path, "CSV file", kMaxCsvFileBytes, "trace"));
  auto error = [&](int line, int column, const std::string& key, const std::string& expected,
                   const std::string& found) -> ConfigError {
    return ConfigError({file, line, column}, key, expected, found);
  };

  std::string text;
  int line_no = 0;
  int col_isl = -1;
  int col_osl = -1;
  int col_arrival = -1;
  int col_class = -1;
  std::size_t columns = 0;
  // Header (after a UTF-8 byte-order mark, which spreadsheets write at the start of the file).
  while (std::getline(in, text)) {
    ++line_no;
    if (line_no == 1) text.erase(0, text.size() - strip_utf8_bom(text).size());
    if (!trim(text).empty()) break;
  }
  if (trim(text).empty()) {
    throw error(line_no, 1, "trace",
                "a header row (input_tokens,output_tokens[,arrival_s][,class])", "an empty file");
  }
  const std::vector<CsvField> header = split_csv(text);
  columns = header.size();
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::string_view h = header[i].text;
    int* slot = nullptr;
    if (h == "input_tokens") slot = &col_isl;
    if (h == "output_tokens") slot = &col_osl;
    if (h == "arrival_s") slot = &col_arrival;
    if (h == "class") slot = &col_class;
    if (slot == nullptr) {
      const std::vector<std::string> known = {"input_tokens", "output_tokens", "arrival_s",
                                              "class"};
      throw ConfigError({file, line_no, header[i].column}, "trace.header",
                        "a column among input_tokens, output_tokens, arrival_s, class",
                        "\"" + std::string(h) + "\"", closest_match(h, known));
    }
    if (*slot >= 0)
      throw error(line_no, header[i].column, "trace.header", "each column once", std::string(h));
    *slot = static_cast<int>(i);
  }
  if (col_isl < 0 || col_osl < 0) {
    throw error(line_no, 1, "trace.header", "columns input_tokens and output_tokens", text);
  }
  if (col_class >= 0 && class_names.empty()) {
    throw error(line_no, header[col_class].column, "trace.header",
                "no class column unless the workload lists classes", "class");
  }

  std::vector<TraceRow> rows;
  Duration last_arrival{};
  while (std::getline(in, text)) {
    ++line_no;
    if (trim(text).empty()) continue;
    const std::vector<CsvField> f = split_csv(text);
    if (f.size() != columns) {
      throw error(line_no, 1, "trace", std::to_string(columns) + " fields",
                  std::to_string(f.size()) + " fields");
    }
    TraceRow row;
    auto read_int = [&](int col, const char* key) {
      std::int64_t v = 0;
      const std::string_view s = f[col].text;
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc{} || p != s.data() + s.size() || v < 1 ||
          v > std::numeric_limits<std::int32_t>::max()) {
        throw error(line_no, f[col].column, std::string("trace.") + key,
                    "a token count from 1 to 2147483647", "\"" + std::string(s) + "\"");
      }
      return static_cast<std::int32_t>(v);
    };
    row.input_tokens = read_int(col_isl, "input_tokens");
    row.output_tokens = read_int(col_osl, "output_tokens");
    if (col_arrival >= 0) {
      double s = 0.0;
      const std::string_view t = f[col_arrival].text;
      const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), s);
      if (ec != std::errc{} || p != t.data() + t.size() || !std::isfinite(s) || s < 0.0 ||
          s > kMaxTraceArrivalS) {
        throw error(line_no, f[col_arrival].column, "trace.arrival_s",
                    "seconds from 0 to 1e6 (11.6 days; the simulated clock holds 106 days of "
                    "picoseconds)",
                    "\"" + std::string(t) + "\"");
      }
      const Duration at = ceil_duration(s);
      if (at < last_arrival) {
        throw error(line_no, f[col_arrival].column, "trace.arrival_s",
                    "non-decreasing arrival times", "\"" + std::string(t) + "\"");
      }
      last_arrival = at;
      row.arrival = at;
    }
    if (col_class >= 0) {
      const std::string_view name = f[col_class].text;
      const auto it = std::find(class_names.begin(), class_names.end(), name);
      if (it == class_names.end()) {
        std::string all;
        for (const std::string& n : class_names) all += (all.empty() ? "" : ", ") + n;
        throw error(line_no, f[col_class].column, "trace.class", "one of the classes: " + all,
                    "\"" + std::string(name) + "\"");
      }
      row.class_index = static_cast<std::int32_t>(it - class_names.begin());
    }
    rows.push_back(row);
  }
  if (rows.empty()) throw error(line_no, 1, "trace", "at least one request row", "none");
  return rows;
}

// ---- generation ----

RequestGenerator::RequestGenerator(const WorkloadSpec& spec, std::uint64_t seed)
    : spec_(spec),
      class_rng_(seed, stream_id("serve.workload.class")),
      length_rng_(seed, stream_id("serve.workload.length")),
      arrival_rng_(seed, stream_id("serve.workload.arrival")) {
  MOESIM_ASSERT(!spec.classes.empty() && spec.requests >= 1, "workload not parsed");
  for (const RequestClass& c : spec.classes) total_weight_ += c.weight;
  if (spec.arrival == ArrivalProcess::kPoisson) mean_gap_ = ceil_duration(1.0 / spec.rate_per_s);
  next_.id = 0;
  draw();
}

RequestSpec RequestGenerator::take() {
  MOESIM_ASSERT(!done(), "every request has been drawn");
  RequestSpec out = next_;
  next_ = RequestSpec{};
  next_.id = out.id + 1;
  if (!done()) draw();
  return out;
}

void RequestGenerator::draw() {
  RequestSpec& r = next_;
  const auto i = static_cast<std::size_t>(r.id);
  if (!spec_.trace.empty()) {
    const TraceRow& row = spec_.trace[i % spec_.trace.size()];
    r.class_index = row.class_index;
    r.input_tokens = row.input_tokens;
    r.output_tokens = row.output_tokens;
    if (spec_.arrival == ArrivalProcess::kTrace) r.arrival = TimePoint{} + *row.arrival;
  } else {
    std::size_t k = 0;
    if (spec_.classes.size() > 1) {
      double u = class_rng_.uniform() * total_weight_;
      while (k + 1 < spec_.classes.size() && u >= spec_.classes[k].weight) {
        u -= spec_.classes[k].weight;
        ++k;
      }
    }
    r.class_index = static_cast<std::int32_t>(k);
    r.input_tokens = spec_.classes[k].isl.sample(length_rng_);
    r.output_tokens = spec_.classes[k].osl.sample(length_rng_);
  }
  if (spec_.arrival == ArrivalProcess::kPoisson) {
    // The first request arrives at time zero; gaps are exponential with mean 1 / rate.
    if (i > 0) clock_ += arrival_rng_.exponential(mean_gap_);
    r.arrival = TimePoint{} + clock_;
  }
}

std::vector<RequestSpec> generate_requests(const WorkloadSpec& spec, std::uint64_t seed) {
  std::vector<RequestSpec> out;
  out.reserve(static_cast<std::size_t>(spec.requests));
  for (RequestGenerator gen(spec, seed); !gen.done();) out.push_back(gen.take());
  return out;
}

}  // namespace moesim::serve
