// The project's own fuzz test (issue 14). A few thousand cases, the same every run (seed
// kSeed, tests/fuzz/fuzz_cases.hpp), each one run of the built moesim binary with a time limit:
//   - scenario-N: a shipped scenario (scenarios/*.yaml, made cheap: 8 requests, short outputs)
//     with one to three text mutations (a value of another type, a bad number or unit, a key
//     deleted, duplicated or misspelt, lines swapped or re-indented, the file truncated, a
//     byte-order mark, bytes changed), run with --json -;
//   - catalog-N: one catalog file (a model, GPU, system, stack, calibration, price sheet,
//     network or efficiency file, a workload) mutated the same way in a copy of the catalog
//     given with --data-dir, under a command that reads it (run, explain, show, collective,
//     validate, compare --hardware, sweep);
//   - import-N, measure-N: a mutated Hugging Face config for `import hf`, a mutated measurement
//     table for `calibrate` and `validate`;
//   - set-N: a small scenario run with one or two --set KEY=VALUE of extreme but well-formed
//     values (zero and tiny times, huge widths, degenerate length distributions) or bad ones;
//   - args-N: a cheap, valid command line of every command with bad option values (numbers that
//     are 0, negative, huge, NaN or empty, wrong units, near-miss names, odd files: a folder, an
//     empty file, /dev/null, /dev/full, binary bytes, deep nesting), missing values, unknown and
//     duplicated options, stray words.
// A case fails when moesim exits with a status other than 0 or 2 (or a signal, or runs past the
// time limit), prints "internal error" or a sanitizer report, or, on success, prints a NaN or
// infinity, or a negative throughput, time or cost (JSON output is parsed; text is scanned).
// Failing cases are written, with their files and output, to <build>/fuzz-failures/<id>/.
//
// Environment: MOESIM_FUZZ_STRIDE=K runs every K-th case (the sanitizer build sets 4 through
// CTest), MOESIM_FUZZ_TIMEOUT_S the limit per case (default 10 s), MOESIM_FUZZ_JOBS the cases run
// at once (default: the cores), MOESIM_FUZZ_ONLY=ID runs one case and prints its command,
// MOESIM_FUZZ_MOESIM=PATH runs another moesim binary (a sanitizer build's, say),
// MOESIM_FUZZ_SEED=N generates other cases, to explore.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_cases.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_mutate.hpp"
#include "tests/fuzz/fuzz_runner.hpp"
#include "tests/fuzz/fuzz_suite.hpp"

namespace fs = std::filesystem;
using namespace moesim::fuzz;

namespace {

/// Valid inputs that are merely slow, by what the case did (a substring of Case::what), so that
/// they are skipped whatever their number (case numbers shift when scenarios/ gains a file).
/// MOESIM_FUZZ_ONLY=ID runs one anyway.
const std::map<std::string, std::string> kKnownSlow = {
    // requests: 8 scaled by 1e6: 8,000,000 requests run in constant memory but take 8-15 s on a
    // 2-core machine (7.7 s alone for dsr1-h200-aggregated), past the case's time limit.
    {"requests = 8000000", "8,000,000 requests: valid, 8-15 s"},
    // --set workload.requests=4294967297: valid, in constant memory, but about an hour.
    {"workload.requests=4294967297", "4.3e9 requests: valid, about an hour"},
    // --set deployment.decode.instances=64 on dsr1-nvl72-disaggregated: the KV-transfer topology
    // of 3,096 GPUs keeps routes for every GPU pair (0.6 GB, 3-14 s; quadratic in the GPUs).
    {"deployment.decode.instances=64", "64 DEP48 decode instances: all-pairs routes, up to 14 s"},
};

/// Why case `c` is skipped, or nullptr when it runs.
const std::string* known_reason(const Case& c) {
  for (const auto& [what, reason] : kKnownSlow) {
    if (c.what.find(what) != std::string::npos) return &reason;
  }
  return nullptr;
}

/// The address space of a case in the release build: a bug that allocates without bound fails
/// the case with std::bad_alloc instead of taking the machine's memory.
constexpr std::uint64_t kCaseAddressSpace = std::uint64_t{4} << 30;

/// An integer from the environment, or `fallback`.
long env_int(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : fallback;
}

/// `arg` with the placeholders replaced.
std::string expand(std::string arg, const fs::path& case_dir, const fs::path& data_dir) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"@C", case_dir.string()},
                                 {"@D", data_dir.string()},
                                 {"@S", source_dir().string()}}) {
    for (std::size_t at = arg.find(from); at != std::string::npos; at = arg.find(from, at)) {
      arg.replace(at, from.size(), to);
      at += to.size();
    }
  }
  return arg;
}

