#include "server.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "event.hpp"
#include "invoke.hpp"
#include "kubefn/http/connection_buffer.hpp"
#include "kubefn/http/request_parser.hpp"
#include "kubefn/http/response.hpp"
#include "thread_pool.hpp"

namespace kubefn::runtime {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

constexpr std::int64_t kMs = 1000000;
constexpr std::int64_t kLingerNs = 2000 * kMs;  // reading what a refused client still sends
constexpr std::int64_t kDrainFreshGraceNs = 1000 * kMs;
constexpr std::size_t kInitialBuffer = std::size_t{16} * 1024;
constexpr std::size_t kInitialHead = 1024;  // a larger response head is not kept

enum Phase : int {
  kIdle,      // waiting for the first byte of a request (keep-alive)
  kReading,   // part of a request received
  kQueued,    // received; waiting for a handler slot
  kHandler,   // the handler runs
  kWriting,   // the response is being written
  kClosing,   // refused or timed out: lingering before close
  kTimedOut,  // the monitor answered 504; the handler still runs
};

bool send_all_now(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

class Connection;

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(RuntimeConfig config, HandlerFn handler, RuntimeMetrics& metrics,
             telemetry::LineWriter& access_log, telemetry::LineWriter& log)
      : config(std::move(config)),
        handler(handler),
        metrics(metrics),
        access_log(access_log),
        log(log),
        io(),
        acceptor(io),
        signals(io),
        guard(asio::make_work_guard(io)),
        pool_(io, this->config.min_threads, this->config.max_threads, in_handlers_) {}

  std::optional<std::string> listen();
  int run();
  void drain();
  void accept();
  void register_connection(const std::shared_ptr<Connection>& c);
  void unregister_connection(Connection* c);
  std::string health_text(int* status) const;

  // Handler slots: at most KUBEFN_MAX_THREADS handlers run at once while the pool may hold one
  // thread more, so a thread is always left for I/O and the runtime's own endpoints, however
  // many handlers block. A call that finds every slot taken waits in a queue (up to its
  // deadline) and runs when one comes free.
  bool acquire_slot(std::shared_ptr<Connection> c);  // false: queued, run_handler() comes later
  void release_slot();
  bool cancel_queued(Connection* c);  // true when it was still waiting

  const RuntimeConfig config;
  const HandlerFn handler;
  RuntimeMetrics& metrics;
  telemetry::LineWriter& access_log;
  telemetry::LineWriter& log;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::atomic<bool> draining{false};
  std::atomic<int> stuck_handlers{0};
  std::uint16_t bound_port = 0;

 private:
  void monitor_main();
  void stop_serving(bool forced);
  void pump_queue();

  std::atomic<unsigned> in_handlers_{0};  // slots taken
  ThreadPool pool_;
  std::atomic<std::size_t> queued_count_{0};
  std::mutex queue_mu_;
  std::deque<std::shared_ptr<Connection>> queued_;

  std::mutex conn_mu_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;

  std::mutex state_mu_;
  std::condition_variable state_cv_;
  bool stopped_ = false;
  bool forced_ = false;
  std::int64_t drain_started_ns_ = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerCore& core, tcp::socket socket)
      : core_(core),
        metrics_(core.metrics),
        socket_(std::move(socket)),
        buf_(kInitialBuffer, http::read_buffer_cap(core.config.limits.max_header_bytes,
                                                   core.config.limits.max_body_bytes)),
        parser_(core.config.limits) {
    fd_ = socket_.native_handle();
    since_ns_.store(now_ns(), std::memory_order_relaxed);
    account();
  }
  ~Connection() { metrics_.buffered_add(-static_cast<double>(accounted_)); }

  void start() { read_more(); }

  // Called by the monitor thread on every tick.
  void check(std::int64_t now, int* stuck);

  // Runs the handler for the request serve() received, holding a handler slot.
  void run_handler();

