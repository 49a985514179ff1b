// JetStream against a real nats-server: streams and durable pull consumers, PubAcks and
// de-duplication, fetching, and every way a message is settled or comes again.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream.hpp"
#include "kubefn/testing/nats_server.hpp"
#include "kubefn/testing/wait.hpp"
#include "test_util.hpp"

namespace kubefn::nats {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using kubefn::testing::wait_until;
using testing::connect_or_die;
using testing::NatsServer;
using testing::test_options;

class JetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StreamConfig stream;
    stream.name = "EVENTS";
    stream.subjects = {"events.>"};
    stream.storage = StorageType::kFile;
    auto info = js_.create_or_update_stream(stream);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
  }

  // A durable pull consumer of every event.
  void make_consumer(const std::string& name, std::chrono::nanoseconds ack_wait,
                     std::int64_t max_deliver = -1) {
    ConsumerConfig c;
    c.durable_name = name;
    c.filter_subject = "events.>";
    c.ack_wait = ack_wait;
    c.max_deliver = max_deliver;
    auto info = js_.create_or_update_consumer("EVENTS", c);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
  }

  void publish(int n) {
    for (int i = 0; i < n; ++i) {
      auto ack = js_.publish("events.e", "event-" + std::to_string(i));
      ASSERT_TRUE(ack.ok()) << ack.status().to_string();
    }
  }

  ConsumerInfo info(const std::string& consumer) {
    auto i = js_.consumer_info("EVENTS", consumer);
    EXPECT_TRUE(i.ok()) << i.status().to_string();
    return i.ok() ? *i : ConsumerInfo{};
  }

  NatsServer server_;
  Connection conn_ = connect_or_die(test_options(server_.url()));
  JetStream js_{conn_};
};

TEST_F(JetStreamTest, ApiErrorsAreValuesWithCodes) {
  auto missing = js_.stream_info("NOPE");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kJetStream);
  EXPECT_TRUE(missing.status().is_not_found());
  EXPECT_EQ(missing.status().js_err_code(), 10059);
  EXPECT_EQ(missing.status().message(), "stream not found");

  auto no_consumer = js_.consumer_info("EVENTS", "nope");
  EXPECT_TRUE(no_consumer.status().is_not_found());
  EXPECT_EQ(no_consumer.status().js_err_code(), 10014);

  // No stream takes this subject.
  auto nowhere = js_.publish("elsewhere.x", "x");
  EXPECT_EQ(nowhere.status().code(), ErrorCode::kNoResponders) << nowhere.status().to_string();

  PublishOptions wrong_stream;
  wrong_stream.expected_stream = "OTHER";
  auto refused = js_.publish("events.e", "x", wrong_stream);
  EXPECT_EQ(refused.status().code(), ErrorCode::kJetStream) << refused.status().to_string();
  EXPECT_EQ(refused.status().server_code(), 400);

  EXPECT_EQ(js_.stream_info("a.b").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(js_.fetch("EVENTS", "c", 0, 1s).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(JetStreamTest, StreamsAndConsumersAreCreatedUpdatedAndDeleted) {
  StreamConfig config;
  config.name = "CALLS";
  config.subjects = {"calls.a"};
  config.storage = StorageType::kMemory;
  config.retention = RetentionPolicy::kWorkQueue;
  config.max_age = 1h;
  config.duplicate_window = 30s;
  auto created = js_.create_or_update_stream(config);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  EXPECT_EQ(created->config.storage, StorageType::kMemory);
  EXPECT_EQ(created->config.retention, RetentionPolicy::kWorkQueue);
  EXPECT_EQ(created->config.max_age, 1h);
  EXPECT_EQ(created->config.duplicate_window, 30s);
  // The same again is fine; a changed one is an update.
  ASSERT_TRUE(js_.create_or_update_stream(config).ok());
  config.subjects = {"calls.a", "calls.b"};
  auto updated = js_.create_or_update_stream(config);
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  EXPECT_EQ(updated->config.subjects, (std::vector<std::string>{"calls.a", "calls.b"}));
  ASSERT_TRUE(js_.publish("calls.b", "x").ok());
  auto info = js_.stream_info("CALLS");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state.messages, 1u);

  ConsumerConfig consumer;
  consumer.durable_name = "runner";
  consumer.ack_wait = 10s;
  consumer.max_deliver = 4;
  consumer.max_ack_pending = 50;
  auto c = js_.create_or_update_consumer("CALLS", consumer);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->name, "runner");
  EXPECT_EQ(c->config.ack_policy, AckPolicy::kExplicit);
  EXPECT_EQ(c->config.ack_wait, 10s);
  EXPECT_EQ(c->num_pending, 1u);
  consumer.ack_wait = 20s;
  consumer.max_deliver = 6;
  auto c2 = js_.create_or_update_consumer("CALLS", consumer);
  ASSERT_TRUE(c2.ok()) << c2.status().to_string();
  EXPECT_EQ(c2->config.ack_wait, 20s);
  EXPECT_EQ(c2->config.max_deliver, 6);

  ASSERT_TRUE(js_.delete_consumer("CALLS", "runner").ok());
  EXPECT_TRUE(js_.consumer_info("CALLS", "runner").status().is_not_found());
  EXPECT_TRUE(js_.delete_consumer("CALLS", "runner").is_not_found());
  ASSERT_TRUE(js_.purge_stream("CALLS").ok());
  EXPECT_EQ(js_.stream_info("CALLS")->state.messages, 0u);
  ASSERT_TRUE(js_.delete_stream("CALLS").ok());
  EXPECT_TRUE(js_.stream_info("CALLS").status().is_not_found());
}

