#include "kubefn/gateway/gateway.hpp"

#include <sys/socket.h>

#include <array>
#include <boost/asio.hpp>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "kubefn/gateway/http_proxy.hpp"
#include "kubefn/http/event_id.hpp"
#include "kubefn/http/request_parser.hpp"
#include "metrics.hpp"

namespace kubefn::gateway {
namespace {

using http::HttpResponseParser;
using http::iequals;
using http::make_event_id;
using http::ResponseState;
using http::trim_ows;

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::int64_t to_ns(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

constexpr std::size_t kInitialBuffer = std::size_t{16} * 1024;
// Heads being built (to the replica, to the client) keep their storage up to this between
// requests; bigger ones are freed.
constexpr std::size_t kKeptHeadBytes = std::size_t{4} * 1024;
constexpr auto kSweepInterval = std::chrono::milliseconds(250);
constexpr std::size_t kMaxIdlePerEndpoint = 256;
// After refusing a request whose body was not read: how long the rest of it is read and
// dropped, so the caller sees the answer rather than a reset.
constexpr std::int64_t kLingerNs = std::int64_t{2} * 1000 * 1000 * 1000;

// The gateway's own paths on the public port (GET and HEAD). /metrics is not one: it is
// served on the metrics listener only.
bool builtin_path(std::string_view path) {
  return path == "/healthz" || path == "/readyz";
}

// The first buffer size the doubling growth reaches that holds `need` bytes (at most `cap`).
std::size_t grown_size(std::size_t size, std::size_t need, std::size_t cap) {
  while (size < need && size < cap)
    size = std::min(cap, size * 2);
  return size;
}

// "Bearer <token>" (scheme case-insensitive); empty when absent or another scheme.
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

}  // namespace

class Session;
class Worker;
class LateCall;
class MetricsListener;

// A keep-alive connection to one replica.
struct Upstream {
  explicit Upstream(asio::io_context& io) : sock(io) {}
  tcp::socket sock;
  std::vector<char> buf;
  std::size_t len = 0;
  bool reused = false;
};

struct Pool {
  std::shared_ptr<EndpointLoad> load;
  tcp::endpoint address;
  bool address_ok = false;
  std::vector<std::unique_ptr<Upstream>> idle;
};

class GatewayCore : public std::enable_shared_from_this<GatewayCore> {
 public:
  GatewayCore(RouteTable& routes, KeyRing& keys, GatewayOptions options,
              prometheus::Registry* registry)
      : routes(routes), keys(keys), options(std::move(options)), metrics(registry) {}

  kube::Status start();
  void stop();
  void worker_idle_changed();

  // The buffer budget: takes `bytes` more from it; false (and nothing taken) when that would
  // go over max_buffered_bytes, unless `force` (memory already held, or being freed soon).
  bool take_buffer(std::size_t bytes, bool force) {
    const std::size_t before = buffered.fetch_add(bytes, std::memory_order_relaxed);
    if (!force && before + bytes > options.max_buffered_bytes) {
      buffered.fetch_sub(bytes, std::memory_order_relaxed);
      return false;
    }
    metrics.buffered().Increment(static_cast<double>(bytes));
    return true;
  }
  void give_buffer(std::size_t bytes) {
    buffered.fetch_sub(bytes, std::memory_order_relaxed);
    metrics.buffered().Decrement(static_cast<double>(bytes));
  }
  void release_slot(const std::shared_ptr<const FunctionRoute>& route) {
    auto fresh = routes.find(route->ns, route->name);
    route->state->limiter.release(fresh ? fresh->limit() : route->limit());
  }

  RouteTable& routes;
  KeyRing& keys;
  const GatewayOptions options;
  GatewayMetrics metrics;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<MetricsListener> metrics_listener;
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> buffered{0};
  std::atomic<std::size_t> connections{0};
  std::uint16_t port = 0;
  std::uint16_t metrics_port = 0;
  bool started = false;

  std::mutex drain_mu;
  std::condition_variable drain_cv;
};

class Worker {
 public:
  explicit Worker(GatewayCore& core) : core(core), acceptor(io), sweep(io) {}

  void accept();
  void run_sweep();
  void drain();
  Pool& pool_for(const std::shared_ptr<EndpointLoad>& load);
  void add(Session* s) { sessions.insert(s); }
  void remove(Session* s);
  // A pooled-again connection after a whole response.
  void give_back(std::unique_ptr<Upstream> up, const EndpointLoad* key);
  void close_idle(Pool& pool);

  GatewayCore& core;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer sweep;
  std::thread thread;
  std::unordered_set<Session*> sessions;
  std::unordered_set<LateCall*> late_calls;
  std::unordered_map<const EndpointLoad*, Pool> pools;
  std::atomic<std::size_t> open_sessions{0};
  bool draining = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& w, tcp::socket sock)
      : w_(w),
        core_(w.core),
        sock_(std::move(sock)),
        parser_(client_limits(w.core.options)),
        resp_(w.core.options.max_response_body_bytes),
        timer_(w.io) {
    buf_.resize(kInitialBuffer);
    hold_exactly(buffered_now());
    error_code ec;
    auto remote = sock_.remote_endpoint(ec);
    if (!ec) client_ip_ = remote.address().to_string();
    since_ns_ = now_ns();
  }

  void start() { read_more(); }
  // From the worker's sweep: closes idle connections past their time, or all idle ones
  // when draining; answers 408 to requests not received in time; cuts responses that made
  // no progress for write_timeout.
  void check(std::int64_t now, bool draining);
  void close();

 private:
  enum class Phase { kIdle, kReading, kBusy, kWriting, kLingering };

  // The client's head must leave room for what the gateway adds when forwarding it.
  static http::HttpLimits client_limits(const GatewayOptions& o) {
    return http::HttpLimits{kUpstreamHeadLimit - kForwardHeadroomBytes,
                            kUpstreamHeaderFieldLimit - kForwardHeaderFields,
                            o.max_request_body_bytes};
  }

