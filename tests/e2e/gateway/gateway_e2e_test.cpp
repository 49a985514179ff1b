// The gateway in front of real kubefn-runtime processes serving the example functions and
// the runtime's test fixture.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <regex>

#include "gateway_fixture.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"
#include "runtime_process.hpp"

namespace kubefn::gateway {
namespace {

using e2e::local;
using e2e::make_route;
using kubefn::testing::build_request;
using kubefn::testing::http_request;
using kubefn::testing::http_status;
using kubefn::testing::HttpConnection;
using kubefn::testing::metric_value;
using kubefn::testing::RuntimeProcess;
using kubefn::testing::wait_until;
using std::chrono::milliseconds;
using std::chrono::seconds;

class GatewayE2E : public e2e::GatewayTest {
 protected:
  // Routes "slow" to `slow` (the fixture's sleepy handler) one call at a time, starts the
  // gateway with `options`, and sends a call of `ms` milliseconds on `holder_`, returning once
  // it holds the one slot: calls after it queue.
  void hold_the_slot(const RuntimeProcess& slow, const GatewayOptions& options, int ms) {
    auto route = make_route("slow", {local("s0", slow.port())});
    route.concurrency = 1;
    routes_.upsert(route);
    start(options);
    slow_ = routes_.find("default", "slow")->state;
    holder_ = std::make_unique<HttpConnection>(port());
    ASSERT_TRUE(
        holder_->send(build_request("GET", "/default/slow?ms=" + std::to_string(ms), "", {})));
    ASSERT_TRUE(wait_until([&] { return slow_->limiter.inflight() == 1; }, seconds(10)));
  }

  std::shared_ptr<FunctionState> slow_;
  std::unique_ptr<HttpConnection> holder_;
};

TEST_F(GatewayE2E, InvokesFunctionsByPathAndByHost) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  RuntimeProcess fixture(KUBEFN_FIXTURE_SO, "describe");
  ASSERT_TRUE(hello.started() && fixture.started());
  routes_.upsert(make_route("hello", {local("h0", hello.port())}));
  auto describe = make_route("describe", {local("d0", fixture.port())});
  describe.host = "describe.example.com";
  routes_.upsert(describe);
  kube::ClaimPolicy hosts;
  hosts.allowances = {{"default", "*.example.com"}};
  routes_.set_claim_policy(hosts);
  start();

  auto r = http_request(port(), "GET", "/default/hello?name=gateway");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello gateway\n");

  // Keep-alive: several calls on one client connection reuse one upstream connection.
  HttpConnection c(port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.send(
        build_request("GET", "/default/hello?name=n" + std::to_string(i), "", {{"Host", "gw"}})));
    auto reply = c.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->body, "hello n" + std::to_string(i) + "\n");
  }

  r = http_request(port(), "POST", "/default/describe/some/path?q=1", "body",
                   {{"X-Test", "passed"}, {"Content-Type", "text/plain"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-handled-by"), "describe");
  EXPECT_NE(r->body.find("\"path\":\"/some/path\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"query\":\"q=1\""), std::string::npos);
  EXPECT_NE(r->body.find("\"x_test\":\"passed\""), std::string::npos);
  EXPECT_NE(r->body.find("\"body_bytes\":4"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r->body, m, std::regex("\"event_id\":\"([0-9a-f]{16})\"")))
      << r->body;

  r = http_request(port(), "GET", "/default/describe/x", "", {{"event-id", "caller-id"}});
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("\"event_id\":\"caller-id\""), std::string::npos) << r->body;

  // Host-based route: the whole target goes upstream.
  HttpConnection by_host(port());
  ASSERT_TRUE(by_host.send("GET /by/host?z=2 HTTP/1.1\r\nHost: Describe.Example.com:8080\r\n\r\n"));
  r = by_host.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"path\":\"/by/host\""), std::string::npos) << r->body;
}

FunctionRoute claiming(const std::string& ns, const std::string& name, std::vector<Endpoint> eps,
                       const std::string& created, const std::string& host,
                       const std::string& path = {}, Access access = Access::kPublic) {
  FunctionRoute r = make_route(name, std::move(eps), access);
  r.ns = ns;
  r.created = created;
  r.host = host;
  r.path = path;
  return r;
}

