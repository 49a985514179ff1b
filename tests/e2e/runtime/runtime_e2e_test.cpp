// End-to-end tests of kubefn-runtime: the real process, real sockets, real functions.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/metrics_text.hpp"
#include "kubefn/testing/wait.hpp"
#include "runtime_process.hpp"

namespace kubefn::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string random_bytes(std::size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(RuntimeE2E, RefusesBadConfigurationWithAClearMessage) {
  {
    RuntimeProcess rt(KUBEFN_HELLO_SO, "greet", {{"FUNC_TIMEOUT", "never"}});
    EXPECT_FALSE(rt.started());
    EXPECT_EQ(rt.process().wait_exit(seconds(5)), 2);
    EXPECT_NE(rt.stderr_text().find("FUNC_TIMEOUT"), std::string::npos) << rt.stderr_text();
  }
  {
    RuntimeProcess rt(KUBEFN_HELLO_SO, "nope");
    EXPECT_FALSE(rt.started());
    EXPECT_EQ(rt.process().wait_exit(seconds(5)), 3);
    EXPECT_NE(rt.stderr_text().find("KUBEFN_HANDLER(nope)"), std::string::npos);
  }
  {
    RuntimeProcess rt("/nonexistent/fn.so", "greet");
    EXPECT_EQ(rt.process().wait_exit(seconds(5)), 3);
    EXPECT_NE(rt.stderr_text().find("/nonexistent/fn.so"), std::string::npos);
  }
}

TEST(RuntimeE2E, HelloGreets) {
  RuntimeProcess rt(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  auto r = http_request(rt.port(), "GET", "/any/path?name=kube");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello kube\n");
  EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8");
  EXPECT_FALSE(r->header("date").empty());
}

TEST(RuntimeE2E, EchoesOneMebibyteWithLengthAndChunked) {
  RuntimeProcess rt(KUBEFN_ECHO_SO, "echo");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  const std::string body = random_bytes(1 << 20);
  auto r = http_request(rt.port(), "POST", "/", body, {{"Content-Type", "application/x-blob"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "application/x-blob");
  EXPECT_TRUE(r->body == body) << "echoed body differs (" << r->body.size() << " bytes)";

  HttpConnection c(rt.port());
  std::ostringstream req;
  req << "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t off = 0; off < body.size(); off += 65536) {
    req << std::hex << 65536 << "\r\n" << body.substr(off, 65536) << "\r\n";
  }
  req << "0\r\n\r\n";
  ASSERT_TRUE(c.send(req.str()));
  auto rc = c.read_reply();
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc->status, 200);
  EXPECT_TRUE(rc->body == body);
}

TEST(RuntimeE2E, EventFieldsAndContextReachTheHandler) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "describe",
                    {{"FUNC_TIMEOUT", "7"},
                     {"FUNC_MEMORY_LIMIT", "64Mi"},
                     {"FUNC_RUNTIME", "cpp20"},
                     {"KUBEFN_FUNCTION_NAME", "describer"}});
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  auto r = http_request(rt.port(), "POST", "/orders/7?x=1", "{\"a\":1}",
                        {{"Content-Type", "application/json"},
                         {"event-id", "evt-123"},
                         {"event-type", "order.created"},
                         {"event-time", "2026-11-23T10:00:00Z"},
                         {"event-namespace", "cli.kubefn.dev"},
                         {"X-Test", "yes"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("x-handled-by"), "describe");
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/orders/7");
  EXPECT_EQ(j["query"], "x=1");
  EXPECT_EQ(j["content_type"], "application/json");
  EXPECT_EQ(j["event_id"], "evt-123");
  EXPECT_EQ(j["event_type"], "order.created");
  EXPECT_EQ(j["event_time"], "2026-11-23T10:00:00Z");
  EXPECT_EQ(j["event_namespace"], "cli.kubefn.dev");
  EXPECT_EQ(j["x_test"], "yes");
  EXPECT_EQ(j["function_name"], "describer");
  EXPECT_EQ(j["runtime"], "cpp20");
  EXPECT_EQ(j["timeout_ms"], 7000);
  EXPECT_EQ(j["memory_limit"], 64 * 1024 * 1024);
  EXPECT_GT(j["remaining_ms"].get<int>(), 0);
  EXPECT_EQ(j["body_bytes"], 7);

  // Without event headers the runtime supplies an id and a time; the type follows Content-Type.
  auto bare = http_request(rt.port(), "POST", "/", "x", {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(bare);
  auto b = nlohmann::json::parse(bare->body);
  EXPECT_EQ(b["event_id"].get<std::string>().size(), 16u);
  EXPECT_EQ(b["event_time"].get<std::string>().back(), 'Z');
  EXPECT_EQ(b["event_type"], "text/plain");
}

TEST(RuntimeE2E, HandlerChoosesStatusAndHeaders) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "status");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  auto r = http_request(rt.port(), "GET", "/?code=201");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "status");
  // A status outside 200-599 is the function's bug: 500, counted as a failure.
  auto bad = http_request(rt.port(), "GET", "/?code=42");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 500);
  EXPECT_EQ(rt.metric("function_failures_total{method=\"GET\"}"), 1);
}

