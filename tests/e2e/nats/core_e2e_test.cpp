// Core NATS against a real nats-server: pub/sub, queue groups, request/reply, credentials,
// payload limits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/nats/connection.hpp"
#include "kubefn/testing/free_port.hpp"
#include "kubefn/testing/nats_server.hpp"
#include "kubefn/testing/wait.hpp"
#include "test_util.hpp"

namespace kubefn::nats {
namespace {

using namespace std::chrono_literals;
using kubefn::testing::wait_until;
using testing::connect_or_die;
using testing::NatsServer;
using testing::test_options;

class CoreTest : public ::testing::Test {
 protected:
  NatsServer server_;
};

TEST_F(CoreTest, PublishedMessagesReachSubscribersWithHeaders) {
  auto conn = connect_or_die(test_options(server_.url()));
  EXPECT_EQ(conn.state(), ConnectionState::kConnected);
  EXPECT_EQ(conn.server_info().version, "2.9.10");
  EXPECT_TRUE(conn.server_info().jetstream);
  auto exact = conn.subscribe_sync("orders.new");
  ASSERT_TRUE(exact.ok()) << exact.status().to_string();
  auto wildcard = conn.subscribe_sync("orders.*");
  ASSERT_TRUE(wildcard.ok());
  ASSERT_TRUE(conn.flush(5s).ok());

  auto other = connect_or_die(test_options(server_.url()));
  Message m;
  m.subject = "orders.new";
  m.reply = "orders.replies";
  m.headers.add("X-Trace", "abc");
  m.headers.add("X-Trace", "def");
  m.data = std::string("bin\0ary\r\nPUB x 1\r\n", 18);
  ASSERT_TRUE(other.publish(m).ok());
  ASSERT_TRUE(other.publish("orders.old", "plain").ok());

  auto got = exact->next(5s);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->subject, "orders.new");
  EXPECT_EQ(got->reply, "orders.replies");
  EXPECT_EQ(got->data, m.data);
  EXPECT_EQ(got->headers.get_all("x-trace"), (std::vector<std::string_view>{"abc", "def"}));
  EXPECT_EQ(got->status, 0);
  auto w1 = wildcard->next(5s);
  auto w2 = wildcard->next(5s);
  ASSERT_TRUE(w1.ok() && w2.ok());
  EXPECT_EQ(w1->subject, "orders.new");
  EXPECT_EQ(w2->subject, "orders.old");
  EXPECT_EQ(w2->data, "plain");
  EXPECT_EQ(exact->next(100ms).status().code(), ErrorCode::kTimeout);
}

TEST_F(CoreTest, BadSubjectsAreErrorValues) {
  auto conn = connect_or_die(test_options(server_.url()));
  EXPECT_EQ(conn.publish("a b", "x").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(conn.publish("a.*", "x").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(conn.subscribe_sync("a..b").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(conn.subscribe_sync("a", "bad queue").status().code(), ErrorCode::kInvalidArgument);
  // The connection is unharmed.
  EXPECT_TRUE(conn.flush(5s).ok());
}

TEST_F(CoreTest, QueueGroupMembersShareTheMessages) {
  auto conn = connect_or_die(test_options(server_.url()));
  std::atomic<int> a{0}, b{0}, all{0};
  auto sa = conn.subscribe(
      "jobs", [&](Message&&) { ++a; }, "workers");
  auto sb = conn.subscribe(
      "jobs", [&](Message&&) { ++b; }, "workers");
  auto sall = conn.subscribe("jobs", [&](Message&&) { ++all; });
  ASSERT_TRUE(sa.ok() && sb.ok() && sall.ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(conn.publish("jobs", std::to_string(i)).ok());
  ASSERT_TRUE(wait_until([&] { return a + b == 200 && all == 200; }, 10s))
      << a << " + " << b << ", all " << all;
  EXPECT_GT(a.load(), 0);
  EXPECT_GT(b.load(), 0);
}

TEST_F(CoreTest, AutoUnsubscribeEndsAfterMax) {
  auto conn = connect_or_die(test_options(server_.url()));
  auto sub = conn.subscribe_sync("ticks");
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub->auto_unsubscribe(3).ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(conn.publish("ticks", std::to_string(i)).ok());
  for (int i = 0; i < 3; ++i) {
    auto m = sub->next(5s);
    ASSERT_TRUE(m.ok()) << i << ": " << m.status().to_string();
    EXPECT_EQ(m->data, std::to_string(i));
  }
  EXPECT_EQ(sub->next(200ms).status().code(), ErrorCode::kClosed);
  EXPECT_EQ(sub->delivered(), 3u);
}

TEST_F(CoreTest, UnsubscribedHandlerNeverRunsAgain) {
  auto conn = connect_or_die(test_options(server_.url()));
  std::atomic<int> calls{0};
  auto sub = conn.subscribe("beat", [&](Message&&) { ++calls; });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  ASSERT_TRUE(conn.publish("beat", "1").ok());
  ASSERT_TRUE(wait_until([&] { return calls == 1; }, 5s));
  sub->unsubscribe();
  ASSERT_TRUE(conn.publish("beat", "2").ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  // A probe published after "2" arrives after it would have: then "2" was not delivered.
  auto probe = conn.subscribe_sync("beat");
  ASSERT_TRUE(probe.ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  ASSERT_TRUE(conn.publish("beat", "3").ok());
  ASSERT_TRUE(probe->next(5s).ok());
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(CoreTest, RequestGetsTheReply) {
  auto conn = connect_or_die(test_options(server_.url()));
  auto responder_conn = connect_or_die(test_options(server_.url()));
  auto responder = responder_conn.subscribe("greet", [&](Message&& m) {
    Message reply;
    reply.subject = m.reply;
    reply.data = "hello " + m.data;
    reply.headers.add("Answered-By", "responder");
    (void)responder_conn.publish(reply);
  });
  ASSERT_TRUE(responder.ok());
  ASSERT_TRUE(responder_conn.flush(5s).ok());
  for (int i = 0; i < 20; ++i) {
    auto r = conn.request("greet", "you" + std::to_string(i), 5s);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->data, "hello you" + std::to_string(i));
    EXPECT_EQ(r->headers.get("answered-by"), "responder");
  }
}

TEST_F(CoreTest, RequestWithoutRespondersOrAnswerIsAnErrorValue) {
  auto conn = connect_or_die(test_options(server_.url()));
  auto none = conn.request("nobody.home", "x", 5s);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), ErrorCode::kNoResponders);
  EXPECT_EQ(none.status().server_code(), 503);

  auto silent = conn.subscribe_sync("silent");  // subscribes, never answers
  ASSERT_TRUE(silent.ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  auto late = conn.request("silent", "x", 200ms);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), ErrorCode::kTimeout);
}

TEST_F(CoreTest, HandlersMayCallTheConnectionTheyRunOn) {
  auto responder = connect_or_die(test_options(server_.url()));
  auto echo =
      responder.subscribe("echo", [&](Message&& m) { (void)responder.publish(m.reply, m.data); });
  ASSERT_TRUE(echo.ok());
  ASSERT_TRUE(responder.flush(5s).ok());

  auto conn = connect_or_die(test_options(server_.url()));
  std::atomic<bool> answered{false};
  // A handler that makes a request on its own connection: replies are read by the reader
  // thread, not the callback thread the handler blocks, so this does not deadlock.
  auto asker = conn.subscribe("ask", [&](Message&& m) {
    auto r = conn.request("echo", m.data, 5s);
    answered = r.ok() && r->data == "ping";
  });
  ASSERT_TRUE(asker.ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  ASSERT_TRUE(conn.publish("ask", "ping").ok());
  EXPECT_TRUE(wait_until([&] { return answered.load(); }, 10s));
}

TEST_F(CoreTest, LargeMessageNearMaxPayloadArrivesWhole) {
  auto conn = connect_or_die(test_options(server_.url()));
  const std::int64_t max = conn.max_payload();
  ASSERT_EQ(max, 1024 * 1024);
  auto sub = conn.subscribe_sync("big");
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(conn.flush(5s).ok());
  Message m;
  m.subject = "big";
  m.headers.add("Kind", "blob");
  const std::size_t header_bytes = std::string("NATS/1.0\r\nKind: blob\r\n\r\n").size();
  m.data.resize(static_cast<std::size_t>(max) - header_bytes);
  for (std::size_t i = 0; i < m.data.size(); ++i)
    m.data[i] = static_cast<char>((i * 131) >> 3);
  ASSERT_TRUE(conn.publish(m).ok());
  auto got = sub->next(10s);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->data.size(), m.data.size());
  EXPECT_TRUE(got->data == m.data);
  EXPECT_EQ(got->headers.get("kind"), "blob");

  m.data.push_back('x');  // one byte over
  const Status too_big = conn.publish(m);
  EXPECT_EQ(too_big.code(), ErrorCode::kMaxPayload) << too_big.to_string();
  // Refused before it was sent: the server did not close the connection.
  EXPECT_TRUE(conn.flush(5s).ok());
  EXPECT_EQ(conn.reconnects(), 0u);
}

TEST(ConnectTest, NoServerIsAClearError) {
  const std::uint16_t port = kubefn::testing::free_port();
  auto c = Connection::connect(test_options("nats://127.0.0.1:" + std::to_string(port)));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kConnectionFailed);
  EXPECT_NE(c.status().message().find("Connection refused"), std::string::npos)
      << c.status().message();
  EXPECT_EQ(Connection::connect(test_options("nats://127.0.0.1:0")).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(ConnectTest, TriesEveryUrlInTurn) {
  NatsServer server;
  const std::uint16_t dead = kubefn::testing::free_port();
  auto c = Connection::connect(
      test_options("nats://127.0.0.1:" + std::to_string(dead) + ", " + server.url()));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->flush(5s).ok());
}

TEST(AuthTest, UserAndPassword) {
  NatsServer server({"--user", "alice", "--pass", "s3cret"});
  const std::string host = "127.0.0.1:" + std::to_string(server.port());

  auto in_url = Connection::connect(test_options("nats://alice:s3cret@" + host));
  ASSERT_TRUE(in_url.ok()) << in_url.status().to_string();
  EXPECT_TRUE(in_url->server_info().auth_required);
  EXPECT_TRUE(in_url->flush(5s).ok());

  auto options = test_options("nats://" + host);
  options.user = "alice";
  options.password = "s3cret";
  auto in_options = Connection::connect(options);
  ASSERT_TRUE(in_options.ok()) << in_options.status().to_string();

  options.password = "wrong";
  auto wrong = Connection::connect(options);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), ErrorCode::kAuthorization) << wrong.status().to_string();
  EXPECT_NE(wrong.status().message().find("Authorization Violation"), std::string::npos)
      << wrong.status().message();

  auto none = Connection::connect(test_options("nats://" + host));
  EXPECT_EQ(none.status().code(), ErrorCode::kAuthorization) << none.status().to_string();
}

TEST(AuthTest, Token) {
  NatsServer server({"--auth", "t0ken"});
  auto good =
      Connection::connect(test_options("nats://t0ken@127.0.0.1:" + std::to_string(server.port())));
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  auto options = test_options(server.url());
  options.token = "nope";
  EXPECT_EQ(Connection::connect(options).status().code(), ErrorCode::kAuthorization);
}

}  // namespace
}  // namespace kubefn::nats