TEST_F(JetStreamTest, AThousandMessagesArePubAckedFetchedInBatchesAndAcked) {
  make_consumer("worker", 30s);
  for (int i = 0; i < 1000; ++i) {
    auto ack = js_.publish("events.e", "event-" + std::to_string(i));
    ASSERT_TRUE(ack.ok()) << ack.status().to_string();
    EXPECT_EQ(ack->stream, "EVENTS");
    EXPECT_EQ(ack->seq, static_cast<std::uint64_t>(i + 1));
    EXPECT_FALSE(ack->duplicate);
  }
  EXPECT_EQ(info("worker").num_pending, 1000u);

  std::vector<std::string> seen;
  int batches = 0;
  while (seen.size() < 1000 && batches < 100) {
    auto batch = js_.fetch("EVENTS", "worker", 64, 2s);
    ASSERT_TRUE(batch.ok()) << batch.status().to_string();
    ++batches;
    for (auto& m : *batch) {
      EXPECT_EQ(m.subject(), "events.e");
      EXPECT_EQ(m.metadata().stream, "EVENTS");
      EXPECT_EQ(m.metadata().consumer, "worker");
      EXPECT_EQ(m.metadata().num_delivered, 1u);
      EXPECT_EQ(m.metadata().stream_sequence, seen.size() + 1);
      EXPECT_EQ(m.metadata().num_pending, 1000u - seen.size() - 1);
      seen.push_back(m.data());
      // Half of them double-acked, half fire and forget.
      if (seen.size() % 2 == 0) {
        ASSERT_TRUE(m.ack_sync(5s).ok());
      } else {
        ASSERT_TRUE(m.ack().ok());
      }
    }
  }
  ASSERT_EQ(seen.size(), 1000u);
  EXPECT_EQ(batches, 16);  // 15 full batches of 64, and 40
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(seen[static_cast<std::size_t>(i)], "event-" + std::to_string(i));
  ASSERT_TRUE(conn_.flush(5s).ok());
  EXPECT_TRUE(wait_until(
      [&] {
        const auto i = info("worker");
        return i.num_pending == 0 && i.num_ack_pending == 0;
      },
      10s));
  EXPECT_EQ(info("worker").ack_floor.stream_seq, 1000u);
}

TEST_F(JetStreamTest, PendingCountsFollowDeliveriesAndAcks) {
  make_consumer("counted", 30s);
  publish(20);
  auto before = info("counted");
  EXPECT_EQ(before.num_pending, 20u);
  EXPECT_EQ(before.num_ack_pending, 0);
  EXPECT_EQ(before.backlog(), 20u);

  auto batch = js_.fetch("EVENTS", "counted", 20, 2s);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 20u);
  auto delivered = info("counted");
  EXPECT_EQ(delivered.num_pending, 0u);
  EXPECT_EQ(delivered.num_ack_pending, 20);
  EXPECT_EQ(delivered.backlog(), 20u);

  for (auto& m : *batch)
    ASSERT_TRUE(m.ack_sync(5s).ok());
  auto done = info("counted");
  EXPECT_EQ(done.num_pending, 0u);
  EXPECT_EQ(done.num_ack_pending, 0);
  EXPECT_EQ(done.backlog(), 0u);
}

TEST_F(JetStreamTest, FetchOnAnEmptyStreamReturnsNothingWithinTheExpiry) {
  make_consumer("idle", 30s);
  const auto start = Clock::now();
  auto batch = js_.fetch("EVENTS", "idle", 10, 500ms);
  const auto took = Clock::now() - start;
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  EXPECT_TRUE(batch->empty());
  // The server ended the request at its expiry (a 408: ok and empty), before the client's own
  // deadline of expires + 1 s.
  EXPECT_GE(took, 500ms - 20ms);
  EXPECT_LE(took, 500ms + 1s + 100ms);
}

