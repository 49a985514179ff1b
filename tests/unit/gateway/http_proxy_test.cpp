#include "kubefn/gateway/http_proxy.hpp"

#include <gtest/gtest.h>

namespace kubefn::gateway {
namespace {

using http::HttpResponseParser;
using http::ResponseState;

TEST(SplitRoutePath, RewritesTargets) {
  struct Case {
    std::string target, ns, name, upstream;
  };
  const std::vector<Case> cases = {
      {"/default/hello", "default", "hello", "/"},
      {"/default/hello/", "default", "hello", "/"},
      {"/default/hello?name=x", "default", "hello", "/?name=x"},
      {"/default/hello/a/b?c=d&e", "default", "hello", "/a/b?c=d&e"},
      {"/ns/fn/a?x=/y/z", "ns", "fn", "/a?x=/y/z"},
  };
  for (const auto& c : cases) {
    auto r = split_route_path(c.target);
    ASSERT_TRUE(r.has_value()) << c.target;
    EXPECT_EQ(r->ns, c.ns) << c.target;
    EXPECT_EQ(r->name, c.name) << c.target;
    EXPECT_EQ(r->upstream_target, c.upstream) << c.target;
  }
  for (std::string bad : {"/", "/default", "/default/", "//hello", "default/hello", ""}) {
    EXPECT_FALSE(split_route_path(bad).has_value()) << bad;
  }
}

// Parses a request with the runtime's parser (which lower-cases names in place).
struct Parsed {
  explicit Parsed(std::string raw) : bytes(std::move(raw)), parser(http::HttpLimits{}) {
    state = parser.parse(bytes);
  }
  std::string bytes;
  http::HttpRequestParser parser;
  http::ParseState state;
};

TEST(BuildUpstreamRequest, DropsHopByHopAndAddsForwardingHeaders) {
  Parsed p(
      "POST /default/echo/x?y=1 HTTP/1.1\r\nHost: api.example\r\nConnection: keep-alive, "
      "X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
      "Upgrade: websocket\r\nProxy-Connection: close\r\nX-Forwarded-For: 10.1.1.1\r\n"
      "X-Forwarded-Proto: https\r\nX-Test: kept\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(p.state, http::ParseState::kComplete);
  std::string out;
  build_upstream_request(out, p.parser.request(), "/x?y=1",
                         ForwardInfo{"127.0.0.9", "http", "abc123"});
  EXPECT_EQ(out.rfind("POST /x?y=1 HTTP/1.1\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("host: api.example\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-test: kept\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-forwarded-for: 10.1.1.1, 127.0.0.9\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-forwarded-host: api.example\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-forwarded-proto: http\r\n"), std::string::npos);
  EXPECT_EQ(out.find("https"), std::string::npos);
  EXPECT_NE(out.find("event-id: abc123\r\n"), std::string::npos);
  EXPECT_NE(out.find("content-length: 5\r\n\r\nhello"), std::string::npos);
  for (std::string gone :
       {"connection", "keep-alive", "te:", "upgrade", "proxy-connection", "x-secret-hop"}) {
    EXPECT_EQ(out.find(gone), std::string::npos) << gone << " in " << out;
  }
}

TEST(BuildUpstreamRequest, KeepsEventIdAndReframesChunkedBody) {
  Parsed p(
      "PUT /a/b HTTP/1.1\r\nHost: h\r\nevent-id: mine\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_EQ(p.state, http::ParseState::kComplete);
  std::string out;
  build_upstream_request(out, p.parser.request(), "/", ForwardInfo{"1.2.3.4", "http", "gen"});
  EXPECT_NE(out.find("event-id: mine\r\n"), std::string::npos);
  EXPECT_EQ(out.find("gen"), std::string::npos);
  EXPECT_EQ(out.find("transfer-encoding"), std::string::npos);
  EXPECT_EQ(out.find("expect"), std::string::npos);
  EXPECT_NE(out.find("content-length: 5\r\n\r\nabcde"), std::string::npos) << out;
}

TEST(BuildUpstreamRequest, GetWithoutBodyHasNoContentLength) {
  Parsed p("GET /a/b HTTP/1.1\r\nHost: h\r\n\r\n");
  std::string out;
  build_upstream_request(out, p.parser.request(), "/", ForwardInfo{"1.2.3.4", "http", "e"});
  EXPECT_EQ(out.find("content-length"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(BuildUpstreamRequest, ConnectionCannotRemoveHostEventIdOrFraming) {
  Parsed p(
      "POST /a HTTP/1.1\r\nHost: api.example\r\nevent-id: e1\r\nX-Hop: 1\r\n"
      "Connection: Host, event-id, content-length, X-Hop\r\nContent-Length: 2\r\n\r\nhi");
  ASSERT_EQ(p.state, http::ParseState::kComplete);
  std::string out;
  build_upstream_request(out, p.parser.request(), "/a", ForwardInfo{"1.2.3.4", "http", "gen"});
  EXPECT_NE(out.find("\r\nhost: api.example\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x-forwarded-host: api.example\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("event-id: e1\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("gen"), std::string::npos) << out;
  EXPECT_NE(out.find("content-length: 2\r\n\r\nhi"), std::string::npos) << out;
  EXPECT_EQ(out.find("x-hop"), std::string::npos) << out;
}

TEST(BuildUpstreamRequest, AnHttp10CallWithoutHostStillSendsOneUpstream) {
  Parsed p("GET /a HTTP/1.0\r\n\r\n");
  ASSERT_EQ(p.state, http::ParseState::kComplete);
  std::string out;
  build_upstream_request(out, p.parser.request(), "/a", ForwardInfo{"1.2.3.4", "http", "e"});
  EXPECT_EQ(out.rfind("GET /a HTTP/1.1\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("\r\nhost: replica\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("x-forwarded-host"), std::string::npos) << out;
  // What the runtime's parser (the replica's) makes of it: a complete request, not a 400.
  Parsed upstream(out);
  EXPECT_EQ(upstream.state, http::ParseState::kComplete) << out;
}

TEST(BuildUpstreamRequest, StripsTheAuthorizationTheGatewayChecked) {
  Parsed p("GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer secret-token\r\n\r\n");
  ASSERT_EQ(p.state, http::ParseState::kComplete);
  ForwardInfo info{"1.2.3.4", "http", "e"};
  std::string open;
  build_upstream_request(open, p.parser.request(), "/a", info);
  EXPECT_NE(open.find("authorization: Bearer secret-token\r\n"), std::string::npos) << open;
  info.strip_authorization = true;
  std::string checked;
  build_upstream_request(checked, p.parser.request(), "/a", info);
  EXPECT_EQ(checked.find("authorization"), std::string::npos) << checked;
  EXPECT_EQ(checked.find("secret-token"), std::string::npos) << checked;
}

TEST(BuildUpstreamRequest, HeadThenBody) {
  Parsed p("PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
  std::string head;
  build_upstream_head(head, p.parser.request(), "/a", ForwardInfo{"1.2.3.4", "http", "e"});
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  EXPECT_NE(head.find("content-length: 3\r\n"), std::string::npos);
  std::string whole;
  build_upstream_request(whole, p.parser.request(), "/a", ForwardInfo{"1.2.3.4", "http", "e"});
  EXPECT_EQ(whole, head + "abc");
}

TEST(RuntimeReservedPaths, AreNeverForwarded) {
  for (std::string t : {"/metrics", "/healthz", "/readyz", "/readyz?x=1", "/metrics?"}) {
    EXPECT_TRUE(is_runtime_reserved(t)) << t;
  }
  for (std::string t : {"/", "/metricsx", "/metrics/", "/a/metrics", "/?p=/metrics", "//healthz"}) {
    EXPECT_FALSE(is_runtime_reserved(t)) << t;
  }
}

TEST(ResponseParser, ContentLength) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
  HttpResponseParser p;
  p.reset();
  // Byte by byte: every prefix but the whole needs more.
  for (std::size_t i = 1; i < r.size(); ++i) {
    std::string prefix = r.substr(0, i);
    p.reset();
    EXPECT_EQ(p.parse(prefix), ResponseState::kNeedMore) << i;
  }
  p.reset();
  ASSERT_EQ(p.parse(r), ResponseState::kComplete);
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.reason(), "OK");
  EXPECT_EQ(p.body(), "hello");
  EXPECT_EQ(p.consumed(), r.size());
  EXPECT_TRUE(p.keep_alive());
  ASSERT_EQ(p.headers().size(), 2u);
  EXPECT_EQ(p.headers()[0].name, "content-type");
}

TEST(ResponseParser, ChunkedIsDechunkedAndTrailersDropped) {
  std::string r =
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nwiki\r\n5\r\npedia"
      "\r\n0\r\nX-Trailer: t\r\n\r\n";
  HttpResponseParser p;
  p.reset();
  EXPECT_EQ(p.parse(std::string_view(r).substr(0, r.size() - 3)), ResponseState::kNeedMore);
  p.reset();
  ASSERT_EQ(p.parse(r), ResponseState::kComplete);
  EXPECT_EQ(p.status(), 201);
  EXPECT_EQ(p.body(), "wikipedia");
  EXPECT_EQ(p.consumed(), r.size());
  std::string head;
  build_client_response_head(head, p, p.body().size(), false, false);
  EXPECT_EQ(head.find("transfer-encoding"), std::string::npos);
  EXPECT_NE(head.find("content-length: 9\r\n"), std::string::npos) << head;
}

TEST(ResponseParser, CloseDelimitedEndsAtEof) {
  std::string r = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
  HttpResponseParser p;
  p.reset();
  EXPECT_EQ(p.parse(r), ResponseState::kNeedMore);
  ASSERT_EQ(p.finish_at_eof(r), ResponseState::kComplete);
  EXPECT_EQ(p.body(), "until the end");
  EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseParser, InterimHeadAndNoBodyStatuses) {
  HttpResponseParser p;
  p.reset();
  std::string r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\n";
  ASSERT_EQ(p.parse(r), ResponseState::kComplete);
  EXPECT_EQ(p.status(), 204);
  EXPECT_EQ(p.body(), "");
  p.reset(/*head_request=*/true);
  std::string h = "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n";
  ASSERT_EQ(p.parse(h), ResponseState::kComplete);
  EXPECT_EQ(p.body(), "");
  std::string head;
  build_client_response_head(head, p, 0, true, false);
  EXPECT_NE(head.find("content-length: 42\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("connection: close\r\n"), std::string::npos);
}

TEST(ResponseParser, HeadAnswersKeepTheUpstreamLengthOrNone) {
  HttpResponseParser p;
  p.reset(/*head_request=*/true);
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(p.parse(chunked), ResponseState::kComplete);
  std::string head;
  build_client_response_head(head, p, 0, false, false);
  EXPECT_EQ(head.find("content-length"), std::string::npos) << head;
  EXPECT_EQ(head.find("transfer-encoding"), std::string::npos) << head;
  // A GET whose body is empty says so.
  p.reset();
  std::string empty = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(p.parse(empty), ResponseState::kComplete);
  head.clear();
  build_client_response_head(head, p, 0, false, false);
  EXPECT_NE(head.find("content-length: 0\r\n"), std::string::npos) << head;
}

TEST(ResponseParser, TooLargeIsTold) {
  HttpResponseParser p(10);
  p.reset();
  std::string declared = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n";
  EXPECT_EQ(p.parse(declared), ResponseState::kError);
  EXPECT_TRUE(p.too_large());
  p.reset();
  EXPECT_FALSE(p.too_large());
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n";
  EXPECT_EQ(p.parse(chunked), ResponseState::kError);
  EXPECT_TRUE(p.too_large());
  p.reset();
  std::string malformed = "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
  EXPECT_EQ(p.parse(malformed), ResponseState::kError);
  EXPECT_FALSE(p.too_large());
}

TEST(ResponseParser, ResetFreesADechunkedBody) {
  HttpResponseParser p;
  p.reset();
  std::string r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  r += "4000\r\n" + std::string(0x4000, 'x') + "\r\n0\r\n\r\n";
  ASSERT_EQ(p.parse(r), ResponseState::kComplete);
  EXPECT_EQ(p.body().size(), 0x4000u);
  EXPECT_GE(p.owned_bytes(), 0x4000u);
  p.reset();
  EXPECT_EQ(p.owned_bytes(), 0u);
}

TEST(ResponseParser, ConnectionCloseAndHttp10KeepAlive) {
  HttpResponseParser p;
  p.reset();
  std::string a = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(p.parse(a), ResponseState::kComplete);
  EXPECT_FALSE(p.keep_alive());
  p.reset();
  std::string b = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(p.parse(b), ResponseState::kComplete);
  EXPECT_TRUE(p.keep_alive());
}

TEST(ResponseParser, RejectsMalformedResponses) {
  const std::vector<std::string> bad = {
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
  };
  for (std::string r : bad) {
    HttpResponseParser p;
    p.reset();
    EXPECT_EQ(p.parse(r), ResponseState::kError) << r;
    EXPECT_FALSE(p.error().empty());
  }
  HttpResponseParser small(4);
  small.reset();
  std::string five = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  EXPECT_EQ(small.parse(five), ResponseState::kError);
  HttpResponseParser p;
  p.reset();
  std::string cut = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  EXPECT_EQ(p.parse(cut), ResponseState::kNeedMore);
  EXPECT_EQ(p.finish_at_eof(cut), ResponseState::kError);
}

TEST(ClientResponseHead, DropsHopHeadersAndNamedOnes) {
  HttpResponseParser p;
  p.reset();
  std::string r =
      "HTTP/1.1 200 OK\r\nConnection: x-hop\r\nX-Hop: 1\r\nKeep-Alive: t=1\r\n"
      "X-End: 2\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_EQ(p.parse(r), ResponseState::kComplete);
  std::string head;
  build_client_response_head(head, p, 2, false, true);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(head.find("x-end: 2\r\n"), std::string::npos);
  EXPECT_EQ(head.find("x-hop"), std::string::npos) << head;
  EXPECT_EQ(head.find("keep-alive: t"), std::string::npos);
  EXPECT_NE(head.find("connection: keep-alive\r\n"), std::string::npos);
  EXPECT_NE(head.find("content-length: 2\r\n"), std::string::npos);
}

TEST(SimpleReply, HeadCarriesTheLengthAndNoBody) {
  std::string r = simple_reply(200, "text/plain", "ok\n", false, {}, /*head_request=*/true);
  EXPECT_EQ(r, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\n");
}

TEST(SimpleReply, JsonErrorWithExtraHeaders) {
  std::string r = simple_reply(429, "application/json", json_error_body(429, "say \"when\""), false,
                               {{"retry-after", "1"}});
  EXPECT_EQ(r.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0u);
  EXPECT_NE(r.find("retry-after: 1\r\n"), std::string::npos);
  EXPECT_NE(r.find("{\"error\":\"say \\\"when\\\"\",\"status\":429}"), std::string::npos);
}

}  // namespace
}  // namespace kubefn::gateway
