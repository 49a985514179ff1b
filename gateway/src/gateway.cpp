#include "kubefn/gateway/gateway.hpp"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "http_parser.hpp"
#include "kubefn/gateway/http_proxy.hpp"
#include "metrics.hpp"

namespace kubefn::gateway {
namespace {

using runtime::iequals;
using runtime::make_event_id;
using runtime::trim_ows;

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
constexpr auto kSweepInterval = std::chrono::milliseconds(250);
constexpr std::size_t kMaxIdlePerEndpoint = 256;

bool reserved_path(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
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

  RouteTable& routes;
  KeyRing& keys;
  const GatewayOptions options;
  GatewayMetrics metrics;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<bool> draining{false};
  std::uint16_t port = 0;
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

  GatewayCore& core;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer sweep;
  std::thread thread;
  std::unordered_set<Session*> sessions;
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
        parser_(runtime::HttpLimits{std::size_t{64} * 1024, 100,
                                    w.core.options.max_request_body_bytes}),
        resp_(w.core.options.max_response_body_bytes),
        timer_(w.io) {
    buf_.resize(kInitialBuffer);
    error_code ec;
    auto remote = sock_.remote_endpoint(ec);
    if (!ec) client_ip_ = remote.address().to_string();
    since_ns_ = now_ns();
  }

  void start() { read_more(); }
  // From the worker's sweep: closes idle connections past their time, or all idle ones
  // when draining; answers 408 to requests not received in time.
  void check(std::int64_t now, bool draining);
  void close();

 private:
  enum class Phase { kIdle, kReading, kBusy, kWriting };

  void read_more();
  void on_read(const error_code& ec, std::size_t n);
  void process();
  void handle();
  void serve_builtin(const runtime::HttpRequest& req);
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
  void respond();
  void upstream_failed(bool retryable);
  void arm_timer(std::int64_t deadline_ns);
  void on_timer(std::uint64_t gen);
  void drop_upstream();
  void release_endpoint();
  void release_slot();
  void reply(int status, std::string_view message,
             std::vector<std::pair<std::string, std::string>> extra = {});
  void write_out();
  void on_written(const error_code& ec);
  void finish_exchange();

  Worker& w_;
  GatewayCore& core_;
  tcp::socket sock_;
  std::vector<char> buf_;
  std::size_t len_ = 0;
  runtime::HttpRequestParser parser_;
  std::string client_ip_;
  Phase phase_ = Phase::kIdle;
  std::int64_t since_ns_ = 0;
  bool closed_ = false;
  bool continue_sent_ = false;
  bool close_after_ = false;

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
  int status_ = 0;
  std::int64_t t_start_ = 0;
  std::int64_t waited_ns_ = 0;  // queue, activation and upstream waits
  std::int64_t t_wait_start_ = 0;
  bool builtin_ = false;
  bool forwarded_ = false;
  const EndpointLoad* pool_key_ = nullptr;
  std::string head_;
  std::string body_owned_;
  std::string_view body_;
};

// ---------------------------------------------------------------------------------------
// Session: reading the request

void Session::read_more() {
  if (len_ == buf_.size()) {
    const std::size_t cap = 2 * (std::size_t{64} * 1024 + core_.options.max_request_body_bytes) +
                            std::size_t{64} * 1024;
    if (buf_.size() >= cap) {
      close_after_ = true;
      reply(413, "request too large");
      return;
    }
    buf_.resize(std::min(cap, buf_.size() * 2));
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
    case runtime::ParseState::kNeedMore:
      read_more();
      return;
    case runtime::ParseState::kHeadersDone:
      if (parser_.request().expect_continue && !continue_sent_ && parser_.has_pending_body()) {
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
        return;
      }
      read_more();
      return;
    case runtime::ParseState::kError:
      close_after_ = true;
      reply(parser_.error_status(), parser_.error_reason());
      return;
    case runtime::ParseState::kComplete:
      handle();
      return;
  }
}

// ---------------------------------------------------------------------------------------
// Session: routing, access, admission

void Session::handle() {
  t_start_ = now_ns();
  waited_ns_ = 0;
  phase_ = Phase::kBusy;
  since_ns_ = t_start_;
  ++gen_;
  const runtime::HttpRequest& req = parser_.request();
  close_after_ = !req.keep_alive || core_.draining.load(std::memory_order_relaxed);

  if (reserved_path(req.path) && (req.method == "GET" || req.method == "HEAD")) {
    serve_builtin(req);
    return;
  }
  std::string_view host = req.header("host");
  route_ = host.empty() ? nullptr : core_.routes.find_host(host);
  if (route_) {
    target_.assign(req.path);
    if (!req.query.empty()) {
      target_.push_back('?');
      target_.append(req.query);
    }
  } else {
    auto split = split_route_path(req.target.front() == '/' ? req.target : req.path);
    if (!split) {
      reply(404, "no function at this path; call /{namespace}/{function}/...");
      return;
    }
    route_ = core_.routes.find(split->ns, split->name);
    if (!route_) {
      reply(404, "function not found");
      return;
    }
    target_ = std::move(split->upstream_target);
  }
  if (route_->access == Access::kPrivate) {
    std::string_view auth = req.header("authorization");
    std::string_view token = bearer_token(auth);
    if (token.empty()) {
      reply(401, "this function needs a bearer token", {{"www-authenticate", "Bearer"}});
      return;
    }
    if (!core_.keys.valid(token)) {
      reply(403, "the token is not valid for this function");
      return;
    }
  }
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
  const runtime::HttpRequest& req = parser_.request();
  out_.clear();
  std::string event_id;
  if (req.header("event-id").empty()) event_id = make_event_id();
  build_upstream_request(out_, req, target_, ForwardInfo{client_ip_, "http", event_id});
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
    char probe;
    ssize_t r = ::recv(c->sock.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      up_ = std::move(c);
      up_->reused = true;
      up_->len = 0;
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

void Session::send() {
  t_wait_start_ = now_ns();
  asio::async_write(
      up_->sock, asio::buffer(out_),
      [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_sent(ec, n); });
}

void Session::on_sent(const error_code& ec, std::size_t n) {
  if (closed_) return;
  if (ec || timed_out_) {
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
  read_response();
}

void Session::read_response() {
  if (up_->len == up_->buf.size()) {
    const std::size_t cap = core_.options.max_response_body_bytes + std::size_t{128} * 1024;
    if (up_->buf.size() >= cap) {
      drop_upstream();
      upstream_failed(false);
      return;
    }
    up_->buf.resize(std::min(cap, up_->buf.size() * 2));
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
    drop_upstream();
    release_endpoint();
    reply(504, "the function did not answer in time");
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
      read_response();
      return;
    case ResponseState::kError:
      drop_upstream();
      upstream_failed(false);
      return;
    case ResponseState::kComplete:
      respond();
      return;
  }
}

void Session::respond() {
  const std::int64_t now = now_ns();
  waited_ns_ += now - t_wait_start_;
  core_.metrics.observe_upstream(static_cast<double>(now - t_wait_start_) / 1e9);
  timer_for_ = TimerFor::kNone;
  timer_.cancel();
  release_endpoint();
  release_slot();
  const runtime::HttpRequest& req = parser_.request();
  status_ = resp_.status();
  if (core_.draining.load(std::memory_order_relaxed)) close_after_ = true;
  head_.clear();
  build_client_response_head(head_, resp_, resp_.body().size(), close_after_,
                             req.version_minor == 0 && req.keep_alive);
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
        up_->sock.close(ignored);  // the pending write or read completes with an error
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
    auto fresh = core_.routes.find(route_->ns, route_->name);
    route_->state->limiter.release(fresh ? fresh->limit() : route_->limit());
  }
}

// ---------------------------------------------------------------------------------------
// Session: answering

void Session::serve_builtin(const runtime::HttpRequest& req) {
  int status = 200;
  std::string body;
  std::string type = "text/plain; charset=utf-8";
  if (req.path == "/healthz") {
    body = "ok\n";
  } else if (req.path == "/readyz") {
    const bool draining = core_.draining.load(std::memory_order_relaxed);
    status = draining ? 503 : 200;
    body = draining ? "draining\n" : "ready\n";
  } else {
    body = core_.metrics.serialize();
    type = "text/plain; version=0.0.4; charset=utf-8";
  }
  status_ = status;
  route_.reset();
  builtin_ = true;
  head_ =
      simple_reply(status, type, req.method == "HEAD" ? std::string_view() : body, close_after_);
  body_ = {};
  body_owned_.clear();
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
  if (core_.draining.load(std::memory_order_relaxed)) close_after_ = true;
  head_ = simple_reply(status, "application/json", json_error_body(status, message), close_after_,
                       extra);
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
  std::array<asio::const_buffer, 2> bufs = {asio::buffer(head_),
                                            asio::buffer(body_.data(), body_.size())};
  asio::async_write(sock_, bufs, [self = shared_from_this()](const error_code& ec, std::size_t) {
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
    auto it = w_.pools.find(pool_key_);
    if (it != w_.pools.end() && !it->second.load->removed.load(std::memory_order_relaxed) &&
        it->second.idle.size() < kMaxIdlePerEndpoint && !core_.draining.load()) {
      up_->len = 0;
      if (up_->buf.size() > 4 * kInitialBuffer) {
        up_->buf.resize(kInitialBuffer);
        up_->buf.shrink_to_fit();
      }
      it->second.idle.push_back(std::move(up_));
    }
  }
  drop_upstream();
  out_.clear();
  route_.reset();
  status_ = 0;
  body_ = {};
}

void Session::on_written(const error_code& ec) {
  finish_exchange();
  if (ec || closed_) {
    close();
    return;
  }
  if (close_after_ || core_.draining.load(std::memory_order_relaxed)) {
    error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  const std::size_t used = parser_.consumed();
  const std::size_t rest = len_ > used ? len_ - used : 0;
  if (rest > 0) std::memmove(buf_.data(), buf_.data() + used, rest);
  len_ = rest;
  parser_.reset();
  continue_sent_ = false;
  if (buf_.size() > 4 * kInitialBuffer && len_ <= kInitialBuffer) {
    std::vector<char> smaller(kInitialBuffer);
    std::memcpy(smaller.data(), buf_.data(), len_);
    buf_.swap(smaller);
  }
  since_ns_ = now_ns();
  if (len_ > 0) {
    phase_ = Phase::kReading;
    process();
  } else {
    phase_ = Phase::kIdle;
    read_more();
  }
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
      if (now - since_ns_ > to_ns(core_.options.read_timeout)) close();
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
  w_.remove(this);
}

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
  if (sessions.erase(s) > 0) open_sessions.fetch_sub(1, std::memory_order_relaxed);
  if (draining && sessions.empty()) core.worker_idle_changed();
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
        for (auto& c : it->second.idle) {
          error_code ignored;
          c->sock.close(ignored);
        }
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
    for (auto& [k, p] : pools) {
      for (auto& c : p.idle) {
        error_code e;
        c->sock.close(e);
      }
      p.idle.clear();
    }
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
    asio::post(raw->io, [raw] {
      error_code ignored;
      raw->sweep.cancel();
      std::vector<Session*> snapshot(raw->sessions.begin(), raw->sessions.end());
      for (Session* s : snapshot) {
        if (raw->sessions.count(s)) s->close();
      }
      raw->pools.clear();
      raw->io.stop();
    });
  }
  for (auto& w : workers) {
    if (w->thread.joinable()) w->thread.join();
  }
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