TEST_F(JetStreamTest, FetchReturnsAPartialBatchAtTheExpiry) {
  make_consumer("partial", 30s);
  publish(3);
  auto batch = js_.fetch("EVENTS", "partial", 10, 300ms);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  EXPECT_EQ(batch->size(), 3u);
}

TEST_F(JetStreamTest, FetchEachHandsMessagesOverAsTheyArrive) {
  make_consumer("streaming", 30s);
  // Publishes once the pull request waits on the server.
  std::thread later([&] {
    if (wait_until([&] { return info("streaming").num_waiting == 1; }, 10s)) publish(2);
  });
  std::vector<std::string> got;
  auto n = js_.fetch_each("EVENTS", "streaming", 2, 5s, [&](JsMessage&& m) {
    got.push_back(m.data());
    EXPECT_TRUE(m.ack().ok());
  });
  later.join();
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(got, (std::vector<std::string>{"event-0", "event-1"}));
}

TEST_F(JetStreamTest, NakedMessageComesAgainAfterItsDelay) {
  make_consumer("retry", 30s);
  publish(1);
  auto first = js_.fetch("EVENTS", "retry", 1, 2s);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].metadata().num_delivered, 1u);

  const auto delay = 1500ms;
  const auto naked_at = Clock::now();
  ASSERT_TRUE((*first)[0].nak(delay).ok());
  auto early = js_.fetch("EVENTS", "retry", 1, 300ms);
  ASSERT_TRUE(early.ok());
  // Held back for the delay (checked only if this fetch ended before the delay did).
  if (Clock::now() - naked_at < delay) {
    EXPECT_TRUE(early->empty());
  }

  auto again = js_.fetch("EVENTS", "retry", 1, 5s);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_GE(Clock::now() - naked_at, delay - 20ms);
  EXPECT_EQ((*again)[0].data(), "event-0");
  EXPECT_EQ((*again)[0].metadata().num_delivered, 2u);
  EXPECT_EQ((*again)[0].metadata().stream_sequence, 1u);
  ASSERT_TRUE((*again)[0].ack_sync(5s).ok());
  EXPECT_EQ(info("retry").num_redelivered, 0);  // acked: nothing left to redeliver
}

TEST_F(JetStreamTest, UnackedMessageComesAgainAfterAckWait) {
  make_consumer("forgetful", 1s);
  publish(1);
  auto first = js_.fetch("EVENTS", "forgetful", 1, 2s);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  // Not acked.
  auto again = js_.fetch("EVENTS", "forgetful", 1, 5s);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].metadata().num_delivered, 2u);
  EXPECT_EQ((*again)[0].metadata().stream_sequence, 1u);
  EXPECT_GE(info("forgetful").num_redelivered, 1);
  ASSERT_TRUE((*again)[0].ack_sync(5s).ok());
}

TEST_F(JetStreamTest, InProgressHoldsOffRedelivery) {
  make_consumer("slow", 2s);
  publish(1);
  auto first = js_.fetch("EVENTS", "slow", 1, 2s);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  // Working on it for longer than ack_wait, saying so every 300 ms.
  const auto until = Clock::now() + 3s;
  while (Clock::now() < until) {
    ASSERT_TRUE((*first)[0].in_progress().ok());
    auto none = js_.fetch("EVENTS", "slow", 1, 300ms);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
  }
  ASSERT_TRUE((*first)[0].ack_sync(5s).ok());
  EXPECT_EQ(info("slow").num_redelivered, 0);
}

TEST_F(JetStreamTest, TermStopsRedelivery) {
  make_consumer("poison", 1s);
  publish(1);
  auto first = js_.fetch("EVENTS", "poison", 1, 2s);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  ASSERT_TRUE((*first)[0].term().ok());
  ASSERT_TRUE(conn_.flush(5s).ok());
  // Well past ack_wait: nothing comes again.
  auto again = js_.fetch("EVENTS", "poison", 1, 2500ms);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  const auto i = info("poison");
  EXPECT_EQ(i.num_ack_pending, 0);
  EXPECT_EQ(i.num_pending, 0u);
}

TEST_F(JetStreamTest, MaxDeliverIsRespected) {
  make_consumer("limited", 30s, /*max_deliver=*/3);
  publish(1);
  std::vector<std::uint64_t> deliveries;
  for (int i = 0; i < 3; ++i) {
    auto batch = js_.fetch("EVENTS", "limited", 1, 2s);
    ASSERT_TRUE(batch.ok());
    ASSERT_EQ(batch->size(), 1u) << "delivery " << i + 1;
    deliveries.push_back((*batch)[0].metadata().num_delivered);
    ASSERT_TRUE((*batch)[0].nak().ok());
  }
  EXPECT_EQ(deliveries, (std::vector<std::uint64_t>{1, 2, 3}));
  auto fourth = js_.fetch("EVENTS", "limited", 1, 1s);
  ASSERT_TRUE(fourth.ok());
  EXPECT_TRUE(fourth->empty());
}

