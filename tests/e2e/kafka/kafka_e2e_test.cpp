// The Kafka client against a real Apache Kafka broker (KRaft, one node), started once for the
// binary; each test has topics and groups of its own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/kafka/consumer.hpp"
#include "kubefn/kafka/producer.hpp"
#include "kubefn/testing/free_port.hpp"
#include "kubefn/testing/kafka_broker.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::KafkaBroker;
using testing::wait_until;

KafkaBroker* g_broker = nullptr;
std::string g_broker_error;

class BrokerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      broker_ = std::make_unique<KafkaBroker>(KUBEFN_KAFKA_LIBS);
      g_broker = broker_.get();
      std::cout << "kafka broker on " << broker_->bootstrap_servers() << ", ready in "
                << broker_->last_start_time().count() << " ms" << std::endl;
    } catch (const std::exception& e) {
      g_broker_error = e.what();
      FAIL() << g_broker_error;
    }
  }
  void TearDown() override {
    g_broker = nullptr;
    broker_.reset();
  }

 private:
  std::unique_ptr<KafkaBroker> broker_;
};

// What a consumer reported, from any thread.
class RecordingEvents : public ConsumerEvents {
 public:
  void on_assigned(const std::vector<TopicPartition>& partitions) override {
    std::lock_guard lock(mu_);
    assigned_ = partitions;
    ++rebalances_;
  }
  void on_revoked(const std::vector<TopicPartition>&, bool lost) override {
    std::lock_guard lock(mu_);
    assigned_.clear();
    lost_ = lost_ || lost;
  }
  void on_async_commit(const std::vector<PartitionOffset>& offsets, const Status& status) override {
    std::lock_guard lock(mu_);
    if (status.ok()) {
      for (const auto& o : offsets)
        async_committed_[o.partition] = o.offset;
    }
    ++async_commits_;
  }
  void on_error(const Status& status) override {
    std::lock_guard lock(mu_);
    errors_.push_back(status.to_string());
  }

  std::vector<TopicPartition> assigned() {
    std::lock_guard lock(mu_);
    return assigned_;
  }
  int async_commits() {
    std::lock_guard lock(mu_);
    return async_commits_;
  }
  std::map<TopicPartition, std::int64_t> async_committed() {
    std::lock_guard lock(mu_);
    return async_committed_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::vector<TopicPartition> assigned_;
  int rebalances_ = 0;
  bool lost_ = false;
  int async_commits_ = 0;
  std::map<TopicPartition, std::int64_t> async_committed_;
  std::vector<std::string> errors_;
};

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_broker, nullptr) << "no Kafka broker: " << g_broker_error;
    static int counter = 0;
    prefix_ = "t" + std::to_string(++counter) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  // A name of this test's own (repeated runs share the broker).
  std::string name(const std::string& what) const { return prefix_ + "-" + what; }

  std::string topic(int partitions, const std::string& what = "topic") {
    std::string t = name(what);
    g_broker->create_topic(t, partitions);
    return t;
  }

  static ClientConfig client() {
    ClientConfig c;
    c.bootstrap_servers = g_broker->bootstrap_servers();
    c.client_id = "kafka-e2e";
    return c;
  }

  std::unique_ptr<Consumer> consumer(const std::string& group, const std::string& topic,
                                     ConsumerEvents* events) {
    ConsumerConfig config;
    config.client = client();
    config.group_id = group;
    config.session_timeout = 10s;
    auto c = make_consumer(config, events);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    if (!c.ok()) return nullptr;
    EXPECT_TRUE((*c)->subscribe({topic}).ok());
    return std::move(c).value();
  }

  // Its errors (a broker down) go to `events` rather than to stderr.
  std::unique_ptr<Producer> producer(std::chrono::milliseconds delivery_timeout = 30s) {
    ProducerConfig config;
    config.client = client();
    config.delivery_timeout = delivery_timeout;
    auto p = make_producer(config, &producer_events_);
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  // Produces values "<i>" for i in [0, n) to partition i % partitions, each acknowledged.
  static void produce_round_robin(Producer& p, const std::string& topic, int n, int partitions) {
    for (int i = 0; i < n; ++i) {
      OutgoingMessage m;
      m.topic = topic;
      m.partition = i % partitions;
      m.key = "k" + std::to_string(i);
      m.value = std::to_string(i);
      auto report = p.produce(m);
      ASSERT_TRUE(report.ok()) << report.status().to_string();
    }
  }

  // Polls until `n` messages came or `timeout` passed; marks each done when `finish`.
  static std::vector<Message> take(Consumer& c, std::size_t n, bool finish,
                                   std::chrono::milliseconds timeout = 60s) {
    std::vector<Message> got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
      auto m = c.poll(100ms);
      if (!m.ok()) {
        ADD_FAILURE() << m.status().to_string();
        continue;
      }
      if (!m->has_value()) continue;
      if (finish) {
        EXPECT_TRUE(c.done(**m));
      }
      got.push_back(std::move(**m));
    }
    return got;
  }

  // Polls (serving rebalances) until the consumer has `n` partitions.
  static bool wait_assigned(Consumer& c, RecordingEvents& events, std::size_t n) {
    return wait_until(
        [&] {
          auto m = c.poll(50ms);
          EXPECT_TRUE(m.ok() && !m->has_value()) << "a message before any was produced";
          return events.assigned().size() == n;
        },
        60s, 0ms);
  }

  static std::map<TopicPartition, PartitionLag> lag_of(Consumer& c) {
    auto lag = c.lag(10s);
    EXPECT_TRUE(lag.ok()) << lag.status().to_string();
    std::map<TopicPartition, PartitionLag> out;
    if (lag.ok()) {
      for (const auto& l : *lag)
        out[l.partition] = l;
    }
    return out;
  }

  static std::int64_t total_lag(Consumer& c) {
    std::int64_t total = 0;
    for (const auto& [tp, l] : lag_of(c))
      total += l.lag;
    return total;
  }

  std::string prefix_;
  RecordingEvents producer_events_;
};

