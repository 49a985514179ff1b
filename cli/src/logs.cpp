#include "kubefn/cli/logs.hpp"

#include <algorithm>
#include <deque>
#include <fstream>

namespace kubefn::cli {
namespace {

namespace fs = std::filesystem;

// Replica id -> file, for every *.log file in the function's directory.
std::map<std::string, fs::path> replica_files(const fs::path& dir) {
  std::map<std::string, fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".log" && entry.is_regular_file(ec)) {
      out[entry.path().stem().string()] = entry.path();
    }
  }
  return out;
}

}  // namespace

std::vector<LogLine> read_local_logs(const fs::path& function_dir, long tail) {
  std::vector<LogLine> out;
  for (const auto& [replica, path] : replica_files(function_dir)) {
    std::ifstream in(path, std::ios::binary);
    std::deque<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
      lines.push_back(line);
      if (tail >= 0 && static_cast<long>(lines.size()) > tail) lines.pop_front();
    }
    for (auto& text : lines)
      out.push_back({replica, std::move(text)});
  }
  return out;
}

LocalLogFollower::LocalLogFollower(fs::path function_dir) : dir_(std::move(function_dir)) {
  for (const auto& [replica, path] : replica_files(dir_)) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    files_[replica].offset = ec ? 0 : size;
  }
}

std::vector<LogLine> LocalLogFollower::poll() {
  std::vector<LogLine> out;
  for (const auto& [replica, path] : replica_files(dir_)) {
    FileState& state = files_[replica];  // a new replica starts at 0
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) continue;
    if (size < state.offset) {  // truncated or replaced: start again
      state.offset = 0;
      state.partial.clear();
    }
    if (size == state.offset) continue;
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(state.offset));
    std::string chunk(size - state.offset, '\0');
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    chunk.resize(static_cast<size_t>(in.gcount()));
    state.offset += chunk.size();
    state.partial += chunk;
    size_t start = 0;
    for (size_t nl; (nl = state.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      out.push_back({replica, state.partial.substr(start, nl - start)});
    }
    state.partial.erase(0, start);
  }
  return out;
}

std::string format_log_line(const LogLine& line, bool prefix) {
  return prefix ? "[" + line.replica + "] " + line.text : line.text;
}

}  // namespace kubefn::cli
