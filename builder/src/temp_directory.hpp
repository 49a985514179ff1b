#pragma once

#include <filesystem>
#include <string>

namespace kubefn::builder {

// A private directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDirectory {
 public:
  explicit TempDirectory(const std::string& prefix = "kubefn-build");
  ~TempDirectory();
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace kubefn::builder
