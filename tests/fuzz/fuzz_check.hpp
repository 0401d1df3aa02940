#pragma once
/// \file
/// What the fuzz test requires of every moesim run: exit status 0 or 2 (2 = bad input), no
/// "internal error" and no sanitizer report, and in the output of a successful run no NaN or
/// infinity, and no negative throughput, time or cost. JSON output is read with a small parser
/// that keeps each value's key path and whether it was a string; text output is scanned for the
/// words nan and inf.

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_runner.hpp"

namespace moesim::fuzz {

/// True when a key names a throughput, a time or a cost ("output_tok_s_per_gpu", "ttft_ms",
/// "time_us", "cost_usd_per_mtok", a table row "step time (ms)", ...).
inline bool is_metric_key(std::string_view key) {
  std::string k(key);
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* m : {"tok_s", "tok/s", "_ms",  "(ms)",  "_us", "(us)",  "_s",         "(s)",
                        "time",  "usd",   "cost", "price", "$",   "joule", "throughput", "goodput",
                        "bw",    "gbps",  "ttft", "tpot",  "itl", "e2e",   "window"}) {
    if (k.find(m) != std::string::npos) return true;
  }
  return false;
}

/// Whether `s` is exactly a not-finite number as C++ or YAML writes it.
inline bool is_not_finite_word(std::string_view s) {
  std::string k(s);
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!k.empty() && (k[0] == '-' || k[0] == '+')) k.erase(0, 1);
  if (!k.empty() && k[0] == '.') k.erase(0, 1);
  return k == "nan" || k == "inf" || k == "infinity";
}

/// Reads a JSON document and reports the values that break the rules above.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view text) : t_(text) {}

  /// Problems found (empty when the document is fine).
  std::vector<std::string> check() {
    skip_ws();
    value("");
    skip_ws();
    if (!failed_ && i_ < t_.size()) problem("text after the JSON document");
    return problems_;
  }

 private:
  void problem(const std::string& what) {
    if (problems_.size() < 5) problems_.push_back(what);
  }
  void fail(const std::string& what) {
    if (!failed_) problem("malformed JSON at byte " + std::to_string(i_) + ": " + what);
    failed_ = true;
  }
  void skip_ws() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_])) != 0) ++i_;
  }
  std::string string_literal() {
    std::string s;
    ++i_;  // opening quote
    while (i_ < t_.size() && t_[i_] != '"') {
      if (t_[i_] == '\\' && i_ + 1 < t_.size()) ++i_;
      s += t_[i_++];
    }
    if (i_ >= t_.size()) {
      fail("unterminated string");
      return s;
    }
    ++i_;
    return s;
  }
  void scalar(const std::string& path, const std::string& text, bool quoted) {
    if (!quoted && text != "true" && text != "false" && text != "null") {
      char* end = nullptr;
      std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) {
        problem(path + ": " + text + " is not a JSON value");
        return;
      }
    }
    const bool metric = is_metric_key(path);
    if (is_not_finite_word(text) && (!quoted || metric)) {
      problem(path + ": " + text);
      return;
    }
    if (!metric || text.empty()) return;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return;  // not a number ("-", "TP8", "$1.20")
    if (!std::isfinite(v) || v < 0) problem(path + ": " + text);
  }
  void value(const std::string& path) {
    if (failed_ || ++depth_ > 200) return fail("too deep");
    skip_ws();
    if (i_ >= t_.size()) return fail("unexpected end");
    const char c = t_[i_];
    if (c == '{') {
      ++i_;
      skip_ws();
      // A table row {"figure": NAME, "value": V} or {"figure": NAME, "<system>": V}: the row's
      // values are named by its figure.
      std::string figure;
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
      } else {
        while (!failed_) {
          skip_ws();
          if (i_ >= t_.size() || t_[i_] != '"') return fail("expected a key");
          const std::string key = string_literal();
          skip_ws();
          if (i_ >= t_.size() || t_[i_] != ':') return fail("expected ':'");
          ++i_;
          skip_ws();
          std::string name = path.empty() ? key : path + "." + key;
          if (key == "figure" && i_ < t_.size() && t_[i_] == '"') {
            const std::size_t at = i_;
            figure = string_literal();
            i_ = at;
          } else if (!figure.empty()) {
            name = path + "[" + figure + "]." + key;
          }
          value(name);
          skip_ws();
          if (i_ < t_.size() && t_[i_] == ',') {
            ++i_;
            continue;
          }
          if (i_ < t_.size() && t_[i_] == '}') {
            ++i_;
            break;
          }
          return fail("expected ',' or '}'");
        }
      }
    } else if (c == '[') {
      ++i_;
      skip_ws();
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
      } else {
        for (std::size_t n = 0; !failed_; ++n) {
          value(path + "[" + std::to_string(n) + "]");
          skip_ws();
          if (i_ < t_.size() && t_[i_] == ',') {
            ++i_;
            continue;
          }
          if (i_ < t_.size() && t_[i_] == ']') {
            ++i_;
            break;
          }
          return fail("expected ',' or ']'");
        }
      }
    } else if (c == '"') {
      const std::string s = string_literal();
      if (!failed_) scalar(path, s, true);
    } else {
      const std::size_t start = i_;
      while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != '}' && t_[i_] != ']' &&
             std::isspace(static_cast<unsigned char>(t_[i_])) == 0) {
        ++i_;
      }
      scalar(path, std::string(t_.substr(start, i_ - start)), false);
    }
    --depth_;
  }

  std::string_view t_;
  std::size_t i_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  std::vector<std::string> problems_;
};