  // A new parser in place of the old one, whose de-chunked body storage goes with it (a move
  // assignment would keep it).
  void fresh_parser() {
    http::HttpRequestParser fresh(client_limits(core_.options));
    std::swap(parser_, fresh);
  }
  void read_more();
  void on_read(const error_code& ec, std::size_t n);
  void process();
  bool on_head(bool body_pending);
  bool route_request(const http::HttpRequest& req);
  bool check_access(const http::HttpRequest& req);
  bool reserve_body(const http::HttpRequest& req);
  void send_continue();
  void handle();
  void serve_builtin(const http::HttpRequest& req);
  void admitted();
  bool on_granted(std::uint64_t gen);
  void wait_for_replica();
  void dispatch();
  void try_endpoint();
  void connect(Pool& pool);
  void on_connect(const error_code& ec);
  void send();
  void on_sent(const error_code& ec, std::size_t n);
  void read_response();
  void on_upstream_read(const error_code& ec, std::size_t n);
  void hand_off_late_call();
  void respond();
  void upstream_failed(bool retryable);
  void response_too_large();
  void arm_timer(std::int64_t deadline_ns);
  void on_timer(std::uint64_t gen);
  void drop_upstream();
  void release_endpoint();
  void release_slot();
  void out_of_buffers();
  void reply(int status, std::string_view message,
             std::vector<std::pair<std::string, std::string>> extra = {});
  void write_out();
  void write_some();
  void on_written(const error_code& ec);
  void finish_exchange();
  void linger();

  // The bytes this connection's buffers take now: the read buffer (twice when a chunked
  // body is being de-chunked beside it), the upstream connection's, a de-chunked response,
  // and the heads being sent.
  std::size_t buffered_now() const {
    std::size_t n = buf_.size() * (chunked_request_ ? 2 : 1) + out_.capacity() + head_.capacity() +
                    resp_.owned_bytes();
    if (up_) n += up_->buf.size();
    return n;
  }
  // This connection's share of the buffer budget: grown only when the budget allows it...
  bool hold_at_least(std::size_t bytes) {
    if (bytes <= held_) return true;
    if (!core_.take_buffer(bytes - held_, false)) return false;
    held_ = bytes;
    return true;
  }
  // ... set to what it holds once buffers were freed (or moved elsewhere).
  void hold_exactly(std::size_t bytes) {
    if (bytes > held_) {
      core_.take_buffer(bytes - held_, true);
    } else if (bytes < held_) {
      core_.give_buffer(held_ - bytes);
    }
    held_ = bytes;
  }

  Worker& w_;
  GatewayCore& core_;
  tcp::socket sock_;
  std::vector<char> buf_;
  std::size_t len_ = 0;
  http::HttpRequestParser parser_;
  std::string client_ip_;
  Phase phase_ = Phase::kIdle;
  std::int64_t since_ns_ = 0;
  bool closed_ = false;
  bool continue_sent_ = false;
  bool close_after_ = false;
  std::size_t held_ = 0;  // bytes taken from the gateway's buffer budget

  // The request being read: its head was checked (route, access, buffer space), and its
  // body is still unread (a refusal then closes the connection).
  bool head_checked_ = false;
  bool body_unread_ = false;
  bool chunked_request_ = false;
  std::size_t head_end_ = 0;  // within buf_

  // The exchange in progress.
  std::uint64_t gen_ = 0;
  std::shared_ptr<const FunctionRoute> route_;
  std::string target_;
  std::string out_;
  std::vector<int> tried_;
  int attempts_ = 0;
  int endpoint_ = -1;
  std::shared_ptr<EndpointLoad> load_;
  std::unique_ptr<Upstream> up_;
  HttpResponseParser resp_;
  asio::steady_timer timer_;
  enum class TimerFor {
    kNone,
    kQueue,
    kActivation,
    kConnect,
    kRequest
  } timer_for_ = TimerFor::kNone;
  std::int64_t request_deadline_ns_ = 0;
  std::int64_t activation_deadline_ns_ = 0;
  std::uint64_t ticket_ = 0;
  bool counted_ = false;  // note_start() called
  bool slot_held_ = false;
  bool queued_ = false;
  bool timed_out_ = false;
  bool connect_timed_out_ = false;
  bool request_sent_ = false;  // the whole request reached the upstream connection
  int status_ = 0;
  std::int64_t t_start_ = 0;
  std::int64_t waited_ns_ = 0;  // queue, activation and upstream waits
  std::int64_t t_wait_start_ = 0;
  bool builtin_ = false;
  bool forwarded_ = false;
  const EndpointLoad* pool_key_ = nullptr;
  std::string head_;
  std::string_view body_;
  std::size_t written_ = 0;  // of head_ then body_
};

// A call answered 504 while its replica still works on it. It keeps the replica's in-flight
// count and the function's concurrency slot until the replica answers (the late response is
// read and dropped, and the connection is pooled again) or the connection fails, for at most
// a grace of the function's timeout; then the connection is closed and both are released.
// So the gateway never sends a replica more calls than it is really working on.
class LateCall : public std::enable_shared_from_this<LateCall> {
 public:
  LateCall(Worker& w, std::unique_ptr<Upstream> up, std::shared_ptr<EndpointLoad> load,
           std::shared_ptr<const FunctionRoute> route, bool slot_held, bool head_request)
      : w_(w),
        core_(w.core),
        up_(std::move(up)),
        load_(std::move(load)),
        route_(std::move(route)),
        slot_held_(slot_held),
        resp_(w.core.options.max_response_body_bytes),
        timer_(w.io) {
    resp_.reset(head_request);
    held_ = up_->buf.size();
    core_.take_buffer(held_, true);  // the session gave these bytes back
    core_.metrics.late_calls().Increment();
  }

  void start() {
    timer_.expires_after(route_->timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->finish(false);
    });
    resume(resp_.parse(std::string_view(up_->buf.data(), up_->len)));
  }
  void finish(bool reusable);

 private:
  void resume(ResponseState st) {
    if (done_) return;
    switch (st) {
      case ResponseState::kComplete:
        finish(resp_.keep_alive() && resp_.consumed() == up_->len);
        return;
      case ResponseState::kError:
        finish(false);
        return;
      case ResponseState::kNeedMore:
        break;
    }
    if (up_->len == up_->buf.size()) {
      const std::size_t cap = resp_.max_body_bytes() + std::size_t{128} * 1024;
      const std::size_t next = std::min(cap, up_->buf.size() * 2);
      if (up_->buf.size() >= cap || !core_.take_buffer(next - up_->buf.size(), false)) {
        finish(false);
        return;
      }
      held_ += next - up_->buf.size();
      up_->buf.resize(next);
      resp_.reset(resp_.head_request());
    }
    up_->sock.async_read_some(
        asio::buffer(up_->buf.data() + up_->len, up_->buf.size() - up_->len),
        [self = shared_from_this()](const error_code& ec, std::size_t n) {
          if (self->done_) return;
          const std::string_view data(self->up_->buf.data(), self->up_->len + (ec ? 0 : n));
          if (!ec) self->up_->len += n;
          if (ec && ec != asio::error::eof) {
            self->finish(false);
            return;
          }
          self->resume(ec ? self->resp_.finish_at_eof(data) : self->resp_.parse(data));
        });
  }