 private:
  void read_more();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void process();
  void serve();
  void serve_builtin(const http::HttpRequest& req);
  void write(bool close_after);
  void on_written(const boost::system::error_code& ec);
  void refuse(int status, std::string_view reason);
  void linger();
  void close();
  bool grow();
  void shrink();
  void account();
  void answer_timeout(std::int64_t now);
  bool cas_phase(int from, int to) {
    return phase_.compare_exchange_strong(from, to, std::memory_order_acq_rel);
  }
  void set_phase(int p, std::int64_t now) {
    since_ns_.store(now, std::memory_order_relaxed);
    phase_.store(p, std::memory_order_release);
  }
  // Raw socket operations from the monitor, serialized with close().
  void shutdown_fd(int how) {
    std::lock_guard<std::mutex> lock(fd_mu_);
    if (fd_ >= 0) ::shutdown(fd_, how);
  }

  ServerCore& core_;
  RuntimeMetrics& metrics_;
  tcp::socket socket_;
  std::mutex fd_mu_;
  int fd_ = -1;
  http::ConnectionBuffer buf_;
  http::HttpRequestParser parser_;
  std::atomic<int> phase_{kIdle};
  std::atomic<std::int64_t> since_ns_{0};
  std::atomic<std::int64_t> deadline_ns_{0};
  std::atomic<bool> served_any_{false};
  bool continue_sent_ = false;
  bool close_after_ = false;
  bool closed_ = false;
  bool linger_shutdown_ = false;
  std::size_t accounted_ = 0;  // bytes of the buffers below counted in the metrics
  // The call in progress, for the monitor's 504 (valid from kQueued on).
  Event event_;
  std::string_view call_method_;
  std::string_view call_path_;
  std::string_view call_event_id_;
  std::size_t call_bytes_in_ = 0;
  std::int64_t call_start_ns_ = 0;  // when the request was whole
  GeneratedEventFields generated_;
  // The response being written.
  std::string head_;
  std::string body_;
};

// ---------------------------------------------------------------------------------------
// Connection

bool Connection::grow() {
  if (!buf_.grow()) return false;
  // The parser's views pointed into the old storage: parse again from the start.
  parser_.reset();
  account();
  return true;
}

// Between requests: what a large request or response took goes back, so that an idle
// keep-alive connection holds its initial buffer and no more.
void Connection::shrink() {
  std::string().swap(body_);
  if (head_.capacity() > kInitialHead) std::string().swap(head_);
  parser_.release_buffers();
  buf_.shrink();
  account();
}

void Connection::account() {
  const std::size_t now = buf_.capacity() + http::heap_bytes(head_) + http::heap_bytes(body_) +
                          parser_.buffered_bytes();
  if (now == accounted_) return;
  metrics_.buffered_add(static_cast<double>(now) - static_cast<double>(accounted_));
  accounted_ = now;
}

void Connection::read_more() {
  if (buf_.full() && !grow()) {
    refuse(413, "request too large");
    return;
  }
  socket_.async_read_some(asio::buffer(buf_.space(), buf_.space_size()),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (ec) {
    close();
    return;
  }
  int p = phase_.load(std::memory_order_acquire);
  if (p == kIdle) {
    if (!cas_phase(kIdle, kReading)) {
      close();
      return;
    }
    since_ns_.store(now_ns(), std::memory_order_relaxed);
  } else if (p != kReading) {
    close();  // the monitor timed this connection out
    return;
  }
  buf_.commit(n);
  process();
}

void Connection::process() {
  switch (parser_.parse(buf_.view())) {
    case http::ParseState::kNeedMore:
      read_more();
      return;
    case http::ParseState::kHeadersDone:
      if (parser_.request().expect_continue && !continue_sent_ && parser_.has_pending_body()) {
        continue_sent_ = true;
        static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
        asio::async_write(
            socket_, asio::buffer(k100.data(), k100.size()),
            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
              if (ec) {
                self->close();
                return;
              }
              self->read_more();
            });
        return;
      }
      read_more();
      return;
    case http::ParseState::kError:
      refuse(parser_.error_status(), parser_.error_reason());
      return;
    case http::ParseState::kComplete:
      serve();
      return;
  }
}

