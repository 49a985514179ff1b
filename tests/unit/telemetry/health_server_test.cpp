// The metrics-port server over real HTTP on loopback: the built-in routes, added GET routes by
// exact path with their query, errors of a route, methods, HEAD and conditional requests.
#include "kubefn/telemetry/health_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "kubefn/testing/http_client.hpp"

namespace kubefn::telemetry {
namespace {

using kubefn::testing::http_request;
using kubefn::testing::HttpConnection;

// A raw request on a fresh connection and every byte of the answer (the server closes).
std::string exchange(std::uint16_t port, const std::string& request) {
  HttpConnection c(port);
  EXPECT_TRUE(c.connected());
  EXPECT_TRUE(c.send(request));
  return c.read_until_closed().value_or("");
}

class HealthServerRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    Routes routes;
    routes["/"] = [](std::string_view) {
      return HttpReply{200,
                       "text/html; charset=utf-8",
                       "<!doctype html><p>page</p>",
                       {{"cache-control", "no-cache"}, {"ETag", "\"v1\""}}};
    };
    routes["/api/v1/echo"] = [this](std::string_view query) {
      ++calls;
      return HttpReply{200, "application/json", "{\"query\":\"" + std::string(query) + "\"}", {}};
    };
    routes["/throws"] = [](std::string_view) -> HttpReply {
      throw std::runtime_error("the history\nfile is gone");
    };
    routes["/teapot"] = [](std::string_view) {
      return HttpReply{418,
                       "text/plain; charset=utf-8",
                       "short and stout\n",
                       {{"x-bad", "a\r\nset-cookie: x=1"}, {"content-length", "1"}}};
    };
    server = std::make_unique<HealthServer>(
        "127.0.0.1", 0, registry, [this] { return ready.load(); },
        [] { return std::string("extra_metric 1\n"); }, std::move(routes));
    port = server->port();
  }

  prometheus::Registry registry;
  std::atomic<bool> ready{false};
  std::atomic<int> calls{0};
  std::unique_ptr<HealthServer> server;
  std::uint16_t port = 0;
};

TEST_F(HealthServerRoutes, BuiltInRoutesKeepWorking) {
  ASSERT_NE(port, 0);
  auto healthz = http_request(port, "GET", "/healthz");
  ASSERT_TRUE(healthz.has_value());
  EXPECT_EQ(healthz->status, 200);
  EXPECT_EQ(healthz->body, "ok\n");

  auto readyz = http_request(port, "GET", "/readyz");
  ASSERT_TRUE(readyz.has_value());
  EXPECT_EQ(readyz->status, 503);
  ready = true;
  readyz = http_request(port, "GET", "/readyz");
  ASSERT_TRUE(readyz.has_value());
  EXPECT_EQ(readyz->status, 200);

  auto metrics = http_request(port, "GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("extra_metric 1\n"), std::string::npos);
  // A scraper's query string changes nothing.
  metrics = http_request(port, "GET", "/metrics?name[]=up");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->status, 200);
}

TEST_F(HealthServerRoutes, RoutesMatchTheExactPathAndGetTheQuery) {
  auto page = http_request(port, "GET", "/");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->header("cache-control"), "no-cache");
  EXPECT_EQ(page->header("etag"), "\"v1\"");
  EXPECT_EQ(page->body, "<!doctype html><p>page</p>");

  auto echo = http_request(port, "GET", "/api/v1/echo?since=3600&x=%20y");
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->status, 200);
  EXPECT_EQ(echo->header("content-type"), "application/json");
  EXPECT_EQ(echo->json().value("query", "?"), "since=3600&x=%20y");

  echo = http_request(port, "GET", "/api/v1/echo");
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->json().value("query", "?"), "");
  echo = http_request(port, "GET", "/api/v1/echo?");
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->json().value("query", "?"), "");

  // Not a prefix match, nor a trailing slash.
  for (const char* target :
       {"/api/v1/echo/", "/api/v1", "/api/v1/echoes", "/index.html", "/nothing?since=1"}) {
    auto missing = http_request(port, "GET", target);
    ASSERT_TRUE(missing.has_value()) << target;
    EXPECT_EQ(missing->status, 404) << target;
    EXPECT_EQ(missing->body, "not found\n") << target;
  }
}

