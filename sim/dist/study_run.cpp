#include "sim/dist/study_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <system_error>

#include "sim/core/assert.hpp"
#include "sim/study/parallel.hpp"

namespace moesim::dist {
namespace {

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::filesystem::path journal_file(const std::filesystem::path& dir, int rank) {
  return dir / ("rank-" + std::to_string(rank) + ".log");
}

/// The records of `plan` in the journal files of `dir`, by point (empty where none).
std::vector<std::string> read_journal(const study::StudyPlan& plan,
                                      const std::filesystem::path& dir) {
  std::vector<std::string> records(plan.todo.size());
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return records;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("rank-", 0) == 0 && entry.path().extension() == ".log") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  const std::string prefix = hex(plan.fingerprint) + "\t";
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    std::size_t start = 0;
    // Only whole lines: the last one of a killed rank may be cut short.
    for (std::size_t nl = text.find('\n'); nl != std::string::npos;
         start = nl + 1, nl = text.find('\n', start)) {
      const std::string_view line(text.data() + start, nl - start);
      if (line.substr(0, prefix.size()) != prefix) continue;
      const std::string_view record = line.substr(prefix.size());
      std::size_t k = 0;
      study::SweepPoint scratch;
      if (study::decode_point(record, k, scratch) && k < records.size() && records[k].empty()) {
        records[k] = std::string(record);
      }
    }
  }
  return records;
}

}  // namespace

study::ProbeRunner shared_probes(Communicator& comm, unsigned jobs) {
  return
      [&comm, jobs](std::size_t count, const std::function<study::SweepProbe(std::size_t)>& probe) {
        const auto size = static_cast<std::size_t>(comm.size());
        const auto rank = static_cast<std::size_t>(comm.rank());
        std::vector<std::size_t> mine;
        for (std::size_t i = rank; i < count; i += size) mine.push_back(i);
        std::vector<study::SweepProbe> found(mine.size());
        study::parallel_for(mine.size(), std::max(jobs, 1u),
                            [&](std::size_t k) { found[k] = probe(mine[k]); });
        // "index \t capacity \t error" lines; rank 0 joins them and every rank reads the whole.
        std::string text;
        for (std::size_t k = 0; k < mine.size(); ++k) {
          text += std::to_string(mine[k]) + "\t" + std::to_string(found[k].capacity) + "\t" +
                  study::escape_field(found[k].error) + "\n";
        }
        std::string all;
        for (const std::string& part : comm.gather(text)) all += part;
        all = comm.broadcast(all);
        std::vector<study::SweepProbe> out(count);
        std::vector<bool> seen(count, false);
        std::size_t start = 0;
        for (std::size_t nl = all.find('\n'); nl != std::string::npos;
             start = nl + 1, nl = all.find('\n', start)) {
          const std::string_view line(all.data() + start, nl - start);
          const std::size_t t1 = line.find('\t');
          const std::size_t t2 = line.find('\t', t1 + 1);
          MOESIM_ASSERT(t1 != std::string_view::npos && t2 != std::string_view::npos,
                        "a probe line has three fields");
          const std::size_t i = std::stoull(std::string(line.substr(0, t1)));
          MOESIM_ASSERT(i < count && !seen[i], "each probe once");
          seen[i] = true;
          out[i].capacity = std::stoll(std::string(line.substr(t1 + 1, t2 - t1 - 1)));
          const bool escaped = study::unescape_field(line.substr(t2 + 1), out[i].error);
          MOESIM_ASSERT(escaped, "a probe's error is escaped by escape_field");
        }
        MOESIM_ASSERT(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }),
                      "every probe came back");
        return out;
      };
}

std::vector<std::vector<std::size_t>> deal_points(const std::vector<std::size_t>& points,
                                                  const std::vector<double>& cost, int ranks) {
  std::vector<std::size_t> order = points;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return cost[a] != cost[b] ? cost[a] > cost[b] : a < b;
  });
  std::vector<std::vector<std::size_t>> share(static_cast<std::size_t>(std::max(ranks, 1)));
  std::vector<double> load(share.size(), 0.0);
  for (const std::size_t k : order) {
    const auto r = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) -
                                            load.begin());  // first minimum: lowest rank
    share[r].push_back(k);
    load[r] += cost[k];
  }
  return share;
}

