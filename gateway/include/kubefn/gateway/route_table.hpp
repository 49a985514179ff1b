// Which functions the gateway serves and where their replicas are.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kubefn/gateway/limiter.hpp"
#include "kubefn/kube/trigger_claims.hpp"

namespace prometheus {
class Counter;
}
namespace kubefn::metering {
class FunctionMeter;
}

namespace kubefn::gateway {

struct Endpoint {
  std::string id;  // stable name of the replica (the pod's name)
  std::string host;
  std::uint16_t port = 0;
  bool ready = false;  // the platform's word: it takes calls (a pod's Ready condition)
  // Its function container runs and it is not being deleted (a pod's containerStatuses), so
  // while calls wait for a first ready replica the gateway may probe it (see probed).
  bool started = false;
  // Filled by the RouteTable (values given to it are ignored): the gateway's activation probe
  // found it answering /readyz before the platform said it is ready, so it takes calls too,
  // until the platform says otherwise (RouteTable::set_probed).
  bool probed = false;

  // Calls may go to it.
  bool routable() const { return ready || probed; }
};

enum class Access { kPublic, kPrivate };

// Live load of one replica, shared by every gateway thread and kept across route updates
// for as long as the replica (same id, host and port) is listed.
struct EndpointLoad {
  EndpointLoad(std::string host, std::uint16_t port) : host(std::move(host)), port(port) {}
  const std::string host;
  const std::uint16_t port;
  std::atomic<int> inflight{0};
  std::atomic<bool> removed{false};  // no longer listed: pooled connections are dropped
  // The platform once said it was ready: its later word on it stands, and the gateway never
  // probes it (the probe only speeds up a replica's first readiness). Set by the writer.
  std::atomic<bool> seen_ready{false};
  // Writer side only (under the RouteTable's lock): the activation probe's finding, kept
  // across route updates while the platform's word allows it (Endpoint::probed).
  bool probed = false;

  // A call to it begins or ends: `inflight` moves, and the time it has at least one call in
  // flight (its busy time, what metering splits a replica's time by) is kept.
  void call_began() {
    if (inflight.fetch_add(1, std::memory_order_relaxed) == 0) mark_busy();
  }
  void call_ended() {
    if (inflight.fetch_sub(1, std::memory_order_relaxed) == 1) mark_busy();
  }
  // Steady-clock seconds it has been busy since it was listed, up to now.
  double busy_seconds() const;

 private:
  void mark_busy();  // on a 0 <-> 1 transition: takes the lock and reads the clock
  mutable std::mutex busy_mu_;
  bool busy_ = false;
  std::int64_t busy_since_ns_ = 0;
  std::int64_t busy_total_ns_ = 0;
};

// Live state of one function, kept across route updates while the function exists.
struct FunctionState {
  ConcurrencyLimiter limiter;
  std::atomic<std::uint64_t> round_robin{0};
  std::atomic<std::uint64_t> requests{0};  // since the last take_load()
  std::atomic<int> inflight{0};
  std::atomic<int> peak_inflight{0};  // since the last take_load()
  std::atomic<int> waiting{0};        // queued or waiting for a first replica
  std::atomic<int> activating{0};     // of those, waiting for a first replica
  // The gateway's activation prober watches the function (its endpoints are probed while
  // calls wait for a first replica); set by whoever asks first, cleared by the prober.
  std::atomic<bool> probing{false};
  // requests_total counters by status code, filled lazily by the gateway.
  std::array<std::atomic<prometheus::Counter*>, 600> by_code{};
  // The function's meter, filled lazily by the gateway.
  std::atomic<metering::FunctionMeter*> meter{nullptr};
  std::atomic<bool> removed{false};
  // Writer side only (under the RouteTable's lock): loads by "id|host|port".
  std::map<std::string, std::shared_ptr<EndpointLoad>> loads;

