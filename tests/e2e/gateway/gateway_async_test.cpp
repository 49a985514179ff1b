// Asynchronous calls at the gateway, against a real nats-server with JetStream: the call is in
// the stream before the 202, as the caller sent it minus its credentials; its state reads
// back; a queue that cannot be reached is a 503 with Retry-After, a call too large for it 413.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <string>

#include "gateway_fixture.hpp"
#include "kubefn/async/call.hpp"
#include "kubefn/async/call_store.hpp"
#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream.hpp"
#include "kubefn/testing/free_port.hpp"
#include "kubefn/testing/nats_server.hpp"
#include "kubefn/testing/source_server.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::gateway {
namespace {

using kubefn::testing::http_request;
using namespace std::chrono_literals;

class GatewayAsync : public e2e::GatewayTest {
 protected:
  void start_with_queue(const std::string& url) {
    async::CallFrontOptions a;
    a.url = url;
    a.timeout = 2s;
    GatewayOptions o;
    o.async_calls = std::make_shared<async::CallFront>(a);
    // Never reached: an asynchronous call is queued, not forwarded.
    routes_.upsert(e2e::make_route("jobs", {e2e::local("r0", 1)}, Access::kPrivate));
    keys_.set({"good-token"});
    start(o);
  }
};

TEST_F(GatewayAsync, TheCallIsInTheStreamBeforeThe202AndItsStateReadsBack) {
  kubefn::testing::NatsServer server;
  start_with_queue(server.url());
  auto r = http_request(port(), "POST", "/async/default/jobs/resize?size=2", "the body",
                        {{"Authorization", "Bearer good-token"},
                         {"Cookie", "session=1"},
                         {"X-Request-Id", "r-1"},
                         {"Content-Type", "text/plain"},
                         {"X-Callback-Url", "http://127.0.0.1:9/done"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const auto body = nlohmann::json::parse(r->body);
  const std::string id = body.value("id", "");
  ASSERT_TRUE(async::valid_call_id(id)) << r->body;
  EXPECT_EQ(r->header("location"), "/async/default/jobs/calls/" + id);

  // Stored by the time the caller heard 202: read it from the stream.
  auto conn = nats::Connection::connect([&] {
    nats::Options o;
    o.url = server.url();
    return o;
  }());
  ASSERT_TRUE(conn.ok());
  nats::JetStream js(conn.value());
  nats::ConsumerConfig c;
  c.durable_name = "probe";
  c.filter_subject = async::call_filter("default", "jobs");
  ASSERT_TRUE(js.create_or_update_consumer(async::kCallStream, c).ok());
  auto got = js.fetch(async::kCallStream, "probe", 1, 2000ms);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got.value().size(), 1u);
  auto call = async::from_message(got.value()[0].message());
  ASSERT_TRUE(call.ok()) << call.status().message();
  EXPECT_EQ(call->id, id);
  EXPECT_EQ(call->method, "POST");
  EXPECT_EQ(call->target, "/resize?size=2");
  EXPECT_EQ(call->body, "the body");
  EXPECT_EQ(call->callback_url, "http://127.0.0.1:9/done");
  bool request_id = false;
  for (const auto& [name, value] : call->headers) {
    EXPECT_NE(name, "authorization");
    EXPECT_NE(name, "cookie");
    EXPECT_NE(name, "x-callback-url");
    request_id = request_id || (name == "x-request-id" && value == "r-1");
  }
  EXPECT_TRUE(request_id);
  for (const auto& [name, value] : got.value()[0].headers().entries())
    EXPECT_EQ(value.find("good-token"), std::string::npos) << name;

  auto state = http_request(port(), "GET", "/async/default/jobs/calls/" + id, "",
                            {{"Authorization", "Bearer good-token"}});
  ASSERT_TRUE(state);
  ASSERT_EQ(state->status, 200) << state->body;
  const auto s = nlohmann::json::parse(state->body);
  EXPECT_EQ(s.value("state", ""), "queued");
  EXPECT_EQ(s.value("callbackUrl", ""), "http://127.0.0.1:9/done");
  auto unknown = http_request(port(), "GET", "/async/default/jobs/calls/" + std::string(32, 'a'),
                              "", {{"Authorization", "Bearer good-token"}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto malformed = http_request(port(), "GET", "/async/default/jobs/calls/nope", "",
                                {{"Authorization", "Bearer good-token"}});
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 404);
}

TEST_F(GatewayAsync, AQueueThatCannotBeReachedIs503WithRetryAfter) {
  start_with_queue("nats://127.0.0.1:" + std::to_string(kubefn::testing::free_port()));
  // The first tries to connect; the next are answered with that failure (how fast is for
  // bench/, not here: each must answer within the client's timeout).
  for (int i = 0; i < 3; ++i) {
    auto r = http_request(port(), "POST", "/async/default/jobs/", "x",
                          {{"Authorization", "Bearer good-token"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(r->header("retry-after"), "1");
    EXPECT_NE(r->body.find("could not be queued"), std::string::npos) << r->body;
  }
}

TEST_F(GatewayAsync, ACallLargerThanTheQueueTakesIs413) {
  kubefn::testing::TempDir dir;
  const std::string conf = dir.file("nats.conf");
  kubefn::testing::write_file(conf, "max_payload: 65536\n");
  kubefn::testing::NatsServer server({"-c", conf});
  start_with_queue(server.url());
  // The first call connects (and learns the limit); it is small.
  auto r = http_request(port(), "POST", "/async/default/jobs/", "x",
                        {{"Authorization", "Bearer good-token"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  r = http_request(port(), "POST", "/async/default/jobs/", std::string(100000, 'b'),
                   {{"Authorization", "Bearer good-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
}

TEST_F(GatewayAsync, AGatewayStoppedWhileTheQueueWorksGoesCleanly) {
  // A server that takes the connection and never speaks: the queue's connect waits it out.
  kubefn::testing::SourceServer silent;
  ASSERT_TRUE(silent.ok());
  async::CallFrontOptions a;
  a.url = "nats://127.0.0.1:" + std::to_string(silent.port());
  a.timeout = 1500ms;
  a.threads = 1;  // in order: the test's own call below is answered after the gateway's
  auto front = std::make_shared<async::CallFront>(a);  // outlives the gateway
  GatewayOptions o;
  o.async_calls = front;
  o.drain_timeout = 100ms;
  routes_.upsert(e2e::make_route("jobs", {e2e::local("r0", 1)}));
  start(o);
  kubefn::testing::HttpConnection conn(port());
  ASSERT_TRUE(conn.send(kubefn::testing::build_request("POST", "/async/default/jobs/", "x", {})));
  // The call is with the queue's thread; the gateway stops and goes before it answers.
  ASSERT_TRUE(
      kubefn::testing::wait_until([&] { return metric("kubefn_gateway_connections") == 1.0; }, 5s));
  gateway_->stop();
  gateway_.reset();
  std::promise<nats::Status> done;
  async::Call c;
  c.id = async::new_call_id();
  c.ns = "default";
  c.function = "jobs";
  front->enqueue(c, [&](nats::Status st) { done.set_value(st); });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);  // the gateway's answer came first
  EXPECT_FALSE(f.get().ok());
}

}  // namespace
}  // namespace kubefn::gateway