TEST_F(GatewayE2E, PathTriggersRouteByPrefixAndNeverShadowDefaultRoutes) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  RuntimeProcess fixture(KUBEFN_FIXTURE_SO, "describe");
  ASSERT_TRUE(hello.started() && fixture.started());
  routes_.upsert(claiming("default", "hello", {local("h0", hello.port())}, "2024-01-01T00:00:00Z",
                          "", "/hello"));
  // A later claim of the same prefix gets nothing; a one-segment claim that looks like a
  // namespace gets only what no function's own route takes.
  routes_.upsert(claiming("default", "late", {local("d0", fixture.port())}, "2024-01-02T00:00:00Z",
                          "", "/hello"));
  routes_.upsert(claiming("other", "catchall", {local("d1", fixture.port())},
                          "2024-01-01T00:00:00Z", "", "/default"));
  start();

  auto r = http_request(port(), "GET", "/hello?name=path");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello path\n");
  r = http_request(port(), "GET", "/hello/deeper/still?name=rest");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello rest\n");
  r = http_request(port(), "GET", "/hellox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  // The function's own route comes before the "/default" claim.
  r = http_request(port(), "GET", "/default/hello?name=own");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello own\n");
  // A path no function's own route takes goes to the claim, with the prefix cut off.
  r = http_request(port(), "POST", "/default/nothing/here?q=1", "x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-handled-by"), "describe");
  EXPECT_NE(r->body.find("\"path\":\"/nothing/here\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"query\":\"q=1\""), std::string::npos) << r->body;
  EXPECT_EQ(hello.metric("function_calls_total{method=\"GET\"}"), 3);
  // The holder goes: the next claimant holds the prefix.
  routes_.remove("default", "hello");
  r = http_request(port(), "GET", "/hello/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-handled-by"), "describe");
  EXPECT_NE(r->body.find("\"path\":\"/x\""), std::string::npos) << r->body;
}

TEST_F(GatewayE2E, HostTriggersCannotTakeOverTheGatewayOrAnotherFunction) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  RuntimeProcess thief(KUBEFN_FIXTURE_SO, "describe");
  ASSERT_TRUE(hello.started() && thief.started());
  kube::ClaimPolicy hosts;
  hosts.reserved_hosts = {"gw.example.com"};
  hosts.allowances = {{"*", "*"}};
  routes_.set_claim_policy(hosts);
  keys_.set({"good-token"});
  routes_.upsert(make_route("secret", {local("h0", hello.port())}, Access::kPrivate));
  routes_.upsert(claiming("default", "api", {local("h1", hello.port())}, "2024-01-01T00:00:00Z",
                          "api.example.com"));
  // Each of these would receive every caller's requests (tokens and bodies) if routed.
  for (const char* host : {"localhost", "gw.example.com", "127.0.0.1"}) {
    routes_.upsert(claiming("evil", std::string("thief-") + host, {local("t0", thief.port())},
                            "2000-01-01T00:00:00Z", host));
  }
  routes_.upsert(claiming("evil", "late", {local("t1", thief.port())}, "2024-06-01T00:00:00Z",
                          "api.example.com"));
  start();
  auto send = [&](const std::string& host, const std::string& target,
                  const std::string& auth = {}) {
    HttpConnection c(port());
    std::string head = "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n";
    if (!auth.empty()) head += "Authorization: Bearer " + auth + "\r\n";
    EXPECT_TRUE(c.send(head + "\r\n"));
    return c.read_reply();
  };
  for (const char* host : {"localhost", "LOCALHOST:8080", "gw.example.com", "127.0.0.1:8080"}) {
    auto r = send(host, "/default/secret?name=mine", "good-token");
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 200) << host;
    EXPECT_EQ(r->body, "hello mine\n") << host;
    EXPECT_EQ(r->header("x-handled-by"), "") << host;
    r = send(host, "/anything");
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 404) << host;
  }
  // The first allowed claimant holds a host; a function's own route still wins on it.
  auto r = send("api.example.com", "/?name=api");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello api\n");
  r = send("api.example.com", "/default/secret");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(thief.metric("function_calls_total{method=\"GET\"}"), 0);
  EXPECT_EQ(routes_.find("evil", "thief-localhost")->claims.summary().reason,
            kube::kHostNotAllowedReason);
  EXPECT_EQ(routes_.find("evil", "late")->claims.summary().reason, kube::kHostConflictReason);
}