/// The JSON part of `out`: from its first line that starts with '{' or '[' ("" when none).
inline std::string_view json_part(std::string_view out) {
  for (std::size_t at = 0; at < out.size();) {
    if (out[at] == '{' || out[at] == '[') return out.substr(at);
    const std::size_t nl = out.find('\n', at);
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  return {};
}

/// True when `word` occurs in `text` as a whole word (not inside a longer name).
inline bool has_word(std::string_view text, std::string_view word) {
  auto is_name = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  };
  for (std::size_t at = text.find(word); at != std::string_view::npos;
       at = text.find(word, at + 1)) {
    const bool left = at == 0 || !is_name(text[at - 1]);
    const bool right = at + word.size() >= text.size() || !is_name(text[at + word.size()]);
    if (left && right) return true;
  }
  return false;
}

/// What a case expects of its output, besides the exit status.
enum class Expect {
  kText,  ///< any output; scanned for nan and inf
  kJson,  ///< on success, standard output holds a JSON document (after any text)
};

/// The problems of one outcome (empty when it passes). `inputs` is everything the case fed
/// moesim (arguments and file contents): a nan or inf that it holds may be echoed back.
inline std::vector<std::string> check_outcome(const Outcome& o, Expect expect,
                                              std::string_view inputs) {
  std::vector<std::string> problems;
  if (o.timed_out) problems.push_back("timed out after " + std::to_string(o.seconds) + " s");
  if (o.signal != 0 && !o.timed_out)
    problems.push_back("killed by signal " + std::to_string(o.signal));
  if (o.signal == 0 && o.exit_code != 0 && o.exit_code != 2) {
    problems.push_back("exit status " + std::to_string(o.exit_code));
  }
  for (const std::string* s : {&o.out, &o.err}) {
    for (const char* bad : {"internal error", "runtime error:", "AddressSanitizer", "LeakSanitizer",
                            "terminate called"}) {
      if (s->find(bad) != std::string::npos) problems.push_back(std::string("output says ") + bad);
    }
  }
  if (o.exit_code != 0) return problems;
  std::string_view scanned = o.out;
  if (expect == Expect::kJson) {
    const std::string_view json = json_part(o.out);
    if (json.empty()) {
      problems.push_back("no JSON in the output");
    } else {
      for (auto& p : JsonChecker(json).check()) problems.push_back("JSON " + p);
    }
    scanned = std::string_view(o.out).substr(0, o.out.size() - json.size());
  }
  for (const char* word : {"nan", "inf", "NaN", "Inf"}) {
    if (has_word(scanned, word) && !has_word(inputs, word)) {
      problems.push_back(std::string("output holds ") + word);
    }
  }
  return problems;
}

}  // namespace moesim::fuzz