  Worker& w_;
  GatewayCore& core_;
  std::unique_ptr<Upstream> up_;
  std::shared_ptr<EndpointLoad> load_;
  std::shared_ptr<const FunctionRoute> route_;
  bool slot_held_;
  HttpResponseParser resp_;
  asio::steady_timer timer_;
  std::size_t held_ = 0;
  bool done_ = false;
};

// ---------------------------------------------------------------------------------------
// Session: reading the request

void Session::read_more() {
  if (len_ == buf_.size()) {
    const std::size_t cap =
        2 * (kUpstreamHeadLimit + core_.options.max_request_body_bytes) + std::size_t{64} * 1024;
    if (buf_.size() >= cap) {
      close_after_ = true;
      reply(413, "request too large");
      return;
    }
    const std::size_t next = std::min(cap, buf_.size() * 2);
    if (!hold_at_least(buffered_now() + (next - buf_.size()) * (chunked_request_ ? 2 : 1))) {
      out_of_buffers();
      return;
    }
    buf_.resize(next);
    parser_.reset();  // views pointed into the old storage
  }
  sock_.async_read_some(
      asio::buffer(buf_.data() + len_, buf_.size() - len_),
      [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
}

void Session::on_read(const error_code& ec, std::size_t n) {
  if (ec || closed_) {
    close();
    return;
  }
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kReading;
    since_ns_ = now_ns();
  }
  len_ += n;
  process();
}

void Session::process() {
  switch (parser_.parse(std::string_view(buf_.data(), len_))) {
    case http::ParseState::kNeedMore:
      read_more();
      return;
    case http::ParseState::kHeadersDone:
      // Route, access and buffer space are decided before a byte of the body is read or
      // acknowledged.
      if (!head_checked_ && !on_head(/*body_pending=*/true)) return;
      if (parser_.request().expect_continue && !continue_sent_ && parser_.has_pending_body()) {
        send_continue();
        return;
      }
      read_more();
      return;
    case http::ParseState::kError:
      close_after_ = true;
      body_unread_ = true;  // whatever follows is not read
      reply(parser_.error_status(), parser_.error_reason());
      return;
    case http::ParseState::kComplete:
      if (!head_checked_ && !on_head(/*body_pending=*/false)) return;
      handle();
      return;
  }
}

void Session::send_continue() {
  continue_sent_ = true;
  static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
  asio::async_write(sock_, asio::buffer(k100.data(), k100.size()),
                    [self = shared_from_this()](const error_code& ec, std::size_t) {
                      if (ec) {
                        self->close();
                        return;
                      }
                      self->read_more();
                    });
}

// ---------------------------------------------------------------------------------------
// Session: routing, access, admission

// From the request's head: false when it was answered (the gateway's own paths, or a
// refusal, which closes the connection when a body was announced and not read).
bool Session::on_head(bool body_pending) {
  head_checked_ = true;
  body_unread_ = body_pending;
  const http::HttpRequest& req = parser_.request();
  close_after_ = !req.keep_alive || core_.draining.load(std::memory_order_relaxed);
  chunked_request_ = !req.header("transfer-encoding").empty();
  if (builtin_path(req.path) && (req.method == "GET" || req.method == "HEAD")) {
    serve_builtin(req);
    return false;
  }
  // What the gateway adds must still fit the runtime's head limit: X-Forwarded-Host repeats
  // the Host value, the rest fits the headroom the parser's limit left.
  const std::size_t start = static_cast<std::size_t>(req.method.data() - buf_.data());
  const std::size_t end = std::string_view(buf_.data(), len_).find("\r\n\r\n", start);
  head_end_ = end == std::string_view::npos ? len_ : end + 4;
  if (head_end_ - start + req.header("host").size() + kForwardHeadroomBytes > kUpstreamHeadLimit) {
    close_after_ = true;
    reply(431, "request header fields too large");
    return false;
  }
  if (!route_request(req)) return false;
  if (!check_access(req)) return false;
  return reserve_body(req);
}

// Finds the function (route_, target_); false after answering 404. First the default route
// /{namespace}/{function}/... of a function that exists, then the function holding the Host,
// then the one holding the longest path prefix: a trigger claim never shadows a function's
// own route, and the gateway's own names are never held (RouteTable's claim policy).
bool Session::route_request(const http::HttpRequest& req) {
  const std::string_view target = req.target.front() == '/' ? req.target : req.path;
  auto split = split_route_path(target);
  route_ = split ? core_.routes.find(split->ns, split->name) : nullptr;
  std::string_view host = req.header("host");
  if (route_) {
    target_ = std::move(split->upstream_target);
  } else if (!host.empty() && (route_ = core_.routes.find_host(host))) {
    target_.assign(req.path);
    if (!req.query.empty()) {
      target_.push_back('?');
      target_.append(req.query);
    }
  } else if (!(route_ = core_.routes.find_path(target, &target_))) {
    reply(404, split ? "function not found"
                     : "no function at this path; call /{namespace}/{function}/...");
    return false;
  }
  // The runtime's own paths are for the platform, which reaches replicas directly.
  if (is_runtime_reserved(target_)) {
    route_.reset();
    reply(404, "function not found");
    return false;
  }
  return true;
}

// The caller may call route_; false after answering 401 or 403.
bool Session::check_access(const http::HttpRequest& req) {
  if (route_->access != Access::kPrivate) return true;
  std::string_view auth = req.header("authorization");
  std::string_view token = bearer_token(auth);
  if (token.empty()) {
    reply(401, "this function needs a bearer token", {{"www-authenticate", "Bearer"}});
    return false;
  }
  if (!core_.keys.allows(token, route_->ns, route_->name)) {
    reply(403, "the token is not valid for this function");
    return false;
  }
  return true;
}

// Takes from the buffer budget what the announced body will need (a chunked body takes its
// share as it arrives); false after answering 503.
bool Session::reserve_body(const http::HttpRequest& req) {
  std::size_t need = 0;
  if (body_unread_ && !chunked_request_) {
    std::size_t length = 0;
    std::string_view v = req.header("content-length");
    std::from_chars(v.data(), v.data() + v.size(), length);  // the parser validated it
    const std::size_t cap =
        2 * (kUpstreamHeadLimit + core_.options.max_request_body_bytes) + std::size_t{64} * 1024;
    need = grown_size(buf_.size(), head_end_ + length, cap) - buf_.size();
  }
  if (core_.buffered.load(std::memory_order_relaxed) >= core_.options.max_buffered_bytes ||
      !hold_at_least(buffered_now() + need)) {
    out_of_buffers();
    return false;
  }
  return true;
}

void Session::out_of_buffers() {
  core_.metrics.buffer_rejections().Increment();
  close_after_ = close_after_ || body_unread_;
  reply(503, "the gateway is out of buffer space",
        {{"retry-after", std::to_string(core_.options.retry_after.count())}});
}

void Session::handle() {
  t_start_ = now_ns();
  waited_ns_ = 0;
  phase_ = Phase::kBusy;
  since_ns_ = t_start_;
  ++gen_;
  body_unread_ = false;
  FunctionState& state = *route_->state;
  state.note_start();
  counted_ = true;
  if (route_->ready_endpoints == 0) {
    if (core_.options.activation_timeout.count() > 0) {
      if (core_.options.on_demand) core_.options.on_demand(route_->ns, route_->name);
      activation_deadline_ns_ = now_ns() + to_ns(core_.options.activation_timeout);
      queued_ = true;
      state.waiting.fetch_add(1, std::memory_order_relaxed);
      core_.metrics.queued().Increment();
      t_wait_start_ = now_ns();
      wait_for_replica();
      return;
    }
    reply(503, "no ready replica of this function",
          {{"retry-after", std::to_string(core_.options.retry_after.count())}});
    return;
  }
  admitted();
}

void Session::wait_for_replica() {
  auto fresh = core_.routes.find(route_->ns, route_->name);
  const std::int64_t now = now_ns();
  if (fresh && fresh->ready_endpoints > 0) {
    route_ = std::move(fresh);
    queued_ = false;
    route_->state->waiting.fetch_sub(1, std::memory_order_relaxed);
    core_.metrics.queued().Decrement();
    waited_ns_ += now - t_wait_start_;
    admitted();
    return;
  }
  if (!fresh || now >= activation_deadline_ns_) {
    queued_ = false;
    route_->state->waiting.fetch_sub(1, std::memory_order_relaxed);
    core_.metrics.queued().Decrement();
    waited_ns_ += now - t_wait_start_;
    if (!fresh) {
      reply(404, "function not found");
    } else {
      reply(503, "no replica of this function became ready in time",
            {{"retry-after", std::to_string(core_.options.retry_after.count())}});
    }
    return;
  }
  timer_for_ = TimerFor::kActivation;
  arm_timer(std::min(activation_deadline_ns_, now + 20 * 1000000));
}

void Session::admitted() {
  FunctionState& state = *route_->state;
  if (route_->concurrency <= 0) {
    dispatch();
    return;
  }
  const std::uint64_t gen = gen_;
  std::weak_ptr<Session> weak = shared_from_this();
  asio::io_context* io = &w_.io;
  std::shared_ptr<const FunctionRoute> route = route_;
  RouteTable* routes = &core_.routes;
  auto admit = state.limiter.acquire(
      route_->limit(), core_.options.queue_limit,
      [weak, io, gen, route, routes] {
        asio::post(*io, [weak, gen, route, routes] {
          auto self = weak.lock();
          if (self && self->on_granted(gen)) return;
          // Nobody takes the slot any more: give it back.
          auto fresh = routes->find(route->ns, route->name);
          route->state->limiter.release(fresh ? fresh->limit() : route->limit());
        });
      },
      &ticket_);
  switch (admit) {
    case ConcurrencyLimiter::Admit::kGranted:
      slot_held_ = true;
      dispatch();
      return;
    case ConcurrencyLimiter::Admit::kRejected:
      reply(429, "too many requests waiting for this function",
            {{"retry-after", std::to_string(core_.options.retry_after.count())}});
      return;
    case ConcurrencyLimiter::Admit::kQueued:
      queued_ = true;
      state.waiting.fetch_add(1, std::memory_order_relaxed);
      core_.metrics.queued().Increment();
      if (core_.options.on_demand) core_.options.on_demand(route_->ns, route_->name);
      t_wait_start_ = now_ns();
      timer_for_ = TimerFor::kQueue;
      arm_timer(t_wait_start_ + to_ns(core_.options.queue_timeout));
      return;
  }
}

bool Session::on_granted(std::uint64_t gen) {
  if (closed_ || gen != gen_ || !queued_) return false;  // the caller hands the slot back
  queued_ = false;
  slot_held_ = true;
  route_->state->waiting.fetch_sub(1, std::memory_order_relaxed);
  core_.metrics.queued().Decrement();
  waited_ns_ += now_ns() - t_wait_start_;
  timer_for_ = TimerFor::kNone;
  timer_.cancel();
  // Fresher endpoints, if they changed while waiting.
  if (auto fresh = core_.routes.find(route_->ns, route_->name)) route_ = std::move(fresh);
  dispatch();
  return true;
}

// ---------------------------------------------------------------------------------------
// Session: forwarding

void Session::dispatch() {
  const http::HttpRequest& req = parser_.request();
  out_.clear();
  std::string event_id;
  if (req.header("event-id").empty()) event_id = make_event_id();
  ForwardInfo info{client_ip_, "http", event_id};
  // The gateway consumed a private function's credential; a public one's passes as sent.
  info.strip_authorization = route_->access == Access::kPrivate;
  build_upstream_head(out_, req, target_, info);
  hold_exactly(std::max(held_, buffered_now()));
  resp_.reset(req.method == "HEAD");
  tried_.clear();
  attempts_ = 0;
  timed_out_ = false;
  request_deadline_ns_ = now_ns() + to_ns(route_->timeout);
  core_.metrics.inflight().Increment();
  forwarded_ = true;
  try_endpoint();
}

void Session::try_endpoint() {
  FunctionState& state = *route_->state;
  endpoint_ =
      choose_endpoint(*route_, state.round_robin.fetch_add(1, std::memory_order_relaxed), tried_);
  if (endpoint_ < 0) {
    if (tried_.empty()) {
      reply(503, "no ready replica of this function",
            {{"retry-after", std::to_string(core_.options.retry_after.count())}});
    } else {
      reply(502, "could not connect to a replica of this function");
    }
    return;
  }
  ++attempts_;
  load_ = route_->loads[static_cast<std::size_t>(endpoint_)];
  pool_key_ = load_.get();
  load_->inflight.fetch_add(1, std::memory_order_relaxed);
  Pool& pool = w_.pool_for(load_);
  // A pooled connection the replica closed while idle is dropped before any byte of the
  // request is written to it, so trying the next one (or a new one) is always safe.
  while (!pool.idle.empty()) {
    std::unique_ptr<Upstream> c = std::move(pool.idle.back());
    pool.idle.pop_back();
    core_.give_buffer(c->buf.size());  // the session counts it from here
    char probe;
    ssize_t r = ::recv(c->sock.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      up_ = std::move(c);
      up_->reused = true;
      up_->len = 0;
      hold_exactly(std::max(held_, buffered_now()));
      timer_for_ = TimerFor::kRequest;
      arm_timer(request_deadline_ns_);
      send();
      return;
    }
    error_code ignored;
    c->sock.close(ignored);  // closed (r == 0), reset, or unexpected bytes
  }
  connect(pool);
}

void Session::connect(Pool& pool) {
  if (!pool.address_ok) {
    upstream_failed(true);
    return;
  }
  up_ = std::make_unique<Upstream>(w_.io);
  up_->buf.resize(kInitialBuffer);
  hold_exactly(std::max(held_, buffered_now()));
  connect_timed_out_ = false;
  timer_for_ = TimerFor::kConnect;
  arm_timer(std::min(request_deadline_ns_, now_ns() + to_ns(core_.options.connect_timeout)));
  up_->sock.async_connect(
      pool.address, [self = shared_from_this()](const error_code& ec) { self->on_connect(ec); });
}

void Session::on_connect(const error_code& ec) {
  if (closed_) return;
  if (ec || timed_out_ || connect_timed_out_) {
    drop_upstream();
    if (timed_out_) {
      release_endpoint();
      reply(504, "the function did not answer in time");
      return;
    }
    upstream_failed(true);
    return;
  }
  error_code ignored;
  up_->sock.set_option(tcp::no_delay(true), ignored);
  timer_for_ = TimerFor::kRequest;
  arm_timer(request_deadline_ns_);
  send();
}

void Session::upstream_failed(bool retryable) {
  release_endpoint();
  if (endpoint_ >= 0) tried_.push_back(endpoint_);
  if (retryable && attempts_ < core_.options.max_attempts) {
    // Another ready replica if there is one; else the same one again when it is alone.
    if (choose_endpoint(*route_, 0, tried_) < 0 && route_->ready_endpoints == 1) tried_.clear();
    if (choose_endpoint(*route_, 0, tried_) >= 0) {
      try_endpoint();
      return;
    }
  }
  timer_for_ = TimerFor::kNone;
  timer_.cancel();
  reply(502, "could not reach a replica of this function");
}

// The replica answered, with more than the gateway takes: its fault, not a connection
// failure, so it is never tried elsewhere.
void Session::response_too_large() {
  core_.metrics.responses_too_large().Increment();
  drop_upstream();
  release_endpoint();
  reply(502, "the function's response exceeded the limit (" +
                 std::to_string(core_.options.max_response_body_bytes) + " bytes)");
}

void Session::send() {
  t_wait_start_ = now_ns();
  request_sent_ = false;
  const std::string_view body = parser_.request().body;
  std::array<asio::const_buffer, 2> bufs = {asio::buffer(out_),
                                            asio::buffer(body.data(), body.size())};
  asio::async_write(
      up_->sock, bufs,
      [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_sent(ec, n); });
}

void Session::on_sent(const error_code& ec, std::size_t n) {
  if (closed_) return;
  if (ec || timed_out_) {
    // The replica does not have the whole request, so no handler runs for it.
    const bool retryable = !timed_out_ && n == 0 && up_ && up_->reused;
    drop_upstream();
    if (timed_out_) {
      release_endpoint();
      reply(504, "the function did not answer in time");
      return;
    }
    upstream_failed(retryable);
    return;
  }
  request_sent_ = true;
  read_response();
}

void Session::read_response() {
  if (up_->len == up_->buf.size()) {
    const std::size_t cap = core_.options.max_response_body_bytes + std::size_t{128} * 1024;
    if (up_->buf.size() >= cap) {
      response_too_large();
      return;
    }
    const std::size_t next = std::min(cap, up_->buf.size() * 2);
    if (!hold_at_least(buffered_now() + (next - up_->buf.size()))) {
      drop_upstream();
      release_endpoint();
      out_of_buffers();
      return;
    }
    up_->buf.resize(next);
    resp_.reset(parser_.request().method == "HEAD");  // views pointed into the old storage
  }
  up_->sock.async_read_some(asio::buffer(up_->buf.data() + up_->len, up_->buf.size() - up_->len),
                            [self = shared_from_this()](const error_code& ec, std::size_t n) {
                              self->on_upstream_read(ec, n);
                            });
}

void Session::on_upstream_read(const error_code& ec, std::size_t n) {
  if (closed_) return;
  if (timed_out_) {
    if (!ec) up_->len += n;
    if (ec && ec != asio::error::operation_aborted) {
      drop_upstream();  // the replica closed or failed: it is done with the call
      release_endpoint();
      reply(504, "the function did not answer in time");
      return;
    }
    hand_off_late_call();
    return;
  }
  std::string_view data;
  ResponseState st;
  if (ec) {
    if (ec != asio::error::eof || !up_) {
      drop_upstream();
      upstream_failed(false);
      return;
    }
    data = std::string_view(up_->buf.data(), up_->len);
    st = resp_.finish_at_eof(data);
  } else {
    up_->len += n;
    data = std::string_view(up_->buf.data(), up_->len);
    st = resp_.parse(data);
  }
  switch (st) {
    case ResponseState::kNeedMore:
      hold_exactly(std::max(held_, buffered_now()));  // a de-chunked body grows beside
      read_response();
      return;
    case ResponseState::kError:
      if (resp_.too_large()) {
        response_too_large();
        return;
      }
      drop_upstream();
      upstream_failed(false);
      return;
    case ResponseState::kComplete:
      respond();
      return;
  }
}

// The caller gets 504 now; the replica keeps the call (and its slot) until it is done.
void Session::hand_off_late_call() {
  auto late = std::make_shared<LateCall>(w_, std::move(up_), std::move(load_), route_, slot_held_,
                                         parser_.request().method == "HEAD");
  slot_held_ = false;
  hold_exactly(buffered_now());
  w_.late_calls.insert(late.get());
  late->start();
  reply(504, "the function did not answer in time");
}

void Session::respond() {
  const std::int64_t now = now_ns();
  waited_ns_ += now - t_wait_start_;
  core_.metrics.observe_upstream(static_cast<double>(now - t_wait_start_) / 1e9);
  timer_for_ = TimerFor::kNone;
  timer_.cancel();
  release_endpoint();
  release_slot();
  const http::HttpRequest& req = parser_.request();
  status_ = resp_.status();
  if (core_.draining.load(std::memory_order_relaxed)) close_after_ = true;
  head_.clear();
  build_client_response_head(head_, resp_, resp_.body().size(), close_after_,
                             req.version_minor == 0 && req.keep_alive);
  hold_exactly(std::max(held_, buffered_now()));
  body_ = resp_.body();  // points into the upstream buffer: kept until written
  write_out();
}

void Session::arm_timer(std::int64_t deadline_ns) {
  const std::uint64_t gen = gen_;
  timer_.expires_at(Clock::time_point(std::chrono::nanoseconds(deadline_ns)));
  timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
    if (!ec) self->on_timer(gen);
  });
}

