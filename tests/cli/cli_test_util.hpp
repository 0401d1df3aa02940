#pragma once
/// \file
/// Runs the built moesim executable for the end-to-end CLI tests.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace moesim::cli_test {

/// Exit status and everything the command printed.
struct Result {
  int status = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs `moesim ARGS` (a shell word list) from the build tree and collects its output.
inline Result run_moesim(const std::string& args) {
  const std::string cmd = std::string(MOESIM_BINARY_DIR) + "/moesim " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

/// Whether `haystack` contains `needle`.
inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// The small analytic scenario the CLI tests run (tests/data/serve/agg_analytic.yaml).
inline const std::string kAnalyticScenario =
    std::string(MOESIM_TEST_DATA_DIR) + "/serve/agg_analytic.yaml";

}  // namespace moesim::cli_test
