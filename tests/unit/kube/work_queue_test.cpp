#include "kubefn/kube/work_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <set>

#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/kube/queue_worker_pool.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::kube {
namespace {

using kubefn::testing::wait_until;
using std::chrono::milliseconds;
using std::chrono::seconds;

class WorkQueueTest : public ::testing::Test {
 protected:
  FakeClock clock;
  WorkQueue queue{clock, std::make_unique<ItemExponentialRateLimiter>(seconds(1), seconds(8))};

  // get() on another thread, so a test can check whether it is blocked.
  std::future<std::optional<std::string>> get_async() {
    return std::async(std::launch::async, [this] { return queue.get(); });
  }
};

TEST_F(WorkQueueTest, GetAfterShutdownReturnsNothing) {
  queue.add("a");
  queue.shut_down();
  EXPECT_EQ(queue.get(), std::nullopt);
  queue.add("b");
  EXPECT_EQ(queue.ready(), 1u) << "adds after shutdown are dropped";
}

TEST_F(WorkQueueTest, ShutdownWakesBlockedGetters) {
  auto first = get_async();
  auto second = get_async();
  ASSERT_EQ(first.wait_for(milliseconds(20)), std::future_status::timeout);
  queue.shut_down();
  ASSERT_EQ(first.wait_for(seconds(5)), std::future_status::ready);
  ASSERT_EQ(second.wait_for(seconds(5)), std::future_status::ready);
  EXPECT_EQ(first.get(), std::nullopt);
  EXPECT_EQ(second.get(), std::nullopt);
}

TEST_F(WorkQueueTest, DeduplicatesWaitingKeysInOrder) {
  queue.add("a");
  queue.add("b");
  queue.add("a");
  EXPECT_EQ(queue.ready(), 2u);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_EQ(queue.get(), "b");
  EXPECT_EQ(queue.ready(), 0u);
}

TEST_F(WorkQueueTest, KeyIsNeverHandedToTwoWorkersAtOnce) {
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  queue.add("a");
  queue.add("a");
  EXPECT_EQ(queue.ready(), 0u) << "held back while a worker has it";
  auto blocked = get_async();
  EXPECT_EQ(blocked.wait_for(milliseconds(20)), std::future_status::timeout);
  queue.done("a");
  ASSERT_EQ(blocked.wait_for(seconds(5)), std::future_status::ready);
  EXPECT_EQ(blocked.get(), "a");
  queue.done("a");
  EXPECT_EQ(queue.ready(), 0u) << "the two adds during processing became one";
}

TEST_F(WorkQueueTest, DoneWithoutReAddForgetsTheKey) {
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  queue.done("a");
  EXPECT_EQ(queue.ready(), 0u);
}

TEST_F(WorkQueueTest, DelayedAddBecomesReadyWhenClockAdvances) {
  queue.add_after("a", seconds(10));
  EXPECT_EQ(queue.ready(), 0u);
  EXPECT_EQ(queue.delayed(), 1u);
  clock.advance(seconds(9));
  EXPECT_EQ(queue.ready(), 0u);
  clock.advance(seconds(1));
  EXPECT_EQ(queue.ready(), 1u);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_EQ(queue.delayed(), 0u);
}

TEST_F(WorkQueueTest, BlockedGetWakesOnClockAdvance) {
  queue.add_after("a", seconds(30));
  auto waiting = get_async();
  ASSERT_TRUE(wait_until([&] { return clock.waiters() > 0; }, seconds(5)));
  EXPECT_EQ(waiting.wait_for(milliseconds(10)), std::future_status::timeout);
  clock.advance(seconds(30));
  ASSERT_EQ(waiting.wait_for(seconds(5)), std::future_status::ready);
  EXPECT_EQ(waiting.get(), "a");
}

TEST_F(WorkQueueTest, EarlierDeadlineWinsAndImmediateAddWins) {
  queue.add_after("a", seconds(60));
  queue.add_after("a", seconds(5));
  queue.add_after("a", seconds(30));
  EXPECT_EQ(queue.delayed(), 1u);
  clock.advance(seconds(5));
  EXPECT_EQ(queue.ready(), 1u);
  EXPECT_EQ(queue.get(), "a");

  queue.add_after("b", seconds(5));
  queue.add("b");
  EXPECT_EQ(queue.get(), "b");
  queue.done("b");
  clock.advance(seconds(5));
  EXPECT_EQ(queue.get(), "b") << "the delayed add still fires once";
}

TEST_F(WorkQueueTest, RateLimitedAddsBackOffAndResetOnForget) {
  queue.add_rate_limited("a");  // 1 s
  clock.advance(milliseconds(999));
  EXPECT_EQ(queue.ready(), 0u);
  clock.advance(milliseconds(1));
  ASSERT_EQ(queue.get(), "a");
  queue.done("a");

  queue.add_rate_limited("a");  // 2 s
  clock.advance(seconds(1));
  EXPECT_EQ(queue.ready(), 0u);
  clock.advance(seconds(1));
  ASSERT_EQ(queue.get(), "a");
  queue.done("a");
  EXPECT_EQ(queue.num_requeues("a"), 2);

  queue.forget("a");
  EXPECT_EQ(queue.num_requeues("a"), 0);
  queue.add_rate_limited("a");  // back to 1 s
  clock.advance(seconds(1));
  EXPECT_EQ(queue.get(), "a");
}

TEST(WorkQueueTokenBucket, OverallRateCapsRetriesOfDifferentKeys) {
  FakeClock clock;
  WorkQueue queue(clock, std::make_unique<TokenBucketRateLimiter>(clock, 1.0, 2));
  for (const char* key : {"a", "b", "c", "d"})
    queue.add_rate_limited(key);
  EXPECT_EQ(queue.ready(), 2u) << "the burst goes at once";
  clock.advance(seconds(1));
  EXPECT_EQ(queue.ready(), 3u);
  clock.advance(seconds(1));
  EXPECT_EQ(queue.ready(), 4u);
}

TEST(QueueWorkerPool, RetriesFailuresWithBackoffAndRunsOneWorkerPerKey) {
  FakeClock clock;
  WorkQueue queue(clock, std::make_unique<ItemExponentialRateLimiter>(seconds(1), seconds(60)));
  std::mutex mutex;
  std::map<std::string, int> running;
  std::map<std::string, int> attempts;
  std::atomic<bool> overlap{false};
  std::set<std::string> succeeded;
  {
    QueueWorkerPool pool(queue, 4, [&](const std::string& key) {
      {
        std::lock_guard guard(mutex);
        if (++running[key] > 1) overlap = true;
      }
      // Give other workers a chance to grab the same key if the queue allowed it.
      std::this_thread::yield();
      std::lock_guard guard(mutex);
      --running[key];
      // "flaky" fails twice before it succeeds.
      if (key == "flaky" && ++attempts[key] <= 2) return ReconcileResult{true, std::nullopt};
      succeeded.insert(key);
      return ReconcileResult{};
    });
    for (int round = 0; round < 50; ++round) {
      for (const char* key : {"a", "b", "c"})
        queue.add(key);
    }
    queue.add("flaky");
    ASSERT_TRUE(wait_until(
        [&] {
          std::lock_guard guard(mutex);
          return succeeded.count("a") && succeeded.count("b") && succeeded.count("c") &&
                 attempts["flaky"] == 1;
        },
        seconds(5)));
    // The failed key waits for its backoff (the worker requeues it just after failing).
    ASSERT_TRUE(wait_until([&] { return queue.delayed() == 1; }, seconds(5)));
    clock.advance(seconds(1));  // first retry after 1 s
    ASSERT_TRUE(wait_until(
        [&] {
          std::lock_guard guard(mutex);
          return attempts["flaky"] == 2;
        },
        seconds(5)));
    ASSERT_TRUE(wait_until([&] { return queue.delayed() == 1; }, seconds(5)));
    clock.advance(seconds(1));
    {
      std::lock_guard guard(mutex);
      EXPECT_EQ(attempts["flaky"], 2) << "the second retry waits 2 s, not 1 s";
    }
    clock.advance(seconds(1));
    ASSERT_TRUE(wait_until(
        [&] {
          std::lock_guard guard(mutex);
          return succeeded.count("flaky") == 1;
        },
        seconds(5)));
    EXPECT_EQ(queue.num_requeues("flaky"), 0) << "success forgets the backoff";
  }  // the pool shuts the queue down and joins its workers here
  EXPECT_TRUE(queue.shutting_down());
  EXPECT_FALSE(overlap);
}

}  // namespace
}  // namespace kubefn::kube
