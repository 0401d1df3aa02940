#pragma once
/// \file
/// Studies: a grid of sweeps read from a YAML file (`moesim study FILE`). A study crosses models,
/// systems, precisions, software stacks, workloads (ISL/OSL) and replicas (seeds); each cell of
/// that grid is one sweep (sweep.hpp) of the same deployment space. Planning (plan_study)
/// enumerates and probes every cell and numbers the points to simulate 0 .. N-1 in cell, then
/// point order; any process can simulate any of them (simulate_study_point) and hand back a
/// one-line record that holds its results exactly (encode_point), so that the records of one or
/// many processes, in any order, assemble into the same bytes (assemble_study). sim/dist shards
/// the points over processes; this file knows nothing of them.
///
/// The study file (every key but systems optional; see `moesim study --help` for an example):
///   name: text                              # names the study in the summary
///   models: [deepseek-r1, ...]              # catalog names or paths (default: [deepseek-r1])
///   systems: [gb200-nvl72, hgx-h200]        # required
///   precisions: [checkpoint, "weights=nvfp4", {weights: nvfp4, kv_cache: fp8}]
///   stacks: [default, roofline]             # default: the system's own stack
///   workloads: [{isl: 1024, osl: 1024}]     # fixed lengths per request
///   replicas: 1                             # seeds seed, seed + 1, ...
///   seed: 1
///   prices: prices                          # price and power sheet
///   space:                                  # the deployment space of every cell
///     preset: standard | quick              # `moesim sweep` or `moesim compare` defaults
///     tp: [4, 8]  ep: [8, 16]  max_batch: [256]  mtp: [0, 3]  disagg: ["1:2"]
///     max_concurrency: 4096  ladder_stride: 1  dense_ladder_until: 0  prune: true
///   report:
///     levels: [20, 50, 100]                 # tok/s per user of the comparisons
///     sla: {ttft_p99: "2 s", tpot_p90: "50 ms"}  # points the comparisons may use
///     compare: [{a: gb200-nvl72, b: hgx-h200, a_precision: "weights=nvfp4"}]
///   extra_scenario: "step_model: {...}"     # YAML appended to every point's scenario
///   extra_pool: "kv_capacity_tokens: 4096"  # flow-map entries added to every pool
/// Every error names the file, line, key path, what was expected and a "did you mean".

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/study/sweep.hpp"
#include "sim/study/table.hpp"

