// The gateway's insides its rooms share: the core every thread reads, and one worker per
// event loop. Private to kubefn_gateway.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "admission.hpp"
#include "buffer_budget.hpp"
#include "kubefn/gateway/gateway.hpp"
#include "kubefn/gateway/key_ring.hpp"
#include "kubefn/gateway/route_table.hpp"
#include "metrics.hpp"
#include "upstream_pool.hpp"

namespace kubefn::gateway {

using Clock = std::chrono::steady_clock;

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

inline std::int64_t to_ns(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

// How often a worker looks at its sessions' timeouts and prunes its pools.
constexpr auto kSweepInterval = std::chrono::milliseconds(250);

class ActivationProber;
class Session;
class LateCall;
class MetricsListener;
class Worker;

// What every thread shares: the tables, the options, the metrics, the buffer budget and the
// admission rules. Threading: start() and stop() on the embedding program's thread; the rest
// is read from every worker (routes and keys are thread-safe, the counters are atomics).
class GatewayCore {
 public:
  GatewayCore(RouteTable& routes, KeyRing& keys, GatewayOptions options,
              prometheus::Registry* registry);
  ~GatewayCore();

  kube::Status start();
  void stop();
  void worker_idle_changed();

  // Gives back a concurrency slot of `route`'s function, against its current limit.
  void release_slot(const std::shared_ptr<const FunctionRoute>& route) {
    auto fresh = routes.find(route->ns, route->name);
    route->state->limiter.release(fresh ? fresh->limit() : route->limit());
  }

  RouteTable& routes;
  KeyRing& keys;
  const GatewayOptions options;
  GatewayMetrics metrics;
  // options.meter, or the gateway's own; null only with KUBEFN_GATEWAY_METERING=0.
  std::shared_ptr<metering::Meter> meter;
  BufferBudget budget;
  const Admission admission;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<MetricsListener> metrics_listener;
  // On the first worker's event loop, when calls may wait for a first replica and probes are
  // on (activation_timeout and activation_probe_interval > 0).
  std::unique_ptr<ActivationProber> prober;
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> connections{0};
  std::uint16_t port = 0;
  std::uint16_t metrics_port = 0;
  bool started = false;

  std::mutex drain_mu;
  std::condition_variable drain_cv;
};

// One event loop: its listening socket on the shared port, its client sessions, its late calls
// and its pools of replica connections. Threading: everything but open_sessions (read by
// stop()) is touched on its own thread only; other threads reach it through asio::post.
class Worker {
 public:
  explicit Worker(GatewayCore& core) : core(core), acceptor(io), sweep(io), pool(core.budget) {
    inbox->io = &io;
  }
  ~Worker() {
    std::lock_guard<std::mutex> lock(inbox->mu);
    inbox->io = nullptr;
  }

  void accept();
  void run_sweep();
  void drain();
  void remove(Session* s);
  // A replica of the function of `state` became routable by the activation probe: its calls
  // waiting for a first replica on this worker look again at once.
  void wake_activation(const FunctionState* state);

  GatewayCore& core;
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer sweep;
  std::thread thread;
  std::unordered_set<Session*> sessions;
  std::unordered_set<LateCall*> late_calls;
  UpstreamPool pool;
  std::atomic<std::size_t> open_sessions{0};
  bool draining = false;
  // The way in for threads that are not the gateway's (the asynchronous call queue's answers):
  // post under `mu` while `io` is set; the worker clears it before its event loop goes, so an
  // answer that comes after is dropped instead of posted to nothing.
  struct Inbox {
    std::mutex mu;
    boost::asio::io_context* io = nullptr;
  };
  std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();
  // Sessions waiting for the call queue's answer, kept alive here (on this thread) rather than
  // by the queue's threads, so that no session outlives its event loop.
  std::unordered_map<Session*, std::shared_ptr<Session>> waiting_for_queue;
};

}  // namespace kubefn::gateway
