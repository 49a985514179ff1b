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

TEST(KeyRing, ParsesKeyFilesAndBase64) {
  EXPECT_EQ(parse_key_lines("# comment\n  one \r\n\ntwo\nthree"),
            (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(base64_decode("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(base64_decode("YWJj"), "abc");
  EXPECT_EQ(base64_decode("YQ=="), "a");
  EXPECT_EQ(base64_decode("Y$=="), "");
}

}  // namespace
}  // namespace kubefn::gateway
