// The asynchronous call's formats: ids, callback URLs, which headers go on, the call as a
// message and back, and the state as JSON and back.
#include "kubefn/async/call.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace kubefn::async {
namespace {

TEST(CallId, IsThirtyTwoHexDigitsAndNeverTheSame) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_call_id();
    ASSERT_TRUE(valid_call_id(id)) << id;
    ASSERT_TRUE(seen.insert(id).second) << "repeated " << id;
  }
  EXPECT_FALSE(valid_call_id(""));
  EXPECT_FALSE(valid_call_id("0123456789ABCDEF0123456789abcdef"));  // upper case
  EXPECT_FALSE(valid_call_id("0123456789abcdef0123456789abcde"));   // 31
  EXPECT_FALSE(valid_call_id("0123456789abcdef0123456789abcdef?x"));
  EXPECT_FALSE(valid_call_id("../../0123456789abcdef0123456789ab"));
}

TEST(CallbackUrl, OnlyPlainHttpWithAHostAndNoCredentials) {
  for (const char* ok : {"http://127.0.0.1:8080/done", "http://example.com", "http://h/p?q=1",
                         "http://[::1]:9000/x", "http://[::1]"}) {
    EXPECT_EQ(callback_url_problem(ok), "") << ok;
  }
  EXPECT_EQ(callback_url_problem("https://example.com/"),
            "https callback URLs are not supported yet: give an http:// URL");
  EXPECT_EQ(callback_url_problem("ftp://x/"), "the callback URL must start with http://");
  EXPECT_EQ(callback_url_problem("http:///x"), "the callback URL has no host");
  EXPECT_EQ(callback_url_problem("http://user:pw@h/"),
            "the callback URL must not carry credentials");
  EXPECT_EQ(callback_url_problem("http://h/#frag"), "the callback URL must not have a fragment");
  EXPECT_EQ(callback_url_problem("http://h:0/"), "the callback URL's port is out of range");
  EXPECT_EQ(callback_url_problem("http://h:70000/"), "the callback URL's port is out of range");
  EXPECT_EQ(callback_url_problem("http://h:x/"), "the callback URL's port is not a number");
  EXPECT_EQ(callback_url_problem("http://h/a b"),
            "the callback URL has a space or control character");
  EXPECT_EQ(callback_url_problem("http://" + std::string(3000, 'a')),
            "the callback URL is longer than 2048 characters");
}

TEST(CallbackUrl, ItsHostInLowerCaseWithoutPortOrBrackets) {
  EXPECT_EQ(callback_host("http://Hooks.Example.com:8080/x?y"), "hooks.example.com");
  EXPECT_EQ(callback_host("http://h"), "h");
  EXPECT_EQ(callback_host("http://h?q=1"), "h");
  EXPECT_EQ(callback_host("http://[::1]:9000/x"), "::1");
  EXPECT_EQ(callback_host("http://[fe80::1]"), "fe80::1");
}

TEST(ForwardedHeaders, NeverCredentialsFramingOrThePlatformsOwn) {
  for (const char* kept : {"content-type", "accept", "x-request-id", "user-agent", "traceparent"})
    EXPECT_TRUE(forwarded_header(kept)) << kept;
  for (const char* dropped :
       {"authorization", "cookie", "proxy-authorization", "host", "connection", "transfer-encoding",
        "content-length", "prefer", "x-callback-url", "kubefn-trigger", "kubefn-call-id", "ce-id",
        "event-id", "expect", "upgrade"})
    EXPECT_FALSE(forwarded_header(dropped)) << dropped;
}

