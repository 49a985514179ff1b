// The server goes away under a working client: killed, stopped for good, frozen, restarted on
// its port and store. The client notices, fails calls fast, reconnects, subscribes again, and a
// durable consumer picks up where it was with nothing lost.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
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
using kubefn::testing::wait_until;
using testing::connect_or_die;
using testing::NatsServer;
using testing::StateLog;
using testing::test_options;

TEST(ReconnectTest, KilledServerIsReconnectedAndSubscriptionsComeBack) {
  NatsServer server;
  StateLog states;
  std::mutex errors_mu;
  std::vector<Status> errors;
  auto options = test_options(server.url());
  options.on_state_change = [&](ConnectionState s) { states.record(s); };
  options.on_async_error = [&](const Status& e) {
    std::lock_guard lock(errors_mu);
    errors.push_back(e);
  };
  auto conn = connect_or_die(options);
  auto sub = conn.subscribe_sync("alerts.*");
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(conn.flush(5s).ok());

  server.stop(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return conn.state() == ConnectionState::kDisconnected; }, 10s));
  // Disconnected: calls fail at once with a value saying so; nothing is buffered.
  EXPECT_EQ(conn.publish("alerts.x", "lost").code(), ErrorCode::kDisconnected);
  EXPECT_EQ(conn.request("alerts.x", "q", 5s).status().code(), ErrorCode::kDisconnected);
  EXPECT_EQ(conn.flush(5s).code(), ErrorCode::kDisconnected);
  EXPECT_FALSE(conn.wait_connected(50ms));
  // A subscription made while disconnected is sent on reconnect.
  auto late_sub = conn.subscribe_sync("late");
  ASSERT_TRUE(late_sub.ok());

  server.start();
  ASSERT_TRUE(conn.wait_connected(20s)) << server.log();
  EXPECT_EQ(conn.reconnects(), 1u);
  ASSERT_TRUE(conn.flush(5s).ok());

  auto other = connect_or_die(test_options(server.url()));
  ASSERT_TRUE(other.publish("alerts.fire", "after restart").ok());
  ASSERT_TRUE(other.publish("late", "also").ok());
  auto m = sub->next(5s);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->data, "after restart");
  auto late = late_sub->next(5s);
  ASSERT_TRUE(late.ok()) << late.status().to_string();
  EXPECT_EQ(late->data, "also");

  ASSERT_TRUE(wait_until([&] { return states.saw(ConnectionState::kConnected); }, 5s));
  const auto seen = states.states();
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen[0], ConnectionState::kConnected);
  EXPECT_EQ(seen[1], ConnectionState::kDisconnected);
  EXPECT_EQ(seen[2], ConnectionState::kConnected);
  std::lock_guard lock(errors_mu);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].code(), ErrorCode::kConnectionLost) << errors[0].to_string();
}

TEST(ReconnectTest, FrozenServerIsDetectedByUnansweredPings) {
  NatsServer server;
  auto options = test_options(server.url());
  options.ping_interval = 200ms;
  options.max_pings_outstanding = 2;
  options.connect_timeout = 500ms;
  auto conn = connect_or_die(options);
  // SIGSTOP: the socket stays open, the server just stops answering.
  server.signal(SIGSTOP);
  const bool noticed =
      wait_until([&] { return conn.state() == ConnectionState::kDisconnected; }, 10s);
  server.signal(SIGCONT);
  ASSERT_TRUE(noticed);
  EXPECT_TRUE(conn.wait_connected(20s));
  EXPECT_TRUE(conn.flush(5s).ok());
}