void Session::on_timer(std::uint64_t gen) {
  if (closed_ || gen != gen_) return;
  const std::int64_t now = now_ns();
  if (Clock::now() < timer_.expiry()) return;  // re-armed since
  switch (timer_for_) {
    case TimerFor::kNone:
      return;
    case TimerFor::kActivation:
      wait_for_replica();
      return;
    case TimerFor::kQueue:
      if (queued_ && route_->state->limiter.cancel(ticket_)) {
        queued_ = false;
        route_->state->waiting.fetch_sub(1, std::memory_order_relaxed);
        core_.metrics.queued().Decrement();
        waited_ns_ += now - t_wait_start_;
        timer_for_ = TimerFor::kNone;
        reply(503, "no capacity for this function in time",
              {{"retry-after", std::to_string(core_.options.retry_after.count())}});
      }
      return;
    case TimerFor::kConnect:
      if (now >= request_deadline_ns_) timed_out_ = true;
      connect_timed_out_ = true;
      timer_for_ = TimerFor::kNone;
      if (up_) {
        error_code ignored;
        up_->sock.close(ignored);  // the pending connect completes with an error
      }
      return;
    case TimerFor::kRequest:
      timed_out_ = true;
      timer_for_ = TimerFor::kNone;
      if (up_) {
        error_code ignored;
        if (request_sent_) {
          up_->sock.cancel(ignored);  // the pending read completes: the call is handed off
        } else {
          up_->sock.close(ignored);  // the pending write completes with an error
        }
      }
      return;
  }
}