TEST(CallMessage, RoundTripsWithTheIdAsTheMessageId) {
  Call c;
  c.id = new_call_id();
  c.ns = "team";
  c.function = "resize";
  c.method = "PUT";
  c.target = "/images/1?size=small";
  c.callback_url = "http://127.0.0.1:9/cb";
  c.headers = {{"content-type", "image/png"}, {"x-request-id", "r1"}, {"accept", "a"}};
  c.body = std::string("\0\x01\xff binary", 10);
  c.queued_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764669600123));
  const nats::Message m = to_message(c);
  EXPECT_EQ(m.subject, "kubefn.async.call.team.resize." + c.id);
  EXPECT_EQ(m.headers.get("Nats-Msg-Id").value_or(""), c.id);
  auto back = from_message(m);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->id, c.id);
  EXPECT_EQ(back->ns, c.ns);
  EXPECT_EQ(back->function, c.function);
  EXPECT_EQ(back->method, c.method);
  EXPECT_EQ(back->target, c.target);
  EXPECT_EQ(back->callback_url, c.callback_url);
  EXPECT_EQ(back->headers, c.headers);
  EXPECT_EQ(back->body, c.body);
  EXPECT_EQ(back->queued_at, c.queued_at);
}

TEST(CallMessage, AMessageThatIsNotACallSaysWhatIsMissing) {
  nats::Message m;
  m.subject = "kubefn.async.call.a.b";
  auto r = from_message(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "the queued call has no Kubefn-Call-Id header");
  Call c;
  c.id = "not-an-id";
  c.ns = "a";
  c.function = "b";
  r = from_message(to_message(c));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "the queued call's id is malformed");
}

TEST(CallState, RoundTripsTextAndBinaryResults) {
  CallState s;
  s.id = new_call_id();
  s.ns = "team";
  s.function = "resize";
  s.state = State::kSucceeded;
  s.attempts = 2;
  s.queued_at = "2026-12-02T10:00:00.000Z";
  s.started_at = "2026-12-02T10:00:00.100Z";
  s.finished_at = "2026-12-02T10:00:01.100Z";
  s.status = 200;
  s.content_type = "text/plain";
  s.result = "héllo";
  s.callback_url = "http://h/cb";
  s.callback = "delivered";
  nlohmann::json j = to_json(s);
  EXPECT_EQ(j["state"], "succeeded");
  EXPECT_EQ(j["result"], "héllo");
  EXPECT_FALSE(j.contains("resultBase64"));
  auto back = state_from_json(j.dump());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(to_json(back.value()), j);

  s.result = std::string("\xff\xfe\x00\x01", 4);
  s.state = State::kFailed;
  s.reason = "HTTP 500: boom";
  j = to_json(s);
  EXPECT_FALSE(j.contains("result"));
  EXPECT_EQ(j["resultBase64"], "//4AAQ==");
  back = state_from_json(j.dump());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->result, s.result);
  EXPECT_EQ(back->state, State::kFailed);
  EXPECT_EQ(back->reason, "HTTP 500: boom");

  // A queued call shows no result.
  s.state = State::kQueued;
  EXPECT_FALSE(to_json(s).contains("resultBase64"));
  EXPECT_FALSE(state_from_json("{\"id\":\"x\",\"state\":\"lost\"}").ok());
  EXPECT_FALSE(state_from_json("[]").ok());
}

TEST(Base64, MatchesTheStandardAlphabetWithPadding) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i)
      s.push_back(static_cast<char>(i));
    return s;
  }();
  EXPECT_EQ(nats::base64_decode(base64_encode(all)).value(), all);
}

TEST(Subjects, OneTokenEach) {
  EXPECT_EQ(call_subject("a", "b", "c"), "kubefn.async.call.a.b.c");
  EXPECT_EQ(call_filter("a", "b"), "kubefn.async.call.a.b.*");
  EXPECT_EQ(state_subject("a", "b", "c"), "kubefn.async.state.a.b.c");
  EXPECT_EQ(dead_letter_subject("a", "b"), "kubefn.deadletter.async.a.b");
  EXPECT_EQ(call_stream_config().retention, nats::RetentionPolicy::kWorkQueue);
  EXPECT_EQ(state_stream_config().max_msgs_per_subject, 1);
}

}  // namespace
}  // namespace kubefn::async
