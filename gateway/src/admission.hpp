// Admission: whether a call is answered by the gateway itself, waits, or goes to a replica.
//
// The one place that says why a call got a 404, 401, 403, 429, 431 or 503 from the gateway
// itself: the session asks here at each step of a call and acts on the verdict (sockets,
// timers, the limiter's queue); every such answer, its message and its headers (Retry-After,
// WWW-Authenticate) are made here. Answers about the replicas themselves (502, 504) and about
// reading the request (408, 413, a malformed one) stay with the session.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "kubefn/gateway/gateway.hpp"
#include "kubefn/gateway/key_ring.hpp"
#include "kubefn/gateway/limiter.hpp"
#include "kubefn/gateway/route_table.hpp"
#include "kubefn/http/request_parser.hpp"

namespace kubefn::gateway {

// An answer the gateway gives itself.
struct Reply {
  int status = 0;
  // The text of the JSON error body ({"error":...}); a builtin path's plain-text body.
  std::string message;
  std::vector<std::pair<std::string, std::string>> headers = {};
  // The connection ends after it even when the caller keeps it alive (it always does when a
  // body was announced and is left unread).
  bool close = false;
};

// What a request's head decided, before a byte of its body is read.
struct HeadVerdict {
  enum class Kind {
    kBuiltin,  // the gateway's own /healthz or /readyz: `reply` is the plain-text answer
    kRefused,  // answered with `reply`
    kRouted,   // on to the function `route`, as `target`
  };
  Kind kind = Kind::kRefused;
  Reply reply;
  // kRouted; and kRefused when the function was found but the caller may not call it (401,
  // 403): the function the answer counts against.
  std::shared_ptr<const FunctionRoute> route;
  std::string target;  // kRouted: the request target to send the replica
  // kRouted: an asynchronous call to queue (target is what the function will get), or a
  // look at one's state (call_id) instead of a call.
  enum class Async { kNone, kCall, kState };
  Async async = Async::kNone;
  std::string call_id;       // kState
  std::string callback_url;  // kCall: X-Callback-Url, checked
  bool preferred = false;    // kCall asked for with Prefer: respond-async
  // kRouted: the caller showed a key of the gateway's that opens this function (a private
  // function's caller always does). Such a key never reaches the function, and only such a
  // caller's kubefn-trigger header is metered.
  bool credentialed = false;
  // The Authorization header is not passed on: a private function's caller's, or any key of
  // the gateway's shown to a public function (a platform credential never reaches code).
  bool strip_authorization = false;
};

struct HeadFacts {
  const http::HttpRequest& request;
  // The head as received, request line through the blank line.
  std::size_t head_bytes = 0;
  bool draining = false;
};

// The call goes to a replica now (holding a limiter slot when the limiter granted one).
struct Dispatch {};
// The call waits, and the session keeps it counted as queued until it leaves the wait.
struct Queue {
  enum class For {
    kCapacity,  // in the limiter's queue (its ticket), for a slot
    kReplica,   // for a first ready replica (scale from zero)
  };
  For what = For::kCapacity;
  std::int64_t deadline_ns = 0;  // the wait ends with a 503 then
  // kReplica: when to look for a ready replica again (now: at once). kCapacity: the deadline.
  std::int64_t recheck_ns = 0;
};
// The verdict depends on the function's limiter: ask it (ConcurrencyLimiter::acquire, whose
// check and enqueue are one step) and decide again with its answer in CallFacts::limiter.
struct AskLimiter {
  int limit = 0;
  std::size_t queue_limit = 0;
};
using Verdict = std::variant<Reply, Queue, Dispatch, AskLimiter>;

struct CallFacts {
  // The function as last looked up; null: it is gone.
  const FunctionRoute* route = nullptr;
  // The call is waiting for a first ready replica, until activation_deadline_ns.
  bool waiting_for_replica = false;
  std::int64_t activation_deadline_ns = 0;
  // The limiter's answer, once asked (AskLimiter).
  std::optional<ConcurrencyLimiter::Admit> limiter;
  std::int64_t now_ns = 0;
};

// How long to wait between looks for a first ready replica.
constexpr std::int64_t kActivationRecheckNs = std::int64_t{20} * 1000 * 1000;

// Activation probes. While calls wait for a first ready replica of a function and none is
// routable, the gateway probes (GET /readyz) the endpoints the platform says run but not yet
// that they are ready; one that answers 200 becomes routable (RouteTable::set_probed).
//
// Endpoint i of `route` may be probed: it is started (its container runs, no deletion
// pending), not ready, has an address, and the platform never said it was ready (its later
// word on a replica it once passed stands).
bool probe_candidate(const FunctionRoute& route, std::size_t i);
// The endpoints of `route` to probe while `activating` calls wait for a first replica: none
// while no call waits or an endpoint is routable (ready or probed), else every candidate.
std::vector<std::size_t> probe_candidates(const FunctionRoute& route, int activating);

// The gateway's own paths on the public port (GET and HEAD). /metrics is not one: it is served
// on the metrics listener only.
bool builtin_path(std::string_view path);
// Whether a Prefer header value asks for respond-async (RFC 7240).
bool prefers_respond_async(std::string_view prefer);
// "Bearer <token>" (scheme case-insensitive); empty when absent or another scheme.
std::string_view bearer_token(std::string_view authorization);

// Pure: reads the route table and key ring it is given and the time it is told, changes
// nothing, reads no clock and touches no socket. Thread-safe (const).
class Admission {
 public:
  explicit Admission(const GatewayOptions& options);

  // From a request's head: the gateway's own paths, a head too large once forwarded (431),
  // the function (404 when none, or for the runtime's own paths), access (401, 403); for
  // /async/{namespace}/{function}/..., an asynchronous call (POST; a bad X-Callback-Url is
  // 400, another method 405, 501 with no call queue) or GET .../calls/{id} of one.
  HeadVerdict head(const HeadFacts& facts, const RouteTable& routes, const KeyRing& keys) const;

  // A call whose request is whole, on each step until it goes or is answered: no ready
  // replica (503 at once, or wait for one up to activation_timeout, then 503; 404 when the
  // function went away meanwhile), then the function's concurrency limit (a slot, a place in
  // its queue, or 429 when the queue is full).
  Verdict call(const CallFacts& facts) const;

  // A queued call's queue_timeout ran out: 503.
  Reply queue_timed_out() const;
  // A call found no ready replica to go to at dispatch (all went away): 503.
  Reply no_ready_replica() const;
  // The buffer budget would go over max_buffered_bytes: 503.
  Reply out_of_buffers() const;

 private:
  // 429 and 503 tell the caller when to try again.
  Reply retry_later(int status, std::string message) const;

  std::size_t queue_limit_;
  std::int64_t queue_timeout_ns_;
  std::int64_t activation_timeout_ns_;
  std::string retry_after_;  // seconds
  bool async_enabled_;
  std::vector<std::string> callback_hosts_;
};

}  // namespace kubefn::gateway