void Session::drop_upstream() {
  if (!up_) return;
  error_code ignored;
  up_->sock.close(ignored);
  up_.reset();
}

void Session::release_endpoint() {
  if (load_) {
    load_->inflight.fetch_sub(1, std::memory_order_relaxed);
    load_.reset();
  }
}

void Session::release_slot() {
  if (slot_held_) {
    slot_held_ = false;
    core_.release_slot(route_);
  }
}

// ---------------------------------------------------------------------------------------
// Session: answering

void Session::serve_builtin(const http::HttpRequest& req) {
  int status = 200;
  std::string body;
  if (req.path == "/healthz") {
    body = "ok\n";
  } else {
    const bool draining = core_.draining.load(std::memory_order_relaxed);
    status = draining ? 503 : 200;
    body = draining ? "draining\n" : "ready\n";
  }
  status_ = status;
  route_.reset();
  builtin_ = true;
  if (body_unread_) close_after_ = true;
  head_ = simple_reply(status, "text/plain; charset=utf-8", body, close_after_, {},
                       req.method == "HEAD");
  body_ = {};
  write_out();
}

void Session::reply(int status, std::string_view message,
                    std::vector<std::pair<std::string, std::string>> extra) {
  release_endpoint();
  release_slot();
  drop_upstream();
  if (timer_for_ != TimerFor::kNone) {
    timer_for_ = TimerFor::kNone;
    timer_.cancel();
  }
  if (queued_) {
    queued_ = false;
    if (route_) route_->state->waiting.fetch_sub(1, std::memory_order_relaxed);
    core_.metrics.queued().Decrement();
  }
  status_ = status;
  // A body announced and not read is not read at all: the connection ends after the answer.
  if (body_unread_ || core_.draining.load(std::memory_order_relaxed)) close_after_ = true;
  head_ = simple_reply(status, "application/json", json_error_body(status, message), close_after_,
                       extra, parser_.request().method == "HEAD");
  body_ = {};
  write_out();
}