/// A shell-quoted rendering of a command, to paste into a terminal.
std::string shell_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    const bool plain =
        !a.empty() && a.size() < 200 &&
        a.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=@,:") ==
            std::string::npos;
    std::string q =
        a.size() > 200 ? "'" + a.substr(0, 40) + "...(" + std::to_string(a.size()) + " chars)'" : a;
    if (!plain && a.size() <= 200) {
      q = "'";
      for (char ch : a) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
      q += "'";
    }
    s += (s.empty() ? "" : " ") + q;
  }
  return s;
}

/// Copies the catalog (models/, workloads/, topologies/ without its 13 MB of measured tables,
/// which are linked) to `to`.
void copy_catalog(const fs::path& to) {
  fs::create_directories(to / "topologies");
  for (const char* dir : {"models", "workloads"}) {
    fs::copy(source_dir() / dir, to / dir, fs::copy_options::recursive);
  }
  for (const auto& e : fs::directory_iterator(source_dir() / "topologies")) {
    if (e.path().filename() == "measured") {
      fs::create_directory_symlink(e.path(), to / "topologies" / "measured");
    } else {
      fs::copy(e.path(), to / "topologies" / e.path().filename(), fs::copy_options::recursive);
    }
  }
}

}  // namespace

TEST_CASE("moesim survives a few thousand mutated scenarios, catalogs and command lines") {
  const std::vector<Case> cases =
      all_cases(static_cast<std::uint64_t>(env_int("MOESIM_FUZZ_SEED", static_cast<long>(kSeed))));
  const long stride = std::max(1L, env_int("MOESIM_FUZZ_STRIDE", 1));
  const auto limit = std::chrono::milliseconds(1000 * env_int("MOESIM_FUZZ_TIMEOUT_S", 10));
  const char* only = std::getenv("MOESIM_FUZZ_ONLY");
  std::vector<const Case*> chosen;
  std::size_t skipped = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (only != nullptr && *only != '\0') {
      if (cases[i].id == only) chosen.push_back(&cases[i]);
    } else if (i % static_cast<std::size_t>(stride) == 0) {
      if (known_reason(cases[i]) != nullptr) {
        ++skipped;
      } else {
        chosen.push_back(&cases[i]);
      }
    }
  }
  REQUIRE(!chosen.empty());
  const auto slots = static_cast<std::size_t>(std::max(
      1L, env_int("MOESIM_FUZZ_JOBS", static_cast<long>(std::thread::hardware_concurrency()))));

  const fs::path work = fs::temp_directory_path() / ("moesim-fuzz-" + std::to_string(getpid()));
  fs::remove_all(work);
  const fs::path failures = fs::path(MOESIM_BINARY_DIR) / "fuzz-failures";
  fs::remove_all(failures);
  std::map<std::string, std::string> originals;  // catalog file -> its text
  for (std::size_t s = 0; s < slots; ++s) {
    const fs::path slot = work / ("slot" + std::to_string(s));
    fs::create_directories(slot / "case");
    copy_catalog(slot / "data");
  }
  std::vector<std::string> slot_catalog_edit(slots);

  std::vector<std::string> failed;
  std::map<std::string, std::array<int, 3>> tally;  // family -> {exit 0, exit 2, failed}
  const char* other = std::getenv("MOESIM_FUZZ_MOESIM");
  const std::string binary = other != nullptr && *other != '\0'
                                 ? std::string(other)
                                 : std::string(MOESIM_BINARY_DIR) + "/moesim";
  const auto start = std::chrono::steady_clock::now();
  // AddressSanitizer reserves terabytes of address space: no limit for a sanitizer build's
  // moesim (child_environment() gives it a resident-memory limit instead).
