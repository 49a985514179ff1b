// Admission's verdicts, row by row: why a call gets 404, 401, 403, 429, 431 or 503 from the
// gateway itself, waits, or goes to a replica.
#include "admission.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "activation_probe.hpp"
#include "kubefn/async/call_store.hpp"
#include "kubefn/gateway/http_proxy.hpp"

namespace kubefn::gateway {
namespace {

using Admit = ConcurrencyLimiter::Admit;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::int64_t kMs = 1000 * 1000;
constexpr std::int64_t kNow = std::int64_t{1000} * kMs;

FunctionRoute make_route(std::string ns, std::string name, Access access, int ready,
                         int concurrency = 0) {
  FunctionRoute r;
  r.ns = std::move(ns);
  r.name = std::move(name);
  r.access = access;
  r.concurrency = concurrency;
  for (int i = 0; i < ready; ++i) {
    r.endpoints.push_back(Endpoint{r.name + std::to_string(i), "127.0.0.1",
                                   static_cast<std::uint16_t>(9000 + i), true});
  }
  return r;
}

// The tables every row reads: public default/pub (also holding host pub.example.com and path
// /pubpath), private default/priv, team/cold with no ready replica, team/limited with a
// concurrency of 2 on one ready replica (limit 2); a token for every function and one for team/*.
class Tables {
 public:
  Tables() : routes_(allow_all_hosts()) {
    FunctionRoute pub = make_route("default", "pub", Access::kPublic, 1);
    pub.host = "pub.example.com";
    pub.path = "/pubpath";
    routes_.upsert(pub);
    routes_.upsert(make_route("default", "priv", Access::kPrivate, 1));
    routes_.upsert(make_route("team", "cold", Access::kPublic, 0));
    routes_.upsert(make_route("team", "limited", Access::kPublic, 1, 2));
    keys_.set_keys({Key{"tok-all", {"*"}}, Key{"tok-team", {"team/*"}}});
  }
  const RouteTable& routes() const { return routes_; }
  const KeyRing& keys() const { return keys_; }
  std::shared_ptr<const FunctionRoute> find(const std::string& ns, const std::string& name) {
    return routes_.find(ns, name);
  }