TEST_F(KafkaTest, ProducesAndConsumesAcrossThreePartitionsWithCommits) {
  const std::string t = topic(3);
  auto p = producer();
  constexpr int kCount = 300;
  // Keyed, so that the partitioner spreads them.
  for (int i = 0; i < kCount; ++i) {
    auto report = p->produce({t, std::nullopt, "key-" + std::to_string(i), std::to_string(i), {}});
    ASSERT_TRUE(report.ok()) << report.status().to_string();
  }
  ASSERT_TRUE(p->flush(10s).ok());

  RecordingEvents events;
  auto c = consumer(name("group"), t, &events);
  std::multiset<std::string> values;
  std::set<std::int32_t> partitions;
  for (int batch = 0; batch < kCount / 50; ++batch) {
    auto got = take(*c, 50, true);
    ASSERT_EQ(got.size(), 50u);
    for (const auto& m : got) {
      values.insert(m.value);
      partitions.insert(m.partition);
      EXPECT_EQ(m.topic, t);
      EXPECT_EQ(m.key, "key-" + m.value);
      EXPECT_EQ(m.timestamp_type, TimestampType::kCreateTime);
    }
    ASSERT_TRUE(c->commit().ok());
  }
  EXPECT_EQ(values.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i)
    EXPECT_EQ(values.count(std::to_string(i)), 1u) << i;
  EXPECT_EQ(partitions, (std::set<std::int32_t>{0, 1, 2}));
  EXPECT_EQ(c->in_flight(), 0u);

  const auto lag = lag_of(*c);
  ASSERT_EQ(lag.size(), 3u);
  std::int64_t written = 0;
  for (const auto& [tp, l] : lag) {
    EXPECT_EQ(l.committed, l.high_watermark) << tp.to_string();
    EXPECT_EQ(l.lag, 0) << tp.to_string();
    written += l.high_watermark;
  }
  EXPECT_EQ(written, kCount);
  EXPECT_TRUE(c->close().ok());
  EXPECT_EQ(c->poll(10ms).status().code(), ErrorCode::kClosed);
}

