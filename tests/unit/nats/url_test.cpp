#include "kubefn/nats/url.hpp"

#include <gtest/gtest.h>

namespace kubefn::nats {
namespace {

struct BadUrl {
  const char* url;
  ErrorCode code;
};

TEST(ParseServerUrls, RejectsMalformedUrls) {
  const BadUrl cases[] = {
      {"", ErrorCode::kInvalidArgument},
      {"nats://", ErrorCode::kInvalidArgument},
      {"nats://:4222", ErrorCode::kInvalidArgument},
      {"nats://host:", ErrorCode::kInvalidArgument},
      {"nats://host:0", ErrorCode::kInvalidArgument},
      {"nats://host:65536", ErrorCode::kInvalidArgument},
      {"nats://host:42x", ErrorCode::kInvalidArgument},
      {"nats://host:4222/path", ErrorCode::kInvalidArgument},
      {"http://host:4222", ErrorCode::kInvalidArgument},
      {"nats://::1:4222", ErrorCode::kInvalidArgument},
      {"nats://[::1:4222", ErrorCode::kInvalidArgument},
      {"nats://@host", ErrorCode::kInvalidArgument},
      {"nats://u:p%zz@host", ErrorCode::kInvalidArgument},
      {"nats://a:1,,nats://b:2", ErrorCode::kInvalidArgument},
      {"nats://a:1,", ErrorCode::kInvalidArgument},
      {"tls://host:4222", ErrorCode::kUnsupported},
      {"ws://host:4222", ErrorCode::kUnsupported},
  };
  for (const auto& c : cases) {
    auto r = parse_server_urls(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.status().code(), c.code) << c.url << ": " << r.status().to_string();
  }
}

TEST(ParseServerUrls, DefaultsThePort) {
  auto r = parse_server_urls("nats://example.com");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].host, "example.com");
  EXPECT_EQ((*r)[0].port, 4222);
  EXPECT_EQ((*r)[0].to_string(), "nats://example.com:4222");
}

TEST(ParseServerUrls, ReadsCredentialsTokensAndSeveralServers) {
  auto r = parse_server_urls(
      " nats://alice:s%40cret@10.0.0.1:4333 , nats://tok123@b.local,c:5000,nats://[::1]:6000");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0], (ServerAddress{"10.0.0.1", 4333, "alice", "s@cret", ""}));
  EXPECT_EQ((*r)[1], (ServerAddress{"b.local", 4222, "", "", "tok123"}));
  EXPECT_EQ((*r)[2], (ServerAddress{"c", 5000, "", "", ""}));
  EXPECT_EQ((*r)[3], (ServerAddress{"::1", 6000, "", "", ""}));
  EXPECT_EQ((*r)[3].to_string(), "nats://[::1]:6000");
  // Credentials never appear in what is logged.
  EXPECT_EQ((*r)[0].to_string(), "nats://10.0.0.1:4333");
}

TEST(ParseServerUrls, AllowsAnEmptyPasswordAndATrailingSlash) {
  auto r = parse_server_urls("nats://bob:@127.0.0.1:4222/");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)[0].user, "bob");
  EXPECT_EQ((*r)[0].password, "");
  EXPECT_EQ((*r)[0].token, "");
}

}  // namespace
}  // namespace kubefn::nats