std::string describe_points(std::vector<std::size_t> points) {
  std::sort(points.begin(), points.end());
  std::string out;
  for (std::size_t i = 0; i < points.size();) {
    std::size_t j = i;
    while (j + 1 < points.size() && points[j + 1] == points[j] + 1) ++j;
    out += (out.empty() ? "" : ", ") + std::to_string(points[i]) +
           (j > i ? "-" + std::to_string(points[j]) : "");
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

StudyRunResult run_study(const study::StudyPlan& plan, Communicator& comm,
                         const config::Catalog& catalog, const StudyRunOptions& options) {
  StudyRunResult result;
  const std::size_t n = plan.todo.size();
  std::error_code ec;

  // 1. Resume.
  std::vector<std::string> records(n);
  std::string done_flags;
  if (comm.rank() == 0) {
    if (options.fresh) std::filesystem::remove_all(options.journal_dir, ec);
    std::filesystem::create_directories(options.journal_dir, ec);
    if (ec) {
      throw ConfigError({options.journal_dir.string(), 0, 0}, "journal",
                        "a directory moesim can create", ec.message());
    }
    records = read_journal(plan, options.journal_dir);
    done_flags.resize(n, '0');
    for (std::size_t k = 0; k < n; ++k) {
      if (!records[k].empty()) done_flags[k] = '1';
    }
  }
  done_flags = comm.broadcast(done_flags);
  std::vector<std::size_t> left;
  for (std::size_t k = 0; k < n; ++k) {
    if (done_flags[k] == '1') {
      ++result.resumed;
    } else {
      left.push_back(k);
    }
  }

  // 2. Shard.
  std::vector<double> cost(n);
  for (const std::size_t k : left) cost[k] = plan.cost(k);
  const std::vector<std::size_t> mine =
      deal_points(left, cost, comm.size())[static_cast<std::size_t>(comm.rank())];
  result.assigned = mine.size();

  // 3. Simulate, journaling each record.
  const std::filesystem::path path = journal_file(options.journal_dir, comm.rank());
  std::ofstream journal;
  if (!mine.empty()) {
    std::filesystem::create_directories(options.journal_dir, ec);
    journal.open(path, std::ios::binary | std::ios::app);
    if (!journal) {
      throw RankFailure("rank " + std::to_string(comm.rank()) + " cannot append to its journal " +
                        path.string() + "; it held points " + describe_points(mine));
    }
  }
  const std::string prefix = hex(plan.fingerprint) + "\t";
  std::vector<std::string> computed(mine.size());
  std::vector<bool> finished(mine.size(), false);
  std::mutex mutex;
  std::size_t count = 0;
  const bool failing = options.fail_after > 0 && options.fail_rank == comm.rank();
  const auto start = std::chrono::steady_clock::now();
  try {
    study::parallel_for(mine.size(), std::max(options.jobs, 1u), [&](std::size_t i) {
      std::string record = study::simulate_study_point(plan, mine[i], catalog);
      const std::lock_guard lock(mutex);
      journal << prefix << record << '\n';
      journal.flush();
      if (!journal) throw RankFailure("cannot write the journal " + path.string());
      computed[i] = std::move(record);
      finished[i] = true;
      ++count;
      if (options.progress) {
        options.progress(count, mine.size(), std::chrono::steady_clock::now() - start);
      }
      if (failing && count >= options.fail_after) {
        throw RankFailure("stopped after " + std::to_string(count) +
                          " points (MOESIM_STUDY_FAIL_AFTER)");
      }
    });
  } catch (const std::exception& e) {
    std::vector<std::size_t> unfinished;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      if (!finished[i]) unfinished.push_back(mine[i]);
    }
    std::string first;
    if (!unfinished.empty()) {
      first = " (first: " + plan.describe(*std::min_element(unfinished.begin(), unfinished.end())) +
              ")";
    }
    throw RankFailure("rank " + std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) +
                      " failed: " + e.what() + "\n  it held " + std::to_string(mine.size()) +
                      " points: " + describe_points(mine) +
                      "\n  not finished: " + std::to_string(unfinished.size()) + ": " +
                      describe_points(unfinished) + first + "\n  the " + std::to_string(count) +
                      " finished are kept in " + path.string() +
                      "; run the same command again to simulate only what is missing");
  }
  result.simulated = count;

  // 4. Gather.
  std::string mine_text;
  for (const std::string& r : computed) mine_text += r + "\n";
  const std::vector<std::string> all = comm.gather(mine_text);
  if (comm.rank() != 0) return result;
  for (const std::string& text : all) {
    std::size_t s = 0;
    for (std::size_t nl = text.find('\n'); nl != std::string::npos;
         s = nl + 1, nl = text.find('\n', s)) {
      const std::string record = text.substr(s, nl - s);
      std::size_t k = 0;
      study::SweepPoint scratch;
      if (study::decode_point(record, k, scratch) && k < n) records[k] = record;
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (records[k].empty()) {
      throw RankFailure("no result came back for point " + std::to_string(k) + " (" +
                        plan.describe(k) + ")");
    }
  }
  result.report = study::assemble_study(plan, records);
  return result;
}

}  // namespace moesim::dist
