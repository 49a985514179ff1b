#pragma once

#include <string>
#include <vector>

#include "kubefn/kube/result.hpp"

namespace kubefn::builder {

struct SourceFile {
  std::string path;  // relative, '/'-separated, e.g. "hello.cpp" or "lib/util.hpp"
  std::string data;
};

// A function's source tree: every file, sorted by path.
struct SourceSet {
  std::vector<SourceFile> files;
  std::vector<std::string> translation_units() const;  // the *.cpp, *.cc, *.cxx files
};

// Reads the source at `path`: one file, a directory (recursively; names starting with '.' are
// skipped, so a mounted ConfigMap's "..data" links count once) or a .tar / .tar.gz / .tgz archive.
kube::Result<SourceSet> load_sources(const std::string& path);

// "sha256:<hex>" over the paths and contents of the files: equal trees give equal digests.
std::string source_digest(const SourceSet& sources);

// "sha256:<hex>" of arbitrary bytes.
std::string sha256_hex_digest(std::string_view bytes);

}  // namespace kubefn::builder
