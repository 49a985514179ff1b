// kubefn-gateway: the public HTTP door to functions.
//
// Threading: `threads` event loops, each with its own io_context, its own listening socket
// on the shared port (SO_REUSEPORT: the kernel spreads connections) and its own keep-alive
// connection pools to the replicas. A request is parsed, routed, forwarded and answered on
// the thread that accepted its connection; threads share only the route snapshot, per-
// function counters and per-replica in-flight counts (atomics), and a function's waiter
// queue when it has a concurrency limit.
//
// A request's route and access are decided from its head, before any byte of its body is
// read or acknowledged (100 Continue), so a caller without access makes the gateway buffer
// nothing; buffers are bounded across the gateway (max_buffered_bytes) and shrink back
// between requests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kubefn/gateway/key_ring.hpp"
#include "kubefn/gateway/route_table.hpp"
#include "kubefn/kube/status.hpp"

namespace prometheus {
class Registry;
}
namespace kubefn::metering {
class Meter;
}

namespace kubefn::async {
class CallFront;
}

namespace kubefn::gateway {

struct GatewayOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;         // 0 picks
  int threads = 0;                // 0: CPUs available
  std::size_t queue_limit = 100;  // per function: requests waiting for capacity
  std::chrono::milliseconds queue_timeout{10000};
  // Waiting for a first ready replica (scale from zero): 0 answers 503 at once when no
  // replica is ready.
  std::chrono::milliseconds activation_timeout{0};
  // While calls wait for a first ready replica, the gateway itself sends GET /readyz to the
  // function's started, not-yet-ready endpoints (each at most once per interval, each probe
  // given activation_probe_timeout to connect and answer); one answering 200 takes calls at
  // once, before the platform marks it ready. 0: no probes.
  std::chrono::milliseconds activation_probe_interval{25};
  std::chrono::milliseconds activation_probe_timeout{100};
  // Called when a request finds no ready replica or has to queue.
  std::function<void(const std::string& ns, const std::string& name)> on_demand;
  std::size_t max_request_body_bytes = std::size_t{8} * 1024 * 1024;
  std::size_t max_response_body_bytes = std::size_t{64} * 1024 * 1024;
  // Request and response bytes buffered across the gateway: a request that would need more
  // gets 503 + Retry-After instead of an allocation.
  std::size_t max_buffered_bytes = std::size_t{256} * 1024 * 1024;
  // Client connections open at once; more are accepted and closed at once.
  std::size_t max_connections = 10000;
  std::chrono::milliseconds connect_timeout{2000};
  // Client connections: a request not fully received in read_timeout gets 408; an idle
  // keep-alive connection is closed after idle_timeout; a response is cut when no byte of
  // it could be written for write_timeout (a slow reader that keeps reading is never cut).
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds idle_timeout{75000};
  std::chrono::milliseconds write_timeout{30000};
  // stop(): how long in-flight requests may take before connections are cut.
  std::chrono::milliseconds drain_timeout{30000};
  int max_attempts = 3;  // connection attempts per request (on different replicas when any)
  std::chrono::seconds retry_after{1};  // Retry-After on 429 and 503
  // GET /metrics (the gateway's metrics, and whatever else `registry` holds) on a listener of
  // its own, never on the public port. -1: none (the embedding program serves the registry);
  // 0 picks a port.
  std::string metrics_address = "127.0.0.1";
  int metrics_port = -1;
  // Where every call is metered (kubefn_function_* of the calls); null: a meter of the
  // gateway's own, with the default price sheet, served on its metrics listener.
  std::shared_ptr<metering::Meter> meter;
  // Asynchronous calls (POST /async/{namespace}/{function}/..., or Prefer: respond-async):
  // queued here and answered 202. Null: /async/ answers 501 and Prefer: respond-async is
  // ignored (the call is served as usual).
  std::shared_ptr<async::CallFront> async_calls;
  // The hosts a callback URL may name (a host, *.suffix or *); empty: any. A callback is a
  // POST from inside the platform's network, so a cluster can keep it to where callers are.
  std::vector<std::string> callback_hosts;
};

// Load of one function since the previous take_load().
struct FunctionLoad {
  std::string ns, name;
  std::uint64_t requests = 0;  // requests that reached the function (admitted or queued)
  int inflight = 0;            // now
  int peak_inflight = 0;       // highest since the previous read
  int queued = 0;              // waiting for capacity or a first replica, now
  int ready_endpoints = 0;     // routable now: ready, or probed while calls waited
};

class GatewayCore;

class Gateway {
 public:
  Gateway(RouteTable& routes, KeyRing& keys, GatewayOptions options,
          prometheus::Registry* registry = nullptr);
  ~Gateway();  // stops
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds and serves on its own threads.
  kube::Status start();
  std::uint16_t port() const;
  std::uint16_t metrics_port() const;  // 0 without a metrics listener
  // Graceful: stops accepting, lets in-flight requests finish (up to drain_timeout), closes
  // idle connections, joins the threads.
  void stop();

  std::vector<FunctionLoad> take_load();

 private:
  std::shared_ptr<GatewayCore> core_;
};

}  // namespace kubefn::gateway
