// Log files of local replicas: <logs>/<namespace>/<function>/<replica-id>.log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kubefn::cli {

struct LogLine {
  std::string replica;
  std::string text;
};

// The last `tail` lines (all when tail < 0) of every replica's file, replicas in name order.
std::vector<LogLine> read_local_logs(const std::filesystem::path& function_dir, long tail);

// Follows every replica file of a function directory, including files that appear later:
// each poll() returns the complete lines written since the last one.
class LocalLogFollower {
 public:
  // Starts at the current end of every existing file (after read_local_logs printed them).
  explicit LocalLogFollower(std::filesystem::path function_dir);
  std::vector<LogLine> poll();

 private:
  struct FileState {
    std::uintmax_t offset = 0;
    std::string partial;
  };
  std::filesystem::path dir_;
  std::map<std::string, FileState> files_;  // by replica id
};

// "[replica] text" or the text alone.
std::string format_log_line(const LogLine& line, bool prefix);

}  // namespace kubefn::cli
