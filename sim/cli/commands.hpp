#pragma once
/// \file
/// The subcommands of `moesim`. Each takes the words after its name and returns an exit code;
/// errors are thrown (ConfigError for bad input) and mapped to exit codes by main().

#include <string>
#include <vector>

namespace moesim::cli {

/// A subcommand: its name, one-line summary and entry point.
struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& words);
};

/// Every subcommand, in the order `moesim --help` lists them.
const std::vector<Command>& commands();

int run_list(const std::vector<std::string>& words);
int run_show(const std::vector<std::string>& words);
int run_collective(const std::vector<std::string>& words);
int run_compare(const std::vector<std::string>& words);
int run_explain(const std::vector<std::string>& words);
int run_import(const std::vector<std::string>& words);
int run_run(const std::vector<std::string>& words);

}  // namespace moesim::cli