TEST_F(KafkaTest, MessagesNotDoneWhenAConsumerStopsGoToTheNextMemberAgain) {
  const std::string t = topic(1);
  const std::string group = name("group");
  auto p = producer();
  produce_round_robin(*p, t, 20, 1);

  {
    RecordingEvents events;
    auto first = consumer(group, t, &events);
    auto got = take(*first, 20, false);
    ASSERT_EQ(got.size(), 20u);
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(first->done(got[i]));
    ASSERT_TRUE(first->commit().ok());
    EXPECT_EQ(first->in_flight(), 10u);
    // Offsets 10..19 were handed out but their function never answered: it stops.
    ASSERT_TRUE(first->close().ok());
  }

  RecordingEvents events;
  auto second = consumer(group, t, &events);
  auto again = take(*second, 10, true);
  ASSERT_EQ(again.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(again[i].offset, 10 + i);
    EXPECT_EQ(again[i].value, std::to_string(10 + i));
  }
  // Nothing more: what was committed is not read again.
  auto more = second->poll(1s);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(more->has_value());
}

TEST_F(KafkaTest, KeepsTheOrderOfEachPartition) {
  const std::string t = topic(3);
  auto p = producer();
  constexpr int kCount = 300;
  produce_round_robin(*p, t, kCount, 3);

  RecordingEvents events;
  auto c = consumer(name("group"), t, &events);
  auto got = take(*c, kCount, true);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kCount));
  std::map<std::int32_t, std::vector<Message>> by_partition;
  for (auto& m : got)
    by_partition[m.partition].push_back(std::move(m));
  ASSERT_EQ(by_partition.size(), 3u);
  for (const auto& [partition, messages] : by_partition) {
    ASSERT_EQ(messages.size(), 100u) << partition;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      // Written i-th to this partition: value 3i + partition, offset i.
      EXPECT_EQ(messages[i].offset, static_cast<std::int64_t>(i));
      EXPECT_EQ(messages[i].value, std::to_string(3 * i + partition));
    }
  }
}

TEST_F(KafkaTest, OutOfOrderCompletionCommitsOnlyTheContiguousPrefix) {
  const std::string t = topic(1);
  const std::string group = name("group");
  const TopicPartition tp{t, 0};
  auto p = producer();
  produce_round_robin(*p, t, 10, 1);

  {
    RecordingEvents events;
    auto c = consumer(group, t, &events);
    auto got = take(*c, 10, false);  // ten in flight at once
    ASSERT_EQ(got.size(), 10u);
    auto committed = [&] { return lag_of(*c)[tp].committed; };

    for (int o : {0, 1, 2, 5, 6, 7, 9})
      ASSERT_TRUE(c->done(tp, o));
    ASSERT_TRUE(c->commit().ok());
    EXPECT_EQ(committed(), 3);  // 3 is still in flight
    EXPECT_EQ(c->in_flight(tp), 3u);

    ASSERT_TRUE(c->done(tp, 3));
    ASSERT_TRUE(c->commit().ok());
    EXPECT_EQ(committed(), 4);

    ASSERT_TRUE(c->done(tp, 4));  // 5, 6, 7 were done: the prefix jumps to 8
    ASSERT_TRUE(c->commit().ok());
    EXPECT_EQ(committed(), 8);
    EXPECT_FALSE(c->done(tp, 4));  // once only
    ASSERT_TRUE(c->close().ok());
  }

  // 8 was never done, so 8 and 9 (done, but after it) are read again: at least once.
  RecordingEvents events;
  auto next = consumer(group, t, &events);
  auto again = take(*next, 2, true);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].offset, 8);
  EXPECT_EQ(again[1].offset, 9);
}

