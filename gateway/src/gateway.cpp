// The gateway's frame: the workers (one event loop each, accepting on the shared port, sweeping
// their sessions' timeouts and pools), GatewayCore's start and graceful stop, and the Gateway
// facade. What a connection does is in session.cpp, what a call may do in admission.cpp.
#include "kubefn/gateway/gateway.hpp"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <cstdlib>
#include <string_view>

#include "activation_probe.hpp"
#include "gateway_core.hpp"
#include "kubefn/metering/meter.hpp"
#include "late_call.hpp"
#include "metrics_listener.hpp"
#include "session.hpp"

namespace kubefn::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// ---------------------------------------------------------------------------------------
// Worker

void Worker::remove(Session* s) {
  if (sessions.erase(s) > 0) {
    open_sessions.fetch_sub(1, std::memory_order_relaxed);
    core.connections.fetch_sub(1, std::memory_order_relaxed);
    core.metrics.connections().Decrement();
  }
  if (draining && sessions.empty()) core.worker_idle_changed();
}

void Worker::wake_activation(const FunctionState* state) {
  std::vector<Session*> snapshot(sessions.begin(), sessions.end());
  for (Session* s : snapshot) {
    if (sessions.count(s)) s->replica_may_be_ready(state);
  }
}

void Worker::accept() {
  acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](const error_code&) { accept(); });
      return;
    }
    error_code ignored;
    if (core.connections.fetch_add(1, std::memory_order_relaxed) >= core.options.max_connections) {
      core.connections.fetch_sub(1, std::memory_order_relaxed);
      core.metrics.rejected_connections().Increment();
      socket.close(ignored);
      accept();
      return;
    }
    core.metrics.connections().Increment();
    socket.set_option(tcp::no_delay(true), ignored);
    auto s = std::make_shared<Session>(*this, std::move(socket));
    sessions.insert(s.get());
    open_sessions.fetch_add(1, std::memory_order_relaxed);
    s->start();
    accept();
  });
}

void Worker::run_sweep() {
  sweep.expires_after(kSweepInterval);
  sweep.async_wait([this](const error_code& ec) {
    if (ec) return;
    const std::int64_t now = now_ns();
    std::vector<Session*> snapshot(sessions.begin(), sessions.end());
    for (Session* s : snapshot) {
      if (sessions.count(s)) s->check(now, draining);
    }
    pool.prune();
    if (draining && sessions.empty()) core.worker_idle_changed();
    run_sweep();
  });
}

void Worker::drain() {
  asio::post(io, [this] {
    draining = true;
    error_code ignored;
    acceptor.close(ignored);
    std::vector<Session*> snapshot(sessions.begin(), sessions.end());
    const std::int64_t now = now_ns();
    for (Session* s : snapshot) {
      if (sessions.count(s)) s->check(now, true);
    }
    pool.close_idle();
    core.worker_idle_changed();
  });
}

// ---------------------------------------------------------------------------------------
// GatewayCore

namespace {

// options.meter, or one of the gateway's own; none with KUBEFN_GATEWAY_METERING=0: no call is
// metered and no kubefn_function_* series served, for measuring what metering costs
// (bench/metering; docs/gateway.md).
std::shared_ptr<metering::Meter> meter_for(const GatewayOptions& options) {
  const char* off = std::getenv("KUBEFN_GATEWAY_METERING");
  if (off != nullptr && (std::string_view(off) == "0" || std::string_view(off) == "off")) {
    return nullptr;
  }
  return options.meter ? options.meter : std::make_shared<metering::Meter>();
}

}  // namespace

GatewayCore::GatewayCore(RouteTable& routes, KeyRing& keys, GatewayOptions options,
                         prometheus::Registry* registry)
    : routes(routes),
      keys(keys),
      options(std::move(options)),
      metrics(registry),
      meter(meter_for(this->options)),
      budget(this->options.max_buffered_bytes, &metrics.buffered()),
      admission(this->options) {
  metrics.serve_meter(meter.get());
}

GatewayCore::~GatewayCore() = default;

