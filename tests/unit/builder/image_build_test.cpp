#include "kubefn/builder/image_build.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "kubefn/oci/image.hpp"

namespace kubefn::builder {
namespace {

using oci::TarEntry;

CompileResult compiled(bool with_lib) {
  CompileResult r;
  r.handler = {"crc", "crc"};
  r.shared_object = "so-bytes";
  if (with_lib) r.libraries = {{"libz.so.1", "z"}, {"libfoo.so.2", "f"}};
  return r;
}

TEST(FunctionLayer, HoldsTheModuleAndItsLibrariesSorted) {
  auto entries = function_layer_entries(compiled(true));
  std::vector<std::string> paths;
  for (const auto& e : entries)
    paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"kubefn", "kubefn/crc.so", "kubefn/lib",
                                             "kubefn/lib/libfoo.so.2", "kubefn/lib/libz.so.1"}));
  for (const auto& e : entries) {
    EXPECT_EQ(e.uid, 0u);
    EXPECT_EQ(e.gid, 0u);
    EXPECT_EQ(e.mode, e.type == TarEntry::Type::kDirectory ? 0755u : 0644u) << e.path;
  }
  EXPECT_EQ(function_layer_entries(compiled(false)).size(), 2u);
}

TEST(FunctionLayer, IsDeterministic) {
  auto a = oci::make_layer(function_layer_entries(compiled(true)));
  auto b = oci::make_layer(function_layer_entries(compiled(true)));
  EXPECT_EQ(a.descriptor.digest, b.descriptor.digest);
  EXPECT_EQ(a.diff_id, b.diff_id);
}

TEST(DefaultTag, First16HexOfTheDigest) {
  EXPECT_EQ(default_tag("sha256:0123456789abcdef0123456789abcdef"), "src-0123456789abcdef");
}

// Follows `path` through the layer's own symlinks, as the loader would inside the image; true
// when it ends at an entry that is not a symlink.
bool resolves(const std::map<std::string, TarEntry>& by_path, const std::string& path,
              int depth = 0) {
  if (depth > 16) return false;
  std::filesystem::path current;
  std::filesystem::path p(path);
  for (auto it = p.begin(); it != p.end(); ++it) {
    current /= *it;
    auto found = by_path.find(current.generic_string());
    if (found == by_path.end()) return false;
    if (found->second.type != TarEntry::Type::kSymlink) continue;
    const std::string& link = found->second.link_target;
    std::filesystem::path next = link.starts_with("/") ? std::filesystem::path(link.substr(1))
                                                       : current.parent_path() / link;
    for (auto rest = std::next(it); rest != p.end(); ++rest)
      next /= *rest;
    return resolves(by_path, next.lexically_normal().generic_string(), depth + 1);
  }
  return true;
}

TEST(BaseLayer, CarriesTheRuntimeItsLibrariesAndTheUser) {
  std::vector<std::string> libraries;
  auto entries = base_layer_entries(KUBEFN_RUNTIME_BIN, true, &libraries);
  ASSERT_TRUE(entries.ok()) << entries.status().message();
  std::map<std::string, TarEntry> by_path;
  for (const auto& e : *entries)
    by_path[e.path] = e;
  ASSERT_TRUE(by_path.count("usr/local/bin/kubefn-runtime"));
  EXPECT_EQ(by_path["usr/local/bin/kubefn-runtime"].mode, 0755u);
  ASSERT_TRUE(by_path.count("tmp"));
  EXPECT_EQ(by_path["tmp"].mode, 01777u);
  EXPECT_EQ(by_path["kubefn"].type, TarEntry::Type::kDirectory);
  EXPECT_NE(by_path["etc/passwd"].data.find("kubefn:x:65532:65532:"), std::string::npos);
  EXPECT_FALSE(by_path["etc/ssl/certs/ca-certificates.crt"].data.empty());
  for (const char* lib : {"libc.so.6", "libstdc++.so.6", "ld-linux-x86-64.so.2"}) {
    EXPECT_NE(std::find(libraries.begin(), libraries.end(), lib), libraries.end()) << lib;
  }
  // Sorted, every parent directory before its children, every symlink target present.
  for (std::size_t i = 1; i < entries->size(); ++i) {
    EXPECT_LT((*entries)[i - 1].path, (*entries)[i].path);
  }
  for (const auto& e : *entries) {
    auto slash = e.path.rfind('/');
    if (slash != std::string::npos) {
      EXPECT_TRUE(by_path.count(e.path.substr(0, slash))) << e.path;
    }
    if (e.type == TarEntry::Type::kSymlink) {
      EXPECT_TRUE(resolves(by_path, e.path)) << e.path << " -> " << e.link_target;
    }
  }
  // What the runtime's ELF header and NEEDED entries name is reachable inside the image.
  EXPECT_TRUE(resolves(by_path, "lib64/ld-linux-x86-64.so.2"));
  EXPECT_TRUE(resolves(by_path, "lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_TRUE(resolves(by_path, "lib/x86_64-linux-gnu/libstdc++.so.6"));
  EXPECT_FALSE(resolves(by_path, "lib/x86_64-linux-gnu/libz.so.1"));
  // Stripped: smaller than the binary with its debug sections.
  auto unstripped = base_layer_entries(KUBEFN_RUNTIME_BIN, false, nullptr);
  ASSERT_TRUE(unstripped.ok());
  std::size_t full = 0;
  for (const auto& e : *unstripped) {
    if (e.path == "usr/local/bin/kubefn-runtime") full = e.data.size();
  }
  EXPECT_LE(by_path["usr/local/bin/kubefn-runtime"].data.size(), full);
}

TEST(BaseLayer, MissingRuntimeIsAnError) {
  EXPECT_FALSE(base_layer_entries("/nonexistent/kubefn-runtime", false, nullptr).ok());
}

TEST(ResultJson, CarriesTheFieldsTheOperatorReads) {
  FunctionImageResult r;
  r.image = "127.0.0.1:5000/fn/hello@sha256:aa";
  r.digest = "sha256:aa";
  r.tag = "src-0123";
  r.source_digest = "sha256:0123";
  r.cached = true;
  r.existed = 3;
  auto j = nlohmann::json::parse(function_result_json(r));
  EXPECT_EQ(j["image"], r.image);
  EXPECT_EQ(j["digest"], "sha256:aa");
  EXPECT_EQ(j["tag"], "src-0123");
  EXPECT_EQ(j["sourceDigest"], "sha256:0123");
  EXPECT_EQ(j["cached"], true);
  EXPECT_EQ(j["existed"], 3);
  EXPECT_EQ(j["uploaded"], 0);
  EXPECT_TRUE(j.contains("seconds"));
}

TEST(ErrorJson, StaysUnderFourKilobytesAndParses) {
  std::string message(10000, 'e');
  message += "\xff";  // not UTF-8
  std::string s = error_json(message);
  EXPECT_LE(s.size(), 4096u);
  auto j = nlohmann::json::parse(s);
  EXPECT_TRUE(j["error"].get<std::string>().starts_with("eeee"));
}

}  // namespace
}  // namespace kubefn::builder
