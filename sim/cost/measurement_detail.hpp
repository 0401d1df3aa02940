#pragma once
/// \file
/// Helpers shared by the readers of per-op measurements (sim/cost/measurement.cpp) and of
/// communication measurements (sim/cost/comm_measurement.cpp): parsing cells with located
/// errors, and the AIConfigurator folder conventions (topologies/measured/aiconfigurator/).
/// Internal to sim/cost.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/units.hpp"

namespace moesim::cost::detail {

/// Columns a table leaves out as constant, by name, with their value (from manifest.csv).
using Constants = std::map<std::string, std::string, std::less<>>;

/// `v` as strings, for did-you-mean suggestions.
std::vector<std::string> names_of(std::span<const std::string_view> v);
/// Largest shape dimension a measurement may state: 2^20, twice the largest in the shipped
/// tables (num_tokens 524,288). Found by the fuzz test: an m, n or k of 2^63 - 1 priced the op
/// beyond the 106 days a Duration holds, which failed an assertion (an internal error).
inline constexpr std::int64_t kMaxDimension = std::int64_t{1} << 20;

/// A whole number from 0 to `max`, or a ConfigError at `at` naming `key`.
std::int64_t parse_int(std::string_view text, const SourceLocation& at, std::string_view key,
                       std::int64_t max = kMaxDimension);
/// A positive number, or a ConfigError at `at` naming `key`.
double parse_number(std::string_view text, const SourceLocation& at, std::string_view key);
/// A duration with its unit ("12.5 us"), or a ConfigError at `at` naming `key`.
Duration duration(const std::string& text, const SourceLocation& at, std::string_view key);
/// One of `choices`, or a ConfigError with a did-you-mean.
std::string choose(std::string_view text, std::span<const std::string_view> choices,
                   const SourceLocation& at, std::string_view key);
/// GPU catalog name of an AIConfigurator system folder ("b200_sxm" -> "b200"); other folder
/// names are a ConfigError.
std::string gpu_of_system(std::string_view system, const SourceLocation& at);

/// Where an AIConfigurator table sits: <system>/<backend>-<version>/<table>.csv.
struct TablePlace {
  std::string table;  ///< the file's stem, one of the reader's tables
  std::string system;
  std::string gpu;  ///< gpu_of_system(system)
  std::string framework;
  std::string version;
};

/// The place of the table at `path` (read from `file`): its name must be one of `tables`, its
/// folders a known system and a <backend>-<version> folder such as `example`; ConfigErrors at
/// the file otherwise.
TablePlace table_place(const std::filesystem::path& path, const std::string& file,
                       std::span<const std::string_view> tables, std::string_view example);
/// The omitted constant columns of the table at `path`, from the manifest.csv of the nearest
/// enclosing folder that has one (empty when none lists it).
Constants manifest_constants(const std::filesystem::path& path);

}  // namespace moesim::cost::detail
