#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/kube/result.hpp"

namespace kubefn::oci {

struct TarEntry {
  // kHardlink: another name of the file at `link_target` (a path of an earlier entry).
  enum class Type { kFile, kDirectory, kSymlink, kHardlink };
  std::string path;  // relative, no leading "/" (e.g. "kubefn/hello.so")
  Type type = Type::kFile;
  std::string data;         // file contents
  std::string link_target;  // for symlinks and hard links
  std::uint32_t mode = 0644;
  std::uint32_t uid = 0, gid = 0;

  bool operator==(const TarEntry&) const = default;

  // Shorthands (designated initializers that skip members warn under -Wextra).
  static TarEntry file(std::string path, std::string data, std::uint32_t mode = 0644,
                       std::uint32_t uid = 0, std::uint32_t gid = 0) {
    TarEntry entry;
    entry.path = std::move(path);
    entry.data = std::move(data);
    entry.mode = mode;
    entry.uid = uid;
    entry.gid = gid;
    return entry;
  }
  static TarEntry directory(std::string path, std::uint32_t mode = 0755) {
    TarEntry entry;
    entry.path = std::move(path);
    entry.type = Type::kDirectory;
    entry.mode = mode;
    return entry;
  }
  static TarEntry symlink(std::string path, std::string target) {
    TarEntry entry;
    entry.path = std::move(path);
    entry.type = Type::kSymlink;
    entry.link_target = std::move(target);
    entry.mode = 0777;
    return entry;
  }
  static TarEntry hardlink(std::string path, std::string target) {
    TarEntry entry;
    entry.path = std::move(path);
    entry.type = Type::kHardlink;
    entry.link_target = std::move(target);
    return entry;
  }
};

// Writes entries in the given order (the caller sorts them) as a ustar archive: mtime 0, empty
// user and group names, PAX extended headers for paths or link targets that do not fit ustar,
// two zero end blocks. The same entries always give the same bytes.
std::string write_tar(const std::vector<TarEntry>& entries);
// The same one entry at a time, for archives too large to hold: write_tar(entries) is every
// append_tar_entry(out, entry) followed by tar_end().
void append_tar_entry(std::string& out, const TarEntry& entry);
std::string_view tar_end();

// Reads a ustar/PAX/GNU archive into entries (regular files, directories, symlinks and hard
// links; other types are rejected). Directory paths come back without a trailing "/".
kube::Result<std::vector<TarEntry>> read_tar(std::string_view tar);

// gzip with mtime 0, no file name and OS byte "unknown": the same input gives the same bytes.
std::string gzip(std::string_view data, int level = 6);
// The same compression fed piece by piece: the bytes are those of gzip() of all the pieces
// together, however the input is cut.
class GzipWriter {
 public:
  explicit GzipWriter(int level = 6);
  ~GzipWriter();
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;
  // Compresses `data`, appending the output that is ready to `out`.
  void write(std::string_view data, std::string& out);
  // Ends the stream, appending the rest to `out`. Nothing may be written after it.
  void finish(std::string& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};
kube::Result<std::string> gunzip(std::string_view data);

}  // namespace kubefn::oci
