#pragma once
/// \file
/// Runs many moesim processes, a few at a time, each with a wall-clock limit: posix_spawn with
/// standard output and standard error redirected to files, waitpid polling, SIGKILL on overrun.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace moesim::fuzz {

/// How one process ended and what it printed.
struct Outcome {
  int exit_code = -1;      ///< exit status, -1 when killed by a signal
  int signal = 0;          ///< the signal that ended it, 0 when it exited
  bool timed_out = false;  ///< killed by the runner at the time limit
  std::string out;         ///< standard output
  std::string err;         ///< standard error
  double seconds = 0;      ///< wall-clock time
};

/// The whole content of a file ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Writes `text` to `path` whole (binary, truncating).
inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("fuzz: cannot write " + path.string());
}

/// The environment of this process without MOESIM_DATA_DIR, so that a case finds the catalog
/// its arguments name and nothing else. Under AddressSanitizer, which reserves far more address
/// space than an address-space limit allows, a case is stopped at 4 GiB resident instead.
inline std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  std::string asan = "ASAN_OPTIONS=hard_rss_limit_mb=4096";
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "ASAN_OPTIONS=", 13) == 0) {
      asan += std::string(":") + (*e + 13);
    } else if (std::strncmp(*e, "MOESIM_DATA_DIR=", 16) != 0) {
      env.emplace_back(*e);
    }
  }
#if defined(__SANITIZE_ADDRESS__)
  env.push_back(asan);
#endif
  return env;
}

/// Limits the address space of this process, and so of the processes it starts, for as long
/// as it lives; 0 bytes for no limit.
class AddressSpaceLimit {
 public:
  explicit AddressSpaceLimit(std::uint64_t bytes) {
    getrlimit(RLIMIT_AS, &saved_);
    if (bytes == 0) return;
    rlimit lower = saved_;
    lower.rlim_cur = std::min<rlim_t>(saved_.rlim_max, bytes);
    setrlimit(RLIMIT_AS, &lower);
  }
  ~AddressSpaceLimit() { setrlimit(RLIMIT_AS, &saved_); }
  AddressSpaceLimit(const AddressSpaceLimit&) = delete;
  AddressSpaceLimit& operator=(const AddressSpaceLimit&) = delete;

 private:
  rlimit saved_{};
};

/// Runs jobs on `slots` worker slots. `prepare(slot, job)` is called just before job `job`
/// starts in slot `slot` (so a slot's files may be rewritten for it) and returns its argv
/// (argv[0] the program); `done(job, outcome)` is called once it ended. Slot `k` writes its
/// output to `work / "slot<k>"`, which must exist, and runs in its folder "case". A job still
/// running after `limit` is killed.
inline void run_jobs(
    std::size_t jobs, std::size_t slots, const std::filesystem::path& work,
    std::chrono::milliseconds limit,
    const std::function<std::vector<std::string>(std::size_t, std::size_t)>& prepare,
    const std::function<void(std::size_t, Outcome&&)>& done) {
  using Clock = std::chrono::steady_clock;
  struct Running {
    pid_t pid;
    std::size_t job;
    std::size_t slot;
    Clock::time_point start;
    bool killed = false;
  };
  const std::vector<std::string> env_strings = child_environment();
  std::vector<char*> envp;
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  std::vector<Running> running;
  std::vector<std::size_t> free_slots;
  for (std::size_t s = slots; s > 0; --s) free_slots.push_back(s - 1);
  std::size_t next = 0;
  while (next < jobs || !running.empty()) {
    while (next < jobs && !free_slots.empty()) {
      const std::size_t slot = free_slots.back();
      free_slots.pop_back();
      const std::vector<std::string> argv_strings = prepare(slot, next);
      std::vector<char*> argv;
      for (const auto& a : argv_strings) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      const std::filesystem::path dir = work / ("slot" + std::to_string(slot));
      const std::string out = (dir / "stdout").string();
      const std::string err = (dir / "stderr").string();
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
      posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
      posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
      // Relative paths (an output named "1.5" or "nan") land in the case's folder.
      const std::string cwd = (dir / "case").string();
      posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
      pid_t pid = 0;
      const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
      posix_spawn_file_actions_destroy(&actions);
      if (rc != 0) throw std::runtime_error(std::string("fuzz: posix_spawn: ") + strerror(rc));
      running.push_back({pid, next, slot, Clock::now()});
      ++next;
    }
    bool reaped = false;
    for (std::size_t i = 0; i < running.size(); ++i) {
      int status = 0;
      const pid_t pid = waitpid(running[i].pid, &status, WNOHANG);
      if (pid == 0 || (pid < 0 && errno == EINTR)) continue;
      if (pid < 0) throw std::runtime_error(std::string("fuzz: waitpid: ") + strerror(errno));
      const Running r = running[i];
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      Outcome o;
      o.seconds = std::chrono::duration<double>(Clock::now() - r.start).count();
      o.timed_out = r.killed;
      if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
      const std::filesystem::path dir = work / ("slot" + std::to_string(r.slot));
      o.out = slurp(dir / "stdout");
      o.err = slurp(dir / "stderr");
      free_slots.push_back(r.slot);
      done(r.job, std::move(o));
      reaped = true;
      break;
    }
    if (reaped) continue;
    const auto now = Clock::now();
    for (auto& r : running) {
      if (!r.killed && now - r.start > limit) {
        kill(r.pid, SIGKILL);
        r.killed = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace moesim::fuzz
