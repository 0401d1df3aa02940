// `moesim study FILE`: a grid of sweeps from a study file (sim/study/study.hpp), in one process or
// over Open MPI ranks (sim/dist/), with one result table, each cell's frontier and the
// comparisons the file asks for.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/core/error.hpp"
#include "sim/dist/communicator.hpp"
#include "sim/dist/study_run.hpp"
#include "sim/study/study.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

/// Exit status of a run in which a rank failed; its finished points are in the journal.
constexpr int kExitRankFailed = 4;

std::vector<OptionSpec> study_options() {
  return {{"output", true, "DIR", "where the results go (default: FILE's name without .yaml)"},
          {"jobs", true, "N", "threads per rank (default: the machine's cores / its ranks)"},
          {"fresh", false, "", "discard the journal of an earlier run and simulate everything"},
          {"plan", false, "", "print the cells and point counts and simulate nothing"},
          {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"}};
}

constexpr const char* kStudyHelp =
    "usage: moesim study FILE [--output DIR] [--jobs N] [--fresh] [--plan]\n"
    "       mpirun -n RANKS moesim study FILE ...     (or srun, in a Slurm job)\n\n"
    "Runs a grid of sweeps from a study file: every combination of its models, systems,\n"
    "precisions, stacks, workloads and replicas is one cell, swept like `moesim sweep` over the\n"
    "same deployment space (each deployment at a ladder of concurrencies). Writes to DIR:\n"
    "  points.csv, points.json        every point of every cell, with every metric (and why a\n"
    "                                 pruned point was not simulated)\n"
    "  frontiers.csv, frontiers.json  each cell's Pareto frontier, tok/s per GPU vs per user\n"
    "  compare.csv, compare.json      the comparisons the file asks for, at its levels\n"
    "  journal/rank-R.log             each point's results as it finished (resuming)\n"
    "and prints one line per cell and the comparisons.\n\n"
    "A study file (every key but systems optional):\n"
    "  name: dsr1-nvl72-vs-h200\n"
    "  models: [deepseek-r1]\n"
    "  systems: [gb200-nvl72, hgx-h200]\n"
    "  precisions: [checkpoint, \"weights=nvfp4\"]   # or {weights: nvfp4, kv_cache: fp8}\n"
    "  stacks: [default]                           # default: each system's own stack\n"
    "  workloads: [{isl: 1024, osl: 1024}, {isl: 8192, osl: 1024}]\n"
    "  replicas: 3                                 # seeds seed, seed+1, seed+2\n"
    "  seed: 1\n"
    "  prices: prices                              # price and power sheet\n"
    "  space:                                      # the deployments of every cell\n"
    "    preset: quick                             # quick (moesim compare) or standard (sweep)\n"
    "    tp: [8]\n"
    "    ep: [8, 16, 32, 72]\n"
    "    max_batch: [256]\n"
    "    mtp: [0, 3]\n"
    "    disagg: []                                # e.g. [\"1:2\", \"1:4\"]\n"
    "    max_concurrency: 4096\n"
    "  report:\n"
    "    levels: [20, 50, 100]                     # tok/s per user\n"
    "    sla: {ttft_p99: \"2 s\", tpot_p90: \"50 ms\"} # comparisons use only points within it\n"
    "    compare:                                  # paired on model, stack, workload, replica\n"
    "      - {a: gb200-nvl72, b: hgx-h200, a_precision: \"weights=nvfp4\", b_precision: "
    "checkpoint}\n\n"
    "Results do not depend on the number of threads or ranks: the points are numbered in cell\n"
    "order, and the output is written in that order from exact records of each point.\n\n"
    "Over Open MPI (a moesim built where CMake found MPI): the points left to simulate are dealt\n"
    "to the ranks by a cost estimate (requests x output tokens), largest first to the least\n"
    "loaded rank; each rank runs its share on its cores; rank 0 gathers and writes. Under\n"
    "Slurm: `srun moesim study FILE` in an sbatch script (see README.md). Started with several\n"
    "ranks, a moesim built without MPI says so and exits with status 2.\n\n"
    "Resuming: every rank appends each finished point to DIR/journal/rank-R.log. A rank that\n"
    "fails reports which points it held and which were saved (exit status 4); the same command\n"
    "run again, with any number of ranks, simulates only the points missing (--fresh: all).\n"
    "The journal is keyed by a hash of every point's scenario, so a changed study file never\n"
    "reuses stale results; after editing the catalog (models, systems, stacks) use --fresh.\n\n";

/// A positive integer environment variable (0 when unset); a ConfigError when malformed.
std::size_t env_count(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (*end != '\0' || n < 0) {
    throw ConfigError({"<environment>", 0, 0}, name, "a whole number >= 0", v);
  }
  return static_cast<std::size_t>(n);
}

/// Threads per rank: the machine's cores shared by the ranks on it, and no more than the CPUs
/// this process may run on (a launcher such as srun --cpus-per-task binds each rank to its own).
unsigned default_jobs(int local_ranks) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  unsigned jobs = std::max(1u, cores / static_cast<unsigned>(std::max(local_ranks, 1)));
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
    jobs = std::min(jobs, static_cast<unsigned>(std::max(CPU_COUNT(&mask), 1)));
  }
  return jobs;
}