TEST_F(GatewayE2E, ScopedTokensOpenOnlyTheirFunctions) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(hello.started());
  for (const char* ns : {"a", "b"}) {
    FunctionRoute r = make_route("fn", {local("h0", hello.port())}, Access::kPrivate);
    r.ns = ns;
    routes_.upsert(r);
  }
  keys_.set_keys({{"team-a-token", {"a/*"}}, {"one-token", {"b/fn"}}, {"admin-token", {"*"}}});
  start();
  auto status = [&](const std::string& target, const std::string& token) {
    return http_status(port(), target, {{"Authorization", "Bearer " + token}});
  };
  EXPECT_EQ(status("/a/fn", "team-a-token"), 200);
  EXPECT_EQ(status("/b/fn", "team-a-token"), 403);
  EXPECT_EQ(status("/b/fn", "one-token"), 200);
  EXPECT_EQ(status("/a/fn", "one-token"), 403);
  EXPECT_EQ(status("/a/fn", "admin-token"), 200);
  EXPECT_EQ(status("/b/fn", "admin-token"), 200);
}

TEST_F(GatewayE2E, PrivateFunctionsNeedAValidBearerToken) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(hello.started());
  routes_.upsert(make_route("secret", {local("h0", hello.port())}, Access::kPrivate));
  keys_.set({"good-token"});
  start();
  auto none = http_request(port(), "GET", "/default/secret");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->header("www-authenticate"), "Bearer");
  auto basic = http_request(port(), "GET", "/default/secret", "",
                            {{"Authorization", "Basic Z29vZC10b2tlbg=="}});
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 401);
  auto wrong =
      http_request(port(), "GET", "/default/secret", "", {{"Authorization", "Bearer bad-token"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  auto ok =
      http_request(port(), "GET", "/default/secret", "", {{"Authorization", "Bearer good-token"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "hello world\n");
  EXPECT_EQ(hello.metric("function_calls_total{method=\"GET\"}"), 1);
}

TEST_F(GatewayE2E, UnknownFunctionsAndReservedPaths) {
  start();
  auto r = http_request(port(), "GET", "/default/nothing/here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_NE(r->body.find("\"status\":404"), std::string::npos);
  EXPECT_EQ(http_status(port(), "/"), 404);
  EXPECT_EQ(http_status(port(), "/healthz"), 200);
  EXPECT_EQ(http_status(port(), "/readyz"), 200);
  // Metrics are on the metrics listener only.
  EXPECT_EQ(http_status(port(), "/metrics"), 404);
  EXPECT_NE(metrics().find("process_cpu_seconds_total"), std::string::npos);
  EXPECT_EQ(metric("kubefn_gateway_requests_total{code=\"404\",function=\"\",namespace=\"\"}"), 3);
}

TEST_F(GatewayE2E, NoReadyReplicaIs503WithRetryAfter) {
  auto r0 = make_route("cold", {Endpoint{"p0", "127.0.0.1", 1, false}});
  routes_.upsert(r0);
  routes_.upsert(make_route("none", {}));
  start();
  for (const char* target : {"/default/cold", "/default/none/x"}) {
    auto r = http_request(port(), "GET", target);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << target;
    EXPECT_EQ(r->header("retry-after"), "1");
  }
}

TEST_F(GatewayE2E, ActivationWaitsForAFirstReplica) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(hello.started());
  routes_.upsert(make_route("hello", {}));
  std::atomic<int> demanded{0};
  GatewayOptions o;
  o.activation_timeout = seconds(20);
  o.on_demand = [&](const std::string& ns, const std::string& name) {
    if (ns == "default" && name == "hello") ++demanded;
  };
  start(o);
  auto pending = std::async(std::launch::async, [&] {
    return http_request(port(), "GET", "/default/hello", "", {}, seconds(30));
  });
  ASSERT_TRUE(wait_until([&] { return demanded.load() > 0; }, seconds(10)));
  routes_.set_endpoints("default", "hello", {local("h0", hello.port())});
  auto r = pending.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world\n");
}

TEST_F(GatewayE2E, ConcurrencyLimitQueuesThenRejects) {
  RuntimeProcess slow(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(slow.started());
  GatewayOptions o;
  o.queue_limit = 1;
  o.queue_timeout = seconds(30);
  ASSERT_NO_FATAL_FAILURE(hold_the_slot(slow, o, 1500));
  auto& state = slow_;
  auto& a = *holder_;

  HttpConnection b(port());
  ASSERT_TRUE(b.send(build_request("GET", "/default/slow?ms=10", "", {})));
  ASSERT_TRUE(wait_until([&] { return state->limiter.queued() == 1; }, seconds(10)));
  EXPECT_EQ(metric("kubefn_gateway_queued_requests"), 1);

  auto c = http_request(port(), "GET", "/default/slow?ms=10");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 429);
  EXPECT_EQ(c->header("retry-after"), "1");

  auto ra = a.read_reply(seconds(30));
  auto rb = b.read_reply(seconds(30));
  ASSERT_TRUE(ra && rb);
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(rb->status, 200);  // served once the first call freed the slot
  EXPECT_EQ(slow.metric("function_calls_total{method=\"GET\"}"), 2);
  EXPECT_EQ(state->limiter.inflight(), 0);
}

TEST_F(GatewayE2E, QueueTimeoutIs503) {
  RuntimeProcess slow(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(slow.started());
  GatewayOptions o;
  o.queue_limit = 5;
  o.queue_timeout = milliseconds(200);
  ASSERT_NO_FATAL_FAILURE(hold_the_slot(slow, o, 3000));
  auto& state = slow_;
  auto& a = *holder_;
  auto b = http_request(port(), "GET", "/default/slow?ms=1", "", {}, seconds(20));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 503);
  EXPECT_EQ(b->header("retry-after"), "1");
  EXPECT_EQ(state->limiter.queued(), 0u);
  auto ra = a.read_reply(seconds(30));
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->status, 200);
}

TEST_F(GatewayE2E, RequestTimeoutIs504) {
  RuntimeProcess slow(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(slow.started());
  auto route = make_route("slow", {local("s0", slow.port())});
  route.timeout = milliseconds(300);
  routes_.upsert(route);
  start();
  auto r = http_request(port(), "GET", "/default/slow?ms=3000", "", {}, seconds(20));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  // The gateway still serves the function afterwards (on a fresh upstream connection).
  r = http_request(port(), "GET", "/default/slow?ms=1", "", {}, seconds(20));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(GatewayE2E, KilledReplicaFailsOverWithoutErrors) {
  RuntimeProcess one(KUBEFN_HELLO_SO, "greet");
  RuntimeProcess two(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(one.started() && two.started());
  routes_.upsert(make_route("hello", {local("one", one.port()), local("two", two.port())}));
  start();
  // Warm both replicas' pools on both gateway threads.
  for (int i = 0; i < 20; ++i) {
    HttpConnection c(port());
    ASSERT_TRUE(c.send(build_request("GET", "/default/hello", "", {})));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  EXPECT_GT(one.metric("function_calls_total{method=\"GET\"}"), 0);
  EXPECT_GT(two.metric("function_calls_total{method=\"GET\"}"), 0);
  one.process().signal(SIGKILL);
  ASSERT_TRUE(one.process().wait_exit(seconds(10)).has_value());
  // The dead replica is still listed as ready: its pooled connections are found closed
  // before anything is written and new connections are refused, so every call goes to the
  // other replica.
  const double before = two.metric("function_calls_total{method=\"GET\"}");
  for (int i = 0; i < 30; ++i) {
    auto r = http_request(port(), "GET", "/default/hello?name=r" + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i;
  }
  EXPECT_EQ(two.metric("function_calls_total{method=\"GET\"}") - before, 30);
  EXPECT_EQ(metric("kubefn_gateway_requests_total{code=\"200\",function=\"hello\","
                   "namespace=\"default\"}"),
            50);
}

TEST_F(GatewayE2E, AllReplicasDownIs502) {
  // A port nobody listens on: bind and close to find one.
  std::uint16_t dead = 0;
  {
    RuntimeProcess tmp(KUBEFN_HELLO_SO, "greet");
    ASSERT_TRUE(tmp.started());
    dead = tmp.port();
    tmp.process().signal(SIGKILL);
    ASSERT_TRUE(tmp.process().wait_exit(seconds(10)).has_value());
  }
  routes_.upsert(make_route("gone", {local("g", dead)}));
  start();
  auto r = http_request(port(), "GET", "/default/gone");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
}

TEST_F(GatewayE2E, LargeChunkedBodyIsReframed) {
  RuntimeProcess echo(KUBEFN_ECHO_SO, "echo");
  ASSERT_TRUE(echo.started());
  routes_.upsert(make_route("echo", {local("e0", echo.port())}));
  start();
  std::string body;
  for (int i = 0; body.size() < 3 * 1024 * 1024; ++i)
    body += "line " + std::to_string(i) + "\n";
  std::string req =
      "POST /default/echo HTTP/1.1\r\nHost: gw\r\nContent-Type: text/x-test\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (std::size_t off = 0; off < body.size(); off += 100000) {
    std::size_t n = std::min<std::size_t>(100000, body.size() - off);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", n);
    req += hex;
    req.append(body, off, n);
    req += "\r\n";
  }
  req += "0\r\n\r\n";
  HttpConnection c(port());
  ASSERT_TRUE(c.send(req));
  auto r = c.read_reply(seconds(30));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/x-test");
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body);
}

TEST_F(GatewayE2E, MetricsMove) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(hello.started());
  routes_.upsert(make_route("hello", {local("h0", hello.port())}));
  start();
  const std::string ok =
      "kubefn_gateway_requests_total{code=\"200\",function=\"hello\",namespace=\"default\"}";
  EXPECT_EQ(metric_value(metrics(), ok), std::nullopt);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(http_request(port(), "GET", "/default/hello"));
  // A call is counted once its answer is written: the client may read the third answer
  // before the gateway has counted it.
  std::string text;
  EXPECT_TRUE(wait_until(
      [&] {
        text = metrics();
        return metric_value(text, ok) == 3 &&
               metric_value(text, "kubefn_gateway_inflight_requests") == 0;
      },
      seconds(10)));
  EXPECT_EQ(metric_value(text, ok), 3);
  EXPECT_EQ(metric_value(text, "kubefn_gateway_overhead_seconds_count"), 3);
  EXPECT_GT(metric_value(text, "kubefn_gateway_overhead_seconds_sum").value_or(0), 0);
  EXPECT_EQ(metric_value(text, "kubefn_gateway_upstream_duration_seconds_count"), 3);
  EXPECT_EQ(metric_value(text, "kubefn_gateway_inflight_requests"), 0);
  auto load = gateway_->take_load();
  ASSERT_EQ(load.size(), 1u);
  EXPECT_EQ(load[0].name, "hello");
  EXPECT_EQ(load[0].requests, 3u);
  EXPECT_EQ(load[0].peak_inflight, 1);
  EXPECT_EQ(load[0].ready_endpoints, 1);
  EXPECT_EQ(gateway_->take_load()[0].requests, 0u);
}

TEST_F(GatewayE2E, StopFinishesInFlightRequests) {
  RuntimeProcess slow(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(slow.started());
  routes_.upsert(make_route("slow", {local("s0", slow.port())}));
  start();
  auto state = routes_.find("default", "slow")->state;
  HttpConnection c(port());
  ASSERT_TRUE(c.send(build_request("GET", "/default/slow?ms=800", "", {})));
  ASSERT_TRUE(wait_until([&] { return state->inflight.load() == 1; }, seconds(10)));
  const std::uint16_t p = port();
  std::thread stopper([&] { gateway_->stop(); });
  auto r = c.read_reply(seconds(30));
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slept");
  EXPECT_EQ(r->header("connection"), "close");
  HttpConnection after(p);
  EXPECT_FALSE(after.connected());
}

TEST(GatewayBinary, ServesStaticRoutesWithKeysFileAndExitsCleanlyOnSigterm) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(hello.started());
  kubefn::testing::TempDir dir;
  auto keys = dir.write("keys", "# tokens\nfile-token\nscoped-token other/*\n");
  kubefn::testing::ChildProcess gw(
      {KUBEFN_GATEWAY_BIN, "--port", "0", "--metrics-port", "0", "--threads", "1", "--keys-file",
       keys.string(), "--route", "default/hello=127.0.0.1:" + std::to_string(hello.port()),
       "--route", "default/open=127.0.0.1:" + std::to_string(hello.port()) + ";public;path=/hi"},
      {}, dir.file("stdout"), dir.file("stderr"));
  std::uint16_t port = 0;
  static const std::regex kListening("\"msg\":\"listening\",\"port\":([0-9]+)");
  ASSERT_TRUE(wait_until(
      [&] {
        std::smatch m;
        std::string err = kubefn::testing::read_file(dir.file("stderr"));
        if (std::regex_search(err, m, kListening)) {
          port = static_cast<std::uint16_t>(std::stoi(m[1]));
          return true;
        }
        return false;
      },
      seconds(10)));
  static const std::regex kMetrics("\"msg\":\"metrics listening\",\"port\":([0-9]+)");
  std::smatch mm;
  const std::string err = kubefn::testing::read_file(dir.file("stderr"));
  ASSERT_TRUE(std::regex_search(err, mm, kMetrics)) << err;
  auto scraped = http_request(static_cast<std::uint16_t>(std::stoi(mm[1])), "GET", "/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_EQ(scraped->status, 200);
  EXPECT_NE(scraped->body.find("kubefn_gateway_buffered_bytes"), std::string::npos);
  auto open = http_request(port, "GET", "/default/open?name=bin");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->body, "hello bin\n");
  auto denied = http_request(port, "GET", "/default/hello");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto ok =
      http_request(port, "GET", "/default/hello", "", {{"Authorization", "Bearer file-token"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto scoped =
      http_request(port, "GET", "/default/hello", "", {{"Authorization", "Bearer scoped-token"}});
  ASSERT_TRUE(scoped);
  EXPECT_EQ(scoped->status, 403);
  auto by_path = http_request(port, "GET", "/hi?name=path");
  ASSERT_TRUE(by_path);
  EXPECT_EQ(by_path->body, "hello path\n");
  gw.signal(SIGTERM);
  EXPECT_EQ(gw.wait_exit(seconds(20)), 0);
}

TEST(GatewayBinary, RefusesBadKeysFilesAndReservedHosts) {
  kubefn::testing::TempDir dir;
  auto bad_keys = dir.write("keys", "ok-token\nother-token Team/*\n");
  auto run = [&](std::vector<std::string> args, const std::string& name) {
    args.insert(args.begin(), {KUBEFN_GATEWAY_BIN, "--port", "0", "--metrics-port", "-1"});
    kubefn::testing::ChildProcess gw(args, {}, dir.file(name + ".out"), dir.file(name + ".err"));
    const int code = gw.wait_exit(seconds(10)).value_or(-1);
    return std::pair{code, kubefn::testing::read_file(dir.file(name + ".err"))};
  };
  auto [code, err] = run({"--keys-file", bad_keys.string()}, "keys");
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("line 2: scope \\\"Team/*\\\""), std::string::npos) << err;
  EXPECT_EQ(err.find("other-token"), std::string::npos) << err;
  std::tie(code, err) =
      run({"--reserved-host", "gw.example.com", "--route", "x/f=127.0.0.1:1;host=GW.example.com"},
          "reserved");
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("host gw.example.com is reserved for the gateway"), std::string::npos) << err;
  std::tie(code, err) = run({"--route", "x/f=127.0.0.1:1;host=localhost"}, "localhost");
  EXPECT_EQ(code, 2);
  std::tie(code, err) = run({"--allow-host", "team"}, "allow");
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("NAMESPACE=PATTERN"), std::string::npos) << err;
}

}  // namespace
}  // namespace kubefn::gateway
