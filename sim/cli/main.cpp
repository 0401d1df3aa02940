// The moesim command-line entry point: dispatches subcommands and maps exceptions to exit codes:
// 0 success, 2 bad input (a ConfigError: file:line:col, key path, expected, found), 3 an
// internal error. Only this file ends the process.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"

namespace {

constexpr int kExitBadInput = 2;
constexpr int kExitInternal = 3;

void print_help(std::ostream& out) {
  out << "moesim: a performance simulator for Mixture-of-Experts LLM inference on GPU clusters\n\n"
         "usage: moesim <command> [options]      (moesim <command> --help for its options)\n\n"
         "commands:\n";
  for (const auto& c : moesim::cli::commands()) {
    std::string name = c.name;
    name.resize(12, ' ');
    out << "  " << name << c.summary << "\n";
  }
  out << "\nCatalog names (gpus, systems, models) and paths to YAML files are accepted alike.\n"
         "The catalog is read from $MOESIM_DATA_DIR, else from the source tree moesim was built "
         "from.\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help(std::cout);
    return args.empty() ? kExitBadInput : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    for (const auto& c : moesim::cli::commands()) {
      if (args[0] == c.name) {
        const int status = c.run(rest);
        moesim::cli::flush_stdout();  // output lost on a full disk is an error, not a success
        return status;
      }
    }
    std::vector<std::string> names;
    for (const auto& c : moesim::cli::commands()) names.emplace_back(c.name);
    throw moesim::ConfigError({"<command line>", 0, 0}, "moesim", "a command (see moesim --help)",
                              args[0], moesim::closest_match(args[0], names));
  } catch (const moesim::ConfigError& e) {
    std::cerr << "moesim: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const moesim::InvariantError& e) {
    std::cerr << "moesim: internal error (please report): " << e.what() << "\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "moesim: error: " << e.what() << "\n";
    return kExitInternal;
  }
}
