#include "invoke.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kubefn::runtime {
namespace {

class NullLogger : public Logger {
 public:
  void write(LogLevel, std::string_view) override {}
};

Response call(HandlerFn fn) {
  NullLogger logger;
  Context ctx("f", "cpp20", std::chrono::milliseconds(1000), 0,
              std::chrono::steady_clock::now() + std::chrono::seconds(1), logger);
  Event event;
  return invoke_handler(fn, event, ctx).response;
}

InvokeResult call_result(HandlerFn fn) {
  NullLogger logger;
  Context ctx("f", "cpp20", std::chrono::milliseconds(1000), 0,
              std::chrono::steady_clock::now() + std::chrono::seconds(1), logger);
  Event event;
  return invoke_handler(fn, event, ctx);
}

TEST(Invoke, ExceptionBecomes500WithoutItsMessage) {
  auto r = call_result([](const Event&, Context&) -> Response {
    throw std::runtime_error("secret database password in /etc/x");
  });
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(r.response.status, 500);
  EXPECT_EQ(r.response.body.find("secret"), std::string::npos);
  EXPECT_NE(r.error_detail.find("secret"), std::string::npos);  // the log gets it
}

TEST(Invoke, NonStandardThrowIsAFailureToo) {
  auto r = call_result([](const Event&, Context&) -> Response { throw 42; });
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(r.response.status, 500);
}

TEST(Invoke, InvalidStatusOrHeaderIsAFailure) {
  EXPECT_EQ(call([](const Event&, Context&) { return Response{42, {}, ""}; }).status, 500);
  EXPECT_EQ(call([](const Event&, Context&) {
              return Response{200, {{"x", "a\r\nset-cookie: evil"}}, ""};
            }).status,
            500);
  EXPECT_EQ(call([](const Event&, Context&) {
              return Response{200, {{"bad name", "v"}}, ""};
            }).status,
            500);
}

// RFC 9110 section 5: a field name is a token, a value has no control character but HTAB.
TEST(Invoke, EveryInvalidHeaderIsAFailureThatNamesTheHeader) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"x-crlf", "a\r\nset-cookie: evil"},
      {"x-lf", "a\nb"},
      {"x-cr", "a\rb"},
      {"x-nul", std::string("a\0b", 3)},
      {"x-ctl", "a\x01b"},
      {"x-del", "a\x7f"},
      {"", "empty name"},
      {"bad name", "v"},
      {"x@y", "v"},
      {"x(y)", "v"},
      {"x\"y", "v"},
      {"x/y", "v"},
      {"x:y", "v"},
      {"x\xc3\xa9", "v"},
      {std::string("x\0", 2), "v"},
  };
  // Handlers are plain function pointers: the header to set goes through a static.
  static std::pair<std::string, std::string> header;
  for (const auto& [name, value] : bad) {
    header = {name, value};
    auto r = call_result([](const Event&, Context&) {
      return Response{200, {{"x-fine", "ok"}, header}, "body"};
    });
    EXPECT_TRUE(r.failed) << name;
    EXPECT_EQ(r.response.status, 500) << name;
    EXPECT_EQ(r.response.body.find("body"), std::string::npos) << name;
    EXPECT_NE(r.error_detail.find("header"), std::string::npos) << r.error_detail;
    EXPECT_NE(r.error_detail.find("\"" + name + "\""), std::string::npos) << r.error_detail;
  }
}

TEST(Invoke, ValidHeaderValuesPass) {
  auto r = call_result([](const Event&, Context&) {
    return Response{200,
                    {{"x-tab", "a\tb"},
                     {"x-utf8", "caf\xc3\xa9"},
                     {"x-empty", ""},
                     {"X-Mixed_Case.~!#$%&'*+^`|", "quoted \"ok\" (really)"}},
                    ""};
  });
  EXPECT_FALSE(r.failed) << r.error_detail;
  EXPECT_EQ(r.response.status, 200);
}

TEST(Invoke, ResponsePassesThrough) {
  auto r = call_result([](const Event&, Context&) { return Response::json("{}", 201); });
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(r.response.status, 201);
  EXPECT_EQ(r.response.body, "{}");
}

std::string say(const Event&, Context&) {
  return "said";
}

TEST(Invoke, StringHandlersAdaptThroughTheSdk) {
  HandlerFn fn = [](const Event& e, Context& c) { return detail::to_response(say(e, c)); };
  auto r = call(fn);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "said");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "content-type");
}

TEST(Sdk, EventHeaderLookupIgnoresCase) {
  Header hs[] = {{"content-type", "a/b"}, {"x-k", "v"}};
  Event e;
  e.headers = hs;
  EXPECT_EQ(e.header("X-K"), "v");
  EXPECT_EQ(e.header("Content-Type"), "a/b");
  EXPECT_EQ(e.header("missing"), "");
}

TEST(Sdk, QueryParamsAreLookedUpByExactKey) {
  Event e;
  e.query = "name=kube&n=1&empty=&namex=no";
  EXPECT_EQ(e.query_param("name"), "kube");
  EXPECT_EQ(e.query_param("n"), "1");
  EXPECT_EQ(e.query_param("empty"), "");
  EXPECT_EQ(e.query_param("nam"), "");
  EXPECT_EQ(e.query_param("missing"), "");
  e.query = "";
  EXPECT_EQ(e.query_param("name"), "");
}

TEST(Sdk, ContextRemainingNeverNegative) {
  NullLogger logger;
  Context past("f", "cpp20", std::chrono::milliseconds(1), 0,
               std::chrono::steady_clock::now() - std::chrono::seconds(1), logger);
  EXPECT_TRUE(past.expired());
  EXPECT_EQ(past.remaining().count(), 0);
}

}  // namespace
}  // namespace kubefn::runtime
