#include "sim/core/input_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "sim/core/error.hpp"

namespace moesim {
namespace {

/// What a file that is not a regular file or a pipe is, for the error message.
std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device (such as /dev/zero or a terminal), not a file";
  if (S_ISBLK(mode)) return "a block device, not a file";
  if (S_ISSOCK(mode)) return "a socket, not a file";
  return "a special file, not a regular file";
}

/// `bytes` in MiB when a whole number of them, else in bytes.
std::string size_text(std::int64_t bytes) {
  return bytes % scale::kMebi == 0 ? std::to_string(bytes / scale::kMebi) + " MiB"
                                   : std::to_string(bytes) + " bytes";
}

}  // namespace

std::string read_input_file(const std::filesystem::path& path, const std::string& what,
                            Bytes max_bytes, const std::string& key) {
  const std::string file = path.string();
  const std::int64_t limit = max_bytes.base();
  const std::string expected = "a readable " + what;
  const std::string small = "a " + what + " of at most " + size_text(limit);
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    const int err = errno;
    throw ConfigError({file, 0, 0}, key, expected,
                      err == ENOENT
                          ? "no such file"
                          : std::string("a file that cannot be read (") + std::strerror(err) + ")");
  }
  const bool regular = S_ISREG(st.st_mode);
  if (!regular && !S_ISFIFO(st.st_mode)) {
    throw ConfigError({file, 0, 0}, key, expected + " (a regular file or a pipe)",
                      kind_of(st.st_mode));
  }
  if (regular && st.st_size > limit) {
    throw ConfigError({file, 0, 0}, key, small,
                      "a file of " + std::to_string(st.st_size) + " bytes");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError({file, 0, 0}, key, expected,
                      std::string("a file that cannot be read (") +
                          (errno != 0 ? std::strerror(errno) : "open failed") + ")");
  }
  // Read at most limit + 1 bytes: one more than the limit says a pipe holds too much.
  std::string text;
  std::vector<char> chunk(static_cast<std::size_t>(scale::kMebi));
  while (in && static_cast<std::int64_t>(text.size()) <= limit) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw ConfigError({file, 0, 0}, key, expected, "a read error");
  if (static_cast<std::int64_t>(text.size()) > limit) {
    throw ConfigError({file, 0, 0}, key, small, "more than " + size_text(limit) + " (a pipe)");
  }
  return text;
}

}  // namespace moesim
