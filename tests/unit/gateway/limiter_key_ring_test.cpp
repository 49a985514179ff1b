#include <gtest/gtest.h>

#include "kubefn/gateway/key_ring.hpp"
#include "kubefn/gateway/limiter.hpp"

namespace kubefn::gateway {
namespace {

using Admit = ConcurrencyLimiter::Admit;

TEST(ConcurrencyLimiter, GrantsUpToLimitThenQueuesFifoThenRejects) {
  ConcurrencyLimiter l;
  std::vector<int> granted;
  std::uint64_t t = 0;
  EXPECT_EQ(l.acquire(2, 2, nullptr, &t), Admit::kGranted);
  EXPECT_EQ(l.acquire(2, 2, nullptr, &t), Admit::kGranted);
  std::uint64_t t1 = 0, t2 = 0;
  EXPECT_EQ(l.acquire(
                2, 2, [&] { granted.push_back(1); }, &t1),
            Admit::kQueued);
  EXPECT_EQ(l.acquire(
                2, 2, [&] { granted.push_back(2); }, &t2),
            Admit::kQueued);
  EXPECT_EQ(l.acquire(
                2, 2, [&] { granted.push_back(3); }, &t),
            Admit::kRejected);
  EXPECT_EQ(l.inflight(), 2);
  EXPECT_EQ(l.queued(), 2u);
  l.release(2);
  EXPECT_EQ(granted, std::vector<int>{1});
  EXPECT_EQ(l.inflight(), 2);
  l.release(2);
  EXPECT_EQ(granted, (std::vector<int>{1, 2}));
  EXPECT_EQ(l.queued(), 0u);
  l.release(2);
  l.release(2);
  EXPECT_EQ(l.inflight(), 0);
}

TEST(ConcurrencyLimiter, CancelAndPump) {
  ConcurrencyLimiter l;
  int grants = 0;
  std::uint64_t t = 0, t1 = 0, t2 = 0;
  EXPECT_EQ(l.acquire(1, 10, nullptr, &t), Admit::kGranted);
  EXPECT_EQ(l.acquire(
                1, 10, [&] { ++grants; }, &t1),
            Admit::kQueued);
  EXPECT_EQ(l.acquire(
                1, 10, [&] { ++grants; }, &t2),
            Admit::kQueued);
  EXPECT_TRUE(l.cancel(t1));  // timed out
  EXPECT_FALSE(l.cancel(t1));
  // The limit grew (a replica became ready): the waiter goes without a release.
  l.pump(2);
  EXPECT_EQ(grants, 1);
  EXPECT_FALSE(l.cancel(t2));  // already granted
  EXPECT_EQ(l.inflight(), 2);
  // A newcomer does not overtake a waiter even when a slot is free.
  l.release(3);
  EXPECT_EQ(l.acquire(
                3, 10, [&] { ++grants; }, &t),
            Admit::kGranted);
}

TEST(ConcurrencyLimiter, UnlimitedNeverQueues) {
  ConcurrencyLimiter l;
  std::uint64_t t = 0;
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(l.acquire(0, 0, nullptr, &t), Admit::kGranted);
}

TEST(KeyRing, ValidatesTokens) {
  KeyRing k;
  EXPECT_TRUE(k.empty());
  EXPECT_FALSE(k.valid("anything"));
  EXPECT_FALSE(k.valid(""));
  k.set({"alpha-token", "", "beta-token"});
  EXPECT_FALSE(k.empty());
  EXPECT_TRUE(k.valid("alpha-token"));
  EXPECT_TRUE(k.valid("beta-token"));
  EXPECT_FALSE(k.valid("alpha-tokeN"));
  EXPECT_FALSE(k.valid("alpha-token "));
  EXPECT_FALSE(k.valid("alpha"));
  EXPECT_FALSE(k.valid(""));
  k.set({});
  EXPECT_FALSE(k.valid("alpha-token"));
}

TEST(KeyRing, ScopedTokensOpenOnlyTheirFunctions) {
  KeyRing k;
  k.set_keys({{"admin-token", {}},
              {"star-token", {"*"}},
              {"team-token", {"team-a/*"}},
              {"one-token", {"team-b/report", "team-c/*"}}});
  EXPECT_TRUE(k.allows("admin-token", "any", "thing"));
  EXPECT_TRUE(k.allows("star-token", "any", "thing"));
  EXPECT_TRUE(k.allows("team-token", "team-a", "x"));
  EXPECT_FALSE(k.allows("team-token", "team-b", "x"));
  EXPECT_FALSE(k.allows("team-token", "team-ab", "x"));
  EXPECT_TRUE(k.allows("one-token", "team-b", "report"));
  EXPECT_FALSE(k.allows("one-token", "team-b", "reports"));
  EXPECT_FALSE(k.allows("one-token", "team-b", "other"));
  EXPECT_TRUE(k.allows("one-token", "team-c", "x"));
  EXPECT_FALSE(k.allows("one-tokeN", "team-b", "report"));
  EXPECT_FALSE(k.allows("", "team-a", "x"));
  EXPECT_TRUE(k.valid("team-token"));  // known, whatever it opens
  // The same token twice: what either opens.
  k.set_keys({{"t", {"a/*"}}, {"t", {"b/f"}}});
  EXPECT_TRUE(k.allows("t", "a", "x"));
  EXPECT_TRUE(k.allows("t", "b", "f"));
  EXPECT_FALSE(k.allows("t", "b", "g"));
}

TEST(KeyRing, ParsesKeyFilesWithScopes) {
  auto keys = parse_keys(
      "# comment\n  one \r\n\ntwo team-a/*,team-b/fn\nthree\t*\r\nfour  team-c/x  \n");
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  ASSERT_EQ(keys->size(), 4u);
  EXPECT_EQ((*keys)[0].token, "one");
  EXPECT_TRUE((*keys)[0].scopes.empty());
  EXPECT_EQ((*keys)[1].token, "two");
  EXPECT_EQ((*keys)[1].scopes, (std::vector<std::string>{"team-a/*", "team-b/fn"}));
  EXPECT_EQ((*keys)[2].scopes, std::vector<std::string>{"*"});
  EXPECT_EQ((*keys)[3].scopes, std::vector<std::string>{"team-c/x"});
  for (const char* bad : {"s3cr3t team-a", "s3cr3t Team/*", "s3cr3t a/b/c", "s3cr3t a/*,",
                          "s3cr3t a/*, b/*", "s3cr3t /x", "s3cr3t a/", "s3cr3t */x", "s3cr3t a/B"}) {
    auto r = parse_keys(std::string("ok\n") + bad + "\n");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find("s3cr3t"), std::string::npos)
        << "a message never shows the token: " << r.status().message();
  }
}

TEST(KeyRing, DecodesBase64) {
  EXPECT_EQ(base64_decode("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(base64_decode("YWJj"), "abc");
  EXPECT_EQ(base64_decode("YQ=="), "a");
  EXPECT_EQ(base64_decode("Y$=="), "");
}

}  // namespace
}  // namespace kubefn::gateway