TEST(RuntimeE2E, TimeoutAnswers504CountsOnceAndDoesNotBlockOthers) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "sleepy",
                    {{"FUNC_TIMEOUT", "0.3"}, {"KUBEFN_STUCK_GRACE_MS", "300"}});
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  HttpConnection slow(rt.port());
  ASSERT_TRUE(slow.send(build_request("GET", "/?ms=2500", "", {})));
  // While that handler sleeps, another call is served.
  auto quick = http_request(rt.port(), "GET", "/?ms=0");
  ASSERT_TRUE(quick);
  EXPECT_EQ(quick->status, 200);

  auto r = slow.read_reply();
  ASSERT_TRUE(r);
  // 504, not 408: a 408 invites clients to retry a call that may have had its effect.
  EXPECT_EQ(r->status, 504);
  EXPECT_NE(r->body.find("timed out"), std::string::npos) << r->body;
  // The answer came while the handler was still running, not when it returned.
  EXPECT_EQ(rt.metric("kubefn_runtime_inflight_requests"), 1);
  EXPECT_TRUE(slow.closed_by_peer());
  EXPECT_EQ(rt.metric("function_calls_total{method=\"GET\"}"), 2);
  EXPECT_EQ(rt.metric("function_failures_total{method=\"GET\"}"), 1);
  // Past its deadline plus the grace, the stuck handler makes the replica unhealthy...
  EXPECT_TRUE(wait_until(
      [&] {
        auto h = http_request(rt.port(), "GET", "/healthz");
        return h && h->status == 503;
      },
      seconds(5)));
  // ...until it returns: its late result is dropped, not counted a second time.
  EXPECT_TRUE(wait_until([&] { return rt.metric("kubefn_runtime_busy_seconds_total") >= 2.5; },
                         seconds(10)));
  EXPECT_TRUE(wait_until(
      [&] {
        auto h = http_request(rt.port(), "GET", "/healthz");
        return h && h->status == 200;
      },
      seconds(5)));
  EXPECT_EQ(rt.metric("function_calls_total{method=\"GET\"}"), 2);
  EXPECT_EQ(rt.metric("function_failures_total{method=\"GET\"}"), 1);
  EXPECT_EQ(rt.metric("kubefn_runtime_inflight_requests"), 0);
}

// Calls that time out keep their threads (C++ cannot stop them): with more of them than the
// pool may grow to, the runtime's own endpoints still answer, and so does every caller.
TEST(RuntimeE2E, MoreTimedOutCallsThanThreadsLeaveTheEndpointsAnswering) {
  RuntimeProcess rt(
      KUBEFN_FIXTURE_SO, "sleepy",
      {{"FUNC_TIMEOUT", "0.2"}, {"KUBEFN_THREADS", "1"}, {"KUBEFN_MAX_THREADS", "2"}});
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  constexpr int kCalls = 4;
  std::vector<std::unique_ptr<HttpConnection>> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::make_unique<HttpConnection>(rt.port()));
    ASSERT_TRUE(calls.back()->send(build_request("GET", "/?ms=5000", "", {})));
  }
  // Each call is answered at its deadline, also those waiting for a handler thread.
  for (auto& c : calls) {
    auto r = c->read_reply(seconds(3));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504);
  }
  // Both handler threads still sleep; the endpoints answer without one.
  auto health = http_request(rt.port(), "GET", "/healthz", "", {}, milliseconds(1500));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = http_request(rt.port(), "GET", "/readyz", "", {}, milliseconds(1500));
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto metrics = http_request(rt.port(), "GET", "/metrics", "", {}, milliseconds(1500));
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metric_value(metrics->body, "kubefn_runtime_inflight_requests"), 2);
  EXPECT_EQ(metric_value(metrics->body, "kubefn_runtime_queued_requests"), 0);
  EXPECT_EQ(metric_value(metrics->body, "function_calls_total{method=\"GET\"}"), kCalls);
  EXPECT_EQ(metric_value(metrics->body, "function_failures_total{method=\"GET\"}"), kCalls);
}