TEST_F(KafkaTest, LagFallsToZeroAfterCommits) {
  const std::string t = topic(3);
  auto p = producer();
  produce_round_robin(*p, t, 30, 3);

  RecordingEvents events;
  auto c = consumer(name("group"), t, &events);
  // The group has committed nothing: everything written is lag.
  EXPECT_EQ(total_lag(*c), 30);

  ASSERT_EQ(take(*c, 15, true).size(), 15u);
  ASSERT_TRUE(c->commit().ok());
  EXPECT_EQ(total_lag(*c), 15);

  ASSERT_EQ(take(*c, 15, true).size(), 15u);
  ASSERT_TRUE(c->commit_async().ok());
  // The outcome comes back through poll().
  ASSERT_TRUE(wait_until(
      [&] {
        auto m = c->poll(50ms);
        EXPECT_TRUE(m.ok() && !m->has_value());
        return events.async_commits() > 0;
      },
      30s, 0ms));
  const auto lag = lag_of(*c);
  ASSERT_EQ(lag.size(), 3u);
  for (const auto& [tp, l] : lag) {
    EXPECT_EQ(l.lag, 0) << tp.to_string();
    EXPECT_EQ(l.committed, 10) << tp.to_string();
  }
  // The asynchronous commit carried the partitions that moved since the synchronous one.
  const auto async_committed = events.async_committed();
  EXPECT_FALSE(async_committed.empty());
  for (const auto& [tp, offset] : async_committed)
    EXPECT_EQ(offset, 10) << tp.to_string();
  EXPECT_TRUE(events.errors().empty()) << ::testing::PrintToString(events.errors());
}

TEST_F(KafkaTest, TwoConsumersOfAGroupShareThePartitions) {
  const std::string t = topic(3);
  const std::string group = name("group");
  RecordingEvents events_a, events_b;
  auto a = consumer(group, t, &events_a);
  ASSERT_TRUE(wait_assigned(*a, events_a, 3));
  auto b = consumer(group, t, &events_b);
  // Both must poll for the group to rebalance.
  ASSERT_TRUE(wait_until(
      [&] {
        for (Consumer* c : {a.get(), b.get()}) {
          auto m = c->poll(50ms);
          EXPECT_TRUE(m.ok() && !m->has_value());
        }
        const auto sa = events_a.assigned(), sb = events_b.assigned();
        return !sa.empty() && !sb.empty() && sa.size() + sb.size() == 3;
      },
      60s, 0ms))
      << events_a.assigned().size() << " + " << events_b.assigned().size();
  std::set<TopicPartition> all;
  for (const auto& tp : events_a.assigned())
    all.insert(tp);
  for (const auto& tp : events_b.assigned())
    all.insert(tp);
  EXPECT_EQ(all.size(), 3u);  // disjoint and complete
  EXPECT_EQ(a->assignment(), events_a.assigned());

  auto p = producer();
  constexpr int kCount = 60;
  produce_round_robin(*p, t, kCount, 3);
  std::map<std::string, int> seen;
  std::size_t from_a = 0, from_b = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (seen.size() < kCount && std::chrono::steady_clock::now() < deadline) {
    for (auto [c, events, count] :
         {std::tuple{a.get(), &events_a, &from_a}, std::tuple{b.get(), &events_b, &from_b}}) {
      auto m = c->poll(50ms);
      ASSERT_TRUE(m.ok()) << m.status().to_string();
      if (!m->has_value()) continue;
      const auto mine = events->assigned();
      EXPECT_NE(std::find(mine.begin(), mine.end(), (*m)->topic_partition()), mine.end());
      EXPECT_TRUE(c->done(**m));
      ++seen[(*m)->value];
      ++*count;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(from_a + from_b, static_cast<std::size_t>(kCount));  // each read by one member
  EXPECT_GT(from_a, 0u);
  EXPECT_GT(from_b, 0u);
  EXPECT_TRUE(a->commit().ok());
  EXPECT_TRUE(b->commit().ok());
}

TEST_F(KafkaTest, NoMessageIsLostWhenTheBrokerIsKilledAndRestarted) {
  const std::string t = topic(3);
  constexpr int kCount = 600;
  std::atomic<int> acknowledged{0};
  std::atomic<bool> producer_failed{false};
  std::string producer_error;
  // Produced one by one, each waited for: a record acknowledged before the kill must survive it.
  std::thread producing([&] {
    auto p = producer(90s);
    if (p == nullptr) return;
    for (int i = 0; i < kCount; ++i) {
      OutgoingMessage m{t, i % 3, std::nullopt, std::to_string(i), {}};
      auto report = p->produce(m);
      if (!report.ok()) {
        producer_error = report.status().to_string();
        producer_failed = true;
        return;
      }
      ++acknowledged;
    }
  });

  RecordingEvents events;
  auto c = consumer(name("group"), t, &events);
  std::set<std::string> seen;
  std::atomic<bool> stop_consuming{false};
  std::mutex seen_mu;
  std::thread consuming([&] {
    int since_commit = 0;
    while (!stop_consuming) {
      auto m = c->poll(100ms);
      if (!m.ok() || !m->has_value()) continue;  // errors while the broker is down
      c->done(**m);
      {
        std::lock_guard lock(seen_mu);
        seen.insert((*m)->value);
      }
      if (++since_commit == 20) {
        since_commit = 0;
        (void)c->commit_async();  // refused while the broker is down: the next one catches up
      }
    }
  });
  auto seen_count = [&] {
    std::lock_guard lock(seen_mu);
    return seen.size();
  };

  ASSERT_TRUE(wait_until([&] { return acknowledged >= 150 && seen_count() >= 50; }, 60s, 10ms));
  g_broker->kill();
  const int acknowledged_at_kill = acknowledged;
  g_broker->start();
  std::cout << "broker restarted in " << g_broker->last_start_time().count() << " ms after "
            << acknowledged_at_kill << " records" << std::endl;

  producing.join();
  ASSERT_FALSE(producer_failed) << producer_error;
  EXPECT_EQ(acknowledged, kCount);
  const bool all = wait_until([&] { return seen_count() == kCount; }, 60s, 20ms);
  stop_consuming = true;
  consuming.join();
  ASSERT_TRUE(all) << "read " << seen_count() << " of " << kCount;
  for (int i = 0; i < kCount; ++i)
    EXPECT_EQ(seen.count(std::to_string(i)), 1u) << i;

  // The outage was reported, not only logged.
  const auto errors = events.errors();
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(), [](const std::string& e) {
    return e.rfind("Unreachable: ", 0) == 0;
  })) << ::testing::PrintToString(errors);

  // And the group's position catches up once the broker is back.
  ASSERT_TRUE(wait_until(
      [&] {
        (void)c->commit();
        return total_lag(*c) == 0;
      },
      30s, 200ms));
}

