#pragma once
/// \file
/// The subcommands of `moesim`. Each takes the words after its name and returns an exit code;
/// errors are thrown (ConfigError for bad input) and mapped to exit codes by main().

#include <cstdint>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/hw/system.hpp"
#include "sim/study/sweep.hpp"

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
int run_attribute(const std::vector<std::string>& words);
int run_calibrate(const std::vector<std::string>& words);
int run_collective(const std::vector<std::string>& words);
int run_compare(const std::vector<std::string>& words);
int run_explain(const std::vector<std::string>& words);
int run_import(const std::vector<std::string>& words);
int run_run(const std::vector<std::string>& words);
int run_size(const std::vector<std::string>& words);
int run_study(const std::vector<std::string>& words);
int run_sweep(const std::vector<std::string>& words);
int run_validate(const std::vector<std::string>& words);

// Helpers shared by `sweep` and `compare` (cmd_sweep.cpp).

/// A progress callback that redraws a one-line bar on stderr, or none when stderr is not a
/// terminal.
study::SweepProgress terminal_progress(std::string what, std::string unit = "points");
/// Warns on stderr when `r` simulated nothing (saying why: study::nothing_simulated_reason) and
/// when some points of `r` hit an internal error, naming the first.
void warn_internal_errors(const study::SweepResult& r);
/// --jobs N (>= 1), 0 when absent (every core); a ConfigError otherwise.
unsigned parse_jobs(const Args& args);
/// The --stack of system `i` of `systems`: "" when --stack is absent (each system's default),
/// its value when given once, the i-th when given once per system; a ConfigError otherwise.
std::string stack_option(const Args& args, std::size_t i, std::size_t systems);
/// The --stack option's help entry (repeatable where several systems are given).
OptionSpec stack_option_spec(bool per_system);
/// The --prefill-system of system `i` of `systems` (mixed hardware: the disaggregated
/// deployments' prefill pools on that system), read as stack_option reads --stack: "" when
/// absent (the swept system), its value when given once, the i-th when given once per system.
std::string prefill_system_option(const Args& args, std::size_t i, std::size_t systems);
/// The --prefill-system option's help entry (repeatable where several systems are given).
OptionSpec prefill_system_option_spec(bool per_system);
/// The precision of option `--name` (given at most once; `fallback` when absent) as a YAML flow
/// map for study::SweepBase, checked with llm::parse_precision against `model`: a ConfigError at
/// the option for a bad value or for the option given twice.
std::string precision_option(const Args& args, const std::string& name, const std::string& fallback,
                             const std::string& model, const config::Catalog& catalog);
/// One precision `text` ("K=V,..." or a YAML map; "" for the checkpoint) of `option`, checked as
/// precision_option() does.
std::string checked_precision(const std::string& text, const std::string& option,
                              const std::string& model, const config::Catalog& catalog);
/// A positive integer option `--name` (e.g. --isl), `fallback` when absent; a ConfigError
/// otherwise.
std::int64_t parse_tokens(const Args& args, const char* name, std::int64_t fallback);
/// The --skew option's help entry: a Zipf expert popularity in every point's scenario.
OptionSpec skew_option_spec();
/// The scenario YAML of --skew EXPONENT for study::SweepBase::extra_yaml: "routing:
/// {popularity: {kind: zipf, exponent: EXPONENT}}", "" when absent (uniform popularity). A
/// ConfigError at --skew unless EXPONENT is a finite number >= 0.
std::string skew_yaml(const Args& args);

// Helpers shared by `collective` and `explain` (cmd_collective.cpp).

/// --domains N of `system` (1 when absent): a whole number from 1 to the most NVLink domains of
/// `system` a cluster of hw::kMaxClusterGpus GPUs holds; a ConfigError at --domains giving that
/// range and why otherwise (checked before anything is built: 1000000 domains exhausted memory).
int parse_domains(const Args& args, const hw::SystemSpec& system);

}  // namespace moesim::cli