namespace moesim::study {

/// One text field of a journal or probe record: backslash, tab, newline and carriage return
/// escaped (\\, \t, \n, \r), so that records stay one line of tab-separated fields.
std::string escape_field(const std::string& text);
/// The inverse of escape_field into `out`; false for a dangling or unknown escape.
bool unescape_field(std::string_view text, std::string& out);

/// A comparison of two systems the study file asks for (report.compare).
struct StudyCompare {
  std::string a;  ///< system as written in systems:
  std::string b;
  /// Precision of a's (b's) cells, as normalised YAML ("" = the checkpoint). When neither is
  /// set, a and b are paired at equal precisions; when one is, the other side takes any.
  std::optional<std::string> a_precision;
  std::optional<std::string> b_precision;
};

/// A study file, checked against the catalog.
struct StudySpec {
  std::string name;
  std::string file;  ///< where it was read from
  std::vector<std::string> models{"deepseek-r1"};
  std::vector<std::string> systems;
  /// Precisions as YAML flow maps ("" = the checkpoint's formats), and as written.
  std::vector<std::string> precisions{""};
  std::vector<std::string> precision_names{"checkpoint"};
  std::vector<std::string> stacks{""};  ///< "" = each system's default stack
  struct Workload {
    std::int64_t isl = 1024;
    std::int64_t osl = 1024;
  };
  std::vector<Workload> workloads{Workload{}};
  std::int32_t replicas = 1;
  std::uint64_t seed = 1;
  std::string price_sheet = "prices";
  SweepSpace space;
  bool prune = true;
  std::vector<double> levels{20.0, 50.0, 100.0};  ///< tok/s per user
  /// Service-level limits (report.sla): a point meets the SLA when its TTFT p99 and TPOT p90
  /// are at most these (ms); comparisons use only such points. None: every point.
  std::optional<double> sla_ttft_p99_ms;
  std::optional<double> sla_tpot_p90_ms;
  std::vector<StudyCompare> compares;
  std::string extra_scenario;  ///< SweepBase::extra_yaml
  std::string extra_pool;      ///< SweepBase::extra_pool_yaml
};

/// Reads a study file; a ConfigError at the offending key for anything wrong, including names
/// the catalog does not hold and precisions a model does not accept.
StudySpec load_study(const std::filesystem::path& file, const config::Catalog& catalog);
/// As load_study, from a parsed document.
StudySpec parse_study(const config::ConfigNode& root, const config::Catalog& catalog);

/// One cell of the grid: the fixed choices of one sweep.
struct StudyCell {
  SweepBase base;
  std::string precision_name;  ///< as written in the file ("checkpoint" when none)
  std::int32_t replica = 0;    ///< 0-based; the seed is spec.seed + replica
};

/// A planned study: every cell swept and probed, and the points left to simulate numbered.
struct StudyPlan {
  StudySpec spec;
  std::vector<StudyCell> cells;   ///< models x systems x precisions x stacks x workloads x replicas
  std::vector<SweepPlan> sweeps;  ///< one per cell
  /// A point to simulate: cell and index into its sweep's points.
  struct Ref {
    std::size_t cell = 0;
    std::size_t point = 0;
  };
  std::vector<Ref> todo;  ///< in cell, then point order: the study's point numbers
  /// FNV-1a hash of every point's scenario YAML: records of another plan are not reused.
  std::uint64_t fingerprint = 0;
  std::size_t points() const;  ///< points of every cell, pruned ones included
  /// point_cost of todo point `k`.
  double cost(std::size_t k) const;
  /// "model on system, precision, stack, isl/osl, replica r: label" of todo point `k`.
  std::string describe(std::size_t k) const;
};

/// Runs `count` deployment probes, `probe(i)` for each i, and returns them by i: on this process's
/// threads, or shared among processes (sim/dist), which must all return the same.
using ProbeRunner = std::function<std::vector<SweepProbe>(
    std::size_t count, const std::function<SweepProbe(std::size_t)>& probe)>;

/// Plans every cell, probing each deployment with `probes` (default: on `jobs` threads, 0: every
/// core). Cells that differ only in their replica share one probe.
StudyPlan plan_study(const StudySpec& spec, const config::Catalog& catalog, unsigned jobs,
                     const ProbeRunner& probes = {});

/// Simulates todo point `k` and returns its record (encode_point).
std::string simulate_study_point(const StudyPlan& plan, std::size_t k,
                                 const config::Catalog& catalog);

/// A one-line record of point `k`'s results: tab-separated number, simulated flag, the metrics
/// as shortest round-trip decimals ("-" for none) and the pruned reason with tabs, newlines and
/// backslashes escaped. No newline at the end.
std::string encode_point(std::size_t k, const SweepPoint& point);
/// Reads a record into `k` and the result fields of `point`; false when the line is malformed
/// (e.g. cut short by a crash).
bool decode_point(std::string_view line, std::size_t& k, SweepPoint& point);

/// What a finished study writes.
struct StudyReport {
  Table points;         ///< every point of every cell: the cell's columns, then sweep_table's
  Table frontiers;      ///< the frontier points of each cell, by tok/s per user
  Table compare;        ///< each requested comparison at each level
  std::string summary;  ///< text for the terminal: one line per cell, then the comparisons
};

/// Assembles the report from one record per todo point (records[k] for point k).
StudyReport assemble_study(const StudyPlan& plan, const std::vector<std::string>& records);

}  // namespace moesim::study