void Connection::serve() {
  const http::HttpRequest& req = parser_.request();
  close_after_ = !req.keep_alive || core_.draining.load(std::memory_order_relaxed);
  if ((req.method == "GET" || req.method == "HEAD") &&
      (req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics")) {
    serve_builtin(req);
    return;
  }

  Event& event = event_;
  event_from_request(req, generated_, event);

  // The deadline runs from here, time waiting for a handler slot included.
  const std::int64_t start = now_ns();
  const std::int64_t deadline =
      start + std::chrono::duration_cast<std::chrono::nanoseconds>(core_.config.timeout).count();
  call_method_ = req.method;
  call_path_ = req.path;
  call_event_id_ = event.event_id;
  call_bytes_in_ = req.body.size();
  call_start_ns_ = start;
  deadline_ns_.store(deadline, std::memory_order_relaxed);
  since_ns_.store(start, std::memory_order_relaxed);
  if (!cas_phase(kReading, kQueued)) {
    close();
    return;
  }
  if (core_.acquire_slot(shared_from_this())) run_handler();
}

void Connection::run_handler() {
  if (!cas_phase(kQueued, kHandler)) {
    // The monitor answered 504 while the call waited for this slot.
    core_.release_slot();
    close();
    return;
  }
  const http::HttpRequest& req = parser_.request();
  const Event& event = event_;
  const std::int64_t start = now_ns();
  const std::int64_t deadline = deadline_ns_.load(std::memory_order_relaxed);
  since_ns_.store(start, std::memory_order_relaxed);
  core_.metrics.inflight_add(1);
  ThreadPool::mark_handler(start);
  FunctionLogger logger(core_.log, core_.config.function_name, event.event_id);
  Context ctx(core_.config.function_name, core_.config.runtime, core_.config.timeout,
              core_.config.memory_limit_bytes,
              Clock::time_point(std::chrono::nanoseconds(deadline)), logger);
  InvokeResult result = invoke_handler(core_.handler, event, ctx);
  const std::int64_t end = now_ns();
  ThreadPool::mark_handler(0);
  core_.metrics.inflight_add(-1);
  core_.metrics.add_busy_seconds(static_cast<double>(end - start) / 1e9);
  core_.release_slot();
  if (result.failed) logger.error(result.error_detail);

  if (!cas_phase(kHandler, kWriting)) {
    // The monitor answered 504 and counted the call; this late result is dropped.
    logger.warn("handler returned after its deadline; the caller already got 504");
    close();
    return;
  }
  since_ns_.store(end, std::memory_order_relaxed);
  Response& resp = result.response;
  const double seconds = static_cast<double>(end - call_start_ns_) / 1e9;
  core_.metrics.record_call(req.method, seconds, result.failed, resp.status);
  // No content after a 204 or a 304, nor in the answer to a HEAD (RFC 9110 sections 6.4.1
  // and 9.3.2): whatever body the handler gave is dropped.
  const bool send_body = req.method != "HEAD" && http::status_has_body(resp.status);
  head_.clear();
  // The handler's wall time is what the gateway bills (kExecutionHeader).
  http::append_response_head(head_, resp.status, resp.body.size(), resp.headers, close_after_,
                             req.version_minor == 0 && req.keep_alive,
                             core_.config.execution_header ? end - start : -1);
  if (send_body) {
    body_ = std::move(resp.body);
  } else {
    body_.clear();
  }
  if (core_.config.access_log) {
    core_.access_log.append(access_line(core_.config.function_name, req.method, req.path,
                                        resp.status, req.body.size(), body_.size(),
                                        end - call_start_ns_, event.event_id));
  }
  write(close_after_);
}

void Connection::serve_builtin(const http::HttpRequest& req) {
  int status = 200;
  std::string body;
  std::string_view type = "text/plain; charset=utf-8";
  if (req.path == "/healthz") {
    body = core_.health_text(&status);
  } else if (req.path == "/readyz") {
    const bool draining = core_.draining.load(std::memory_order_relaxed);
    status = draining ? 503 : 200;
    body = draining ? "draining\n" : "ready\n";
  } else {
    body = core_.metrics.serialize();
    type = "text/plain; version=0.0.4; charset=utf-8";
  }
  head_.clear();
  http::append_response_head(head_, status, body.size(), {{"content-type", std::string(type)}},
                             close_after_, req.version_minor == 0 && req.keep_alive);
  body_ = req.method == "HEAD" ? std::string() : std::move(body);
  if (!cas_phase(kReading, kWriting)) {
    close();
    return;
  }
  since_ns_.store(now_ns(), std::memory_order_relaxed);
  write(close_after_);
}

void Connection::write(bool close_after) {
  close_after_ = close_after;
  account();
  std::array<asio::const_buffer, 2> bufs = {asio::buffer(head_), asio::buffer(body_)};
  asio::async_write(socket_, bufs,
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                      self->on_written(ec);
                    });
}

