#include "kubefn/builder/source.hpp"

#include <openssl/evp.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "file_bytes.hpp"
#include "kubefn/builder/process.hpp"
#include "temp_directory.hpp"

namespace kubefn::builder {

namespace fs = std::filesystem;
using kube::Status;
using kube::StatusCode;

namespace {

constexpr std::uintmax_t kMaxSourceBytes = 64u << 20;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

kube::Result<SourceSet> load_directory(const fs::path& root) {
  SourceSet set;
  std::error_code ec;
  std::uintmax_t total = 0;
  fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink, ec);
  if (ec) return Status(StatusCode::kInvalid, "cannot read source directory: " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Status(StatusCode::kInvalid, "cannot read source directory: " + ec.message());
    const fs::path& p = it->path();
    if (p.filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it.depth() > 16) return Status(StatusCode::kInvalid, "source tree is nested too deeply");
    if (!it->is_regular_file(ec)) continue;
    SourceFile f;
    f.path = p.lexically_relative(root).generic_string();
    if (!read_bytes(p, f.data)) {
      return Status(StatusCode::kInvalid, "cannot read source file " + f.path);
    }
    total += f.data.size();
    if (total > kMaxSourceBytes) {
      return Status(StatusCode::kInvalid, "source is larger than 64 MiB");
    }
    set.files.push_back(std::move(f));
  }
  std::sort(set.files.begin(), set.files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return set;
}

}  // namespace

TempDirectory::TempDirectory(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (mkdtemp(templ.data()) != nullptr) path_ = templ;
}

TempDirectory::~TempDirectory() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<std::string> SourceSet::translation_units() const {
  std::vector<std::string> out;
  for (const auto& f : files) {
    if (ends_with(f.path, ".cpp") || ends_with(f.path, ".cc") || ends_with(f.path, ".cxx")) {
      out.push_back(f.path);
    }
  }
  return out;
}

kube::Result<SourceSet> load_sources(const std::string& path) {
  std::error_code ec;
  fs::path p(path);
  auto st = fs::status(p, ec);
  if (ec || !fs::exists(st)) {
    return Status(StatusCode::kNotFound, "source " + path + " does not exist");
  }
  if (fs::is_directory(st)) {
    auto set = load_directory(p);
    if (!set.ok()) return set;
    if (set->files.empty()) return Status(StatusCode::kInvalid, "source directory is empty");
    return set;
  }
  if (!fs::is_regular_file(st)) {
    return Status(StatusCode::kInvalid, "source " + path + " is not a file or directory");
  }
  std::string name = p.filename().string();
  if (ends_with(name, ".tar") || ends_with(name, ".tar.gz") || ends_with(name, ".tgz")) {
    TempDirectory dir("kubefn-src");
    if (!dir.ok()) return Status(StatusCode::kInternalError, "cannot create a temporary directory");
    // --no-same-owner/permissions: an archive may carry any owner; we only read the contents.
    auto r = run_process({"tar", "-xf", fs::absolute(p).string(), "-C", dir.path().string(),
                          "--no-same-owner", "--no-same-permissions"});
    if (r.exit_code != 0) {
      std::string err = r.err.substr(0, 300);
      while (!err.empty() && err.back() == '\n')
        err.pop_back();
      return Status(StatusCode::kInvalid, "cannot unpack source archive " + name + ": " + err);
    }
    auto set = load_directory(dir.path());
    if (!set.ok()) return set;
    if (set->files.empty()) return Status(StatusCode::kInvalid, "source archive is empty");
    return set;
  }
  SourceSet set;
  SourceFile f;
  f.path = name;
  if (!read_bytes(p, f.data)) return Status(StatusCode::kInvalid, "cannot read " + path);
  set.files.push_back(std::move(f));
  return set;
}

std::string sha256_hex_digest(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string source_digest(const SourceSet& sources) {
  std::string canonical = "kubefn-source-v1\n";
  for (const auto& f : sources.files) {
    canonical += f.path;
    canonical.push_back('\0');
    canonical += std::to_string(f.data.size());
    canonical.push_back('\0');
    canonical += f.data;
  }
  return sha256_hex_digest(canonical);
}

}  // namespace kubefn::builder
