#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "kubefn/delivery/backoff.hpp"
#include "kubefn/delivery/event.hpp"
#include "kubefn/delivery/gateway_caller.hpp"
#include "kubefn/delivery/in_flight_gate.hpp"
#include "kubefn/delivery/outcome.hpp"

namespace kubefn::delivery {
namespace {

using namespace std::chrono_literals;

TEST(Outcome, OnlyA2xxIsDeliveredAndOnlyCapacityIsThrottled) {
  struct Row {
    CallResult r;
    Verdict v;
  };
  const std::vector<Row> rows = {
      {{0, "connection refused", std::nullopt}, Verdict::kFailed},
      {{500, "", std::nullopt}, Verdict::kFailed},
      {{503, "", std::nullopt}, Verdict::kFailed},  // the function's own 503
      {{504, "", std::nullopt}, Verdict::kFailed},
      {{404, "", std::nullopt}, Verdict::kFailed},
      {{401, "", std::nullopt}, Verdict::kFailed},
      {{302, "", std::nullopt}, Verdict::kFailed},
      {{429, "", std::nullopt}, Verdict::kThrottled},
      {{503, "", 1s}, Verdict::kThrottled},
      {{200, "", std::nullopt}, Verdict::kDelivered},
      {{204, "", std::nullopt}, Verdict::kDelivered},
      {{299, "", std::nullopt}, Verdict::kDelivered},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(classify(row.r), row.v) << row.r.status;
  }
}

TEST(Backoff, DoublesUpToTheCapWithJitterInTheUpperHalf) {
  const Backoff b{1000ms, 60000ms};
  EXPECT_EQ(backoff_delay(b, 1, 0.0), 500ms);
  EXPECT_EQ(backoff_delay(b, 1, 0.999999), 999ms);
  EXPECT_EQ(backoff_delay(b, 2, 0.0), 1000ms);
  EXPECT_EQ(backoff_delay(b, 3, 0.0), 2000ms);
  EXPECT_EQ(backoff_delay(b, 7, 0.0), 30000ms);
  EXPECT_EQ(backoff_delay(b, 8, 0.0), 30000ms);  // 64 s capped to 60 s
  EXPECT_EQ(backoff_delay(b, 1000, 1.0), 60000ms);
  EXPECT_EQ(backoff_delay(Backoff{0ms, 0ms}, 1, 0.5), 0ms);  // never negative, never huge
}

TEST(Event, CloudEventsAndKubelessHeaders) {
  Event e;
  e.id = "ORDERS:42";
  e.source = "nats://ORDERS";
  e.type = "dev.kubefn.nats.message";
  e.subject = "orders.created";
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764669600123));
  e.content_type = "application/json";
  e.kubeless_namespace = "nats.triggers.kubefn.dev";
  e.trigger = "created";
  std::map<std::string, std::string> h;
  for (auto& [k, v] : event_headers(e, 2)) {
    EXPECT_TRUE(h.emplace(k, v).second) << "twice: " << k;
  }
  EXPECT_EQ(h["ce-specversion"], "1.0");
  EXPECT_EQ(h["ce-id"], "ORDERS:42");
  EXPECT_EQ(h["ce-source"], "nats://ORDERS");
  EXPECT_EQ(h["ce-type"], "dev.kubefn.nats.message");
  EXPECT_EQ(h["ce-subject"], "orders.created");
  EXPECT_EQ(h["ce-time"], "2025-12-02T10:00:00.123Z");
  EXPECT_EQ(h["event-id"], "ORDERS:42");
  EXPECT_EQ(h["event-type"], "application/json");
  EXPECT_EQ(h["event-time"], h["ce-time"]);
  EXPECT_EQ(h["event-namespace"], "nats.triggers.kubefn.dev");
  EXPECT_EQ(h["content-type"], "application/json");
  EXPECT_EQ(h["kubefn-trigger"], "created");
  EXPECT_EQ(h["kubefn-delivery-attempt"], "2");
}

TEST(GatewayUrl, HostAndPortOnly) {
  GatewayCallerOptions o;
  EXPECT_FALSE(parse_gateway_url("", o));
  EXPECT_FALSE(parse_gateway_url("https://gw:443", o));
  EXPECT_FALSE(parse_gateway_url("http://", o));
  EXPECT_FALSE(parse_gateway_url("http://gw:0", o));
  EXPECT_FALSE(parse_gateway_url("http://gw:http", o));
  EXPECT_FALSE(parse_gateway_url("http://gw:80/path", o));
  ASSERT_TRUE(parse_gateway_url("http://127.0.0.1:8080/", o));
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 8080);
  ASSERT_TRUE(parse_gateway_url("http://kubefn-gateway.kubefn-system", o));
  EXPECT_EQ(o.host, "kubefn-gateway.kubefn-system");
  EXPECT_EQ(o.port, 80);
  ASSERT_TRUE(parse_gateway_url("http://[::1]:9000", o));
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 9000);
}

TEST(InFlightGate, HoldsAtCapacityAndLetsOneInPerRelease) {
  InFlightGate gate(2);
  EXPECT_TRUE(gate.acquire(0ms));
  EXPECT_TRUE(gate.acquire(0ms));
  EXPECT_FALSE(gate.acquire(0ms));
  EXPECT_EQ(gate.in_flight(), 2);
  std::thread waiter([&] { EXPECT_TRUE(gate.acquire(10s)); });
  gate.release();
  waiter.join();
  EXPECT_EQ(gate.in_flight(), 2);
  gate.resize(3);
  EXPECT_TRUE(gate.acquire(0ms));
  std::thread closed([&] { EXPECT_FALSE(gate.acquire(10s)); });
  gate.close();
  closed.join();
}

TEST(GatewayCaller, NoGatewayIsAFailureWithTheReason) {
  GatewayCallerOptions o;
  o.port = 1;  // nothing listens on port 1
  GatewayCaller caller(o);
  Event e;
  e.id = "x";
  const CallResult r = caller.call("default", "f", e, 1, 2s);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.reason.find("cannot connect to the gateway at 127.0.0.1:1"), std::string::npos)
      << r.reason;
  EXPECT_EQ(classify(r), Verdict::kFailed);
}

}  // namespace
}  // namespace kubefn::delivery