void Connection::on_written(const boost::system::error_code& ec) {
  if (ec) {
    close();
    return;
  }
  if (phase_.load(std::memory_order_acquire) == kClosing) {
    linger();
    return;
  }
  if (close_after_) {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  served_any_.store(true, std::memory_order_relaxed);
  buf_.consume(parser_.consumed());
  continue_sent_ = false;
  event_ = Event{};
  shrink();
  const std::int64_t now = now_ns();
  if (!buf_.empty()) {
    set_phase(kReading, now);  // a pipelined request is already here
    process();
  } else {
    set_phase(kIdle, now);
    if (core_.draining.load(std::memory_order_relaxed)) {
      close();
      return;
    }
    read_more();
  }
}

void Connection::refuse(int status, std::string_view reason) {
  core_.metrics.record_rejected(status);
  if (core_.config.access_log) {
    const http::HttpRequest& req = parser_.request();
    core_.access_log.append(access_line(core_.config.function_name, req.method, req.path, status, 0,
                                        reason.size() + 1, 0, {}));
  }
  head_ =
      http::simple_response(status, "text/plain; charset=utf-8", std::string(reason) + "\n", true);
  body_.clear();
  // The monitor may have timed the read out (and answered 408) a moment ago.
  if (!cas_phase(kReading, kClosing) && !cas_phase(kIdle, kClosing)) {
    close();
    return;
  }
  since_ns_.store(now_ns(), std::memory_order_relaxed);
  write(true);
}

// After refusing a request, read (and drop) what the client still sends for a while, so
// that closing does not reset the connection before it has read our answer.
void Connection::linger() {
  if (!linger_shutdown_) {
    linger_shutdown_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    buf_.consume(buf_.size());
  }
  socket_.async_read_some(
      asio::buffer(buf_.space(), buf_.space_size()),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec) {
          self->close();
          return;
        }
        self->linger();
      });
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard<std::mutex> lock(fd_mu_);
    fd_ = -1;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  core_.unregister_connection(this);
}

// A call past its deadline, waiting or running: 504, counted as a call and a failure. Not 408,
// which says the request never arrived whole and so invites clients to send it again.
void Connection::answer_timeout(std::int64_t now) {
  const RuntimeConfig& cfg = core_.config;
  const double secs = std::chrono::duration<double>(cfg.timeout).count();
  core_.metrics.record_call(call_method_, secs, true, 504);
  std::string body = "function timed out after " + std::to_string(cfg.timeout.count()) + " ms\n";
  if (cfg.access_log) {
    core_.access_log.append(access_line(cfg.function_name, call_method_, call_path_, 504,
                                        call_bytes_in_, body.size(), now - call_start_ns_,
                                        call_event_id_));
  }
  std::lock_guard<std::mutex> lock(fd_mu_);
  if (fd_ >= 0) {
    send_all_now(fd_, http::simple_response(504, "text/plain; charset=utf-8", body, true));
    ::shutdown(fd_, SHUT_RDWR);
  }
}

