#include "kubefn/cli/invoke.hpp"

#include <gtest/gtest.h>

#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::cli {
namespace {

InvokeArgs base() {
  InvokeArgs a;
  a.gateway = "http://127.0.0.1:8080/";
  a.ns = "default";
  a.name = "hello";
  return a;
}

TEST(Invoke, GetWithoutBodyAndPostWithOne) {
  auto get = build_invoke_request(base());
  ASSERT_TRUE(get.ok()) << get.status().message();
  EXPECT_EQ(get->method, "GET");
  EXPECT_EQ(get->url, "http://127.0.0.1:8080/default/hello");
  EXPECT_FALSE(get->has_body);

  auto args = base();
  args.data = "payload";
  auto post = build_invoke_request(args);
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->method, "POST");
  EXPECT_EQ(post->body, "payload");
  EXPECT_TRUE(post->has_body);

  args.method = "put";
  auto put = build_invoke_request(args);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->method, "PUT");
}

TEST(Invoke, EmptyDataIsStillABody) {
  auto args = base();
  args.data = "";
  auto r = build_invoke_request(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, "POST");
  EXPECT_TRUE(r->has_body);
}

TEST(Invoke, DataFileAndStdin) {
  testing::TempDir dir;
  auto args = base();
  args.data_file = dir.write("body.json", "{\"a\":1}").string();
  auto r = build_invoke_request(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "{\"a\":1}");

  args.data_file = dir.file("missing");
  r = build_invoke_request(args);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), kube::StatusCode::kBadRequest);

  auto piped = base();
  piped.stdin_data = "from stdin";
  r = build_invoke_request(piped);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->body, "from stdin");

  piped.stdin_data = "";  // an empty pipe (e.g. /dev/null) is no body
  r = build_invoke_request(piped);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, "GET");
}

TEST(Invoke, TwoBodiesOrBodyOnGetAreUsageErrors) {
  auto args = base();
  args.data = "x";
  args.data_file = "/etc/hostname";
  auto r = build_invoke_request(args);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), kube::StatusCode::kBadRequest);

  auto get = base();
  get.data = "x";
  get.method = "GET";
  r = build_invoke_request(get);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("-X POST"), std::string::npos);

  auto bad_method = base();
  bad_method.method = "GE T";
  EXPECT_FALSE(build_invoke_request(bad_method).ok());
}

TEST(Invoke, HeadersTokenAndPath) {
  auto args = base();
  args.headers = {"X-User: ada", "Content-Type:text/plain  "};
  args.token = "s3cret";
  args.path = "sub/dir?name=you";
  auto r = build_invoke_request(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url, "http://127.0.0.1:8080/default/hello/sub/dir?name=you");
  ASSERT_EQ(r->headers.size(), 3u);
  EXPECT_EQ(r->headers[0], std::make_pair(std::string("X-User"), std::string("ada")));
  EXPECT_EQ(r->headers[1], std::make_pair(std::string("Content-Type"), std::string("text/plain")));
  EXPECT_EQ(r->headers[2],
            std::make_pair(std::string("Authorization"), std::string("Bearer s3cret")));

  args.path = "?name=q";
  r = build_invoke_request(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url, "http://127.0.0.1:8080/default/hello?name=q");

  args.headers = {"no colon here"};
  r = build_invoke_request(args);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), kube::StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("Name: value"), std::string::npos);
}

TEST(Invoke, AsyncQueuesOnTheUsualRouteAndCallReadsTheState) {
  auto args = base();
  args.async = true;
  args.callback = "http://127.0.0.1:9/done";
  args.data = "x";
  auto r = build_invoke_request(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->url, "http://127.0.0.1:8080/default/hello");
  ASSERT_EQ(r->headers.size(), 2u);
  EXPECT_EQ(r->headers[0], std::make_pair(std::string("Prefer"), std::string("respond-async")));
  EXPECT_EQ(r->headers[1],
            std::make_pair(std::string("X-Callback-Url"), std::string("http://127.0.0.1:9/done")));

  auto state = base();
  state.call = "0123456789abcdef0123456789abcdef";
  state.token = "t";
  r = build_invoke_request(state);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, "GET");
  EXPECT_FALSE(r->has_body);
  EXPECT_EQ(r->url,
            "http://127.0.0.1:8080/async/default/hello/calls/0123456789abcdef0123456789abcdef");

  auto bad = base();
  bad.callback = "http://h/";
  EXPECT_EQ(build_invoke_request(bad).status().message(), "--callback goes with --async");
  bad = base();
  bad.call = "x";
  bad.data = "body";
  EXPECT_EQ(build_invoke_request(bad).status().code(), kube::StatusCode::kBadRequest);
  EXPECT_NE(invoke_hint(501, "default", "hello").find("--async-nats-url"), std::string::npos);
}

TEST(Invoke, GatewayWithoutSchemeAndMissingGateway) {
  auto args = base();
  args.gateway = "localhost:9000";
  auto r = build_invoke_request(args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url, "http://localhost:9000/default/hello");

  args.gateway.clear();
  r = build_invoke_request(args);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("KUBEFN_GATEWAY"), std::string::npos);
}

TEST(Invoke, ParseHeader) {
  EXPECT_EQ(parse_header("A: b: c")->second, "b: c");
  EXPECT_EQ(parse_header("A:")->second, "");
  EXPECT_FALSE(parse_header(": v").has_value());
  EXPECT_FALSE(parse_header("bad name: v").has_value());
}

TEST(Invoke, HintsSayWhatToDoNext) {
  EXPECT_EQ(invoke_hint(404, "default", "x"),
            "function default/x not found: kubefn list -n default");
  EXPECT_NE(invoke_hint(401, "d", "x").find("--token"), std::string::npos);
  EXPECT_NE(invoke_hint(503, "d", "x").find("kubefn logs x -n d"), std::string::npos);
  EXPECT_EQ(invoke_hint(418, "d", "x"), "");
}

}  // namespace
}  // namespace kubefn::cli
