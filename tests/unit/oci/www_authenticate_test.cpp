#include "kubefn/oci/www_authenticate.hpp"

#include <gtest/gtest.h>

namespace kubefn::oci {
namespace {

TEST(WwwAuthenticate, BearerWithScope) {
  const auto challenges = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push")");
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].scheme, "bearer");
  EXPECT_EQ(challenges[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(challenges[0].param("service"), "registry.docker.io");
  EXPECT_EQ(challenges[0].param("scope"), "repository:library/busybox:pull,push");
  EXPECT_EQ(challenges[0].param("missing"), "");
}

TEST(WwwAuthenticate, Basic) {
  const auto challenges = parse_www_authenticate(R"(Basic realm="kubefn-test")");
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].scheme, "basic");
  EXPECT_EQ(challenges[0].param("realm"), "kubefn-test");
}

TEST(WwwAuthenticate, SeveralChallengesSpacesEscapesAndTokens) {
  const auto challenges = parse_www_authenticate(
      R"(Basic realm="a \"quoted\" realm", BEARER Realm=http://h/token , error=insufficient_scope, scope="a b")");
  ASSERT_EQ(challenges.size(), 2u);
  EXPECT_EQ(challenges[0].scheme, "basic");
  EXPECT_EQ(challenges[0].param("realm"), R"(a "quoted" realm)");
  EXPECT_EQ(challenges[1].scheme, "bearer");
  EXPECT_EQ(challenges[1].param("realm"), "http://h/token");
  EXPECT_EQ(challenges[1].param("error"), "insufficient_scope");
  EXPECT_EQ(challenges[1].param("scope"), "a b");
}

TEST(WwwAuthenticate, EmptyAndJunk) {
  EXPECT_TRUE(parse_www_authenticate("").empty());
  const auto challenges = parse_www_authenticate("Negotiate");
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].scheme, "negotiate");
  EXPECT_TRUE(challenges[0].params.empty());
}

}  // namespace
}  // namespace kubefn::oci