void Connection::check(std::int64_t now, int* stuck) {
  const int p = phase_.load(std::memory_order_acquire);
  const std::int64_t since = since_ns_.load(std::memory_order_relaxed);
  const auto ns = [](std::chrono::milliseconds ms) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
  };
  const RuntimeConfig& cfg = core_.config;
  switch (p) {
    case kIdle: {
      std::int64_t limit = ns(cfg.idle_timeout);
      if (core_.draining.load(std::memory_order_relaxed)) {
        limit = served_any_.load(std::memory_order_relaxed) ? 0 : kDrainFreshGraceNs;
      }
      if (now - since >= limit && cas_phase(kIdle, kClosing)) shutdown_fd(SHUT_RDWR);
      break;
    }
    case kReading:
      if (now - since > ns(cfg.read_timeout) && cas_phase(kReading, kClosing)) {
        core_.metrics.record_rejected(408);
        {
          std::lock_guard<std::mutex> lock(fd_mu_);
          if (fd_ >= 0) {
            send_all_now(fd_, http::simple_response(408, "text/plain; charset=utf-8",
                                                    "request not received in time\n", true));
            ::shutdown(fd_, SHUT_RDWR);
          }
        }
      }
      break;
    case kWriting:
      if (now - since > ns(cfg.read_timeout) && cas_phase(kWriting, kClosing)) {
        shutdown_fd(SHUT_RDWR);
      }
      break;
    case kQueued:
      if (now >= deadline_ns_.load(std::memory_order_relaxed) && cas_phase(kQueued, kClosing)) {
        // Out of the queue (and its gauge) before the caller has the 504 in hand: a caller
        // that asks /metrics next must not find the call still queued.
        const bool was_queued = core_.cancel_queued(this);
        answer_timeout(now);
        // Still in the queue: nothing else will close it. Otherwise run_handler() does.
        if (was_queued) {
          asio::post(core_.io, [self = shared_from_this()] { self->close(); });
        }
      }
      break;
    case kHandler:
      if (now >= deadline_ns_.load(std::memory_order_relaxed) && cas_phase(kHandler, kTimedOut)) {
        answer_timeout(now);
      }
      break;
    case kTimedOut:
      if (now >= deadline_ns_.load(std::memory_order_relaxed) + ns(cfg.stuck_grace)) ++*stuck;
      break;
    case kClosing:
      if (now - since > kLingerNs) shutdown_fd(SHUT_RDWR);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------
// ServerCore

bool ServerCore::acquire_slot(std::shared_ptr<Connection> c) {
  unsigned n = in_handlers_.load(std::memory_order_relaxed);
  while (n < config.max_threads) {
    if (in_handlers_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queued_.push_back(std::move(c));
    queued_count_.fetch_add(1);
    metrics.queued_add(1);
  }
  pump_queue();  // a slot may have come free since it was looked at
  return false;
}

void ServerCore::release_slot() {
  // Sequentially consistent with acquire_slot(): the queue grows before it looks at the
  // slots, a slot comes free before the queue is looked at, so no call is left waiting.
  in_handlers_.fetch_sub(1);
  if (queued_count_.load() > 0) pump_queue();
}

void ServerCore::pump_queue() {
  std::vector<std::shared_ptr<Connection>> run;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    while (!queued_.empty()) {
      unsigned n = in_handlers_.load();
      if (n >= config.max_threads) break;
      if (!in_handlers_.compare_exchange_weak(n, n + 1)) continue;
      run.push_back(std::move(queued_.front()));
      queued_.pop_front();
      queued_count_.fetch_sub(1);
      metrics.queued_add(-1);
    }
  }
  for (auto& c : run)
    asio::post(io, [c = std::move(c)] { c->run_handler(); });
}

bool ServerCore::cancel_queued(Connection* c) {
  std::lock_guard<std::mutex> lock(queue_mu_);
  for (auto it = queued_.begin(); it != queued_.end(); ++it) {
    if (it->get() != c) continue;
    queued_.erase(it);
    queued_count_.fetch_sub(1);
    metrics.queued_add(-1);
    return true;
  }
  return false;
}

std::string ServerCore::health_text(int* status) const {
  int stuck = stuck_handlers.load(std::memory_order_relaxed);
  if (stuck > 0) {
    *status = 503;
    return std::to_string(stuck) + " handler(s) stuck past their deadline\n";
  }
  *status = 200;
  return "ok\n";
}

std::optional<std::string> ServerCore::listen() {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(config.bind_address, ec);
  if (ec) return "KUBEFN_BIND_ADDRESS \"" + config.bind_address + "\" is not an IP address";
  tcp::endpoint ep(addr, config.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return "cannot listen on " + config.bind_address + ":" + std::to_string(config.port) + ": " +
           ec.message();
  }
  bound_port = acceptor.local_endpoint().port();
  return std::nullopt;
}

void ServerCore::accept() {
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                    tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
      // Out of descriptors and the like: log, back off briefly, keep accepting.
      telemetry::log_event(self->log, "warn", "accept failed",
                           ",\"error\":\"" + ec.message() + "\"");
      auto timer = std::make_shared<asio::steady_timer>(self->io, std::chrono::milliseconds(50));
      timer->async_wait([self, timer](const boost::system::error_code&) { self->accept(); });
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(*self, std::move(socket));
    self->register_connection(conn);
    conn->start();
    self->accept();
  });
}