 private:
  static kube::ClaimPolicy allow_all_hosts() {
    kube::ClaimPolicy p;
    p.allowances = {{"*", "*"}};
    return p;
  }
  RouteTable routes_;
  KeyRing keys_;
};

std::string header(const Reply& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "<none>";
}

// ---------------------------------------------------------------------------------------
// From the head

struct HeadRow {
  const char* what = "";
  std::string method = {};
  std::string target = {};
  Headers headers = {};  // besides Host: gw.example.com (unless a row sends its own)
  bool draining = false;
  // The head's size as received when not its real one.
  std::optional<std::size_t> head_bytes;
  HeadVerdict::Kind kind = HeadVerdict::Kind::kRouted;
  int status = 0;               // kBuiltin and kRefused
  std::string message = {};     // kBuiltin and kRefused
  std::string counts_for = {};  // the function a verdict names ("" none)
  std::string target_out = {};  // kRouted
  Headers reply_headers = {};
  bool close = false;
};

std::vector<HeadRow> head_rows() {
  using K = HeadVerdict::Kind;
  const std::string kNoPath = "no function at this path; call /{namespace}/{function}/...";
  const std::size_t host_room = kUpstreamHeadLimit - kForwardHeadroomBytes - 14;  // Host's 14
  return {
      {"health", "GET", "/healthz", {}, false, {}, K::kBuiltin, 200, "ok\n"},
      {"ready", "HEAD", "/readyz", {}, false, {}, K::kBuiltin, 200, "ready\n"},
      {"not ready while draining", "GET", "/readyz", {}, true, {}, K::kBuiltin, 503, "draining\n"},
      {"health is GET and HEAD only", "POST", "/healthz", {}, false, {}, K::kRefused, 404, kNoPath},
      {"metrics are not on the public port",
       "GET",
       "/metrics",
       {},
       false,
       {},
       K::kRefused,
       404,
       kNoPath},
      {"unknown function",
       "GET",
       "/default/missing/x",
       {},
       false,
       {},
       K::kRefused,
       404,
       "function not found"},
      {"no namespace and function", "GET", "/nothing", {}, false, {}, K::kRefused, 404, kNoPath},
      {"the runtime's own paths",
       "GET",
       "/default/pub/healthz",
       {},
       false,
       {},
       K::kRefused,
       404,
       "function not found"},
      {"the runtime's metrics",
       "GET",
       "/default/pub/metrics?x",
       {},
       false,
       {},
       K::kRefused,
       404,
       "function not found"},
      {"default route",
       "GET",
       "/default/pub/x?y=1",
       {},
       false,
       {},
       K::kRouted,
       0,
       "",
       "pub",
       "/x?y=1"},
      {"default route, no rest",
       "GET",
       "/default/pub",
       {},
       false,
       {},
       K::kRouted,
       0,
       "",
       "pub",
       "/"},
      {"host claim",
       "GET",
       "/a/b?c",
       {{"Host", "PUB.example.com"}},
       false,
       {},
       K::kRouted,
       0,
       "",
       "pub",
       "/a/b?c"},
      {"path claim", "GET", "/pubpath/rest?q", {}, false, {}, K::kRouted, 0, "", "pub", "/rest?q"},
      {"a default route beats a host claim",
       "GET",
       "/default/priv/x",
       {{"Host", "pub.example.com"}, {"Authorization", "Bearer tok-all"}},
       false,
       {},
       K::kRouted,
       0,
       "",
       "priv",
       "/x"},
      {"private without a token",
       "GET",
       "/default/priv/x",
       {},
       false,
       {},
       K::kRefused,
       401,
       "this function needs a bearer token",
       "priv",
       "",
       {{"www-authenticate", "Bearer"}}},
      {"private with another scheme",
       "GET",
       "/default/priv/x",
       {{"Authorization", "Basic dXNlcjpwYXNz"}},
       false,
       {},
       K::kRefused,
       401,
       "this function needs a bearer token",
       "priv",
       "",
       {{"www-authenticate", "Bearer"}}},
      {"private with an empty bearer",
       "GET",
       "/default/priv/x",
       {{"Authorization", "Bearer   "}},
       false,
       {},
       K::kRefused,
       401,
       "this function needs a bearer token",
       "priv",
       "",
       {{"www-authenticate", "Bearer"}}},
      {"private with an unknown token",
       "GET",
       "/default/priv/x",
       {{"Authorization", "Bearer nope"}},
       false,
       {},
       K::kRefused,
       403,
       "the token is not valid for this function",
       "priv"},
      {"private with a token of another scope",
       "GET",
       "/default/priv/x",
       {{"Authorization", "Bearer tok-team"}},
       false,
       {},
       K::kRefused,
       403,
       "the token is not valid for this function",
       "priv"},
      {"private with a token (scheme in any case)",
       "POST",
       "/default/priv/x",
       {{"Authorization", "bEaReR  tok-all "}, {"Content-Length", "0"}},
       false,
       {},
       K::kRouted,
       0,
       "",
       "priv",
       "/x"},
      {"a public function ignores tokens",
       "GET",
       "/default/pub/x",
       {{"Authorization", "Bearer nope"}},
       false,
       {},
       K::kRouted,
       0,
       "",
       "pub",
       "/x"},
      {"a head that fits once forwarded",
       "GET",
       "/default/pub/x",
       {},
       false,
       host_room,
       K::kRouted,
       0,
       "",
       "pub",
       "/x"},
      {"a head too large once forwarded",
       "GET",
       "/default/pub/x",
       {},
       false,
       host_room + 1,
       K::kRefused,
       431,
       "request header fields too large",
       "",
       "",
       {},
       true},
      {"431 comes before routing",
       "GET",
       "/default/missing/x",
       {},
       false,
       host_room + 1,
       K::kRefused,
       431,
       "request header fields too large",
       "",
       "",
       {},
       true},
  };
}

TEST(Admission, HeadVerdicts) {
  Tables tables;
  const Admission admission{GatewayOptions{}};
  for (const HeadRow& row : head_rows()) {
    SCOPED_TRACE(row.what);
    std::string raw = row.method + " " + row.target + " HTTP/1.1\r\n";
    bool own_host = false;
    for (const auto& [k, v] : row.headers) {
      own_host = own_host || k == "Host";
      raw += k + ": " + v + "\r\n";
    }
    if (!own_host) raw += "Host: gw.example.com\r\n";
    raw += "\r\n";
    http::HttpRequestParser parser(http::HttpLimits{});
    ASSERT_EQ(parser.parse(raw), http::ParseState::kComplete);
    const HeadFacts facts{parser.request(), row.head_bytes.value_or(raw.size()), row.draining};

    const HeadVerdict v = admission.head(facts, tables.routes(), tables.keys());

    EXPECT_EQ(v.kind, row.kind);
    if (row.kind != HeadVerdict::Kind::kRouted) {
      EXPECT_EQ(v.reply.status, row.status);
      EXPECT_EQ(v.reply.message, row.message);
      EXPECT_EQ(v.reply.headers, row.reply_headers);
      EXPECT_EQ(v.reply.close, row.close);
    } else {
      EXPECT_EQ(v.target, row.target_out);
    }
    EXPECT_EQ(v.route ? v.route->name : "", row.counts_for);
  }
}

HeadVerdict head_of(const Admission& admission, const Tables& tables, const std::string& method,
                    const std::string& target, const Headers& headers = {}) {
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: gw.example.com\r\n";
  for (const auto& [k, v] : headers)
    raw += k + ": " + v + "\r\n";
  raw += "\r\n";
  http::HttpRequestParser parser(http::HttpLimits{});
  EXPECT_EQ(parser.parse(raw), http::ParseState::kComplete);
  return admission.head(HeadFacts{parser.request(), raw.size(), false}, tables.routes(),
                        tables.keys());
}

TEST(Admission, AsynchronousCallsAndTheirStates) {
  using A = HeadVerdict::Async;
  using K = HeadVerdict::Kind;
  Tables tables;
  GatewayOptions options;
  async::CallFrontOptions front;
  front.url = "nats://127.0.0.1:1";  // never reached: admission only looks at the pointer
  options.async_calls = std::make_shared<async::CallFront>(front);
  const Admission admission(options);

  HeadVerdict v = head_of(admission, tables, "POST", "/async/default/pub/orders?x=1");
  EXPECT_EQ(v.kind, K::kRouted);
  EXPECT_EQ(v.async, A::kCall);
  EXPECT_EQ(v.target, "/orders?x=1");
  EXPECT_EQ(v.route->name, "pub");
  EXPECT_FALSE(v.preferred);

  v = head_of(admission, tables, "POST", "/async/default/pub",
              {{"X-Callback-Url", "http://127.0.0.1:9/done?k=v"}});
  EXPECT_EQ(v.async, A::kCall);
  EXPECT_EQ(v.target, "/");
  EXPECT_EQ(v.callback_url, "http://127.0.0.1:9/done?k=v");

  v = head_of(admission, tables, "GET",
              "/async/default/pub/calls/0123456789abcdef0123456789abcdef");
  EXPECT_EQ(v.kind, K::kRouted);
  EXPECT_EQ(v.async, A::kState);
  EXPECT_EQ(v.call_id, "0123456789abcdef0123456789abcdef");

  // The normal route with Prefer: respond-async, any method.
  v = head_of(admission, tables, "PUT", "/default/pub/x", {{"Prefer", "wait=5, Respond-Async"}});
  EXPECT_EQ(v.async, A::kCall);
  EXPECT_TRUE(v.preferred);
  EXPECT_EQ(v.target, "/x");
  v = head_of(admission, tables, "PUT", "/default/pub/x", {{"Prefer", "return=minimal"}});
  EXPECT_EQ(v.async, A::kNone);

  // Refusals: with the function they count against.
  v = head_of(admission, tables, "PUT", "/async/default/pub/x");
  EXPECT_EQ(v.kind, K::kRefused);
  EXPECT_EQ(v.reply.status, 405);
  EXPECT_EQ(header(v.reply, "allow"), "POST");
  v = head_of(admission, tables, "POST", "/async/default/missing");
  EXPECT_EQ(v.reply.status, 404);
  v = head_of(admission, tables, "POST", "/async/");
  EXPECT_EQ(v.reply.status, 404);
  v = head_of(admission, tables, "POST", "/async/default/priv/x");
  EXPECT_EQ(v.reply.status, 401);
  v = head_of(admission, tables, "GET",
              "/async/default/priv/calls/0123456789abcdef0123456789abcdef",
              {{"Authorization", "Bearer tok-team"}});
  EXPECT_EQ(v.reply.status, 403);
  v = head_of(admission, tables, "POST", "/async/default/priv/x",
              {{"Authorization", "Bearer tok-all"}});
  EXPECT_EQ(v.kind, K::kRouted);
  EXPECT_EQ(v.async, A::kCall);
  v = head_of(admission, tables, "POST", "/async/default/pub",
              {{"X-Callback-Url", "ftp://example.com/"}});
  EXPECT_EQ(v.reply.status, 400);
  EXPECT_EQ(v.reply.message, "X-Callback-Url: the callback URL must start with http://");
  EXPECT_EQ(v.route->name, "pub");
  v = head_of(admission, tables, "POST", "/async/default/pub/healthz");
  EXPECT_EQ(v.reply.status, 404);
}

TEST(Admission, CallbacksGoOnlyToTheAllowedHostsWhenSomeAreNamed) {
  Tables tables;
  GatewayOptions options;
  async::CallFrontOptions front;
  front.url = "nats://127.0.0.1:1";
  options.async_calls = std::make_shared<async::CallFront>(front);
  options.callback_hosts = {"hooks.example.com", "*.svc.cluster.local"};
  const Admission admission(options);
  for (const char* ok : {"http://hooks.example.com/done", "http://HOOKS.example.com:8080/x",
                         "http://receiver.team.svc.cluster.local/cb"}) {
    HeadVerdict v =
        head_of(admission, tables, "POST", "/async/default/pub", {{"X-Callback-Url", ok}});
    EXPECT_EQ(v.kind, HeadVerdict::Kind::kRouted) << ok << ": " << v.reply.message;
  }
  for (const char* refused : {"http://169.254.169.254/latest", "http://127.0.0.1:6443/",
                              "http://example.com/", "http://[::1]:80/"}) {
    HeadVerdict v =
        head_of(admission, tables, "POST", "/async/default/pub", {{"X-Callback-Url", refused}});
    EXPECT_EQ(v.reply.status, 400) << refused;
    EXPECT_NE(v.reply.message.find("allowed hosts"), std::string::npos) << v.reply.message;
  }
}

TEST(Admission, WithoutACallQueueAsyncIs501AndPreferIsIgnored) {
  Tables tables;
  const Admission admission{GatewayOptions{}};
  HeadVerdict v = head_of(admission, tables, "POST", "/async/default/pub/x");
  EXPECT_EQ(v.kind, HeadVerdict::Kind::kRefused);
  EXPECT_EQ(v.reply.status, 501);
  EXPECT_NE(v.reply.message.find("NATS"), std::string::npos) << v.reply.message;
  v = head_of(admission, tables, "POST", "/default/pub/x", {{"Prefer", "respond-async"}});
  EXPECT_EQ(v.kind, HeadVerdict::Kind::kRouted);
  EXPECT_EQ(v.async, HeadVerdict::Async::kNone);
}

TEST(Admission, APlatformKeyNeverReachesAFunctionAndOnlyItsCallsMayNameATrigger) {
  Tables tables;
  const Admission admission{GatewayOptions{}};
  // A public function: a key of the gateway's is taken off; anything else passes as sent.
  HeadVerdict v =
      head_of(admission, tables, "GET", "/default/pub/x", {{"Authorization", "Bearer tok-all"}});
  EXPECT_TRUE(v.credentialed);
  EXPECT_TRUE(v.strip_authorization);
  v = head_of(admission, tables, "GET", "/default/pub/x", {{"Authorization", "Bearer tok-team"}});
  EXPECT_FALSE(v.credentialed);  // a key, but not one for default/pub
  EXPECT_TRUE(v.strip_authorization);
  v = head_of(admission, tables, "GET", "/default/pub/x", {{"Authorization", "Bearer users-own"}});
  EXPECT_FALSE(v.credentialed);
  EXPECT_FALSE(v.strip_authorization);
  v = head_of(admission, tables, "GET", "/default/pub/x");
  EXPECT_FALSE(v.credentialed);
  EXPECT_FALSE(v.strip_authorization);
  // A private function's caller is always credentialed, and its key always consumed.
  v = head_of(admission, tables, "GET", "/default/priv/x", {{"Authorization", "Bearer tok-all"}});
  EXPECT_TRUE(v.credentialed);
  EXPECT_TRUE(v.strip_authorization);
}

TEST(Admission, PreferRespondAsync) {
  EXPECT_TRUE(prefers_respond_async("respond-async"));
  EXPECT_TRUE(prefers_respond_async(" RESPOND-ASYNC ; x=1"));
  EXPECT_TRUE(prefers_respond_async("return=minimal, respond-async, wait=10"));
  EXPECT_FALSE(prefers_respond_async(""));
  EXPECT_FALSE(prefers_respond_async("respond-asynchronously"));
  EXPECT_FALSE(prefers_respond_async("wait=respond-async"));
}

// ---------------------------------------------------------------------------------------
// A whole request, step by step

enum class Expect { kDispatch, kQueue, kReply };

struct CallRow {
  const char* what = "";
  std::string function = {};  // in team/ or default/; "gone": no longer there
  int activation_ms = 0;
  bool waiting = false;  // waiting for a first replica since before, until deadline
  std::int64_t deadline_ns = 0;
  // The limiter's state before the call: calls in flight and waiting.
  int inflight = 0;
  int queued = 0;
  Expect expect = Expect::kDispatch;
  int status = 0;  // kReply
  std::string message = {};
  std::string retry_after = "<none>";
  Queue::For queue_for = Queue::For::kCapacity;  // kQueue
  std::int64_t queue_deadline_ns = 0;
  std::int64_t recheck_ns = 0;
  std::optional<Admit> limiter_said = std::nullopt;  // the limiter was asked, and said this
};

std::vector<CallRow> call_rows() {
  using F = Queue::For;
  const std::int64_t act = 5000 * kMs;
  const std::int64_t queue = 10000 * kMs;  // GatewayOptions' queue_timeout
  return {
      {"a ready replica, no limit", "pub", 0, false, 0, 0, 0, Expect::kDispatch},
      {"scaled to zero, no activation wait", "cold", 0, false, 0, 0, 0, Expect::kReply, 503,
       "no ready replica of this function", "1"},
      {"scaled to zero: wait for a first replica, looking again at once", "cold", 5000, false, 0, 0,
       0, Expect::kQueue, 0, "", "<none>", F::kReplica, kNow + act, kNow},
      {"still waiting: look again in 20 ms", "cold", 5000, true, kNow + act, 0, 0, Expect::kQueue,
       0, "", "<none>", F::kReplica, kNow + act, kNow + 20 * kMs},
      {"still waiting, nearly out of time: look again at the deadline", "cold", 5000, true,
       kNow + 5 * kMs, 0, 0, Expect::kQueue, 0, "", "<none>", F::kReplica, kNow + 5 * kMs,
       kNow + 5 * kMs},
      {"no replica in time", "cold", 5000, true, kNow, 0, 0, Expect::kReply, 503,
       "no replica of this function became ready in time", "1"},
      {"the function went away while waiting", "gone", 5000, true, kNow + act, 0, 0, Expect::kReply,
       404, "function not found"},
      {"a replica came (even past the deadline)", "pub", 5000, true, kNow - kMs, 0, 0,
       Expect::kDispatch},
      {"a replica came, then the limit", "limited", 5000, true, kNow + act, 2, 0, Expect::kQueue, 0,
       "", "<none>", F::kCapacity, kNow + queue, kNow + queue, Admit::kQueued},
      {"under the concurrency limit", "limited", 0, false, 0, 1, 0, Expect::kDispatch, 0, "",
       "<none>", F::kCapacity, 0, 0, Admit::kGranted},
      {"at the limit, room in the queue", "limited", 0, false, 0, 2, 1, Expect::kQueue, 0, "",
       "<none>", F::kCapacity, kNow + queue, kNow + queue, Admit::kQueued},
      {"under the limit behind a waiter: nobody overtakes", "limited", 0, false, 0, 1, 1,
       Expect::kQueue, 0, "", "<none>", F::kCapacity, kNow + queue, kNow + queue, Admit::kQueued},
      {"at the limit, queue full", "limited", 0, false, 0, 2, 2, Expect::kReply, 429,
       "too many requests waiting for this function", "1", F::kCapacity, 0, 0, Admit::kRejected},
  };
}

TEST(Admission, CallVerdicts) {
  for (const CallRow& row : call_rows()) {
    SCOPED_TRACE(row.what);
    Tables tables;
    GatewayOptions options;
    options.activation_timeout = std::chrono::milliseconds(row.activation_ms);
    options.queue_limit = 2;
    const Admission admission(options);
    const std::string ns = row.function == "pub" ? "default" : "team";
    auto route = tables.find(ns, row.function);
    ASSERT_TRUE(route != nullptr || row.function == "gone");
    if (route) {
      // The limiter in the state the row names: `inflight` granted, then `queued` waiting.
      ConcurrencyLimiter& limiter = route->state->limiter;
      std::uint64_t ticket = 0;
      for (int i = 0; i < row.inflight; ++i)
        ASSERT_EQ(limiter.acquire(0, 100, nullptr, &ticket), Admit::kGranted);
      for (int i = 0; i < row.queued; ++i)
        ASSERT_EQ(limiter.acquire(
                      row.inflight, 100, [] {}, &ticket),
                  Admit::kQueued);
    }
    CallFacts facts{route.get(), row.waiting, row.deadline_ns, std::nullopt, kNow};

    // As the session does: ask the limiter when the verdict depends on it, then decide again.
    Verdict v = admission.call(facts);
    if (const auto* ask = std::get_if<AskLimiter>(&v)) {
      EXPECT_EQ(ask->limit, route->limit());
      EXPECT_EQ(ask->queue_limit, 2u);
      std::uint64_t ticket = 0;
      facts.limiter = route->state->limiter.acquire(
          ask->limit, ask->queue_limit, [] {}, &ticket);
      v = admission.call(facts);
      EXPECT_FALSE(std::holds_alternative<AskLimiter>(v));
    }
    EXPECT_EQ(facts.limiter, row.limiter_said);

    switch (row.expect) {
      case Expect::kDispatch:
        EXPECT_TRUE(std::holds_alternative<Dispatch>(v));
        break;
      case Expect::kQueue: {
        const auto* q = std::get_if<Queue>(&v);
        ASSERT_NE(q, nullptr);
        EXPECT_EQ(q->what, row.queue_for);
        EXPECT_EQ(q->deadline_ns, row.queue_deadline_ns);
        EXPECT_EQ(q->recheck_ns, row.recheck_ns);
        break;
      }
      case Expect::kReply: {
        const auto* r = std::get_if<Reply>(&v);
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(r->status, row.status);
        EXPECT_EQ(r->message, row.message);
        EXPECT_EQ(header(*r, "retry-after"), row.retry_after);
        EXPECT_FALSE(r->close);
        break;
      }
    }
  }
}

// The answers for events the session sees itself (a queue timer, an empty replica list at
// dispatch, a spent buffer budget) come from here too, with Retry-After as configured.
TEST(Admission, RetryLaterAnswers) {
  GatewayOptions options;
  options.retry_after = std::chrono::seconds(7);
  const Admission admission(options);
  struct Row {
    Reply reply;
    int status;
    std::string message;
  };
  for (const Row& row : {
           Row{admission.queue_timed_out(), 503, "no capacity for this function in time"},
           Row{admission.no_ready_replica(), 503, "no ready replica of this function"},
           Row{admission.out_of_buffers(), 503, "the gateway is out of buffer space"},
       }) {
    SCOPED_TRACE(row.message);
    EXPECT_EQ(row.reply.status, row.status);
    EXPECT_EQ(row.reply.message, row.message);
    EXPECT_EQ(row.reply.headers, (Headers{{"retry-after", "7"}}));
  }
  FunctionRoute cold = make_route("team", "cold", Access::kPublic, 0);
  auto v = admission.call(CallFacts{&cold, false, 0, std::nullopt, kNow});
  ASSERT_TRUE(std::holds_alternative<Reply>(v));
  EXPECT_EQ(std::get<Reply>(v).headers, (Headers{{"retry-after", "7"}}));
}

TEST(Admission, BearerToken) {
  struct Row {
    std::string authorization, token;
  };
  for (const Row& row : std::vector<Row>{
           {"Bearer abc", "abc"},
           {"bearer abc", "abc"},
           {"BEARER   abc  ", "abc"},
           {"Bearer a b", "a b"},
           {"Bearer", ""},
           {"Bearer ", ""},
           {"Basic abc", ""},
           {"Bearerabc", ""},
           {"", ""},
       }) {
    EXPECT_EQ(bearer_token(row.authorization), row.token) << row.authorization;
  }
}

// ---------------------------------------------------------------------------------------
// Activation probes: which endpoints the gateway probes, and a probed one takes calls.

Endpoint started_endpoint(std::string id, std::uint16_t port) {
  Endpoint e{std::move(id), "10.1.0.1", port, false};
  e.started = true;
  return e;
}

// team/cold, in a table of its own, with these endpoints.
std::shared_ptr<const FunctionRoute> cold_with(RouteTable& table, std::vector<Endpoint> endpoints) {
  table.upsert(make_route("team", "cold", Access::kPublic, 0));
  table.set_endpoints("team", "cold", std::move(endpoints));
  return table.find("team", "cold");
}

TEST(Admission, AProbedEndpointIsDispatchedTo) {
  GatewayOptions options;
  options.activation_timeout = std::chrono::milliseconds(5000);
  const Admission admission(options);
  RouteTable table;
  auto route = cold_with(table, {started_endpoint("p0", 8080), started_endpoint("p1", 8080)});

  // Waiting: only the probe can make it go before the platform says a replica is ready.
  const std::int64_t deadline = kNow + 5000 * kMs;
  auto v = admission.call(CallFacts{route.get(), true, deadline, std::nullopt, kNow});
  ASSERT_TRUE(std::holds_alternative<Queue>(v));
  EXPECT_EQ(std::get<Queue>(v).what, Queue::For::kReplica);
  EXPECT_EQ(probe_candidates(*route, 1), (std::vector<std::size_t>{0, 1}));

  ASSERT_TRUE(table.set_probed("team", "cold", route->loads[1].get(), true));
  route = table.find("team", "cold");
  v = admission.call(CallFacts{route.get(), true, deadline, std::nullopt, kNow + 30 * kMs});
  EXPECT_TRUE(std::holds_alternative<Dispatch>(v));
  EXPECT_EQ(choose_endpoint(*route, 0), 1) << "to the probed one, not the other";
  EXPECT_EQ(choose_endpoint(*route, 0, {1}), -1);
  // A new call too, and probing stops: the function has a routable endpoint.
  v = admission.call(CallFacts{route.get(), false, 0, std::nullopt, kNow + 30 * kMs});
  EXPECT_TRUE(std::holds_alternative<Dispatch>(v));
  EXPECT_TRUE(probe_candidates(*route, 1).empty());

  // With a concurrency limit, the probed replica gives capacity as a ready one does.
  FunctionRoute limited = *route;
  limited.concurrency = 3;
  EXPECT_EQ(limited.limit(), 3);
}

TEST(Admission, ThePodWatchBeatsAProbe) {
  GatewayOptions options;
  options.activation_timeout = std::chrono::milliseconds(5000);
  const Admission admission(options);
  const std::int64_t deadline = kNow + 5000 * kMs;
  {
    SCOPED_TRACE("its container stopped, or the pod is being deleted (started is false then)");
    RouteTable table;
    auto route = cold_with(table, {started_endpoint("p0", 8080)});
    ASSERT_TRUE(table.set_probed("team", "cold", route->loads[0].get(), true));
    Endpoint stopped = started_endpoint("p0", 8080);
    stopped.started = false;
    table.set_endpoints("team", "cold", {stopped});
    route = table.find("team", "cold");
    EXPECT_FALSE(route->endpoints[0].probed);
    auto v = admission.call(CallFacts{route.get(), true, deadline, std::nullopt, kNow});
    ASSERT_TRUE(std::holds_alternative<Queue>(v));
    EXPECT_EQ(std::get<Queue>(v).what, Queue::For::kReplica);
  }
  {
    SCOPED_TRACE("the pod went away");
    RouteTable table;
    auto route = cold_with(table, {started_endpoint("p0", 8080)});
    ASSERT_TRUE(table.set_probed("team", "cold", route->loads[0].get(), true));
    table.set_endpoints("team", "cold", {});
    route = table.find("team", "cold");
    EXPECT_TRUE(std::holds_alternative<Queue>(
        admission.call(CallFacts{route.get(), true, deadline, std::nullopt, kNow})));
  }
  {
    SCOPED_TRACE("ready, then not ready: the kubelet's word stands, no probe");
    RouteTable table;
    Endpoint ready = started_endpoint("p0", 8080);
    ready.ready = true;
    auto route = cold_with(table, {ready});
    EXPECT_TRUE(std::holds_alternative<Dispatch>(
        admission.call(CallFacts{route.get(), false, 0, std::nullopt, kNow})));
    table.set_endpoints("team", "cold", {started_endpoint("p0", 8080)});
    route = table.find("team", "cold");
    EXPECT_TRUE(probe_candidates(*route, 1).empty());
    EXPECT_FALSE(table.set_probed("team", "cold", route->loads[0].get(), true));
    EXPECT_TRUE(std::holds_alternative<Queue>(
        admission.call(CallFacts{route.get(), true, deadline, std::nullopt, kNow})));
  }
}

TEST(Admission, WhichEndpointsAreProbed) {
  RouteTable table;
  Endpoint ready = started_endpoint("r", 8080);
  ready.ready = true;
  Endpoint not_started = started_endpoint("n", 8080);
  not_started.started = false;
  Endpoint no_address = started_endpoint("a", 8080);
  no_address.host.clear();
  auto route = cold_with(
      table, {started_endpoint("s0", 8080), not_started, no_address, started_endpoint("s1", 8081)});
  EXPECT_EQ(probe_candidates(*route, 2), (std::vector<std::size_t>{0, 3}))
      << "started, not ready, with an address";
  EXPECT_TRUE(probe_candidates(*route, 0).empty()) << "no call waits";
  // A ready endpoint elsewhere: nothing is probed, and a not-ready one is never overridden.
  route = cold_with(table, {started_endpoint("s0", 8080), ready});
  EXPECT_EQ(route->ready_endpoints, 1);
  EXPECT_TRUE(probe_candidates(*route, 5).empty());
}

// When each candidate is probed, on a fake clock: one probe at a time per endpoint, the next
// no sooner than half the interval after the previous one started.
TEST(ProbeSchedule, OneProbeAtATimePerEndpointAndNoneTooSoon) {
  RouteTable table;
  auto route = cold_with(table, {started_endpoint("s0", 8080), started_endpoint("s1", 8081)});
  const EndpointLoad* s0 = route->loads[0].get();
  const EndpointLoad* s1 = route->loads[1].get();
  const std::vector<std::size_t> both = {0, 1};
  ProbeSchedule schedule(25 * kMs);
  using Due = std::vector<std::size_t>;

  EXPECT_EQ(schedule.due(*route, both, kNow), (Due{0, 1}));
  EXPECT_TRUE(schedule.in_flight(s0));
  EXPECT_EQ(schedule.due(*route, both, kNow + 25 * kMs), Due{}) << "both still in flight";
  schedule.finished(s0);  // refused within a millisecond
  EXPECT_EQ(schedule.due(*route, both, kNow + 5 * kMs), Due{}) << "too soon";
  EXPECT_EQ(schedule.due(*route, both, kNow + 25 * kMs), Due{0});
  schedule.finished(s0);
  schedule.finished(s1);  // timed out after 100 ms: probed again at once
  EXPECT_EQ(schedule.due(*route, both, kNow + 100 * kMs), (Due{0, 1}));
  EXPECT_EQ(schedule.due(*route, {}, kNow + 200 * kMs), Due{}) << "no candidate, no probe";

  // Probing stops: what is not in flight is forgotten; the rest when it ends.
  schedule.finished(s0);
  schedule.forget(*route);
  EXPECT_EQ(schedule.tracked(), 1u);
  EXPECT_TRUE(schedule.in_flight(s1));
  table.remove("team", "cold");
  schedule.finished(s1);
  EXPECT_EQ(schedule.tracked(), 0u);
}

}  // namespace
}  // namespace kubefn::gateway
