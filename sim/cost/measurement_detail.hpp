#pragma once
/// \file
/// Helpers shared by the readers of per-op measurements (sim/cost/measurement.cpp) and of
/// communication measurements (sim/cost/comm_measurement.cpp): parsing cells with located
/// errors, and the AIConfigurator folder conventions (topologies/measured/aiconfigurator/).
/// Internal to sim/cost.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/csv.hpp"
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

/// Longest time a measurement may state: an hour, far above any kernel or collective, and far
/// below the 106 days a Duration holds. Found by the fuzz test: latency_ms "inf" and
/// 9223372036854775807 failed the Duration conversion's assertion (an internal error).
inline constexpr double kMaxMeasuredSeconds = scale::kSecondsPerHour;

/// An AIConfigurator table's cells by column name, with the manifest's constants (manifest.csv)
/// for the columns it leaves out; every error is a ConfigError at the cell.
class TableRows {
 public:
  TableRows(const CsvTable& t, Constants constants) : t_(t), c_(std::move(constants)) {}
  /// Cell `name` of row r, or the manifest constant; a ConfigError when neither has it.
  std::string text(std::size_t r, std::string_view name) const;
  /// As text, or `fallback` when neither the table nor the manifest has the column.
  std::string text_or(std::size_t r, std::string_view name, std::string fallback) const;
  /// Whether the table or the manifest has the column.
  bool has(std::string_view name) const { return t_.column(name) >= 0 || c_.contains(name); }
  /// Whether the table itself has the column.
  bool has_column(std::string_view name) const { return t_.column(name) >= 0; }
  /// A whole number from 0 to `max` (parse_int).
  std::int64_t integer(std::size_t r, std::string_view name,
                       std::int64_t max = kMaxDimension) const;
  /// A positive time of at most kMaxMeasuredSeconds from column `name`, in `unit` seconds.
  Duration time(std::size_t r, std::string_view name, double unit) const;
  /// Where cell `name` of row r is (the row's first column when the table lacks it).
  SourceLocation at(std::size_t r, std::string_view name) const {
    return t_.where(r, std::max(t_.column(name), 0));
  }
  std::size_t size() const { return t_.rows.size(); }
  int line(std::size_t r) const { return t_.lines[r]; }

 private:
  const CsvTable& t_;
  Constants c_;
};

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
