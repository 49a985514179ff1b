#include "kubefn/builder/source.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::builder {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::vector<std::string> paths(const SourceSet& s) {
  std::vector<std::string> out;
  for (const auto& f : s.files)
    out.push_back(f.path);
  return out;
}

TEST(LoadSources, OneFile) {
  TempDir dir;
  auto p = dir.write("hello.cpp", "int x;\n");
  auto set = load_sources(p.string());
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set->files.size(), 1u);
  EXPECT_EQ(set->files[0].path, "hello.cpp");
  EXPECT_EQ(set->files[0].data, "int x;\n");
  EXPECT_EQ(set->translation_units(), std::vector<std::string>{"hello.cpp"});
}

TEST(LoadSources, DirectoryWithHeadersAndSeveralUnits) {
  TempDir dir;
  dir.write("src/main.cpp", "a");
  dir.write("src/util/strings.hpp", "b");
  dir.write("src/util/strings.cc", "c");
  dir.write("src/other.cxx", "d");
  dir.write("src/.hidden.cpp", "e");
  auto set = load_sources(dir.file("src"));
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(paths(*set), (std::vector<std::string>{"main.cpp", "other.cxx", "util/strings.cc",
                                                   "util/strings.hpp"}));
  EXPECT_EQ(set->translation_units(),
            (std::vector<std::string>{"main.cpp", "other.cxx", "util/strings.cc"}));
}

// A ConfigMap volume: the files are links into a timestamped directory through "..data".
TEST(LoadSources, ConfigMapVolumeCountsEachKeyOnce) {
  TempDir dir;
  fs::path vol = dir.path() / "vol";
  dir.write("vol/..2026_01_01_00_00_00.123/hello.cpp", "int x;\n");
  dir.write("vol/..2026_01_01_00_00_00.123/function.yaml", "k: v\n");
  fs::create_directory_symlink("..2026_01_01_00_00_00.123", vol / "..data");
  fs::create_symlink("..data/hello.cpp", vol / "hello.cpp");
  fs::create_symlink("..data/function.yaml", vol / "function.yaml");
  auto set = load_sources(vol.string());
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(paths(*set), (std::vector<std::string>{"function.yaml", "hello.cpp"}));
  EXPECT_EQ(set->translation_units(), std::vector<std::string>{"hello.cpp"});
}

TEST(LoadSources, TarballsGiveTheSameTreeAsTheDirectory) {
  TempDir dir;
  dir.write("fn/hello.cpp", "int x;\n");
  dir.write("fn/inc/h.hpp", "int y;\n");
  auto from_dir = load_sources(dir.file("fn"));
  ASSERT_TRUE(from_dir.ok());
  for (std::string name : {"fn.tar", "fn.tar.gz", "fn.tgz"}) {
    std::string flags = name == "fn.tar" ? "-cf" : "-czf";
    auto r = testing::run_command({"tar", flags, dir.file(name), "-C", dir.file("fn"), "."});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto set = load_sources(dir.file(name));
    ASSERT_TRUE(set.ok()) << name << ": " << set.status().message();
    EXPECT_EQ(paths(*set), paths(*from_dir)) << name;
    EXPECT_EQ(source_digest(*set), source_digest(*from_dir)) << name;
  }
}

TEST(LoadSources, BrokenTarballIsAnError) {
  TempDir dir;
  auto p = dir.write("fn.tar.gz", "this is not gzip");
  auto set = load_sources(p.string());
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("cannot unpack source archive fn.tar.gz"),
            std::string::npos)
      << set.status().message();
}

TEST(LoadSources, MissingOrEmptySourceIsAnError) {
  TempDir dir;
  auto missing = load_sources(dir.file("nope.cpp"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().is_not_found());
  fs::create_directory(dir.path() / "empty");
  EXPECT_FALSE(load_sources(dir.file("empty")).ok());
}

TEST(SourceDigest, DependsOnPathsAndContents) {
  SourceSet a{{{"a.cpp", "x"}}};
  SourceSet b{{{"a.cpp", "y"}}};
  SourceSet c{{{"b.cpp", "x"}}};
  // Moving a byte from the name into the contents must change the digest too.
  SourceSet d{{{"a.cp", "px"}}};
  EXPECT_EQ(source_digest(a), source_digest(SourceSet{{{"a.cpp", "x"}}}));
  EXPECT_NE(source_digest(a), source_digest(b));
  EXPECT_NE(source_digest(a), source_digest(c));
  EXPECT_NE(source_digest(a), source_digest(d));
  EXPECT_TRUE(source_digest(a).starts_with("sha256:"));
  EXPECT_EQ(source_digest(a).size(), 7u + 64u);
}

TEST(Sha256HexDigest, KnownVector) {
  EXPECT_EQ(sha256_hex_digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace kubefn::builder
