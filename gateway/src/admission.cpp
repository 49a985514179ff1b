#include "admission.hpp"

#include <algorithm>

#include "kubefn/async/call.hpp"
#include "kubefn/gateway/http_proxy.hpp"
#include "kubefn/kube/trigger_claims.hpp"

namespace kubefn::gateway {
namespace {

std::int64_t to_ns(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

HeadVerdict refused(Reply reply, std::shared_ptr<const FunctionRoute> route = nullptr) {
  HeadVerdict v;
  v.kind = HeadVerdict::Kind::kRefused;
  v.reply = std::move(reply);
  v.route = std::move(route);
  return v;
}

// The function holding the request's Host, else the one holding the longest prefix of its
// path: in v.route, with the target its replica gets in v.target.
bool routed_elsewhere(const http::HttpRequest& req, std::string_view target,
                      const RouteTable& routes, HeadVerdict& v) {
  std::string_view host = req.header("host");
  if (!host.empty() && (v.route = routes.find_host(host))) {
    v.target.assign(req.path);
    if (!req.query.empty()) {
      v.target.push_back('?');
      v.target.append(req.query);
    }
    return true;
  }
  return static_cast<bool>(v.route = routes.find_path(target, &v.target));
}

}  // namespace

bool probe_candidate(const FunctionRoute& route, std::size_t i) {
  if (i >= route.endpoints.size() || i >= route.loads.size() || !route.loads[i]) return false;
  const Endpoint& e = route.endpoints[i];
  const EndpointLoad& load = *route.loads[i];
  return e.started && !e.ready && !e.probed && !e.host.empty() &&
         !load.seen_ready.load(std::memory_order_relaxed) &&
         !load.removed.load(std::memory_order_relaxed);
}

std::vector<std::size_t> probe_candidates(const FunctionRoute& route, int activating) {
  std::vector<std::size_t> out;
  if (activating <= 0 || route.ready_endpoints > 0) return out;
  for (std::size_t i = 0; i < route.endpoints.size(); ++i) {
    if (probe_candidate(route, i)) out.push_back(i);
  }
  return out;
}

bool builtin_path(std::string_view path) {
  return path == "/healthz" || path == "/readyz";
}

bool prefers_respond_async(std::string_view prefer) {
  // Comma-separated preferences, each token [= value] [; params]; tokens case-insensitive.
  while (!prefer.empty()) {
    const std::size_t comma = prefer.find(',');
    std::string_view item = prefer.substr(0, comma);
    prefer = comma == std::string_view::npos ? std::string_view{} : prefer.substr(comma + 1);
    item = item.substr(0, item.find_first_of(";="));
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    static constexpr std::string_view kToken = "respond-async";
    if (item.size() != kToken.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < item.size(); ++i) {
      char c = item[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != kToken[i]) same = false;
    }
    if (same) return true;
  }
  return false;
}

std::string_view bearer_token(std::string_view auth) {
  if (auth.size() < 7) return {};
  static constexpr std::string_view kBearer = "bearer ";
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    char c = auth[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kBearer[i]) return {};
  }
  auth.remove_prefix(kBearer.size());
  while (!auth.empty() && auth.front() == ' ')
    auth.remove_prefix(1);
  while (!auth.empty() && auth.back() == ' ')
    auth.remove_suffix(1);
  return auth;
}

Admission::Admission(const GatewayOptions& options)
    : queue_limit_(options.queue_limit),
      queue_timeout_ns_(to_ns(options.queue_timeout)),
      activation_timeout_ns_(to_ns(options.activation_timeout)),
      retry_after_(std::to_string(options.retry_after.count())),
      async_enabled_(options.async_calls != nullptr),
      callback_hosts_(options.callback_hosts) {}

Reply Admission::retry_later(int status, std::string message) const {
  return Reply{status, std::move(message), {{"retry-after", retry_after_}}};
}

Reply Admission::queue_timed_out() const {
  return retry_later(503, "no capacity for this function in time");
}

Reply Admission::no_ready_replica() const {
  return retry_later(503, "no ready replica of this function");
}

Reply Admission::out_of_buffers() const {
  return retry_later(503, "the gateway is out of buffer space");
}

HeadVerdict Admission::head(const HeadFacts& facts, const RouteTable& routes,
                            const KeyRing& keys) const {
  const http::HttpRequest& req = facts.request;
  if (builtin_path(req.path) && (req.method == "GET" || req.method == "HEAD")) {
    HeadVerdict v;
    v.kind = HeadVerdict::Kind::kBuiltin;
    if (req.path == "/healthz") {
      v.reply = Reply{200, "ok\n"};
    } else {
      v.reply = facts.draining ? Reply{503, "draining\n"} : Reply{200, "ready\n"};
    }
    return v;
  }

  // What the gateway adds must still fit the runtime's head limit: X-Forwarded-Host repeats
  // the Host value, the rest fits the headroom the parser's limit left.
  if (facts.head_bytes + req.header("host").size() + kForwardHeadroomBytes > kUpstreamHeadLimit) {
    return refused(Reply{431, "request header fields too large", {}, /*close=*/true});
  }

  // The function: first the default route /{namespace}/{function}/... of a function that
  // exists, then the function holding the Host, then the one holding the longest path prefix.
  // A trigger claim never shadows a function's own route, and the gateway's own names are
  // never held (RouteTable's claim policy).
  HeadVerdict v;
  v.kind = HeadVerdict::Kind::kRouted;
  std::string_view target = req.target.front() == '/' ? req.target : req.path;
  // /async/ is the gateway's own: /async/{namespace}/{function}/... queues a call of
  // /{namespace}/{function}/..., /async/{namespace}/{function}/calls/{id} reads one's state.
  static constexpr std::string_view kAsync = "/async";
  const bool async_path = req.path.substr(0, kAsync.size()) == kAsync &&
                          (req.path.size() == kAsync.size() || req.path[kAsync.size()] == '/');
  if (async_path) {
    target.remove_prefix(kAsync.size());
    auto split = split_route_path(target);
    if (!split) {
      return refused(Reply{404, "call /async/{namespace}/{function}/... to queue a call"});
    }
    v.route = routes.find(split->ns, split->name);
    if (!v.route) return refused(Reply{404, "function not found"});
    v.target = std::move(split->upstream_target);
    static constexpr std::string_view kCalls = "/calls/";
    if (v.target.rfind(kCalls, 0) == 0 && (req.method == "GET" || req.method == "HEAD")) {
      v.async = HeadVerdict::Async::kState;
      v.call_id = v.target.substr(kCalls.size());
    } else if (req.method != "POST") {
      return refused(Reply{405,
                           "queue an asynchronous call with POST; read one with GET "
                           "/async/{namespace}/{function}/calls/{id}",
                           {{"allow", "POST"}}});
    } else {
      v.async = HeadVerdict::Async::kCall;
    }
  } else {
    auto split = split_route_path(target);
    v.route = split ? routes.find(split->ns, split->name) : nullptr;
    if (v.route) v.target = std::move(split->upstream_target);
    if (!v.route && !routed_elsewhere(req, target, routes, v)) {
      return refused(
          Reply{404, split ? "function not found"
                           : "no function at this path; call /{namespace}/{function}/..."});
    }
    // RFC 7240: a server may ignore the preference, and one with no call queue does.
    if (async_enabled_ && prefers_respond_async(req.header("prefer"))) {
      v.async = HeadVerdict::Async::kCall;
      v.preferred = true;
    }
  }
  // The runtime's own paths are for the platform, which reaches replicas directly.
  if (is_runtime_reserved(v.target)) return refused(Reply{404, "function not found"});

  // Access: a private function needs a bearer token with a scope covering it.
  std::string_view token = bearer_token(req.header("authorization"));
  if (v.route->access == Access::kPublic) {
    v.credentialed = !token.empty() && keys.allows(token, v.route->ns, v.route->name);
    v.strip_authorization = !token.empty() && keys.valid(token);
  } else {
    if (token.empty()) {
      return refused(
          Reply{401, "this function needs a bearer token", {{"www-authenticate", "Bearer"}}},
          std::move(v.route));
    }
    if (!keys.allows(token, v.route->ns, v.route->name)) {
      return refused(Reply{403, "the token is not valid for this function"}, std::move(v.route));
    }
    v.credentialed = true;
    v.strip_authorization = true;
  }
  if (v.async != HeadVerdict::Async::kNone && !async_enabled_) {
    return refused(Reply{501,
                         "asynchronous calls are not enabled on this gateway: it was started "
                         "without a NATS server for its call queue"},
                   std::move(v.route));
  }
  if (v.async == HeadVerdict::Async::kCall) {
    std::string_view callback = req.header("x-callback-url");
    if (!callback.empty()) {
      if (std::string why = async::callback_url_problem(callback); !why.empty()) {
        return refused(Reply{400, "X-Callback-Url: " + why}, std::move(v.route));
      }
      if (!callback_hosts_.empty()) {
        const std::string host = async::callback_host(callback);
        bool allowed = false;
        for (const std::string& pattern : callback_hosts_)
          allowed = allowed || kube::host_matches(pattern, host);
        if (!allowed) {
          return refused(Reply{400,
                               "X-Callback-Url: this gateway sends callbacks only to its "
                               "allowed hosts, and " +
                                   host + " is not one of them"},
                         std::move(v.route));
        }
      }
      v.callback_url.assign(callback);
    }
  }
  return v;
}

Verdict Admission::call(const CallFacts& facts) const {
  if (facts.route == nullptr) return Reply{404, "function not found"};
  const FunctionRoute& route = *facts.route;
  const std::int64_t now = facts.now_ns;
  if (route.ready_endpoints == 0) {
    if (facts.waiting_for_replica) {
      if (now >= facts.activation_deadline_ns) {
        return retry_later(503, "no replica of this function became ready in time");
      }
      return Queue{Queue::For::kReplica, facts.activation_deadline_ns,
                   std::min(facts.activation_deadline_ns, now + kActivationRecheckNs)};
    }
    if (activation_timeout_ns_ > 0) {
      // A replica may have become ready since the route was looked up: look again at once.
      return Queue{Queue::For::kReplica, now + activation_timeout_ns_, now};
    }
    return no_ready_replica();
  }
  if (route.concurrency <= 0) return Dispatch{};
  if (!facts.limiter) return AskLimiter{route.limit(), queue_limit_};
  switch (*facts.limiter) {
    case ConcurrencyLimiter::Admit::kGranted:
      return Dispatch{};
    case ConcurrencyLimiter::Admit::kQueued:
      return Queue{Queue::For::kCapacity, now + queue_timeout_ns_, now + queue_timeout_ns_};
    case ConcurrencyLimiter::Admit::kRejected:
      break;
  }
  return retry_later(429, "too many requests waiting for this function");
}

}  // namespace kubefn::gateway