  void note_start() {
    requests.fetch_add(1, std::memory_order_relaxed);
    int now = inflight.fetch_add(1, std::memory_order_relaxed) + 1;
    int peak = peak_inflight.load(std::memory_order_relaxed);
    while (now > peak && !peak_inflight.compare_exchange_weak(peak, now)) {
    }
  }
  void note_end() { inflight.fetch_sub(1, std::memory_order_relaxed); }
};

struct FunctionRoute {
  std::string ns, name;
  Access access = Access::kPrivate;          // functions are private by default
  int concurrency = 0;                       // per replica; 0 = unlimited
  std::chrono::milliseconds timeout{30000};  // request timeout (spec.timeout)
  // Its memory size in bytes (spec.resources.limits.memory), what GB-seconds are billed by;
  // 0: none declared (the price sheet's default applies).
  std::int64_t memory_bytes = 0;
  // HTTP trigger claims (spec.triggers.http), routed only when this function holds them
  // (kube::TriggerClaims under the table's ClaimPolicy); `created` orders the claimants.
  std::string host;     // a host name, any case; empty: none
  std::string path;     // a path prefix such as /hello; empty: none
  std::string created;  // metadata.creationTimestamp; empty (a route given by hand) sorts first
  // The names of its event triggers (spec.triggers.schedules/nats/kafka): a platform caller's
  // kubefn-trigger header names one of them, or "async", for metering.
  std::vector<std::string> event_triggers;
  std::vector<Endpoint> endpoints;

  // Filled by the RouteTable (values given to upsert() are ignored): the live state shared
  // by every version of this route, and one load per endpoint (same order as endpoints).
  std::shared_ptr<FunctionState> state;
  std::vector<std::shared_ptr<EndpointLoad>> loads;
  int ready_endpoints = 0;    // routable ones: ready, or probed (Endpoint::routable)
  kube::ClaimVerdict claims;  // the host key and path prefix it holds, and why not

  // concurrency x routable replicas; 0 when unlimited.
  int limit() const { return concurrency > 0 ? concurrency * ready_endpoints : 0; }
};

// Thread-safe. Writers build a new immutable snapshot under a mutex and publish it with a
// version bump; readers keep a per-thread copy of the snapshot pointer and only touch the
// mutex when the version changed, so lookups take no shared lock per request.
class RouteTable {
 public:
  // Host claims need an allowance of `policy` (none by default: no host routes).
  explicit RouteTable(kube::ClaimPolicy policy = {});
  ~RouteTable();
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // Adds or replaces a function's route. When route.endpoints is empty the endpoints known
  // for the function are kept (set earlier by set_endpoints, even before the function
  // existed); to clear them call set_endpoints with an empty list.
  void upsert(FunctionRoute route);
  void remove(const std::string& ns, const std::string& name);
  // Replaces a function's endpoints; remembered for a function not (yet) upserted.
  void set_endpoints(const std::string& ns, const std::string& name, std::vector<Endpoint>);
  // The gateway's activation probe of endpoint `load` of function ns/name: it answered
  // /readyz with 200 (probed true), or a call could not connect to it (false). A probed
  // endpoint is routable until the platform's word changes it: it becomes ready (then it is
  // routable anyway, and never probed again), stops running (started false), starts being
  // deleted or is no longer listed. Only an endpoint that is started, not ready and was never
  // seen ready can be probed. True when the table changed (a new snapshot is published).
  bool set_probed(const std::string& ns, const std::string& name, const EndpointLoad* load,
                  bool probed);
  // Replaces the policy host claims are judged by; every claim is judged again.
  void set_claim_policy(kube::ClaimPolicy policy);

  std::shared_ptr<const FunctionRoute> find(std::string_view ns, std::string_view name) const;
  // Host header value, with or without ":port", case-insensitive; only a held host.
  std::shared_ptr<const FunctionRoute> find_host(std::string_view host) const;
  // The holder of the longest path prefix of `target` ("/path[?query]") that ends on a
  // segment boundary; *upstream_target is the rest of the path ("/" when none) and the query.
  std::shared_ptr<const FunctionRoute> find_path(std::string_view target,
                                                 std::string* upstream_target) const;
  std::vector<std::shared_ptr<const FunctionRoute>> all() const;
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  struct Snapshot;

 private:
  const Snapshot& snapshot() const;
  void publish_locked();
  std::shared_ptr<const FunctionRoute> build_locked(FunctionRoute route);

  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  std::atomic<std::uint64_t> version_{1};
  const std::uint64_t table_id_;
  // Writer-side state.
  std::map<std::string, FunctionRoute> routes_;             // by "ns/name", as upserted
  std::map<std::string, std::vector<Endpoint>> endpoints_;  // by "ns/name"
  std::map<std::string, std::shared_ptr<FunctionState>> states_;
  std::unique_ptr<kube::TriggerClaims> claims_;
};

// The endpoint a call should go to: the routable one with the fewest calls in flight, ties
// broken round-robin from `start`; `exclude` holds indexes already tried. -1 when none.
int choose_endpoint(const FunctionRoute& route, std::uint64_t start,
                    const std::vector<int>& exclude = {});

}  // namespace kubefn::gateway