TEST_F(JetStreamTest, DuplicateMsgIdsAreReportedAsDuplicates) {
  PublishOptions options;
  options.msg_id = "call-42";
  auto first = js_.publish("events.e", "payload", options);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_FALSE(first->duplicate);
  auto second = js_.publish("events.e", "payload", options);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->seq, first->seq);
  options.msg_id = "call-43";
  auto third = js_.publish("events.e", "payload", options);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->duplicate);
  EXPECT_EQ(third->seq, first->seq + 1);
  EXPECT_EQ(js_.stream_info("EVENTS")->state.messages, 2u);
}

TEST_F(JetStreamTest, FetchEndsWithAConflictWhenTheConsumerIsDeleted) {
  make_consumer("doomed", 30s);
  Result<std::vector<JsMessage>> result = Status(ErrorCode::kTimeout, "not run");
  std::thread puller([&] { result = js_.fetch("EVENTS", "doomed", 1, 10s); });
  // Once the pull request waits on the server, delete the consumer under it.
  ASSERT_TRUE(wait_until([&] { return info("doomed").num_waiting == 1; }, 10s));
  ASSERT_TRUE(js_.delete_consumer("EVENTS", "doomed").ok());
  puller.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kConflict) << result.status().to_string();
  EXPECT_EQ(result.status().server_code(), 409);
  EXPECT_NE(result.status().message().find("Consumer Deleted"), std::string::npos);
}

TEST_F(JetStreamTest, LargeMessageNearMaxPayloadIsStoredAndFetched) {
  make_consumer("big", 30s);
  PublishOptions options;
  options.msg_id = "big-1";
  // Headers count against max_payload: leave room for Nats-Msg-Id.
  std::string data(static_cast<std::size_t>(conn_.max_payload()) - 64, '\0');
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i % 251);
  auto ack = js_.publish("events.big", data, options);
  ASSERT_TRUE(ack.ok()) << ack.status().to_string();
  auto batch = js_.fetch("EVENTS", "big", 1, 5s);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_TRUE((*batch)[0].data() == data);
  EXPECT_EQ((*batch)[0].headers().get(header::kMsgId), "big-1");
  ASSERT_TRUE((*batch)[0].ack_sync(5s).ok());

  const std::string too_big(static_cast<std::size_t>(conn_.max_payload()) + 1, 'x');
  EXPECT_EQ(js_.publish("events.big", too_big).status().code(), ErrorCode::kMaxPayload);
}

TEST_F(JetStreamTest, LastMessageOnASubjectIsReadBack) {
  StreamConfig status_stream;
  status_stream.name = "CALL_STATUS";
  status_stream.subjects = {"status.>"};
  status_stream.max_msgs_per_subject = 1;
  ASSERT_TRUE(js_.create_or_update_stream(status_stream).ok());
  Message m;
  m.subject = "status.call-1";
  m.headers.add("Status", "running");
  m.data = "{\"state\":\"running\"}";
  ASSERT_TRUE(js_.publish(m).ok());
  m.headers.set("Status", "done");
  m.data = "{\"state\":\"done\"}";
  auto second = js_.publish(m);
  ASSERT_TRUE(second.ok());

  auto last = js_.get_last_message("CALL_STATUS", "status.call-1");
  ASSERT_TRUE(last.ok()) << last.status().to_string();
  EXPECT_EQ(last->subject, "status.call-1");
  EXPECT_EQ(last->seq, second->seq);
  EXPECT_EQ(last->data, "{\"state\":\"done\"}");
  EXPECT_EQ(last->headers.get("status"), "done");
  EXPECT_TRUE(js_.get_last_message("CALL_STATUS", "status.call-2").status().is_not_found());
}

TEST_F(JetStreamTest, CallsAfterTheConnectionClosedFailAsClosed) {
  make_consumer("after", 30s);
  publish(1);
  auto batch = js_.fetch("EVENTS", "after", 1, 2s);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 1u);
  conn_.close();
  EXPECT_EQ(conn_.state(), ConnectionState::kClosed);
  EXPECT_EQ(js_.stream_info("EVENTS").status().code(), ErrorCode::kClosed);
  EXPECT_EQ((*batch)[0].ack().code(), ErrorCode::kClosed);
  EXPECT_EQ(conn_.publish("x", "y").code(), ErrorCode::kClosed);
}

}  // namespace
}  // namespace kubefn::nats
