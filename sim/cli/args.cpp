#include "sim/cli/args.hpp"

#include <algorithm>

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

}  // namespace

Args::Args(std::string command, const std::vector<std::string>& words,
           const std::vector<OptionSpec>& specs)
    : command_(std::move(command)) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.size() < 3 || w.compare(0, 2, "--") != 0) {
      positional_.push_back(w);
      continue;
    }
    std::string name = w.substr(2);
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* spec = find_spec(specs, name);
    if (spec == nullptr) {
      std::vector<std::string> known;
      for (const auto& s : specs) known.push_back(s.name);
      const std::string guess = closest_match(name, known);
      throw ConfigError(kCommandLine, "moesim " + command_,
                        "an option of 'moesim " + command_ + "' (see --help)", "--" + name,
                        guess.empty() ? "" : "--" + guess);
    }
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
