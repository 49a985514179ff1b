// Directory trees as layers (kubefn-build rootfs): the same tree gives the same bytes, and the
// layer keeps what a root file system needs (modes with setuid, owners, symlinks, hard links).
#include "kubefn/builder/rootfs_image.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "kubefn/oci/digest.hpp"
#include "kubefn/oci/tar.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::builder {
namespace {

namespace fs = std::filesystem;
using oci::TarEntry;
using testing::TempDir;

// A small root file system: directories, a setuid program, a symlink, a file with two names,
// a FIFO; with `owner`, one file belongs to 1234:5678 (needs root to chown).
void make_tree(const fs::path& root, bool owner) {
  fs::create_directories(root / "usr/bin");
  fs::create_directories(root / "etc");
  fs::create_directories(root / "var/mail");
  testing::write_file((root / "usr/bin/tool").string(), "#!/bin/sh\necho tool\n");
  fs::permissions(root / "usr/bin/tool", static_cast<fs::perms>(04755));
  testing::write_file((root / "usr/bin/perl").string(), "the interpreter");
  fs::create_hard_link(root / "usr/bin/perl", root / "usr/bin/perl5.36");
  fs::create_symlink("usr/bin", root / "bin");
  testing::write_file((root / "etc/shadow").string(), "root:*:19000:0:99999:7:::\n");
  fs::permissions(root / "etc/shadow", static_cast<fs::perms>(0640));
  fs::permissions(root / "var/mail", static_cast<fs::perms>(02775));
  ASSERT_EQ(mkfifo((root / "var/fifo").c_str(), 0644), 0);
  if (owner) {
    ASSERT_EQ(lchown((root / "etc/shadow").c_str(), 1234, 5678), 0);
  }
}

std::map<std::string, TarEntry> read_layer(const std::string& blob_path) {
  std::string blob = testing::read_file(blob_path);
  auto tar = oci::gunzip(blob);
  EXPECT_TRUE(tar.ok());
  auto entries = oci::read_tar(*tar);
  EXPECT_TRUE(entries.ok()) << entries.status().message();
  std::map<std::string, TarEntry> by_path;
  for (auto& e : *entries)
    by_path[e.path] = e;
  return by_path;
}

TEST(TreeLayer, SameTreeTwiceGivesTheSameDigest) {
  TempDir dir;
  make_tree(dir.path() / "a", false);
  auto tree = list_tree((dir.path() / "a").string());
  ASSERT_TRUE(tree.ok()) << tree.status().message();
  auto first = write_tree_layer(*tree, dir.file("one.tar.gz"));
  auto second = write_tree_layer(*tree, dir.file("two.tar.gz"));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->descriptor.digest, second->descriptor.digest);
  EXPECT_EQ(first->diff_id, second->diff_id);
  EXPECT_EQ(testing::read_file(dir.file("one.tar.gz")), testing::read_file(dir.file("two.tar.gz")));
  EXPECT_EQ(first->descriptor.media_type, oci::kOciLayerGzip);
  EXPECT_EQ(first->descriptor.size,
            static_cast<std::int64_t>(fs::file_size(dir.file("one.tar.gz"))));
  EXPECT_EQ(first->descriptor.digest,
            oci::sha256_digest(testing::read_file(dir.file("one.tar.gz"))));
  EXPECT_EQ(first->diff_id,
            oci::sha256_digest(*oci::gunzip(testing::read_file(dir.file("one.tar.gz")))));

  // The same tree made again elsewhere, later (other mtimes, other inodes): the same layer.
  make_tree(dir.path() / "b", false);
  struct timeval times[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(utimes((dir.path() / "b/usr/bin/tool").c_str(), times), 0);
  auto other = list_tree((dir.path() / "b").string());
  ASSERT_TRUE(other.ok());
  auto third = write_tree_layer(*other, dir.file("three.tar.gz"));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->descriptor.digest, first->descriptor.digest);
  EXPECT_NE(tree_fingerprint(*other), tree_fingerprint(*tree)) << "the mtimes differ";
}

