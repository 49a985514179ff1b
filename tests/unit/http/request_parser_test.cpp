#include "kubefn/http/request_parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kubefn::http {
namespace {

struct ParseOutcome {
  ParseState state;
  int status = 0;
  HttpRequest request;  // views into the wire; its body may be the parser's (see `body`)
  std::size_t consumed = 0;
  std::string body;  // a copy: a de-chunked body lives in the parser, gone after parse_all
};

// Feeds `wire` in pieces of `step` bytes (0 = all at once) and returns the final outcome.
ParseOutcome parse_all(std::string& wire, std::size_t step = 0, HttpLimits limits = {}) {
  HttpRequestParser parser(limits);
  ParseState state = ParseState::kNeedMore;
  std::size_t fed = step == 0 ? wire.size() : 0;
  for (;;) {
    if (step != 0) fed = std::min(wire.size(), fed + step);
    state = parser.parse(std::string_view(wire.data(), fed));
    if (state == ParseState::kComplete || state == ParseState::kError || fed == wire.size()) break;
  }
  return {state, parser.error_status(), parser.request(), parser.consumed(),
          std::string(parser.request().body)};
}

struct BadCase {
  const char* name;
  std::string wire;
  int status;
};

class ParserRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParserRejects, WithTheRightStatus) {
  std::string wire = GetParam().wire;
  HttpLimits limits;
  limits.max_body_bytes = 16;
  limits.max_header_bytes = 256;
  limits.max_headers = 4;
  auto out = parse_all(wire, 0, limits);
  EXPECT_EQ(out.state, ParseState::kError);
  EXPECT_EQ(out.status, GetParam().status);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParserRejects,
    ::testing::Values(
        BadCase{"garbage", "hello\r\n\r\n", 400}, BadCase{"no_version", "GET /\r\n\r\n", 400},
        BadCase{"bad_version", "GET / HTTX/1.1\r\n\r\n", 400},
        BadCase{"http2_version", "GET / HTTP/2.0\r\n\r\n", 505},
        BadCase{"space_in_target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        BadCase{"relative_target", "GET abc HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        BadCase{"bad_method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        BadCase{"header_without_colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400},
        BadCase{"space_before_colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        BadCase{"folded_header", "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n", 400},
        BadCase{"control_char_value", "GET / HTTP/1.1\r\nHost: h\r\nA: b\x01\r\n\r\n", 400},
        BadCase{"bad_content_length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
                400},
        BadCase{"negative_content_length",
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
        BadCase{"conflicting_lengths",
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                400},
        BadCase{
            "te_and_cl",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            400},
        BadCase{"unknown_te", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        BadCase{"bad_chunk_size",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        BadCase{
            "chunk_without_crlf",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n",
            400},
        BadCase{"body_over_limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n", 413},
        BadCase{"chunked_over_limit",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n"
                "9\r\n123456789\r\n0\r\n\r\n",
                413},
        BadCase{"too_many_headers",
                "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431},
        BadCase{"header_block_too_large",
                "GET / HTTP/1.1\r\nHost: h\r\nA: " + std::string(300, 'x') + "\r\n\r\n", 431},
        BadCase{"unterminated_huge_header",
                "GET / HTTP/1.1\r\nHost: h\r\nA: " + std::string(300, 'x'), 431},
        BadCase{"unsupported_expect", "POST / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n", 417},
        // RFC 9112 section 3.2: an HTTP/1.1 request needs exactly one valid Host.
        BadCase{"http11_without_host", "GET / HTTP/1.1\r\nA: 1\r\n\r\n", 400},
        BadCase{"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
        BadCase{"two_hosts_http10", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400},
        BadCase{"host_with_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
        BadCase{"host_with_path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        BadCase{"host_with_userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
        BadCase{"absolute_form_without_host", "GET http://a/p HTTP/1.1\r\n\r\n", 400},
        BadCase{"absolute_form_other_scheme", "GET ftp://a/p HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadCase{"absolute_form_empty_authority", "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        BadCase{"absolute_form_userinfo", "GET http://u:p@a/p HTTP/1.1\r\nHost: a\r\n\r\n", 400}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(HttpParser, SimpleGet) {
  std::string wire = "GET /orders/42?x=1&y=2 HTTP/1.1\r\nHost: a\r\nX-Trace: t1\r\n\r\n";
  auto out = parse_all(wire);
  ASSERT_EQ(out.state, ParseState::kComplete);
  EXPECT_EQ(out.request.method, "GET");
  EXPECT_EQ(out.request.path, "/orders/42");
  EXPECT_EQ(out.request.query, "x=1&y=2");
  EXPECT_EQ(out.request.header("x-trace"), "t1");  // names are lower-cased
  EXPECT_TRUE(out.request.keep_alive);
  EXPECT_EQ(out.consumed, wire.size());
}

TEST(HttpParser, ByteByByteEqualsAllAtOnce) {
  std::string wire =
      "POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
  std::string copy = wire;
  auto whole = parse_all(wire);
  auto bytewise = parse_all(copy, 1);
  ASSERT_EQ(whole.state, ParseState::kComplete);
  ASSERT_EQ(bytewise.state, ParseState::kComplete);
  EXPECT_EQ(whole.body, "hello");
  EXPECT_EQ(bytewise.body, "hello");
  EXPECT_EQ(bytewise.request.header("content-type"), "text/plain");
}

TEST(HttpParser, ChunkedBodyWithExtensionsAndTrailers) {
  std::string wire =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 1\r\n\r\n";
  for (std::size_t step : {0u, 1u, 3u, 7u}) {
    std::string copy = wire;
    auto out = parse_all(copy, step);
    ASSERT_EQ(out.state, ParseState::kComplete) << "step " << step;
    EXPECT_EQ(out.body, "hello world");
    EXPECT_EQ(out.consumed, wire.size());
  }
}

TEST(HttpParser, PipelinedRequestsReportWhatTheyConsumed) {
  std::string wire = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  HttpRequestParser parser({});
  ASSERT_EQ(parser.parse(wire), ParseState::kComplete);
  EXPECT_EQ(parser.request().path, "/a");
  std::size_t used = parser.consumed();
  parser.reset();
  ASSERT_EQ(parser.parse(std::string_view(wire).substr(used)), ParseState::kComplete);
  EXPECT_EQ(parser.request().path, "/b");
}

TEST(HttpParser, ConnectionSemantics) {
  std::string close11 = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  EXPECT_FALSE(parse_all(close11).request.keep_alive);
  std::string plain10 = "GET / HTTP/1.0\r\n\r\n";
  EXPECT_FALSE(parse_all(plain10).request.keep_alive);
  std::string keep10 = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
  EXPECT_TRUE(parse_all(keep10).request.keep_alive);
}

TEST(HttpParser, ExpectContinueStopsAtHeaders) {
  std::string wire =
      "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
  HttpRequestParser parser({});
  EXPECT_EQ(parser.parse(wire), ParseState::kHeadersDone);
  EXPECT_TRUE(parser.request().expect_continue);
  EXPECT_TRUE(parser.has_pending_body());
  wire += "abc";
  EXPECT_EQ(parser.parse(wire), ParseState::kComplete);
  EXPECT_EQ(parser.request().body, "abc");
}

TEST(HttpParser, AbsoluteFormTargetAndLeadingEmptyLines) {
  std::string wire = "\r\nGET http://fn.local/p?q=1 HTTP/1.1\r\nHost: fn.local\r\n\r\n";
  auto out = parse_all(wire);
  ASSERT_EQ(out.state, ParseState::kComplete);
  EXPECT_EQ(out.request.path, "/p");
  EXPECT_EQ(out.request.query, "q=1");
}

TEST(HttpParser, HostIsRequiredInHttp11Only) {
  std::string http10 = "GET /p HTTP/1.0\r\n\r\n";
  auto out = parse_all(http10);
  ASSERT_EQ(out.state, ParseState::kComplete);
  EXPECT_EQ(out.request.host, "");
  std::string http11 = "GET /p HTTP/1.1\r\nHOST: Fn.Example:8080\r\n\r\n";
  out = parse_all(http11);
  ASSERT_EQ(out.state, ParseState::kComplete);
  EXPECT_EQ(out.request.host, "Fn.Example:8080");
  EXPECT_EQ(out.request.header("host"), "Fn.Example:8080");
  // An empty Host is what a client sends for a target without an authority.
  std::string empty = "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n";
  out = parse_all(empty);
  ASSERT_EQ(out.state, ParseState::kComplete);
  EXPECT_EQ(out.request.target, "*");
  std::string ipv6 = "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n";
  EXPECT_EQ(parse_all(ipv6).state, ParseState::kComplete);
  std::string missing = "GET /p HTTP/1.1\r\n\r\n";
  out = parse_all(missing);
  EXPECT_EQ(out.state, ParseState::kError);
  EXPECT_EQ(out.status, 400);
}

// Absolute-form (RFC 9112 section 3.2.2): the query survives wherever it starts, the target
// the server sees is the origin form, and the target's authority replaces the Host header.
TEST(HttpParser, AbsoluteFormKeepsTheQueryAndTakesTheHostFromTheTarget) {
  struct Case {
    std::string target;
    std::string path;
    std::string query;
    std::string origin;
    std::string host;
  };
  for (const Case& c :
       {Case{"http://fn.local/p?q=1", "/p", "q=1", "/p?q=1", "fn.local"},
        Case{"http://fn.local?q=1", "/", "q=1", "/?q=1", "fn.local"},
        Case{"http://fn.local?next=/a/b", "/", "next=/a/b", "/?next=/a/b", "fn.local"},
        Case{"HTTPS://fn.local:8443/a/b?x=/y&z", "/a/b", "x=/y&z", "/a/b?x=/y&z", "fn.local:8443"},
        Case{"http://fn.local", "/", "", "/", "fn.local"},
        Case{"http://[::1]:80/p", "/p", "", "/p", "[::1]:80"}}) {
    std::string wire = "GET " + c.target + " HTTP/1.1\r\nHost: other.example\r\n\r\n";
    HttpRequestParser parser({});
    ASSERT_EQ(parser.parse(wire), ParseState::kComplete) << c.target;
    const HttpRequest& req = parser.request();
    EXPECT_EQ(req.path, c.path) << c.target;
    EXPECT_EQ(req.query, c.query) << c.target;
    EXPECT_EQ(req.target, c.origin) << c.target;
    EXPECT_EQ(req.host, c.host) << c.target;
    EXPECT_EQ(req.header("host"), c.host) << c.target;
  }
}

// Decodes `data` whole or `step` bytes at a time (0 = whole).
ChunkedDecoder::Step decode_chunked(std::string_view data, std::size_t step, std::size_t max_body,
                                    std::size_t max_trailers) {
  ChunkedDecoder d;
  d.reset(0);
  std::size_t fed = step == 0 ? data.size() : 0;
  for (;;) {
    if (step != 0) fed = std::min(data.size(), fed + step);
    auto s = d.decode(data.substr(0, fed), max_body, max_trailers);
    if (s != ChunkedDecoder::Step::kNeedMore || fed == data.size()) return s;
  }
}

// Found by fuzz/chunked: the size-line and trailer limits held only for bytes that arrived
// in several reads; the same body sent at once got past them.
TEST(ChunkedDecoder, LimitsHoldHoweverTheBytesArrive) {
  const std::string long_size_line = std::string(1100, '0') + "1\r\nx\r\n0\r\n\r\n";
  const std::string big_trailers = "1\r\nx\r\n0\r\nX-A: " + std::string(300, 'a') + "\r\n\r\n";
  const std::string edge_line = std::string(1023, '0') + "\r\n\r\n";  // 1023-byte size line
  for (std::size_t step : {0u, 1u, 7u, 64u}) {
    EXPECT_EQ(decode_chunked(long_size_line, step, 1 << 20, 256), ChunkedDecoder::Step::kMalformed)
        << step;
    EXPECT_EQ(decode_chunked(big_trailers, step, 1 << 20, 256),
              ChunkedDecoder::Step::kTrailersTooLarge)
        << step;
    EXPECT_EQ(decode_chunked(edge_line, step, 1 << 20, 256), ChunkedDecoder::Step::kDone) << step;
  }
}

}  // namespace
}  // namespace kubefn::http