TEST(ReconnectTest, GivesUpAfterMaxAttemptsAndCloses) {
  NatsServer server;
  StateLog states;
  auto options = test_options(server.url());
  options.reconnect.max_attempts = 3;
  options.reconnect.initial_delay = 20ms;
  options.reconnect.max_delay = 50ms;
  options.on_state_change = [&](ConnectionState s) { states.record(s); };
  auto conn = connect_or_die(options);
  auto sub = conn.subscribe_sync("x");
  ASSERT_TRUE(sub.ok());
  server.stop(SIGTERM);
  ASSERT_TRUE(wait_until([&] { return conn.state() == ConnectionState::kClosed; }, 20s));
  EXPECT_FALSE(conn.wait_connected(10ms));
  EXPECT_EQ(conn.publish("x", "y").code(), ErrorCode::kClosed);
  EXPECT_EQ(sub->next(1s).status().code(), ErrorCode::kClosed);
  EXPECT_TRUE(wait_until([&] { return states.saw(ConnectionState::kClosed); }, 5s));
}

TEST(ReconnectTest, RequestInFlightWhenTheServerDiesFailsAsConnectionLost) {
  NatsServer server;
  auto conn = connect_or_die(test_options(server.url()));
  auto silent = conn.subscribe_sync("slow.service");  // takes the request, never answers
  ASSERT_TRUE(silent.ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  Result<Message> reply = Status(ErrorCode::kTimeout, "not run");
  std::thread caller([&] { reply = conn.request("slow.service", "q", 60s); });
  ASSERT_TRUE(silent->next(5s).ok());  // the request reached the server
  server.stop(SIGKILL);
  caller.join();  // long before its 60 s
  EXPECT_EQ(reply.status().code(), ErrorCode::kConnectionLost) << reply.status().to_string();
}

// The at-least-once path end to end: a publisher (PubAck, Nats-Msg-Id) and a consumer
// (fetch, double ack) keep working while the server is stopped and started again on the same
// store; every message is stored once and acknowledged at least once.
TEST(ReconnectTest, DurableConsumerResumesAfterARestartWithNothingLost) {
  NatsServer server;
  StateLog states;
  auto options = test_options(server.url());
  options.on_state_change = [&](ConnectionState s) { states.record(s); };
  auto conn = connect_or_die(options);
  JetStreamOptions js_options;
  js_options.timeout = 2s;
  JetStream js(conn, js_options);

  StreamConfig stream;
  stream.name = "JOBS";
  stream.subjects = {"jobs.>"};
  stream.storage = StorageType::kFile;
  ASSERT_TRUE(js.create_or_update_stream(stream).ok());
  ConsumerConfig consumer;
  consumer.durable_name = "worker";
  consumer.ack_wait = 2s;
  ASSERT_TRUE(js.create_or_update_consumer("JOBS", consumer).ok());

  constexpr int kJobs = 600;
  std::mutex mu;
  std::condition_variable progress;
  std::set<std::uint64_t> acked_seqs;
  std::set<std::string> acked_jobs;
  std::set<std::uint64_t> published_seqs;
  std::atomic<bool> stop{false};
  std::atomic<int> publish_failures{0};

  // What a restart looks like besides a lost connection: while the old server shuts down,
  // JetStream stops before the client is disconnected (no responders for the stream or the
  // consumer; the consumer's pull requests end with 409).
  const auto jetstream_away = [](const Status& st) {
    return st.code() == ErrorCode::kNoResponders || st.code() == ErrorCode::kConflict;
  };
  std::mutex seen_mu;
  std::set<std::string> seen_errors;
  const auto note = [&](const Status& st) {
    std::lock_guard lock(seen_mu);
    seen_errors.insert(std::string(to_string(st.code())));
  };
  // Until connected and the consumer answers again (or a few seconds passed).
  const auto wait_for_jetstream = [&] {
    (void)conn.wait_connected(5s);
    (void)wait_until([&] { return stop || js.consumer_info("JOBS", "worker").ok(); }, 5s, 20ms);
  };

  std::thread publisher([&] {
    for (int i = 0; i < kJobs && !stop; ++i) {
      {
        // Keep at most 100 jobs ahead of the consumer, so the restart comes mid-stream.
        std::unique_lock lock(mu);
        progress.wait_for(lock, 30s,
                          [&] { return stop || static_cast<int>(acked_jobs.size()) >= i - 100; });
      }
      PublishOptions po;
      po.msg_id = "job-" + std::to_string(i);
      for (;;) {
        auto ack = js.publish("jobs.run", "job-" + std::to_string(i), po);
        if (ack.ok()) {
          std::lock_guard lock(mu);
          published_seqs.insert(ack->seq);
          break;
        }
        if (stop) return;
        if (!ack.status().is_retryable() && !jetstream_away(ack.status())) {
          ++publish_failures;
          ADD_FAILURE() << "publish job-" << i << ": " << ack.status().to_string();
          return;
        }
        note(ack.status());
        wait_for_jetstream();
      }
    }
  });

  std::thread worker([&] {
    while (!stop) {
      auto batch = js.fetch("JOBS", "worker", 25, 300ms);
      if (!batch.ok()) {
        if (!batch.status().is_retryable() && !jetstream_away(batch.status()))
          ADD_FAILURE() << "fetch: " << batch.status().to_string();
        note(batch.status());
        wait_for_jetstream();
        continue;
      }
      for (auto& m : *batch) {
        // Only a confirmed ack counts; an unconfirmed one is redelivered after ack_wait.
        if (!m.ack_sync(2s).ok()) continue;
        std::lock_guard lock(mu);
        acked_seqs.insert(m.metadata().stream_sequence);
        acked_jobs.insert(m.data());
      }
      progress.notify_all();
    }
  });

  const auto acked = [&] {
    std::lock_guard lock(mu);
    return static_cast<int>(acked_jobs.size());
  };
  ASSERT_TRUE(wait_until([&] { return acked() >= 200; }, 30s));
  server.stop(SIGTERM);
  EXPECT_TRUE(wait_until([&] { return conn.state() == ConnectionState::kDisconnected; }, 10s));
  server.start();

  const bool all_acked = wait_until([&] { return acked() == kJobs; }, 60s);
  // Redeliveries of acks the restart cut off may still be in flight: the worker settles them.
  const bool drained =
      all_acked && wait_until(
                       [&] {
                         auto i = js.consumer_info("JOBS", "worker");
                         return i.ok() && i->num_pending == 0 && i->num_ack_pending == 0;
                       },
                       30s);
  stop = true;
  progress.notify_all();
  publisher.join();
  worker.join();

  ASSERT_TRUE(all_acked) << "acked " << acked() << " of " << kJobs << "\n" << server.log();
  EXPECT_TRUE(drained);
  EXPECT_EQ(publish_failures.load(), 0);
  EXPECT_GE(conn.reconnects(), 1u);
  EXPECT_TRUE(states.saw(ConnectionState::kDisconnected));
  {
    std::lock_guard lock(seen_mu);
    std::string errors;
    for (const auto& e : seen_errors)
      errors += e + " ";
    std::printf("errors the calls saw during the restart: %s\n", errors.c_str());
  }
  std::lock_guard lock(mu);
  // Stored once each (the retried publishes were deduplicated), acked at least once each.
  auto info = js.stream_info("JOBS");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state.messages, static_cast<std::uint64_t>(kJobs));
  EXPECT_EQ(published_seqs.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(acked_seqs.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(*acked_seqs.begin(), 1u);
  EXPECT_EQ(*acked_seqs.rbegin(), static_cast<std::uint64_t>(kJobs));
  for (int i = 0; i < kJobs; ++i)
    EXPECT_TRUE(acked_jobs.count("job-" + std::to_string(i))) << "job-" << i << " never acked";
}

// An ack made while the server is away (stopped, then started again on its store) is sent once
// the client has reconnected, within the ack's timeout: confirmed, and the message is not
// delivered again. (It used to fail at once as kDisconnected, and the ack wait brought the
// message back: every delivery in flight at a broker restart came twice.)
TEST(ReconnectTest, AckMadeWhileTheServerRestartsIsConfirmedOnceReconnected) {
  NatsServer server;
  auto conn = connect_or_die(test_options(server.url()));
  JetStreamOptions js_options;
  js_options.timeout = 2s;
  JetStream js(conn, js_options);
  StreamConfig stream;
  stream.name = "ACKS";
  stream.subjects = {"acks.>"};
  stream.storage = StorageType::kFile;
  ASSERT_TRUE(js.create_or_update_stream(stream).ok());
  ConsumerConfig consumer;
  consumer.durable_name = "worker";
  consumer.ack_wait = 2s;
  ASSERT_TRUE(js.create_or_update_consumer("ACKS", consumer).ok());
  ASSERT_TRUE(js.publish("acks.one", "one").ok());
  auto batch = js.fetch("ACKS", "worker", 1, 2s);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  ASSERT_EQ(batch->size(), 1u);

  // Stopped with the message delivered and not acked (SIGTERM: the consumer's state is
  // written to the store).
  server.stop(SIGTERM);
  ASSERT_TRUE(wait_until([&] { return conn.state() == ConnectionState::kDisconnected; }, 10s));
  // The ack is made now, while nothing listens; the server comes back meanwhile.
  std::thread restart([&] { server.start(); });
  const Status acked = (*batch)[0].ack_sync(20s);
  restart.join();
  EXPECT_TRUE(acked.ok()) << acked.to_string();
  EXPECT_GE(conn.reconnects(), 1u);

  // Past its ack wait the message is not delivered again: nothing pending, nothing to fetch.
  ASSERT_TRUE(wait_until([&] { return js.consumer_info("ACKS", "worker").ok(); }, 10s, 50ms));
  auto again = js.fetch("ACKS", "worker", 1, 3s);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(again->empty()) << "delivered again: attempt "
                              << (again->empty() ? 0 : (*again)[0].metadata().num_delivered);
  auto info = js.consumer_info("ACKS", "worker");
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->num_ack_pending, 0);
  EXPECT_EQ(info->num_redelivered, 0);
}

// A pull request in flight when the server dies ends at once as kConnectionLost, not at its
// expiry: the server that held it is gone, so nothing can come to it. (It used to wait out its
// expiry, here 30 s, and end as kTimeout; a consumer's loop sat idle that long after a restart.)
TEST(ReconnectTest, FetchInFlightWhenTheServerDiesFailsAsConnectionLost) {
  NatsServer server;
  auto conn = connect_or_die(test_options(server.url()));
  JetStream js(conn);
  StreamConfig stream;
  stream.name = "IDLE";
  stream.subjects = {"idle.>"};
  ASSERT_TRUE(js.create_or_update_stream(stream).ok());
  ConsumerConfig consumer;
  consumer.durable_name = "waiting";
  ASSERT_TRUE(js.create_or_update_consumer("IDLE", consumer).ok());
  Result<std::vector<JsMessage>> got = Status(ErrorCode::kTimeout, "not run");
  std::atomic<bool> returned{false};
  std::thread fetcher([&] {
    got = js.fetch("IDLE", "waiting", 10, 30s);
    returned = true;
  });
  // The pull request waits on the server.
  const bool waiting = wait_until(
      [&] {
        auto i = js.consumer_info("IDLE", "waiting");
        return i.ok() && i->num_waiting == 1;
      },
      10s, 20ms);
  server.stop(SIGKILL);
  // Long before its 30 s.
  EXPECT_TRUE(wait_until([&] { return returned.load(); }, 10s));
  fetcher.join();
  ASSERT_TRUE(waiting);
  EXPECT_EQ(got.status().code(), ErrorCode::kConnectionLost) << got.status().to_string();
}

}  // namespace
}  // namespace kubefn::nats
