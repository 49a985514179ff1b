#include "kubefn/kube/token_source.hpp"

#include <gtest/gtest.h>

#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/testing/status_matchers.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::kube {
namespace {

using kubefn::testing::IsOk;
using kubefn::testing::TempDir;
using ::testing::Not;

TEST(TokenSource, MissingFileIsAnError) {
  TempDir dir;
  FakeClock clock;
  ClientConfig config;
  config.token_file = (dir.path() / "absent").string();
  TokenSource tokens(config, clock);
  EXPECT_THAT(tokens.token(), Not(IsOk()));
}

TEST(TokenSource, FixedTokenNeverChanges) {
  FakeClock clock;
  ClientConfig config;
  config.token = "fixed";
  TokenSource tokens(config, clock);
  EXPECT_EQ(*tokens.token(), "fixed");
  EXPECT_FALSE(tokens.reloadable());
}

TEST(TokenSource, RereadsFileAfterIntervalOrInvalidate) {
  TempDir dir;
  FakeClock clock;
  ClientConfig config;
  config.token_file = dir.write("token", "one\n").string();
  config.token_reload_interval = std::chrono::seconds(60);
  TokenSource tokens(config, clock);
  EXPECT_EQ(*tokens.token(), "one");

  dir.write("token", "two");
  clock.advance(std::chrono::seconds(30));
  EXPECT_EQ(*tokens.token(), "one") << "cached until the interval passes";
  clock.advance(std::chrono::seconds(31));
  EXPECT_EQ(*tokens.token(), "two");

  dir.write("token", "three");
  EXPECT_EQ(*tokens.token(), "two");
  tokens.invalidate();
  EXPECT_EQ(*tokens.token(), "three") << "a 401 forces a re-read";
}

TEST(TokenSource, KeepsLastTokenWhileFileIsRotated) {
  TempDir dir;
  FakeClock clock;
  ClientConfig config;
  config.token_file = dir.write("token", "good").string();
  TokenSource tokens(config, clock);
  EXPECT_EQ(*tokens.token(), "good");
  std::filesystem::remove(config.token_file);
  tokens.invalidate();
  auto token = tokens.token();
  ASSERT_THAT(token, IsOk());
  EXPECT_EQ(*token, "good");
}

}  // namespace
}  // namespace kubefn::kube