kube::Status GatewayCore::start() {
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  error_code ec;
  auto addr = asio::ip::make_address(options.bind_address, ec);
  if (ec) {
    return kube::Status(kube::StatusCode::kInvalidConfig,
                        "bind address \"" + options.bind_address + "\" is not an IP address");
  }
  std::uint16_t bound = options.port;
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>(*this);
    tcp::endpoint ep(addr, bound);
    w->acceptor.open(ep.protocol(), ec);
    if (!ec) w->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(w->acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) !=
          0) {
        ec = error_code(errno, boost::system::system_category());
      }
    }
    if (!ec) w->acceptor.bind(ep, ec);
    if (!ec) w->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return kube::Status(kube::StatusCode::kInvalidConfig,
                          "cannot listen on " + options.bind_address + ":" + std::to_string(bound) +
                              ": " + ec.message());
    }
    bound = w->acceptor.local_endpoint().port();
    workers.push_back(std::move(w));
  }
  port = bound;
  if (options.metrics_port >= 0) {
    metrics_listener = std::make_unique<MetricsListener>(
        workers.front()->io, metrics, options.read_timeout + options.write_timeout);
    kube::Status st = metrics_listener->listen(options.metrics_address, options.metrics_port);
    if (!st.ok()) return st;
    metrics_port = metrics_listener->port();
  }
  if (options.activation_timeout.count() > 0 && options.activation_probe_interval.count() > 0) {
    prober = std::make_unique<ActivationProber>(*this, workers.front()->io);
  }
  for (auto& w : workers) {
    Worker* raw = w.get();
    raw->accept();
    raw->run_sweep();
    raw->thread = std::thread([raw] { raw->io.run(); });
  }
  started = true;
  return {};
}

void GatewayCore::worker_idle_changed() {
  std::lock_guard<std::mutex> lock(drain_mu);
  drain_cv.notify_all();
}

void GatewayCore::stop() {
  if (!started) return;
  started = false;
  draining.store(true);
  for (auto& w : workers)
    w->drain();
  {
    std::unique_lock<std::mutex> lock(drain_mu);
    drain_cv.wait_for(lock, options.drain_timeout, [&] {
      for (auto& w : workers) {
        if (w->open_sessions.load() != 0) return false;
      }
      return true;
    });
  }
  for (auto& w : workers) {
    Worker* raw = w.get();
    const bool first = raw == workers.front().get();
    MetricsListener* listener = first ? metrics_listener.get() : nullptr;
    ActivationProber* probes = first ? prober.get() : nullptr;
    asio::post(raw->io, [raw, listener, probes] {
      raw->sweep.cancel();
      if (listener) listener->close();
      if (probes) probes->close();
      std::vector<Session*> snapshot(raw->sessions.begin(), raw->sessions.end());
      for (Session* s : snapshot) {
        if (raw->sessions.count(s)) s->close();
      }
      std::vector<LateCall*> late(raw->late_calls.begin(), raw->late_calls.end());
      for (LateCall* c : late) {
        if (raw->late_calls.count(c)) c->finish(false);
      }
      raw->pool.clear();
      raw->waiting_for_queue.clear();
      raw->io.stop();
    });
  }
  for (auto& w : workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  metrics_listener.reset();
  prober.reset();
  workers.clear();
}

// ---------------------------------------------------------------------------------------
// Gateway

Gateway::Gateway(RouteTable& routes, KeyRing& keys, GatewayOptions options,
                 prometheus::Registry* registry)
    : core_(std::make_shared<GatewayCore>(routes, keys, std::move(options), registry)) {}

Gateway::~Gateway() {
  stop();
}

kube::Status Gateway::start() {
  return core_->start();
}

std::uint16_t Gateway::port() const {
  return core_->port;
}

std::uint16_t Gateway::metrics_port() const {
  return core_->metrics_port;
}

void Gateway::stop() {
  core_->stop();
}

std::vector<FunctionLoad> Gateway::take_load() {
  std::vector<FunctionLoad> out;
  for (const auto& route : core_->routes.all()) {
    FunctionState& s = *route->state;
    FunctionLoad l;
    l.ns = route->ns;
    l.name = route->name;
    l.requests = s.requests.exchange(0, std::memory_order_relaxed);
    l.inflight = s.inflight.load(std::memory_order_relaxed);
    l.peak_inflight = s.peak_inflight.exchange(l.inflight, std::memory_order_relaxed);
    if (l.peak_inflight < l.inflight) l.peak_inflight = l.inflight;
    l.queued = s.waiting.load(std::memory_order_relaxed);
    l.ready_endpoints = route->ready_endpoints;
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace kubefn::gateway
