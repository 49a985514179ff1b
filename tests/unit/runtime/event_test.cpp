// The event a handler gets from a parsed request: its parts and the event-* fields.
#include "event.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kubefn::runtime {
namespace {

// Parses `raw` (one whole request) and maps it; the parser and the text outlive the event.
struct Mapped {
  explicit Mapped(std::string raw) : text(std::move(raw)), parser(http::HttpLimits{}) {
    EXPECT_EQ(parser.parse(text), http::ParseState::kComplete);
    event_from_request(parser.request(), generated, event);
  }
  std::string text;
  http::HttpRequestParser parser;
  GeneratedEventFields generated;
  Event event;
};

TEST(EventFromRequest, TakesTheRequestsPartsAndTheEventHeaders) {
  Mapped m(
      "POST /orders/42?a=1&b=2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Event-Id: id-7\r\nEvent-Type: order.created\r\nEvent-Time: 2024-01-02T03:04:05Z\r\n"
      "Event-Namespace: shop\r\nContent-Length: 4\r\n\r\n{\"a\"");
  const Event& e = m.event;
  EXPECT_EQ(e.method, "POST");
  EXPECT_EQ(e.path, "/orders/42");
  EXPECT_EQ(e.query, "a=1&b=2");
  EXPECT_EQ(e.data, "{\"a\"");
  EXPECT_EQ(e.content_type, "application/json");
  EXPECT_EQ(e.event_id, "id-7");
  EXPECT_EQ(e.event_type, "order.created");
  EXPECT_EQ(e.event_time, "2024-01-02T03:04:05Z");
  EXPECT_EQ(e.event_namespace, "shop");
  EXPECT_EQ(e.headers.size(), m.parser.request().headers.size());
  EXPECT_EQ(e.headers.data(), m.parser.request().headers.data());  // no copy
  EXPECT_EQ(e.data.data(), m.parser.request().body.data());
  EXPECT_TRUE(m.generated.id.empty());
  EXPECT_TRUE(m.generated.time.empty());
}

TEST(EventFromRequest, MissingIdAndTimeAreMadeUpAndTheTypeIsTheContentType) {
  Mapped m("GET / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nEvent-Other: y\r\n\r\n");
  const Event& e = m.event;
  EXPECT_EQ(e.event_id.size(), 16u);
  EXPECT_EQ(e.event_id.data(), m.generated.id.data());
  EXPECT_FALSE(e.event_time.empty());
  EXPECT_EQ(e.event_time.back(), 'Z');
  EXPECT_EQ(e.event_time.data(), m.generated.time.data());
  EXPECT_EQ(e.event_type, "text/plain");
  EXPECT_TRUE(e.event_namespace.empty());
}

TEST(EventFromRequest, EveryFieldIsSetAgainForTheNextCall) {
  Mapped first("GET / HTTP/1.1\r\nHost: x\r\nEvent-Namespace: a\r\nContent-Type: t\r\n\r\n");
  http::HttpRequestParser parser(http::HttpLimits{});
  const std::string next = "GET /n HTTP/1.1\r\nHost: x\r\nEvent-Id: 2\r\n\r\n";
  ASSERT_EQ(parser.parse(next), http::ParseState::kComplete);
  event_from_request(parser.request(), first.generated, first.event);
  EXPECT_EQ(first.event.path, "/n");
  EXPECT_EQ(first.event.event_id, "2");
  EXPECT_TRUE(first.event.event_namespace.empty());
  EXPECT_TRUE(first.event.content_type.empty());
  EXPECT_TRUE(first.event.event_type.empty());
}

}  // namespace
}  // namespace kubefn::runtime
