#include "kubefn/oci/reference.hpp"

#include <gtest/gtest.h>

namespace kubefn::oci {
namespace {

const std::string kDigest =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Good {
  std::string text, registry, repository, tag, digest, str;
};

TEST(Reference, GoodRows) {
  const std::vector<Good> rows = {
      {"busybox", "docker.io", "library/busybox", "", "", "docker.io/library/busybox"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "",
       "docker.io/library/busybox:1.36"},
      {"kubefn/hello:v1", "docker.io", "kubefn/hello", "v1", "", "docker.io/kubefn/hello:v1"},
      {"127.0.0.1:5000/kubefn/hello:latest", "127.0.0.1:5000", "kubefn/hello", "latest", "",
       "127.0.0.1:5000/kubefn/hello:latest"},
      {"localhost/app", "localhost", "app", "", "", "localhost/app"},
      {"localhost:5000/a/b/c", "localhost:5000", "a/b/c", "", "", "localhost:5000/a/b/c"},
      {"ghcr.io/org/img@" + kDigest, "ghcr.io", "org/img", "", kDigest,
       "ghcr.io/org/img@" + kDigest},
      {"ghcr.io/org/img:t@" + kDigest, "ghcr.io", "org/img", "t", kDigest,
       "ghcr.io/org/img:t@" + kDigest},
      {"index.docker.io/library/x", "docker.io", "library/x", "", "", "docker.io/library/x"},
      {"docker.io/x", "docker.io", "library/x", "", "", "docker.io/library/x"},
      {"registry.example.com:443/a_b/c-d/e.f__g:Tag_1.0-x", "registry.example.com:443",
       "a_b/c-d/e.f__g", "Tag_1.0-x", "", "registry.example.com:443/a_b/c-d/e.f__g:Tag_1.0-x"},
  };
  for (const Good& row : rows) {
    auto parsed = parse_reference(row.text);
    ASSERT_TRUE(parsed.ok()) << row.text << ": " << parsed.status().to_string();
    EXPECT_EQ(parsed->registry, row.registry) << row.text;
    EXPECT_EQ(parsed->repository, row.repository) << row.text;
    EXPECT_EQ(parsed->tag, row.tag) << row.text;
    EXPECT_EQ(parsed->digest, row.digest) << row.text;
    EXPECT_EQ(parsed->str(), row.str) << row.text;
  }
}

TEST(Reference, WithDigestAndReference) {
  auto parsed = parse_reference("127.0.0.1:5000/kubefn/hello:v1");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->with_digest(kDigest), "127.0.0.1:5000/kubefn/hello@" + kDigest);
  EXPECT_EQ(parsed->reference(), "v1");
  auto bare = parse_reference("127.0.0.1:5000/kubefn/hello");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->reference(), "latest");
}

TEST(Reference, BadRows) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"", "empty"},
      {"Upper/Case", "lowercase"},  // "Upper" is taken as a registry host; "Case" is not lowercase
      {"kubefn/Hello", "lowercase"},
      {"a//b", "empty path component"},
      {"a/b:", "tag"},
      {"a/b:-bad", "tag"},
      {"a/b@sha256:123", "digest"},
      {"a/b@md5:d41d8cd98f00b204e9800998ecf8427e", "digest"},
      {"a b", "whitespace"},
      {"127.0.0.1:5000/", "no repository"},
      {"a/-b", "repository component"},
      {"a/b_", "repository component"},
      {"host:port:x/a", "registry"},
  };
  for (const auto& [text, fragment] : rows) {
    auto parsed = parse_reference(text);
    ASSERT_FALSE(parsed.ok()) << "\"" << text << "\" parsed as " << parsed->str();
    EXPECT_EQ(parsed.status().code(), kube::StatusCode::kInvalid);
    EXPECT_NE(parsed.status().message().find(fragment), std::string::npos)
        << text << ": " << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("\"" + text + "\""), std::string::npos);
  }
}

}  // namespace
}  // namespace kubefn::oci