#if defined(__SANITIZE_ADDRESS__)
  const AddressSpaceLimit memory(0);
#else
  const AddressSpaceLimit memory(other != nullptr && *other != '\0' ? 0 : kCaseAddressSpace);
#endif
  run_jobs(
      chosen.size(), slots, work, limit,
      [&](std::size_t slot, std::size_t job) {
        const Case& c = *chosen[job];
        const fs::path dir = work / ("slot" + std::to_string(slot));
        const fs::path case_dir = dir / "case";
        const fs::path data = dir / "data";
        // A clean case folder with the odd files, and the catalog as shipped but for this
        // case's file.
        fs::remove_all(case_dir);
        fs::create_directories(case_dir);
        for (const auto& d : odd_dirs()) fs::create_directories(case_dir / d);
        // The odd files that this case's arguments name (only arguments can name them).
        std::string args;
        for (const auto& a : c.args) args += a + "\n";
        for (const auto& [name, text] : odd_files()) {
          if (args.find("@C/" + name) != std::string::npos) write_text(case_dir / name, text);
        }
        for (const auto& [name, text] : c.files) {
          fs::create_directories((case_dir / name).parent_path());
          write_text(case_dir / name, text);
        }
        std::string& edited = slot_catalog_edit[slot];
        if (!edited.empty()) write_text(data / edited, originals.at(edited));
        edited = c.catalog_file;
        if (!edited.empty()) {
          if (originals.count(edited) == 0) originals[edited] = read_source(edited);
          write_text(data / edited, c.catalog_text);
        }
        std::vector<std::string> argv = {binary};
        for (const auto& a : c.args) argv.push_back(expand(a, case_dir, data));
        if (only != nullptr && *only != '\0') {
          std::cout << c.id << ": " << c.what << "\n  " << shell_line(argv) << "\n";
        }
        return argv;
      },
      [&](std::size_t job, Outcome&& o) {
        const Case& c = *chosen[job];
        std::string inputs = c.catalog_text;
        for (const auto& a : c.args) inputs += " " + a;
        for (const auto& [name, text] : c.files) inputs += "\n" + text;
        std::vector<std::string> problems = check_outcome(o, c.expect, inputs);
        if (c.must_succeed && o.exit_code != 0) problems.push_back("a base case must succeed");
        auto& counts = tally[c.id.substr(0, c.id.find('-'))];
        ++counts[problems.empty() ? (o.exit_code == 0 ? 0 : 1) : 2];
        if (problems.empty()) return;
        // Keep the case's files and output for reproduction.
        const fs::path keep = failures / c.id;
        fs::create_directories(keep);
        for (const auto& [name, text] : c.files) {
          write_text(keep / fs::path(name).filename(), text);
        }
        if (!c.catalog_file.empty()) {
          write_text(keep / fs::path(c.catalog_file).filename(), c.catalog_text);
        }
        write_text(keep / "stdout", o.out);
        write_text(keep / "stderr", o.err);
        std::string report = c.id + ": " + c.what + "\n  moesim";
        for (const auto& a : c.args) report += " " + shell_line({a});
        report += "\n  exit " + std::to_string(o.exit_code) + ", " +
                  std::to_string(o.seconds).substr(0, 5) + " s";
        for (const auto& p : problems) report += "\n  " + p;
        report += "\n  stderr: " + shorten(o.err.substr(0, o.err.find('\n')));
        write_text(keep / "report.txt", report + "\n");
        failed.push_back(report);
      });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fs::remove_all(work);
  std::string summary;
  for (const auto& [family, n] : tally) {
    summary += "\n  " + family + ": " + std::to_string(n[0]) + " ran, " + std::to_string(n[1]) +
               " rejected (exit 2), " + std::to_string(n[2]) + " failed";
  }
  MESSAGE(chosen.size() << " of " << cases.size() << " cases (every " << stride << ", " << skipped
                        << " known skipped) in " << seconds << " s, " << failed.size() << " failed"
                        << summary);
  std::sort(failed.begin(), failed.end());
  for (const auto& f : failed) FAIL_CHECK(f);
}