TEST(TreeLayer, KeepsModesOwnersSymlinksAndHardLinks) {
  const bool root = geteuid() == 0;
  TempDir dir;
  make_tree(dir.path(), root);
  auto tree = list_tree(dir.path().string());
  ASSERT_TRUE(tree.ok()) << tree.status().message();
  EXPECT_EQ(tree->skipped, std::vector<std::string>{"var/fifo"});
  for (std::size_t i = 1; i < tree->entries.size(); ++i) {
    EXPECT_LT(tree->entries[i - 1].entry.path, tree->entries[i].entry.path);
  }
  auto layer = write_tree_layer(*tree, dir.file("layer.tar.gz"));  // the listing is made
  ASSERT_TRUE(layer.ok());
  auto by_path = read_layer(layer->blob_path);

  ASSERT_TRUE(by_path.count("usr/bin/tool"));
  EXPECT_EQ(by_path["usr/bin/tool"].mode, 04755u);
  EXPECT_EQ(by_path["usr/bin/tool"].data, "#!/bin/sh\necho tool\n");
  EXPECT_EQ(by_path["etc/shadow"].mode, 0640u);
  EXPECT_EQ(by_path["var/mail"].type, TarEntry::Type::kDirectory);
  EXPECT_EQ(by_path["var/mail"].mode, 02775u);
  EXPECT_EQ(by_path["bin"].type, TarEntry::Type::kSymlink);
  EXPECT_EQ(by_path["bin"].link_target, "usr/bin");
  // The first name in path order holds the bytes, the other links to it.
  EXPECT_EQ(by_path["usr/bin/perl"].type, TarEntry::Type::kFile);
  EXPECT_EQ(by_path["usr/bin/perl"].data, "the interpreter");
  EXPECT_EQ(by_path["usr/bin/perl5.36"].type, TarEntry::Type::kHardlink);
  EXPECT_EQ(by_path["usr/bin/perl5.36"].link_target, "usr/bin/perl");
  EXPECT_FALSE(by_path.count("var/fifo"));
  if (root) {
    EXPECT_EQ(by_path["etc/shadow"].uid, 1234u);
    EXPECT_EQ(by_path["etc/shadow"].gid, 5678u);
    EXPECT_EQ(by_path["usr/bin/tool"].uid, 0u);
  } else {
    EXPECT_EQ(by_path["etc/shadow"].uid, geteuid());
  }

  // Under a prefix, owned by root, with modes normalized (how --add packs a directory).
  TreeOptions options;
  options.prefix = "/opt/app/";
  options.keep_owners = false;
  options.normalize_modes = true;
  auto added = list_tree(dir.path().string(), options);
  ASSERT_TRUE(added.ok());
  std::map<std::string, TreeEntry> listed;
  for (const auto& e : added->entries)
    listed[e.entry.path] = e;
  ASSERT_TRUE(listed.count("opt/app/usr/bin/tool"));
  EXPECT_EQ(listed["opt/app/usr/bin/tool"].entry.mode, 0755u);
  EXPECT_EQ(listed["opt/app/etc/shadow"].entry.mode, 0644u);
  EXPECT_EQ(listed["opt/app/etc/shadow"].entry.uid, 0u);
  EXPECT_EQ(listed["opt/app/var/mail"].entry.mode, 0755u);
  EXPECT_EQ(listed["opt/app/usr/bin/perl5.36"].entry.link_target, "opt/app/usr/bin/perl");
}

TEST(TreeLayer, FingerprintFollowsTheMetadata) {
  TempDir dir;
  make_tree(dir.path(), false);
  auto before = list_tree(dir.path().string());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(tree_fingerprint(*before), tree_fingerprint(*list_tree(dir.path().string())));
  fs::permissions(dir.path() / "etc/shadow", static_cast<fs::perms>(0600));
  EXPECT_NE(tree_fingerprint(*before), tree_fingerprint(*list_tree(dir.path().string())));
}

TEST(TreeLayer, CacheReusesALayerWithoutRepacking) {
  TempDir dir;
  make_tree(dir.path() / "tree", false);
  auto tree = list_tree((dir.path() / "tree").string());
  ASSERT_TRUE(tree.ok());
  auto cold = cached_tree_layer(*tree, dir.file("cache"));
  ASSERT_TRUE(cold.ok()) << cold.status().message();
  EXPECT_FALSE(cold->from_cache);
  auto warm = cached_tree_layer(*tree, dir.file("cache"));
  ASSERT_TRUE(warm.ok());
  EXPECT_TRUE(warm->from_cache);
  EXPECT_EQ(warm->descriptor, cold->descriptor);
  EXPECT_EQ(warm->diff_id, cold->diff_id);
  EXPECT_EQ(warm->blob_path, cold->blob_path);
  EXPECT_TRUE(
      fs::is_regular_file(dir.path() / "cache/blobs/sha256" / cold->descriptor.digest.substr(7)));
  // A blob gone from the cache is made again, the same.
  fs::remove(cold->blob_path);
  auto again = cached_tree_layer(*tree, dir.file("cache"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->from_cache);
  EXPECT_EQ(again->descriptor, cold->descriptor);
  // A changed tree is a different entry.
  testing::write_file((dir.path() / "tree/etc/motd").string(), "hi\n");
  auto changed = cached_tree_layer(*list_tree((dir.path() / "tree").string()), dir.file("cache"));
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->from_cache);
  EXPECT_NE(changed->descriptor.digest, cold->descriptor.digest);
}

