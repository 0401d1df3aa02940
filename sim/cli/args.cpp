#include "sim/cli/args.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

const OptionSpec* find_spec(const std::vector<OptionSpec>& specs, std::string_view name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

/// The error for `word`, an option `moesim command` does not know, with the option it most
/// likely meant.
ConfigError unknown_option(const std::string& command, const std::vector<OptionSpec>& specs,
                           const std::string& word) {
  std::vector<std::string> known;
  for (const auto& s : specs) known.push_back(s.name);
  const std::size_t dashes = word.find_first_not_of('-');
  const std::string name = dashes == std::string::npos ? "" : word.substr(dashes);
  std::string guess;
  if (find_spec(specs, name) != nullptr) {
    guess = name;  // "-seed": the option, with one dash too few
  } else if (name.size() == 1) {
    // "-j": the one option starting with that letter, if only one does.
    for (const auto& k : known) {
      if (k.front() != name.front()) continue;
      if (!guess.empty()) {
        guess.clear();
        break;
      }
      guess = k;
    }
  } else {
    guess = closest_match(name, known);
  }
  return ConfigError(kCommandLine, "moesim " + command,
                     "an option of 'moesim " + command + "' (see --help)", "unknown option " + word,
                     guess.empty() ? "" : "--" + guess);
}

}  // namespace

Args::Args(std::string command, const std::vector<std::string>& words,
           const std::vector<OptionSpec>& specs)
    : command_(std::move(command)) {
  bool options_ended = false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    // "-" alone is a word (stdout); "--" ends the options, so that a word after it may start
    // with '-'. Any other word starting with '-' is an option, known or not: "-x" is not a
    // positional word (it used to be counted as one, and the error said "2 positional words").
    if (options_ended || w.size() < 2 || w.front() != '-') {
      positional_.push_back(w);
      continue;
    }
    if (w == "--") {
      options_ended = true;
      continue;
    }
    if (w[1] != '-') throw unknown_option(command_, specs, w);
    std::string name = w.substr(2);
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = find_spec(specs, name);
    if (spec == nullptr) throw unknown_option(command_, specs, "--" + name);
    if (!spec->takes_value) {
      if (inline_value) {
        throw ConfigError(kCommandLine, "--" + name, "no value (it is a flag)", *inline_value);
      }
      given_.emplace_back(name, "");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= words.size()) {
        throw ConfigError(kCommandLine, "--" + name, "a value " + spec->metavar,
                          "the end of the command line");
      }
      inline_value = words[++i];
    }
    given_.emplace_back(name, *inline_value);
  }
}

std::optional<std::string> Args::value(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& [n, v] : given_) {
    if (n == name) out = v;
  }
  return out;
}

std::vector<std::string> Args::values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : given_) {
    if (n == name) out.push_back(v);
  }
  return out;
}

bool Args::flag(std::string_view name) const {
  return std::any_of(given_.begin(), given_.end(), [&](const auto& p) { return p.first == name; });
}

OptionSpec seed_option(std::string help) { return {"seed", true, "N", std::move(help)}; }

std::uint64_t parse_seed(const Args& args, std::uint64_t fallback) {
  const auto v = args.value("seed");
  if (!v) return fallback;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || end != v->data() + v->size() || n < 0) {
    throw ConfigError(kCommandLine, "--seed",
                      "a whole number from 0 to " +
                          std::to_string(std::numeric_limits<std::int64_t>::max()) +
                          " (the range of a scenario's seed:)",
                      *v);
  }
  return static_cast<std::uint64_t>(n);
}

std::string format_options(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.takes_value ? " " + s.metavar : "");
    if (left.size() < 30) left.resize(30, ' ');
    out += left + " " + s.help + "\n";
  }
  return out;
}

}  // namespace moesim::cli