TEST(RuntimeE2E, ACallWaitsForAHandlerThreadWhileTheEndpointsAnswer) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "sleepy",
                    {{"KUBEFN_THREADS", "1"}, {"KUBEFN_MAX_THREADS", "1"}});
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  HttpConnection busy(rt.port());
  ASSERT_TRUE(busy.send(build_request("GET", "/?ms=3000", "", {})));
  HttpConnection waiting(rt.port());
  ASSERT_TRUE(waiting.send(build_request("GET", "/?ms=0", "", {})));
  // The only handler thread sleeps: the second call waits, the endpoints do not.
  auto health = http_request(rt.port(), "GET", "/healthz", "", {}, milliseconds(1500));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  ASSERT_TRUE(wait_until(
      [&] {
        auto m = http_request(rt.port(), "GET", "/metrics", "", {}, milliseconds(1000));
        return m && metric_value(m->body, "kubefn_runtime_queued_requests") == 1 &&
               metric_value(m->body, "kubefn_runtime_inflight_requests") == 1;
      },
      seconds(2)));
  auto first = busy.read_reply(seconds(10));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  auto second = waiting.read_reply(seconds(10));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "slept");
  EXPECT_EQ(rt.metric("function_calls_total{method=\"GET\"}"), 2);
  EXPECT_EQ(rt.metric("kubefn_runtime_queued_requests"), 0);
}

// RFC 9110 sections 6.4.1 and 9.3.2: a 204, a 304 and the answer to a HEAD end with their
// head. Pipelined on one connection, any stray body would be read as the next response.
TEST(RuntimeE2E, NoContentNotModifiedAndHeadResponsesCarryNoBody) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "status");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  HttpConnection c(rt.port());
  ASSERT_TRUE(c.send(build_request("GET", "/?code=204", "", {}) +
                     build_request("GET", "/?code=304", "", {}) +
                     build_request("HEAD", "/?code=200", "", {}) +
                     build_request("GET", "/?code=200", "", {{"Connection", "close"}})));
  auto wire = c.read_until_closed();
  ASSERT_TRUE(wire);
  struct Expected {
    const char* status_line;
    const char* length;  // the content-length header, or nullptr for none
    const char* body;
  };
  std::size_t pos = 0;
  for (const Expected& e :
       {Expected{"HTTP/1.1 204 No Content", nullptr, ""},
        Expected{"HTTP/1.1 304 Not Modified", nullptr, ""}, Expected{"HTTP/1.1 200 OK", "6", ""},
        Expected{"HTTP/1.1 200 OK", "6", "status"}}) {
    ASSERT_EQ(wire->compare(pos, std::strlen(e.status_line), e.status_line), 0)
        << e.status_line << " at " << pos << " of:\n"
        << *wire;
    std::size_t end = wire->find("\r\n\r\n", pos);
    ASSERT_NE(end, std::string::npos);
    std::string head = wire->substr(pos, end - pos);
    if (e.length == nullptr) {
      EXPECT_EQ(head.find("content-length"), std::string::npos) << head;
    } else {
      EXPECT_NE(head.find(std::string("content-length: ") + e.length + "\r\n"), std::string::npos)
          << head;
    }
    pos = end + 4;
    ASSERT_EQ(wire->compare(pos, std::strlen(e.body), e.body), 0) << *wire;
    pos += std::strlen(e.body);
  }
  EXPECT_EQ(pos, wire->size()) << *wire;
  EXPECT_EQ(rt.metric("function_calls_total{method=\"GET\"}"), 3);
  EXPECT_EQ(rt.metric("function_failures_total{method=\"GET\"}"), 0);
}