TEST_F(HealthServerRoutes, AThrowingRouteGets500AndTheServerLivesOn) {
  auto failed = http_request(port, "GET", "/throws");
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->body, "internal error: the history file is gone\n");
  for (int i = 0; i < 3; ++i) {
    auto again = http_request(port, "GET", "/throws");
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->status, 500);
  }
  auto healthz = http_request(port, "GET", "/healthz");
  ASSERT_TRUE(healthz.has_value());
  EXPECT_EQ(healthz->status, 200);
  auto echo = http_request(port, "GET", "/api/v1/echo?ok");
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->status, 200);
}

TEST_F(HealthServerRoutes, OtherMethodsOnARouteGet405) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    auto reply = http_request(port, method, "/api/v1/echo?since=1", "{}");
    ASSERT_TRUE(reply.has_value()) << method;
    EXPECT_EQ(reply->status, 405) << method;
    EXPECT_EQ(reply->header("allow"), "GET, HEAD") << method;
  }
  EXPECT_EQ(calls.load(), 0) << "the handler ran for a method it does not take";
  // An unknown path is still 404, whatever the method.
  auto missing = http_request(port, "POST", "/nothing", "{}");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
}

TEST_F(HealthServerRoutes, HeadSendsTheHeadersWithoutTheBody) {
  const std::string raw = exchange(port, "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << raw;
  const std::string length =
      "content-length: " + std::to_string(std::string("<!doctype html><p>page</p>").size());
  EXPECT_NE(raw.find(length + "\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(raw.size() - 4), "\r\n\r\n") << "a body followed the head: " << raw;
}

TEST_F(HealthServerRoutes, AMatchingIfNoneMatchGets304WithoutABody) {
  for (const char* tag : {"\"v1\"", "W/\"v1\"", "\"v0\", \"v1\"", "*"}) {
    auto reply = http_request(port, "GET", "/", "", {{"If-None-Match", tag}});
    ASSERT_TRUE(reply.has_value()) << tag;
    EXPECT_EQ(reply->status, 304) << tag;
    EXPECT_EQ(reply->body, "") << tag;
    EXPECT_EQ(reply->header("etag"), "\"v1\"") << tag;
  }
  auto changed = http_request(port, "GET", "/", "", {{"If-None-Match", "\"v0\""}});
  ASSERT_TRUE(changed.has_value());
  EXPECT_EQ(changed->status, 200);
  EXPECT_EQ(changed->body, "<!doctype html><p>page</p>");
}

TEST_F(HealthServerRoutes, ARouteCannotBreakTheFraming) {
  const std::string raw = exchange(port, "GET /teapot HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(raw.rfind("HTTP/1.1 418 ", 0), 0u) << raw;
  EXPECT_EQ(raw.find("set-cookie"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("x-bad"), std::string::npos) << raw;
  EXPECT_NE(raw.find("content-length: 16\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("content-length: 1\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(raw.find("\r\n\r\n") + 4), "short and stout\n");
}

TEST(HealthServer, NoRoutesServesTheBuiltInOnesAsBefore) {
  prometheus::Registry registry;
  HealthServer server("127.0.0.1", 0, registry, [] { return true; });
  auto root = http_request(server.port(), "GET", "/");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->status, 404);
  auto readyz = http_request(server.port(), "GET", "/readyz");
  ASSERT_TRUE(readyz.has_value());
  EXPECT_EQ(readyz->status, 200);
}

TEST(HealthServer, WithAllowedHostsAnyOtherHostIs403OnEveryPath) {
  prometheus::Registry registry;
  Routes routes;
  routes["/api"] = [](std::string_view) { return HttpReply{200, "application/json", "{}", {}}; };
  HealthServer server("127.0.0.1", 0, registry, [] { return true; }, {}, std::move(routes),
                      {"127.0.0.1", "localhost", "::1"});
  const std::string port = std::to_string(server.port());
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "LOCALHOST:" + port,
                                                          "[::1]:" + port, "127.0.0.1"}) {
    const std::string reply =
        exchange(server.port(), "GET /api HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << host << "\n" << reply;
  }
  for (const std::string path : {"/api", "/metrics", "/"}) {
    for (const std::string& host :
         std::vector<std::string>{"evil.example:" + port, "evil.example", "127.0.0.1:1", ""}) {
      const std::string reply =
          exchange(server.port(), "GET " + path + " HTTP/1.1\r\n" +
                                      (host.empty() ? "" : "Host: " + host + "\r\n") + "\r\n");
      EXPECT_EQ(reply.rfind("HTTP/1.1 403", 0), 0u) << path << " " << host << "\n" << reply;
    }
  }
}

}  // namespace
}  // namespace kubefn::telemetry