TEST_F(KafkaTest, DeadLetterRecordsKeepKeyValueAndHeaders) {
  const std::string dlq = topic(1, "deadletter");
  auto p = producer();
  OutgoingMessage failed;
  failed.topic = dlq;
  failed.key = "order-17";
  failed.value = std::string("{\"id\":17}\0binary", 16);
  failed.headers = {{"kubefn-error", "HTTP 500 after 4 attempts"},
                    {"kubefn-source", "orders[2]@41"},
                    {"traceparent", "00-abc-def-01"},
                    {"repeated", "a"},
                    {"repeated", "b"},
                    {"empty", ""}};
  const auto before = std::chrono::system_clock::now();
  auto first = p->produce(failed);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->partition, 0);
  EXPECT_EQ(first->offset, 0);
  OutgoingMessage keyless{dlq, std::nullopt, std::nullopt, "no key", {}};
  auto second = p->produce(keyless);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(second->offset, 1);

  RecordingEvents events;
  auto c = consumer(name("group"), dlq, &events);
  auto got = take(*c, 2, true);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, failed.key);
  EXPECT_EQ(got[0].value, failed.value);
  EXPECT_EQ(got[0].headers, failed.headers);
  ASSERT_NE(got[0].header("kubefn-error"), nullptr);
  EXPECT_EQ(got[0].header("kubefn-error")->value, "HTTP 500 after 4 attempts");
  EXPECT_EQ(got[0].timestamp_type, TimestampType::kCreateTime);
  EXPECT_GE(got[0].timestamp, std::chrono::time_point_cast<std::chrono::milliseconds>(before));
  EXPECT_LE(got[0].timestamp, std::chrono::system_clock::now());
  EXPECT_EQ(got[0].timestamp, first->timestamp);
  EXPECT_EQ(got[1].key, std::nullopt);  // null, not empty
  EXPECT_TRUE(got[1].headers.empty());
}

