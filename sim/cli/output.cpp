#include "sim/cli/output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

[[noreturn]] void fail(const std::string& option, const std::string& path, const char* what,
                       int err) {
  throw ConfigError(kCommandLine, option, "a writable file",
                    path + " (" + what + ": " + std::strerror(err) + ")");
}

}  // namespace

config::Catalog open_catalog(const Args& args) {
  const auto given = args.value("data-dir");
  const std::filesystem::path dir =
      given ? std::filesystem::path(*given) : config::Catalog::default_data_dir();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    const char* env = std::getenv("MOESIM_DATA_DIR");
    const std::string key =
        given ? "--data-dir" : (env != nullptr && *env != '\0' ? "MOESIM_DATA_DIR" : "data dir");
    throw ConfigError(
        {"<command line>", 0, 0}, key,
        "an existing catalog directory (holding topologies/, models/, workloads/)",
        dir.string() + " (" +
            (std::filesystem::exists(dir, ec) ? "not a directory" : "no such directory") + ")");
  }
  return config::Catalog(dir);
}

OptionSpec format_option() {
  return {"format", true, "text|csv|json", "output format (default: text)"};
}

std::string format_of(const Args& args) {
  const std::string format = args.value("format").value_or("text");
  const std::vector<std::string> formats{"text", "csv", "json"};
  if (std::find(formats.begin(), formats.end(), format) == formats.end()) {
    throw ConfigError(kCommandLine, "--format", "one of text, csv, json", format,
                      closest_match(format, formats));
  }
  return format;
}

void print_table(const Args& args, const study::Table& table) {
  const std::string format = format_of(args);
  if (format == "csv") {
    std::cout << table.to_csv();
  } else if (format == "json") {
    std::cout << table.to_json();
  } else {
    std::cout << table.to_text();
  }
}

void check_writable(const std::string& path, const std::string& option) {
  if (path == "-") return;
  if (path.empty()) throw ConfigError(kCommandLine, option, "a file path", "an empty string");
  // An existing file is opened without truncating it; a new one is created and removed again.
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) fail(option, path, "cannot open for writing", errno);
  ::close(fd);
}

void write_file(const std::string& path, const std::string& option,
                const std::function<void(std::ostream&)>& fill) {
  if (path == "-") {
    fill(std::cout);
    flush_stdout();
    return;
  }
  errno = 0;
  std::ofstream out(path);
  if (!out) fail(option, path, "cannot open for writing", errno);
  fill(out);
  out.flush();
  if (!out) fail(option, path, "write failed", errno);
  out.close();
  if (!out) fail(option, path, "close failed", errno);
}

void write_text_file(const std::string& path, const std::string& text, const std::string& option) {
  write_file(path, option, [&](std::ostream& out) { out << text; });
}

void flush_stdout() {
  errno = 0;
  std::cout.flush();
  if (!std::cout) {
    const int err = errno;
    throw ConfigError(
        kCommandLine, "standard output", "a writable stream",
        std::string("a failed write (") + (err != 0 ? std::strerror(err) : "unknown") + ")");
  }
}

}  // namespace moesim::cli