void ServerCore::register_connection(const std::shared_ptr<Connection>& c) {
  std::lock_guard<std::mutex> lock(conn_mu_);
  connections_.emplace(c.get(), c);
}

void ServerCore::unregister_connection(Connection* c) {
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    connections_.erase(c);
    last = connections_.empty();
  }
  if (last && draining.load()) stop_serving(false);
}

void ServerCore::drain() {
  asio::post(io, [self = shared_from_this()] {
    if (self->draining.exchange(true)) return;
    {
      std::lock_guard<std::mutex> lock(self->state_mu_);
      self->drain_started_ns_ = now_ns();
    }
    telemetry::log_event(self->log, "info",
                         "draining: stopped accepting, finishing in-flight requests");
    boost::system::error_code ignored;
    self->acceptor.close(ignored);
    bool empty;
    {
      std::lock_guard<std::mutex> lock(self->conn_mu_);
      empty = self->connections_.empty();
    }
    if (empty) self->stop_serving(false);
  });
}

void ServerCore::stop_serving(bool forced) {
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (stopped_) return;
    stopped_ = true;
    forced_ = forced;
  }
  io.stop();
  state_cv_.notify_all();
}

void ServerCore::monitor_main() {
  std::vector<std::shared_ptr<Connection>> snapshot;
  std::unique_lock<std::mutex> lock(state_mu_);
  while (!stopped_) {
    std::size_t open;
    {
      std::lock_guard<std::mutex> cl(conn_mu_);
      open = connections_.size();
    }
    auto tick = open > 0 ? std::chrono::milliseconds(10) : std::chrono::milliseconds(100);
    state_cv_.wait_for(lock, tick);
    if (stopped_) break;
    const std::int64_t drain_started = drain_started_ns_;
    lock.unlock();

    const std::int64_t now = now_ns();
    snapshot.clear();
    {
      std::lock_guard<std::mutex> cl(conn_mu_);
      for (auto& [ptr, weak] : connections_) {
        if (auto c = weak.lock()) snapshot.push_back(std::move(c));
      }
    }
    int stuck = 0;
    for (auto& c : snapshot)
      c->check(now, &stuck);
    snapshot.clear();
    stuck_handlers.store(stuck, std::memory_order_relaxed);
    pool_.manage(now);
    access_log.flush();
    if (drain_started != 0 &&
        now - drain_started >
            std::chrono::duration_cast<std::chrono::nanoseconds>(config.drain_timeout).count()) {
      stop_serving(true);
    }
    lock.lock();
  }
}

int ServerCore::run() {
  signals.add(SIGTERM);
  signals.add(SIGINT);
  signals.async_wait([self = shared_from_this()](const boost::system::error_code& ec, int) {
    if (!ec) self->drain();
  });
  accept();
  pool_.start(shared_from_this());
  std::thread monitor([this] { monitor_main(); });
  {
    std::unique_lock<std::mutex> lock(state_mu_);
    state_cv_.wait(lock, [this] { return stopped_; });
  }
  monitor.join();
  access_log.flush();
  bool forced;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    forced = forced_;
  }
  pool_.join(forced);
  telemetry::log_event(log, forced ? "warn" : "info",
                       forced ? "drain timed out with requests still running" : "drained, exiting");
  return forced ? 1 : 0;
}

// ---------------------------------------------------------------------------------------
// Server

Server::Server(RuntimeConfig config, HandlerFn handler, RuntimeMetrics& metrics,
               telemetry::LineWriter& access_log, telemetry::LineWriter& log)
    : core_(std::make_shared<ServerCore>(std::move(config), handler, metrics, access_log, log)) {}

Server::~Server() = default;

std::optional<std::string> Server::listen() {
  return core_->listen();
}
std::uint16_t Server::port() const {
  return core_->bound_port;
}
int Server::run() {
  return core_->run();
}
void Server::drain() {
  core_->drain();
}

}  // namespace kubefn::runtime