TEST(GzipWriter, GivesTheBytesOfOneShotGzipHoweverTheInputIsCut) {
  std::mt19937 random(7);
  std::string data;
  for (int i = 0; i < 300000; ++i) {
    // Compressible text with some noise, longer than the 32 KiB window several times over.
    data += "line " + std::to_string(i % 977) + " ";
    if (i % 5 == 0) data.push_back(static_cast<char>(random() & 0xff));
  }
  const std::string expected = oci::gzip(data);
  for (std::size_t cut : {std::size_t{1} << 20, std::size_t{4096}, std::size_t{511}}) {
    oci::GzipWriter writer;
    std::string out;
    for (std::size_t offset = 0; offset < data.size(); offset += cut)
      writer.write(std::string_view(data).substr(offset, cut), out);
    writer.finish(out);
    EXPECT_EQ(out.size(), expected.size()) << cut;
    EXPECT_TRUE(out == expected) << cut;
  }
  auto back = oci::gunzip(expected);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, data);
}

TEST(Tar, HardLinksRoundTrip) {
  std::vector<TarEntry> entries = {TarEntry::file("a", "bytes", 0755),
                                   TarEntry::hardlink("b", "a")};
  std::string streamed;
  for (const auto& e : entries)
    oci::append_tar_entry(streamed, e);
  streamed += oci::tar_end();
  EXPECT_EQ(streamed, oci::write_tar(entries));
  auto back = oci::read_tar(streamed);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].type, TarEntry::Type::kHardlink);
  EXPECT_EQ((*back)[1].link_target, "a");
  EXPECT_TRUE((*back)[1].data.empty());
}

// What --add checks before any registry is asked: the paths leading to an added file, and the
// libraries an added program needs.
TEST(RootfsImage, AddedFilesMustFitTheRootFileSystem) {
  TempDir dir;
  fs::create_directories(dir.path() / "rootfs/usr/bin");
  fs::create_symlink("usr/bin", dir.path() / "rootfs/bin");
  testing::write_file(dir.file("tool"), "#!/bin/sh\n");

  RootfsImageRequest request;
  request.dirs = {dir.file("rootfs")};
  request.image = "127.0.0.1:1/kubefn/x:1";  // nothing listens: every check comes first
  request.add = {{dir.file("tool"), "/bin/tool"}};
  auto through_link = build_rootfs_image(request);
  ASSERT_FALSE(through_link.ok());
  EXPECT_NE(through_link.status().message().find("/bin is not a directory"), std::string::npos)
      << through_link.status().message();

  request.add = {{dir.file("tool"), "relative/tool"}};
  auto relative = build_rootfs_image(request);
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.status().message().find("absolute"), std::string::npos);

  // The runtime needs libstdc++ (among others), which this root file system lacks.
  request.add = {{KUBEFN_RUNTIME_BIN, "/usr/bin/kubefn-runtime"}};
  request.strip_debug = false;
  auto program = build_rootfs_image(request);
  ASSERT_FALSE(program.ok());
  EXPECT_NE(program.status().message().find("libstdc++.so.6"), std::string::npos)
      << program.status().message();
  EXPECT_NE(program.status().message().find("lacks"), std::string::npos);

  request.add = {{dir.file("missing"), "/usr/bin/missing"}};
  EXPECT_FALSE(build_rootfs_image(request).ok());
  request.add.clear();
  request.dirs.clear();
  EXPECT_FALSE(build_rootfs_image(request).ok());
}

TEST(RootfsImage, ResultJsonKeepsToTheTerminationLogBound) {
  RootfsImageResult r;
  r.image = "127.0.0.1:5000/kubefn/builder@sha256:aa";
  r.digest = "sha256:aa";
  r.layers = {{"sha256:bb", 100, 9000, true}, {"sha256:cc", 10, 7, false}};
  r.skipped = {"dev/null"};
  auto j = nlohmann::json::parse(rootfs_result_json(r));
  EXPECT_EQ(j["digest"], "sha256:aa");
  EXPECT_EQ(j["layers"][0]["cached"], true);
  EXPECT_EQ(j["layers"][1]["entries"], 7);
  EXPECT_EQ(j["skipped"][0], "dev/null");
  for (int i = 0; i < 500; ++i)
    r.skipped.push_back("dev/device-" + std::to_string(i));
  EXPECT_LE(rootfs_result_json(r).size(), 4096u);
}

}  // namespace
}  // namespace kubefn::builder
