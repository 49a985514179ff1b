#include <gtest/gtest.h>

#include "kubefn/oci/digest.hpp"
#include "kubefn/oci/tar.hpp"

namespace kubefn::oci {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, StreamingMatchesOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i)
    data.push_back(static_cast<char>(i * 7));
  Sha256 hash;
  for (std::size_t offset = 0; offset < data.size(); offset += 777) {
    hash.update(std::string_view(data).substr(offset, 777));
  }
  EXPECT_EQ(hash.digest(), sha256_digest(data));
  hash.update("abc");  // a finished hash starts over
  EXPECT_EQ(hash.digest(), sha256_digest("abc"));
}

TEST(Digest, Validation) {
  EXPECT_TRUE(is_valid_digest(sha256_digest("x")));
  EXPECT_FALSE(is_valid_digest("sha256:abc"));
  EXPECT_FALSE(
      is_valid_digest("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  EXPECT_FALSE(is_valid_digest("md5:d41d8cd98f00b204e9800998ecf8427e"));
  EXPECT_FALSE(is_valid_digest(""));
  EXPECT_FALSE(
      is_valid_digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g"));
}

std::vector<TarEntry> sample_entries() {
  std::vector<TarEntry> entries;
  entries.push_back(TarEntry::directory("kubefn", 0755));
  entries.push_back(TarEntry::file("kubefn/hello.so", std::string(1500, 'h'), 0755));
  entries.push_back(TarEntry::file("kubefn/empty", ""));
  entries.push_back(TarEntry::symlink("kubefn/link", "hello.so"));
  entries.push_back(TarEntry::file("etc/owned", "x", 0600, 65532, 65532));
  return entries;
}

TEST(Tar, RoundTripKeepsEntries) {
  const auto entries = sample_entries();
  const std::string tar = write_tar(entries);
  EXPECT_EQ(tar.size() % 512, 0u);
  auto read = read_tar(tar);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  ASSERT_EQ(read->size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ((*read)[i], entries[i]) << "entry " << i << " " << entries[i].path;
  }
}

TEST(Tar, DeterministicBytesAndLayout) {
  const std::string a = write_tar(sample_entries());
  const std::string b = write_tar(sample_entries());
  EXPECT_EQ(a, b);
  // Header of the directory: name with trailing '/', mode 0755, mtime 0, ustar magic, type '5'.
  EXPECT_EQ(a.substr(0, 7), "kubefn/");
  EXPECT_EQ(a.substr(100, 7), "0000755");
  EXPECT_EQ(a.substr(136, 11), "00000000000");
  EXPECT_EQ(a[156], '5');
  EXPECT_EQ(a.substr(257, 6), std::string("ustar\0", 6));
  EXPECT_EQ(a.substr(265, 32), std::string(32, '\0'));  // no user name
  // Two zero blocks at the end.
  EXPECT_EQ(a.substr(a.size() - 1024), std::string(1024, '\0'));
  // Any change shows.
  auto changed = sample_entries();
  changed[1].mode = 0700;
  EXPECT_NE(write_tar(changed), a);
}

TEST(Tar, LongPathsAndLinkTargetsUsePax) {
  std::string long_path;
  for (int i = 0; i < 20; ++i)
    long_path += "directory" + std::to_string(i) + "/";
  long_path += "file.txt";
  ASSERT_GT(long_path.size(), 200u);
  std::vector<TarEntry> entries = {
      TarEntry::file(long_path, "content"),
      TarEntry::symlink("short", long_path),
      TarEntry::directory(long_path.substr(0, 150), 0755),
  };
  const std::string tar = write_tar(entries);
  EXPECT_EQ(tar[156], 'x');  // a PAX header comes first
  EXPECT_NE(tar.find("path=" + long_path + "\n"), std::string::npos);
  auto read = read_tar(tar);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  ASSERT_EQ(read->size(), 3u);
  EXPECT_EQ((*read)[0], entries[0]);
  EXPECT_EQ((*read)[1], entries[1]);
  EXPECT_EQ((*read)[2].path, long_path.substr(0, 150));
  EXPECT_EQ(write_tar(entries), tar);
}

TEST(Tar, PaxRecordLengthIsSelfConsistent) {
  // Record lengths around digit-count boundaries (e.g. 99 -> 100) must still parse.
  for (std::size_t size = 85; size < 110; ++size) {
    std::string path(size, 'a');
    path[50] = '/';
    path = std::string(60, 'p') + "/" + path;
    auto read = read_tar(write_tar({TarEntry::file(path, "x")}));
    ASSERT_TRUE(read.ok()) << size << ": " << read.status().to_string();
    EXPECT_EQ((*read)[0].path, path);
  }
}

TEST(Tar, RejectsCorruption) {
  std::string tar = write_tar(sample_entries());
  tar[10] ^= 1;  // breaks the first header's checksum
  auto read = read_tar(tar);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("checksum"), std::string::npos);
  EXPECT_FALSE(read_tar(write_tar(sample_entries()).substr(0, 700)).ok());
}

TEST(Gzip, RoundTripAndDeterminism) {
  const std::string data = write_tar(sample_entries());
  const std::string a = gzip(data);
  EXPECT_EQ(a, gzip(data));
  ASSERT_GE(a.size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(a[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(a[1]), 0x8b);
  EXPECT_EQ(a.substr(4, 4), std::string(4, '\0'));  // mtime 0
  EXPECT_EQ(a[3] & 0x08, 0);                        // no file name
  auto back = gunzip(a);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, data);
  EXPECT_LT(a.size(), data.size());
  auto empty = gunzip(gzip(""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
  // Larger than one inflate buffer, other level.
  std::string big;
  for (int i = 0; i < 300000; ++i)
    big += static_cast<char>('a' + i % 13);
  auto big_back = gunzip(gzip(big, 9));
  ASSERT_TRUE(big_back.ok());
  EXPECT_EQ(*big_back, big);
}

TEST(Gzip, RejectsBadInput) {
  EXPECT_FALSE(gunzip("not gzip").ok());
  const std::string z = gzip("hello hello hello hello");
  EXPECT_FALSE(gunzip(z.substr(0, z.size() - 6)).ok());
  std::string corrupt = z;
  corrupt[12] ^= 0x55;
  EXPECT_FALSE(gunzip(corrupt).ok());
}

}  // namespace
}  // namespace kubefn::oci