void Session::write_out() {
  if (closed_) return;
  // The function's call is over once its answer is in hand: writing it to a slow client does
  // not count as load on the function (and a client's next call cannot overlap this one).
  if (counted_) {
    route_->state->note_end();
    counted_ = false;
  }
  phase_ = Phase::kWriting;
  since_ns_ = now_ns();
  written_ = 0;
  write_some();
}

// Writes what is left of head_ and body_; each write that moves bytes restarts the
// write_timeout, so a reader that keeps reading is never cut off.
void Session::write_some() {
  std::array<asio::const_buffer, 2> bufs;
  if (written_ < head_.size()) {
    bufs = {asio::buffer(head_.data() + written_, head_.size() - written_),
            asio::buffer(body_.data(), body_.size())};
  } else {
    const std::size_t off = written_ - head_.size();
    bufs = {asio::buffer(body_.data() + off, body_.size() - off), asio::const_buffer()};
  }
  sock_.async_write_some(bufs, [self = shared_from_this()](const error_code& ec, std::size_t n) {
    if (ec || self->closed_) {
      self->on_written(ec ? ec : asio::error::operation_aborted);
      return;
    }
    self->written_ += n;
    self->since_ns_ = now_ns();
    if (self->written_ < self->head_.size() + self->body_.size()) {
      self->write_some();
      return;
    }
    self->on_written(ec);
  });
}