int study_main(const std::vector<std::string>& words, dist::Communicator& comm) {
  const bool root = comm.rank() == 0;
  const Args args("study", words, study_options());
  if (args.positional().size() != 1) {
    throw ConfigError(kCommandLine, "moesim study", "one study file (see --help)",
                      args.positional().empty() ? "none" : args.positional()[1]);
  }
  const std::filesystem::path file = args.positional()[0];
  const config::Catalog catalog = open_catalog(args);
  const study::StudySpec spec = study::load_study(file, catalog);
  const std::filesystem::path out =
      args.value("output").value_or(file.filename().replace_extension("").string() + "-results");
  if (root) {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec)
      throw ConfigError(kCommandLine, "--output", "a directory moesim can create",
                        out.string() + ": " + ec.message());
    check_writable((out / "points.csv").string(), "--output");
  }
  unsigned jobs = default_jobs(comm.local_size());
  if (args.value("jobs")) jobs = parse_jobs(args);

  const auto start = std::chrono::steady_clock::now();
  const study::StudyPlan plan =
      study::plan_study(spec, catalog, jobs, dist::shared_probes(comm, jobs));
  const std::chrono::duration<double> planned = std::chrono::steady_clock::now() - start;
  if (root) {
    std::cerr << "study: " << plan.cells.size() << " cells, " << plan.points() << " points, "
              << plan.todo.size() << " to simulate; " << comm.describe() << " x " << jobs
              << " threads (planned in " << study::format_number(planned.count(), 3) << " s)\n";
  }
  if (args.flag("plan")) {
    if (root) {
      for (std::size_t i = 0; i < plan.cells.size(); ++i) {
        const study::SweepResult& r = plan.sweeps[i].result;
        std::cout << plan.cells[i].base.model << " on " << r.system_name << ", "
                  << plan.cells[i].precision_name << ", stack " << r.stack << ", "
                  << plan.cells[i].base.isl << "/" << plan.cells[i].base.osl << ", replica "
                  << plan.cells[i].replica << ": " << r.deployments.size() << " deployments, "
                  << r.points.size() << " points, " << plan.sweeps[i].todo().size()
                  << " to simulate\n";
      }
      std::cout << plan.cells.size() << " cells, " << plan.points() << " points, "
                << plan.todo.size() << " to simulate\n";
    }
    return 0;
  }
  dist::StudyRunOptions options;
  options.jobs = jobs;
  options.journal_dir = out / "journal";
  options.fresh = args.flag("fresh");
  options.fail_after = env_count("MOESIM_STUDY_FAIL_AFTER");
  options.fail_rank = static_cast<int>(env_count("MOESIM_STUDY_FAIL_RANK"));
  if (root) options.progress = terminal_progress("study", "points of rank 0");
  const dist::StudyRunResult r = dist::run_study(plan, comm, catalog, options);
  if (!root) return 0;
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  const study::StudyReport& report = *r.report;
  write_text_file((out / "points.csv").string(), report.points.to_csv(), "--output");
  write_text_file((out / "points.json").string(), report.points.to_json(), "--output");
  write_text_file((out / "frontiers.csv").string(), report.frontiers.to_csv(), "--output");
  write_text_file((out / "frontiers.json").string(), report.frontiers.to_json(), "--output");
  if (!spec.compares.empty()) {
    write_text_file((out / "compare.csv").string(), report.compare.to_csv(), "--output");
    write_text_file((out / "compare.json").string(), report.compare.to_json(), "--output");
  }
  std::cout << report.summary;
  std::cerr << "study: " << r.resumed << " points from the journal, "
            << plan.todo.size() - r.resumed << " simulated ("
            << study::format_number(took.count(), 3) << " s); results in " << out.string() << "\n";
  return 0;
}

}  // namespace

int run_study(const std::vector<std::string>& words) {
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << kStudyHelp << format_options(study_options());
      return 0;
    }
  }
  const std::unique_ptr<dist::Communicator> comm = dist::make_communicator();
  if (comm->size() == 1) {
    try {
      return study_main(words, *comm);
    } catch (const dist::RankFailure& e) {
      std::cerr << "moesim: error: " << e.what() << "\n";
      return kExitRankFailed;
    }
  }
  // Several ranks: a rank that stops while the others wait in a collective must end the job.
  int status = 0;
  try {
    return study_main(words, *comm);
  } catch (const dist::RankFailure& e) {
    std::cerr << "moesim: error: " << e.what() << "\n";
    status = kExitRankFailed;
  } catch (const ConfigError& e) {
    if (comm->rank() == 0) std::cerr << "moesim: error: " << e.what() << "\n";
    status = 2;
  } catch (const std::exception& e) {
    std::cerr << "moesim: rank " << comm->rank() << ": internal error (please report): " << e.what()
              << "\n";
    status = 3;
  }
  std::cerr.flush();
  comm->abort(status);
}

}  // namespace moesim::cli