// A header the handler set that is not valid HTTP never reaches the wire: the call is a 500,
// a failure, and the function's log names the header.
TEST(RuntimeE2E, InvalidResponseHeadersAre500AndTheLogNamesThem) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "bad_header");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"crlf", "x-injected"}, {"nul", "x-nul"},      {"ctl", "x-control"},
      {"empty", "\\\"\\\""},  {"space", "x spaced"}, {"token", "x@at"}};
  for (const auto& [kind, name] : kinds) {
    HttpConnection c(rt.port());
    ASSERT_TRUE(c.send(build_request("GET", "/?kind=" + kind, "", {{"event-id", "evt-" + kind}})));
    auto r = c.read_reply();
    ASSERT_TRUE(r) << kind;
    EXPECT_EQ(r->status, 500) << kind;
    EXPECT_EQ(r->body.find("must not be sent"), std::string::npos) << kind;
    EXPECT_TRUE(r->header("set-cookie").empty()) << kind;
    EXPECT_TRUE(r->header(name).empty()) << kind;
    ASSERT_TRUE(wait_until(
        [&] {
          std::istringstream in(rt.stderr_text());
          std::string line;
          while (std::getline(in, line)) {
            if (line.find("evt-" + kind) != std::string::npos &&
                line.find("invalid response header") != std::string::npos &&
                line.find(name) != std::string::npos) {
              return true;
            }
          }
          return false;
        },
        seconds(5)))
        << kind << ":\n"
        << rt.stderr_text();
  }
  EXPECT_EQ(rt.metric("function_calls_total{method=\"GET\"}"), kinds.size());
  EXPECT_EQ(rt.metric("function_failures_total{method=\"GET\"}"), kinds.size());
}

// A keep-alive connection gives back what a large request and response took: its buffers
// are back to their initial size before the next request.
TEST(RuntimeE2E, AKeptAliveConnectionShrinksItsBuffersAfterALargeCall) {
  RuntimeProcess rt(KUBEFN_ECHO_SO, "echo");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  constexpr double kInitial = 16 * 1024;
  HttpConnection c(rt.port());
  const auto buffered = [&]() -> double {
    if (!c.send(build_request("GET", "/metrics", "", {}))) return -1;
    auto m = c.read_reply();
    return m ? metric_value(m->body, "kubefn_runtime_connection_buffer_bytes").value_or(-1) : -1;
  };
  // One open connection (this one), serving /metrics: its input buffer and little more.
  const double idle = buffered();
  EXPECT_GE(idle, kInitial);
  EXPECT_LT(idle, kInitial + 4096);

  const std::string body = random_bytes(1 << 20);
  ASSERT_TRUE(c.send(build_request("POST", "/", body, {})));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->body == body);
  EXPECT_LT(buffered(), kInitial + 4096);

  std::ostringstream chunked;
  chunked << "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t off = 0; off < body.size(); off += 65536) {
    chunked << std::hex << 65536 << "\r\n" << body.substr(off, 65536) << "\r\n";
  }
  chunked << "0\r\n\r\n";
  ASSERT_TRUE(c.send(chunked.str()));
  r = c.read_reply();
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->body == body);
  EXPECT_LT(buffered(), kInitial + 4096);
}

