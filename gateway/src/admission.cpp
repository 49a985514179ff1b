#include "admission.hpp"

#include <algorithm>

#include "kubefn/gateway/http_proxy.hpp"

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
      retry_after_(std::to_string(options.retry_after.count())) {}

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
  const std::string_view target = req.target.front() == '/' ? req.target : req.path;
  auto split = split_route_path(target);
  v.route = split ? routes.find(split->ns, split->name) : nullptr;
  std::string_view host = req.header("host");
  if (v.route) {
    v.target = std::move(split->upstream_target);
  } else if (!host.empty() && (v.route = routes.find_host(host))) {
    v.target.assign(req.path);
    if (!req.query.empty()) {
      v.target.push_back('?');
      v.target.append(req.query);
    }
  } else if (!(v.route = routes.find_path(target, &v.target))) {
    return refused(Reply{404, split
                                  ? "function not found"
                                  : "no function at this path; call /{namespace}/{function}/..."});
  }
  // The runtime's own paths are for the platform, which reaches replicas directly.
  if (is_runtime_reserved(v.target)) return refused(Reply{404, "function not found"});

  // Access: a private function needs a bearer token with a scope covering it.
  if (v.route->access == Access::kPrivate) {
    std::string_view token = bearer_token(req.header("authorization"));
    if (token.empty()) {
      return refused(
          Reply{401, "this function needs a bearer token", {{"www-authenticate", "Bearer"}}},
          std::move(v.route));
    }
    if (!keys.allows(token, v.route->ns, v.route->name)) {
      return refused(Reply{403, "the token is not valid for this function"}, std::move(v.route));
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