void Session::finish_exchange() {
  const std::int64_t end = now_ns();
  if (route_) {
    core_.metrics.count(route_->state.get(), route_->ns, route_->name, status_);
  } else if (!builtin_) {
    core_.metrics.count(nullptr, {}, {}, status_);
  }
  builtin_ = false;
  if (forwarded_) {
    forwarded_ = false;
    core_.metrics.inflight().Decrement();
    core_.metrics.observe_overhead(static_cast<double>(end - t_start_ - waited_ns_) / 1e9);
  }
  // A replica's connection goes back to this thread's pool when its response was whole.
  if (up_ && resp_.keep_alive() && resp_.consumed() == up_->len && load_ == nullptr &&
      status_ != 0 && !timed_out_) {
    w_.give_back(std::move(up_), pool_key_);
  }
  drop_upstream();
  resp_.reset();  // frees a de-chunked body
  if (out_.capacity() > kKeptHeadBytes) std::string().swap(out_);
  out_.clear();
  if (head_.capacity() > kKeptHeadBytes) std::string().swap(head_);
  route_.reset();
  status_ = 0;
  body_ = {};
  hold_exactly(buffered_now());
}

void Session::on_written(const error_code& ec) {
  finish_exchange();
  if (ec || closed_) {
    close();
    return;
  }
  if (close_after_ || core_.draining.load(std::memory_order_relaxed)) {
    if (body_unread_) {
      linger();
      return;
    }
    error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  const std::size_t used = parser_.consumed();
  const std::size_t rest = len_ > used ? len_ - used : 0;
  if (rest > 0) std::memmove(buf_.data(), buf_.data() + used, rest);
  len_ = rest;
  if (chunked_request_) {
    fresh_parser();  // frees the de-chunked body
  } else {
    parser_.reset();
  }
  continue_sent_ = false;
  head_checked_ = false;
  body_unread_ = false;
  chunked_request_ = false;
  // Between requests a connection keeps its initial buffer only.
  if (buf_.size() > kInitialBuffer && len_ <= kInitialBuffer) {
    std::vector<char> smaller(kInitialBuffer);
    std::memcpy(smaller.data(), buf_.data(), len_);
    buf_.swap(smaller);
  }
  hold_exactly(buffered_now());
  since_ns_ = now_ns();
  if (len_ > 0) {
    phase_ = Phase::kReading;
    process();
  } else {
    phase_ = Phase::kIdle;
    read_more();
  }
}

// After a refusal that left a body unread: stops sending, then reads and drops what the
// caller still sends (into the initial buffer) until it closes or kLingerNs passed, so its
// kernel does not throw the answer away on a reset.
void Session::linger() {
  if (phase_ != Phase::kLingering) {
    phase_ = Phase::kLingering;
    since_ns_ = now_ns();
    error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
    len_ = 0;
    if (buf_.size() > kInitialBuffer) {
      std::vector<char>(kInitialBuffer).swap(buf_);
      fresh_parser();
    }
    chunked_request_ = false;
    hold_exactly(buffered_now());
  }
  sock_.async_read_some(asio::buffer(buf_.data(), buf_.size()),
                        [self = shared_from_this()](const error_code& ec, std::size_t) {
                          if (ec || self->closed_) {
                            self->close();
                            return;
                          }
                          self->linger();
                        });
}

void Session::check(std::int64_t now, bool draining) {
  if (closed_) return;
  switch (phase_) {
    case Phase::kIdle:
      if (draining || now - since_ns_ > to_ns(core_.options.idle_timeout)) close();
      return;
    case Phase::kReading:
      if (now - since_ns_ > to_ns(core_.options.read_timeout)) {
        std::string r = simple_reply(408, "application/json",
                                     json_error_body(408, "request not received in time"), true);
        ::send(sock_.native_handle(), r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        core_.metrics.count(nullptr, {}, {}, 408);
        close();
      }
      return;
    case Phase::kWriting:
      // No byte could be written for write_timeout: the reader is gone or stuck.
      if (now - since_ns_ > to_ns(core_.options.write_timeout)) close();
      return;
    case Phase::kLingering:
      if (draining || now - since_ns_ > kLingerNs) close();
      return;
    case Phase::kBusy:
      return;
  }
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  release_endpoint();
  release_slot();
  if (queued_) {
    queued_ = false;
    if (route_) {
      route_->state->limiter.cancel(ticket_);
      route_->state->waiting.fetch_sub(1, std::memory_order_relaxed);
    }
    core_.metrics.queued().Decrement();
  }
  if (counted_ && route_) {
    route_->state->note_end();
    counted_ = false;
  }
  drop_upstream();
  error_code ignored;
  timer_.cancel();
  sock_.close(ignored);
  hold_exactly(0);
  w_.remove(this);
}

// ---------------------------------------------------------------------------------------
// LateCall

void LateCall::finish(bool reusable) {
  if (done_) return;
  done_ = true;
  error_code ignored;
  timer_.cancel();
  load_->inflight.fetch_sub(1, std::memory_order_relaxed);
  if (slot_held_) core_.release_slot(route_);
  core_.metrics.late_calls().Decrement();
  core_.give_buffer(held_);
  held_ = 0;
  if (reusable) {
    w_.give_back(std::move(up_), load_.get());
  } else {
    up_->sock.close(ignored);
  }
  w_.late_calls.erase(this);
}

// ---------------------------------------------------------------------------------------
// The metrics listener: GET /metrics, one request per connection.

class MetricsExchange : public std::enable_shared_from_this<MetricsExchange> {
 public:
  MetricsExchange(GatewayCore& core, tcp::socket sock)
      : core_(core),
        sock_(std::move(sock)),
        parser_(http::HttpLimits{std::size_t{8} * 1024, 100, 0}),
        timer_(sock_.get_executor()) {
    buf_.resize(std::size_t{8} * 1024);
  }

  void start() {
    timer_.expires_after(core_.options.read_timeout + core_.options.write_timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec) return;
      error_code ignored;
      self->sock_.close(ignored);
    });
    read();
  }

 private:
  void read() {
    sock_.async_read_some(asio::buffer(buf_.data() + len_, buf_.size() - len_),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) {
                            if (ec) {
                              self->done();
                              return;
                            }
                            self->len_ += n;
                            self->on_read();
                          });
  }
  void on_read() {
    switch (parser_.parse(std::string_view(buf_.data(), len_))) {
      case http::ParseState::kNeedMore:
        if (len_ == buf_.size()) {
          answer(simple_reply(431, "application/json",
                              json_error_body(431, "request header fields too large"), true));
          return;
        }
        read();
        return;
      case http::ParseState::kHeadersDone:
      case http::ParseState::kError:
        answer(simple_reply(
            parser_.error_status() != 0 ? parser_.error_status() : 413, "application/json",
            json_error_body(parser_.error_status() != 0 ? parser_.error_status() : 413,
                            "the metrics listener takes no request body"),
            true));
        return;
      case http::ParseState::kComplete:
        break;
    }
    const http::HttpRequest& req = parser_.request();
    const bool head = req.method == "HEAD";
    if (req.path == "/metrics" && (req.method == "GET" || head)) {
      answer(simple_reply(200, "text/plain; version=0.0.4; charset=utf-8",
                          core_.metrics.serialize(), true, {}, head));
    } else {
      answer(simple_reply(404, "application/json", json_error_body(404, "only GET /metrics here"),
                          true, {}, head));
    }
  }
  void answer(std::string reply) {
    out_ = std::move(reply);
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](const error_code&, std::size_t) {
                        error_code ignored;
                        self->sock_.shutdown(tcp::socket::shutdown_send, ignored);
                        self->done();
                      });
  }
  void done() {
    error_code ignored;
    timer_.cancel();
    sock_.close(ignored);
  }

  GatewayCore& core_;
  tcp::socket sock_;
  http::HttpRequestParser parser_;
  asio::steady_timer timer_;
  std::vector<char> buf_;
  std::size_t len_ = 0;
  std::string out_;
};