TEST(RuntimeE2E, ExceptionIs500WithoutInternalsAndIsLogged) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "boom");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  auto r = http_request(rt.port(), "POST", "/", "x", {{"event-id", "evt-boom"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body.find("hunter2"), std::string::npos);
  EXPECT_EQ(r->body.find("postgres"), std::string::npos);
  EXPECT_EQ(rt.metric("function_calls_total{method=\"POST\"}"), 1);
  EXPECT_EQ(rt.metric("function_failures_total{method=\"POST\"}"), 1);
  // The function's own log line and the failure detail go to the function's log.
  std::string err = rt.stderr_text();
  EXPECT_NE(err.find("about to fail"), std::string::npos);
  EXPECT_NE(err.find("evt-boom"), std::string::npos);
  EXPECT_NE(err.find("uncaught exception"), std::string::npos);
}

TEST(RuntimeE2E, BodyOverTheLimitIs413AndNeverReachesTheHandler) {
  RuntimeProcess rt(KUBEFN_ECHO_SO, "echo", {{"KUBEFN_MAX_BODY_BYTES", "1Ki"}});
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  auto r = http_request(rt.port(), "POST", "/", std::string(4096, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // With Expect: 100-continue the answer comes before the body is sent.
  HttpConnection c(rt.port());
  ASSERT_TRUE(
      c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto rc = c.read_reply(seconds(5));
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc->status, 413);
  auto ok = http_request(rt.port(), "POST", "/", std::string(1024, 'y'));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(rt.metric("function_calls_total{method=\"POST\"}"), 1);
  EXPECT_EQ(rt.metric("kubefn_runtime_rejected_requests_total{code=\"413\"}"), 2);
}

TEST(RuntimeE2E, ExpectContinueGetsAnInterimResponse) {
  RuntimeProcess rt(KUBEFN_ECHO_SO, "echo");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  HttpConnection c(rt.port());
  ASSERT_TRUE(
      c.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
             "Expect: 100-continue\r\n\r\n"));
  // The client waits for "100 Continue" before it sends the body.
  ASSERT_TRUE(c.received("HTTP/1.1 100 Continue\r\n\r\n"));
  ASSERT_TRUE(c.send("hello"));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST(RuntimeE2E, MalformedRequestIs400AndTheConnectionCloses) {
  RuntimeProcess rt(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  for (const char* junk : {"NOT HTTP AT ALL\r\n\r\n", "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
                           "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    HttpConnection c(rt.port());
    ASSERT_TRUE(c.send(junk));
    auto r = c.read_reply();
    ASSERT_TRUE(r) << junk;
    EXPECT_EQ(r->status, 400) << junk;
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_by_peer()) << junk;
  }
  EXPECT_EQ(rt.metric("kubefn_runtime_rejected_requests_total{code=\"400\"}"), 3);
  EXPECT_EQ(rt.metric("function_calls_total{method=\"GET\"}"), 0);
}

TEST(RuntimeE2E, SlowClientTimesOutWithoutHoldingAWorker) {
  RuntimeProcess rt(KUBEFN_HELLO_SO, "greet",
                    {{"KUBEFN_READ_TIMEOUT_MS", "300"}, {"KUBEFN_THREADS", "1"}});
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  HttpConnection slow(rt.port());
  ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\nHost: x\r\n"));  // and never finishes
  auto other = http_request(rt.port(), "GET", "/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  auto r = slow.read_reply(seconds(5));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(slow.closed_by_peer());
}

TEST(RuntimeE2E, KeepAliveAndPipelining) {
  RuntimeProcess rt(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  HttpConnection c(rt.port());
  ASSERT_TRUE(
      c.send(build_request("GET", "/?name=a", "", {}) + build_request("GET", "/?name=b", "", {})));
  auto a = c.read_reply();
  auto b = c.read_reply();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, "hello a\n");
  EXPECT_EQ(b->body, "hello b\n");
  ASSERT_TRUE(c.send(build_request("GET", "/?name=c", "", {})));
  auto again = c.read_reply();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "hello c\n");
  ASSERT_TRUE(c.send(build_request("GET", "/?name=d", "", {{"Connection", "close"}})));
  auto last = c.read_reply();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(RuntimeE2E, MetricsMoveByExactlyTheRightAmounts) {
  RuntimeProcess rt(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  EXPECT_EQ(rt.metric("function_calls_total{method=\"GET\"}"), 0);
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(http_request(rt.port(), "GET", "/"));
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(http_request(rt.port(), "POST", "/", "b"));
  ASSERT_TRUE(http_request(rt.port(), "GET", "/healthz"));
  ASSERT_TRUE(http_request(rt.port(), "GET", "/readyz"));
  std::string text = rt.metrics();
  EXPECT_EQ(metric_value(text, "function_calls_total{method=\"GET\"}"), 7);
  EXPECT_EQ(metric_value(text, "function_calls_total{method=\"POST\"}"), 3);
  EXPECT_EQ(metric_value(text, "function_failures_total{method=\"GET\"}"), 0);
  EXPECT_EQ(metric_value(text, "function_duration_seconds_count{method=\"GET\"}"), 7);
  EXPECT_EQ(metric_value(text, "function_duration_seconds_count{method=\"POST\"}"), 3);
  EXPECT_EQ(metric_value(text, "kubefn_runtime_responses_total{code=\"2xx\"}"), 10);
  EXPECT_EQ(metric_value(text, "kubefn_runtime_inflight_requests"), 0);
  EXPECT_GT(metric_value(text, "kubefn_runtime_busy_seconds_total").value_or(0), 0);
  EXPECT_GT(metric_value(text, "process_resident_memory_bytes").value_or(0), 0);
  EXPECT_GT(metric_value(text, "process_open_fds").value_or(0), 0);

  // One structured access-log line per function call, and none for the endpoints.
  std::vector<nlohmann::json> lines;
  ASSERT_TRUE(wait_until(
      [&] {
        lines.clear();
        std::istringstream in(rt.stdout_text());
        std::string line;
        while (std::getline(in, line))
          lines.push_back(nlohmann::json::parse(line));
        return lines.size() >= 10;
      },
      seconds(5)));
  EXPECT_EQ(lines.size(), 10u);
  for (const auto& j : lines) {
    EXPECT_EQ(j["msg"], "request");
    EXPECT_EQ(j["status"], 200);
    EXPECT_EQ(j["function"], "greet");
    EXPECT_TRUE(j.contains("duration_us"));
    EXPECT_TRUE(j.contains("event_id"));
  }
}

TEST(RuntimeE2E, SigtermDuringFiftyInFlightRequestsLosesNone) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  constexpr int kRequests = 50;
  std::vector<std::unique_ptr<HttpConnection>> conns;
  for (int i = 0; i < kRequests; ++i) {
    conns.push_back(std::make_unique<HttpConnection>(rt.port()));
    ASSERT_TRUE(conns.back()->send(build_request("GET", "/?ms=700", "", {})));
  }
  ASSERT_TRUE(wait_until([&] { return rt.metric("kubefn_runtime_inflight_requests") == kRequests; },
                         seconds(10)))
      << "in flight: " << rt.metric("kubefn_runtime_inflight_requests");
  rt.process().signal(SIGTERM);
  int ok = 0;
  for (auto& c : conns) {
    auto r = c->read_reply(seconds(10));
    if (r && r->status == 200 && r->body == "slept") ++ok;
  }
  EXPECT_EQ(ok, kRequests);
  EXPECT_EQ(rt.process().wait_exit(seconds(10)), 0);
  EXPECT_NE(rt.stderr_text().find("drained"), std::string::npos);
}

TEST(RuntimeE2E, ReadinessDropsWhileDraining) {
  RuntimeProcess rt(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(rt.started()) << rt.stderr_text();
  HttpConnection busy(rt.port());
  ASSERT_TRUE(busy.send(build_request("GET", "/?ms=1500", "", {})));
  ASSERT_TRUE(
      wait_until([&] { return rt.metric("kubefn_runtime_inflight_requests") == 1; }, seconds(5)));
  // A kept-alive connection opened before the signal may still ask.
  HttpConnection probe(rt.port());
  ASSERT_TRUE(probe.send(build_request("GET", "/readyz", "", {})));
  auto before = probe.read_reply();
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  HttpConnection probe2(rt.port());
  ASSERT_TRUE(wait_until([&] { return probe2.connected(); }, seconds(1)));
  rt.process().signal(SIGTERM);
  ASSERT_TRUE(wait_until([&] { return rt.stderr_text().find("draining") != std::string::npos; },
                         seconds(5)));
  ASSERT_TRUE(probe2.send(build_request("GET", "/readyz", "", {})));
  auto during = probe2.read_reply();
  ASSERT_TRUE(during);
  EXPECT_EQ(during->status, 503);
  auto done = busy.read_reply();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200);
  EXPECT_EQ(rt.process().wait_exit(seconds(10)), 0);
}

}  // namespace
}  // namespace kubefn::testing