TEST_F(KafkaTest, PausedPartitionsAreNotFetchedUntilResumed) {
  const std::string t = topic(2);
  RecordingEvents events;
  auto c = consumer(name("group"), t, &events);
  ASSERT_TRUE(wait_assigned(*c, events, 2));
  const TopicPartition p0{t, 0}, p1{t, 1};
  ASSERT_TRUE(c->pause({p0}).ok());
  EXPECT_EQ(c->pause({{t, 7}}).code(), ErrorCode::kInvalidArgument);

  auto p = producer();
  produce_round_robin(*p, t, 20, 2);  // 10 to each
  // p1's ten come; for as long, and a second more, none of p0's.
  auto got = take(*c, 10, true, 30s);
  ASSERT_EQ(got.size(), 10u);
  for (const auto& m : got)
    EXPECT_EQ(m.partition, 1);
  EXPECT_TRUE(take(*c, 1, true, 1s).empty());

  ASSERT_TRUE(c->resume({p0}).ok());
  auto rest = take(*c, 10, true, 30s);
  ASSERT_EQ(rest.size(), 10u);
  for (const auto& m : rest)
    EXPECT_EQ(m.partition, 0);
  EXPECT_EQ(total_lag(*c), 20);  // nothing committed yet
  ASSERT_TRUE(c->commit().ok());
  EXPECT_EQ(total_lag(*c), 0);
}

TEST_F(KafkaTest, AnUnknownTopicIsReportedByPoll) {
  RecordingEvents events;
  auto c = consumer(name("group"), name("never-created"), &events);
  Status error;
  ASSERT_TRUE(wait_until(
      [&] {
        auto m = c->poll(100ms);
        if (!m.ok()) error = m.status();
        return !error.ok();
      },
      30s, 0ms));
  EXPECT_EQ(error.code(), ErrorCode::kUnknownTopic) << error.to_string();
  EXPECT_THAT(error.message(), HasSubstr(name("never-created")));
  EXPECT_THAT(error.message(), HasSubstr("create the topic or fix its name"));
}

TEST_F(KafkaTest, ProducingWithNoBrokerFailsOnceTheDeliveryTimeoutPasses) {
  ProducerConfig config;
  config.client.bootstrap_servers = "127.0.0.1:" + std::to_string(testing::free_port());
  config.delivery_timeout = 1500ms;
  auto p = make_producer(config);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto report = (*p)->produce({"anything", std::nullopt, std::nullopt, "x", {}});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), ErrorCode::kTimeout) << report.status().to_string();
  EXPECT_THAT(report.status().message(), HasSubstr("deliver to 'anything'"));
  EXPECT_THAT(report.status().message(), HasSubstr("check that they are up and reachable"));
}

TEST_F(KafkaTest, ACertificateLibrdkafkaCannotReadFailsTheClientsCreation) {
  ConsumerConfig config;
  config.client = client();
  config.client.tls.enabled = true;
  config.client.tls.ca_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  config.group_id = name("group");
  auto c = make_consumer(config);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kInvalidConfig);
  EXPECT_THAT(c.status().message(), HasSubstr("cannot create the Kafka consumer"));
  EXPECT_THAT(c.status().message(), HasSubstr("check the TLS CA (ca.crt)"));

  ProducerConfig bad;
  bad.client = client();
  bad.client.extra["compression.codec"] = "no-such-codec";
  auto p = make_producer(bad);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kInvalidConfig);
  EXPECT_THAT(p.status().message(), HasSubstr("\"compression.codec\" is refused by librdkafka"));
}

}  // namespace
}  // namespace kubefn::kafka

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new kubefn::kafka::BrokerEnvironment);
  return RUN_ALL_TESTS();
}