class MetricsListener {
 public:
  MetricsListener(GatewayCore& core, asio::io_context& io) : core(core), acceptor(io) {}

  void accept() {
    acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        auto timer = std::make_shared<asio::steady_timer>(acceptor.get_executor(), kSweepInterval);
        timer->async_wait([this, timer](const error_code&) { accept(); });
        return;
      }
      std::make_shared<MetricsExchange>(core, std::move(socket))->start();
      accept();
    });
  }

  GatewayCore& core;
  tcp::acceptor acceptor;
};

// ---------------------------------------------------------------------------------------
// Worker

Pool& Worker::pool_for(const std::shared_ptr<EndpointLoad>& load) {
  auto [it, inserted] = pools.try_emplace(load.get());
  Pool& p = it->second;
  if (inserted) {
    p.load = load;
    error_code ec;
    std::string host = load->host == "localhost" ? "127.0.0.1" : load->host;
    auto addr = asio::ip::make_address(host, ec);
    p.address_ok = !ec;
    if (!ec) p.address = tcp::endpoint(addr, load->port);
  }
  return p;
}

void Worker::remove(Session* s) {
  if (sessions.erase(s) > 0) {
    open_sessions.fetch_sub(1, std::memory_order_relaxed);
    core.connections.fetch_sub(1, std::memory_order_relaxed);
    core.metrics.connections().Decrement();
  }
  if (draining && sessions.empty()) core.worker_idle_changed();
}

void Worker::close_idle(Pool& pool) {
  for (auto& c : pool.idle) {
    error_code ignored;
    c->sock.close(ignored);
    core.give_buffer(c->buf.size());
  }
  pool.idle.clear();
}

void Worker::give_back(std::unique_ptr<Upstream> up, const EndpointLoad* key) {
  auto it = pools.find(key);
  if (it != pools.end() && !it->second.load->removed.load(std::memory_order_relaxed) &&
      it->second.idle.size() < kMaxIdlePerEndpoint && !core.draining.load()) {
    up->len = 0;
    // An idle connection keeps the initial buffer only, counted as the gateway's.
    if (up->buf.size() != kInitialBuffer) std::vector<char>(kInitialBuffer).swap(up->buf);
    core.take_buffer(up->buf.size(), true);
    it->second.idle.push_back(std::move(up));
    return;
  }
  error_code ignored;
  up->sock.close(ignored);
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
    for (auto it = pools.begin(); it != pools.end();) {
      if (it->second.load->removed.load(std::memory_order_relaxed)) {
        close_idle(it->second);
        it = pools.erase(it);
      } else {
        ++it;
      }
    }
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
    for (auto& [k, p] : pools)
      close_idle(p);
    core.worker_idle_changed();
  });
}

// ---------------------------------------------------------------------------------------
// GatewayCore

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
    auto maddr = asio::ip::make_address(options.metrics_address, ec);
    if (ec) {
      return kube::Status(
          kube::StatusCode::kInvalidConfig,
          "metrics address \"" + options.metrics_address + "\" is not an IP address");
    }
    metrics_listener = std::make_unique<MetricsListener>(*this, workers.front()->io);
    tcp::acceptor& a = metrics_listener->acceptor;
    tcp::endpoint mep(maddr, static_cast<std::uint16_t>(options.metrics_port));
    a.open(mep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(mep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return kube::Status(kube::StatusCode::kInvalidConfig,
                          "cannot listen on " + options.metrics_address + ":" +
                              std::to_string(options.metrics_port) + ": " + ec.message());
    }
    metrics_port = a.local_endpoint().port();
    metrics_listener->accept();
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
    MetricsListener* listener = raw == workers.front().get() ? metrics_listener.get() : nullptr;
    asio::post(raw->io, [raw, listener] {
      error_code ignored;
      raw->sweep.cancel();
      if (listener) listener->acceptor.close(ignored);
      std::vector<Session*> snapshot(raw->sessions.begin(), raw->sessions.end());
      for (Session* s : snapshot) {
        if (raw->sessions.count(s)) s->close();
      }
      std::vector<LateCall*> late(raw->late_calls.begin(), raw->late_calls.end());
      for (LateCall* c : late) {
        if (raw->late_calls.count(c)) c->finish(false);
      }
      for (auto& [k, p] : raw->pools)
        raw->close_idle(p);
      raw->pools.clear();
      raw->io.stop();
    });
  }
  for (auto& w : workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  metrics_listener.reset();
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
