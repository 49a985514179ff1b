#include "session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <charconv>
#include <variant>

#include "activation_probe.hpp"
#include "kubefn/async/call_store.hpp"
#include "kubefn/http/event_id.hpp"
#include "kubefn/http/response.hpp"
#include "kubefn/metering/meter.hpp"
#include "late_call.hpp"

namespace kubefn::gateway {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using http::make_event_id;
using http::ResponseState;

// Heads being built (to the replica, to the client) keep their storage up to this between
// requests; bigger ones are freed.
constexpr std::size_t kKeptHeadBytes = std::size_t{4} * 1024;
// After refusing a request whose body was not read: how long the rest of it is read and
// dropped, so the caller sees the answer rather than a reset.
constexpr std::int64_t kLingerNs = std::int64_t{2} * 1000 * 1000 * 1000;

}  // namespace

Session::Session(Worker& w, tcp::socket sock)
    : w_(w),
      core_(w.core),
      sock_(std::move(sock)),
      buf_(kInitialBuffer,
           http::read_buffer_cap(kUpstreamHeadLimit, w.core.options.max_request_body_bytes)),
      parser_(client_limits(w.core.options)),
      resp_(w.core.options.max_response_body_bytes),
      timer_(w.io) {
  hold_exactly(buffered_now());
  error_code ec;
  auto remote = sock_.remote_endpoint(ec);
  if (!ec) client_ip_ = remote.address().to_string();
  since_ns_ = now_ns();
}

// ---------------------------------------------------------------------------------------
// Session: reading the request

void Session::read_more() {
  if (buf_.full()) {
    if (buf_.at_cap()) {
      close_after_ = true;
      reply(413, "request too large");
      return;
    }
    const std::size_t more = buf_.next_capacity() - buf_.capacity();
    if (!hold_at_least(buffered_now() + more * (chunked_request_ ? 2 : 1))) {
      out_of_buffers();
      return;
    }
    buf_.grow();
    parser_.reset();  // views pointed into the old storage
  }
  sock_.async_read_some(
      asio::buffer(buf_.space(), buf_.space_size()),
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
  buf_.commit(n);
  process();
}

void Session::process() {
  switch (parser_.parse(buf_.view())) {
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
// Session: admission (what to do is Admission's; doing it is here)

// From the request's head: false when it was answered (the gateway's own paths, or a
// refusal, which closes the connection when a body was announced and not read).
bool Session::on_head(bool body_pending) {
  head_checked_ = true;
  body_unread_ = body_pending;
  const http::HttpRequest& req = parser_.request();
  close_after_ = !req.keep_alive || core_.draining.load(std::memory_order_relaxed);
  chunked_request_ = !req.header("transfer-encoding").empty();
  const std::size_t start = static_cast<std::size_t>(req.method.data() - buf_.data());
  const std::size_t end = buf_.view().find("\r\n\r\n", start);
  head_end_ = end == std::string_view::npos ? buf_.size() : end + 4;
  HeadVerdict v = core_.admission.head(
      HeadFacts{req, head_end_ - start, core_.draining.load(std::memory_order_relaxed)},
      core_.routes, core_.keys);
  switch (v.kind) {
    case HeadVerdict::Kind::kBuiltin:
      serve_builtin(v.reply);
      return false;
    case HeadVerdict::Kind::kRefused:
      route_ = std::move(v.route);  // a 401 or 403 counts against its function
      reply(v.reply);
      return false;
    case HeadVerdict::Kind::kRouted:
      route_ = std::move(v.route);
      target_ = std::move(v.target);
      async_ = v.async;
      call_id_ = std::move(v.call_id);
      callback_url_ = std::move(v.callback_url);
      async_preferred_ = v.preferred;
      credentialed_ = v.credentialed;
      strip_authorization_ = v.strip_authorization;
      break;
  }
  return reserve_body(req);
}

// Takes from the buffer budget what the announced body will need (a chunked body takes its
// share as it arrives); false after answering 503.
bool Session::reserve_body(const http::HttpRequest& req) {
  std::size_t need = 0;
  if (body_unread_ && !chunked_request_) {
    std::size_t length = 0;
    std::string_view v = req.header("content-length");
    std::from_chars(v.data(), v.data() + v.size(), length);  // the parser validated it
    need = buf_.capacity_for(head_end_ + length) - buf_.capacity();
  }
  if (core_.budget.spent() || !hold_at_least(buffered_now() + need)) {
    out_of_buffers();
    return false;
  }
  return true;
}

void Session::out_of_buffers() {
  core_.metrics.buffer_rejections().Increment();
  reply(core_.admission.out_of_buffers());
}

void Session::handle() {
  if (async_ != HeadVerdict::Async::kNone) {
    handle_async();
    return;
  }
  t_start_ = now_ns();
  waited_ns_ = 0;
  phase_ = Phase::kBusy;
  since_ns_ = t_start_;
  ++gen_;
  body_unread_ = false;
  route_->state->note_start();
  counted_ = true;
  activation_deadline_ns_ = 0;
  probed_losses_ = 0;
  t_dispatch_ns_ = 0;
  t_answered_ns_ = 0;
  execution_ns_ = -1;
  waited_for_replica_ = false;
  replica_wait_ns_ = 0;
  metered_ = false;
  admit(CallFacts{route_.get(), false, 0, std::nullopt, t_start_});
}

void Session::handle_async() {
  t_start_ = now_ns();
  phase_ = Phase::kBusy;
  since_ns_ = t_start_;
  ++gen_;
  body_unread_ = false;
  metered_ = true;  // queuing is not an invocation: the call is metered when it runs
  const std::uint64_t gen = gen_;
  // No socket operation holds the session while the queue works: its worker does
  // (waiting_for_queue), until the answer is back on this thread or the gateway stops. The
  // queue's threads hold a weak one.
  std::weak_ptr<Session> weak = shared_from_this();
  std::shared_ptr<Worker::Inbox> inbox = w_.inbox;
  auto answer = [weak, inbox, gen](int status, std::string body,
                                   std::vector<std::pair<std::string, std::string>> headers) {
    std::lock_guard<std::mutex> lock(inbox->mu);
    if (inbox->io == nullptr) return;  // the gateway is gone
    asio::post(*inbox->io,
               [weak, gen, status, body = std::move(body), headers = std::move(headers)] {
                 auto self = weak.lock();
                 if (!self) return;
                 self->w_.waiting_for_queue.erase(self.get());
                 if (self->closed_ || self->gen_ != gen) return;
                 self->async_answered(status, std::move(body), std::move(headers));
               });
  };
  const std::string retry_after = std::to_string(core_.options.retry_after.count());
  const http::HttpRequest& req = parser_.request();
  const std::string ns = route_->ns, name = route_->name;
  if (async_ == HeadVerdict::Async::kState) {
    if (!async::valid_call_id(call_id_)) {
      reply(404, "no such call: a call id is 32 hex digits");
      return;
    }
    w_.waiting_for_queue[this] = shared_from_this();
    core_.options.async_calls->lookup(
        ns, name, call_id_, [answer, retry_after](nats::Result<async::CallState> state) {
          if (state.ok()) {
            answer(200, async::to_json(state.value()).dump(), {});
          } else if (state.status().is_not_found()) {
            answer(404, json_error_body(404, "no such call (a call's state is kept for a day)"),
                   {});
          } else {
            answer(503,
                   json_error_body(503, "the asynchronous call queue cannot be read now: " +
                                            state.status().message()),
                   {{"retry-after", retry_after}});
          }
        });
    return;
  }
  async::Call call;
  call.id = async::new_call_id();
  call.ns = ns;
  call.function = name;
  call.method = std::string(async_preferred_ ? req.method : std::string_view("POST"));
  call.target = target_;
  call.callback_url = callback_url_;
  for (const auto& h : req.headers) {
    if (async::forwarded_header(h.name)) call.headers.emplace_back(h.name, h.value);
  }
  call.body.assign(req.body);
  call.queued_at = std::chrono::system_clock::now();
  const std::int64_t max_payload = core_.options.async_calls->max_payload();
  if (max_payload > 0 && static_cast<std::int64_t>(call.body.size()) > max_payload - 4096) {
    reply(413, "an asynchronous call's body is limited to " + std::to_string(max_payload - 4096) +
                   " bytes by the call queue");
    return;
  }
  const std::string location = "/async/" + ns + "/" + name + "/calls/" + call.id;
  const bool preferred = async_preferred_;
  std::string id = call.id;
  w_.waiting_for_queue[this] = shared_from_this();
  core_.options.async_calls->enqueue(std::move(call), [answer, retry_after, location, preferred,
                                                       id = std::move(id)](nats::Status st) {
    if (st.ok()) {
      nlohmann::json body{{"id", id}, {"state", "queued"}, {"location", location}};
      std::vector<std::pair<std::string, std::string>> headers{{"location", location}};
      if (preferred) headers.emplace_back("preference-applied", "respond-async");
      answer(202, body.dump(), std::move(headers));
    } else if (st.code() == nats::ErrorCode::kMaxPayload) {
      answer(413, json_error_body(413, "the call is too large for the call queue"), {});
    } else {
      answer(503,
             json_error_body(503, "the asynchronous call could not be queued: " + st.message()),
             {{"retry-after", retry_after}});
    }
  });
}

void Session::async_answered(int status, std::string body,
                             std::vector<std::pair<std::string, std::string>> headers) {
  t_answered_ns_ = now_ns();
  status_ = status;
  if (core_.draining.load(std::memory_order_relaxed)) close_after_ = true;
  async_body_ = std::move(body);
  head_ = simple_reply(status, "application/json", async_body_, close_after_, headers,
                       parser_.request().method == "HEAD");
  body_ = {};
  write_out();
}

// Acts on Admission's verdict for the call in hand, asking the function's limiter when the
// verdict depends on it.
void Session::admit(CallFacts facts) {
  Verdict v = core_.admission.call(facts);
  if (const auto* ask = std::get_if<AskLimiter>(&v)) {
    const std::uint64_t gen = gen_;
    std::weak_ptr<Session> weak = shared_from_this();
    asio::io_context* io = &w_.io;
    std::shared_ptr<const FunctionRoute> route = route_;
    RouteTable* routes = &core_.routes;
    facts.limiter = route_->state->limiter.acquire(
        ask->limit, ask->queue_limit,
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
    v = core_.admission.call(facts);
  }
  if (const auto* q = std::get_if<Queue>(&v)) {
    wait(*q);
    return;
  }
  leave_queue();
  if (const auto* r = std::get_if<Reply>(&v)) {
    reply(*r);
    return;
  }
  if (facts.limiter == ConcurrencyLimiter::Admit::kGranted) slot_held_ = true;
  dispatch();
}

void Session::wait(const Queue& q) {
  if (queued_ && queued_for_ != q.what) leave_queue();  // a first replica came: now capacity
  if (!queued_) enter_queue(q.what);
  switch (q.what) {
    case Queue::For::kCapacity:
      timer_for_ = TimerFor::kQueue;
      arm_timer(q.deadline_ns);
      return;
    case Queue::For::kReplica:
      activation_deadline_ns_ = q.deadline_ns;
      // The gateway probes the function's started endpoints meanwhile (one atomic load once
      // it does).
      if (core_.prober) core_.prober->want(*route_);
      if (q.recheck_ns <= now_ns()) {
        wait_for_replica();
        return;
      }
      timer_for_ = TimerFor::kActivation;
      arm_timer(q.recheck_ns);
      return;
  }
}

// The call waits (for capacity or a first replica): counted as queued, and the function is
// asked for (on_demand) so that it scales.
void Session::enter_queue(Queue::For what) {
  queued_ = true;
  queued_for_ = what;
  waiting_on_ = route_->state;
  waiting_on_->waiting.fetch_add(1, std::memory_order_relaxed);
  if (what == Queue::For::kReplica) {
    waiting_on_->activating.fetch_add(1, std::memory_order_relaxed);
    waited_for_replica_ = true;
  }
  core_.metrics.queued().Increment();
  if (core_.options.on_demand) core_.options.on_demand(route_->ns, route_->name);
  t_wait_start_ = now_ns();
}

// The one way out of a wait, whichever ended it (a slot, a replica, a refusal, a timeout,
// the connection closing). A place in the limiter's queue is the caller's to cancel.
void Session::leave_queue() {
  if (!queued_) return;
  queued_ = false;
  waiting_on_->waiting.fetch_sub(1, std::memory_order_relaxed);
  if (queued_for_ == Queue::For::kReplica) {
    waiting_on_->activating.fetch_sub(1, std::memory_order_relaxed);
  }
  waiting_on_.reset();
  core_.metrics.queued().Decrement();
  const std::int64_t waited = now_ns() - t_wait_start_;
  waited_ns_ += waited;
  if (queued_for_ == Queue::For::kReplica) replica_wait_ns_ += waited;
}

void Session::wait_for_replica() {
  auto fresh = core_.routes.find(route_->ns, route_->name);
  if (fresh && fresh->ready_endpoints > 0) route_ = fresh;
  admit(CallFacts{fresh.get(), true, activation_deadline_ns_, std::nullopt, now_ns()});
}

void Session::replica_may_be_ready(const FunctionState* state) {
  if (closed_ || !queued_ || queued_for_ != Queue::For::kReplica || waiting_on_.get() != state ||
      timer_for_ != TimerFor::kActivation) {
    return;
  }
  timer_for_ = TimerFor::kNone;
  timer_.cancel();
  wait_for_replica();
}

bool Session::on_granted(std::uint64_t gen) {
  if (closed_ || gen != gen_ || !queued_) return false;  // the caller hands the slot back
  leave_queue();
  slot_held_ = true;
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
  // The gateway consumed a private function's credential, and never passes on a key of its
  // own; a public function gets any other Authorization as sent.
  info.strip_authorization = strip_authorization_;
  build_upstream_head(out_, req, target_, info);
  hold_exactly(std::max(held_, buffered_now()));
  resp_.reset(req.method == "HEAD");
  tried_.clear();
  attempts_ = 0;
  timed_out_ = false;
  const std::int64_t now = now_ns();
  if (t_dispatch_ns_ == 0) t_dispatch_ns_ = now;
  request_deadline_ns_ = now + to_ns(route_->timeout);
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
      reply(core_.admission.no_ready_replica());
    } else {
      reply(502, "could not connect to a replica of this function");
    }
    return;
  }
  ++attempts_;
  load_ = route_->loads[static_cast<std::size_t>(endpoint_)];
  pool_key_ = load_.get();
  load_->call_began();
  Pool& pool = w_.pool.pool_for(load_);
  if (auto idle = w_.pool.take_idle(pool)) {
    up_ = std::move(idle);
    hold_exactly(std::max(held_, buffered_now()));
    timer_for_ = TimerFor::kRequest;
    arm_timer(request_deadline_ns_);
    send();
    return;
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
    if (lost_probed_endpoint()) return;
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

// A connection to an endpoint only the activation probe made routable failed: it is not
// routable any more, and the call (which no replica saw) follows the rules for what is left.
// With another routable replica, the usual retry; with none, admission again, as if the call
// had just come: it waits for a first replica (for what is left of its activation time, when
// it had waited) or gets 503. False when the endpoint was not a probed one.
bool Session::lost_probed_endpoint() {
  if (endpoint_ < 0) return false;
  const auto failed = static_cast<std::size_t>(endpoint_);
  if (failed >= route_->endpoints.size() || !route_->endpoints[failed].probed) return false;
  core_.routes.set_probed(route_->ns, route_->name, route_->loads[failed].get(), false);
  // A replica that keeps passing probes and refusing calls gets the call no more than
  // max_attempts times: then the usual rules end it (502).
  if (++probed_losses_ > core_.options.max_attempts) return false;
  release_endpoint();
  auto fresh = core_.routes.find(route_->ns, route_->name);
  if (fresh && fresh->ready_endpoints > 0) {
    // The endpoints tried so far, as indexes of the fresh route (the failed one is there too,
    // and no longer routable).
    std::vector<int> tried;
    tried_.push_back(endpoint_);
    for (int t : tried_) {
      for (std::size_t j = 0; j < fresh->loads.size(); ++j) {
        if (fresh->loads[j] == route_->loads[static_cast<std::size_t>(t)]) {
          tried.push_back(static_cast<int>(j));
        }
      }
    }
    route_ = std::move(fresh);
    tried_ = std::move(tried);
    endpoint_ = -1;
    upstream_failed(true);
    return true;
  }
  // Back to admission: the call is no longer being forwarded.
  endpoint_ = -1;
  timer_for_ = TimerFor::kNone;
  timer_.cancel();
  release_slot();
  if (forwarded_) {
    forwarded_ = false;
    core_.metrics.inflight().Decrement();
  }
  if (fresh) route_ = fresh;
  const bool waited = activation_deadline_ns_ != 0;
  admit(CallFacts{fresh.get(), waited, activation_deadline_ns_, std::nullopt, now_ns()});
  return true;
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
  t_answered_ns_ = now;
  // The runtime's own measure of the handler, when the replica runs kubefn's runtime.
  for (const auto& h : resp_.headers()) {
    if (h.name != http::kExecutionHeader) continue;
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), v);
    if (ec == std::errc() && p == h.value.data() + h.value.size() && v >= 0) execution_ns_ = v;
  }
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
        leave_queue();
        timer_for_ = TimerFor::kNone;
        reply(core_.admission.queue_timed_out());
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
    load_->call_ended();
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

void Session::serve_builtin(const Reply& answer) {
  status_ = answer.status;
  route_.reset();
  builtin_ = true;
  if (body_unread_) close_after_ = true;
  head_ = simple_reply(answer.status, "text/plain; charset=utf-8", answer.message, close_after_, {},
                       parser_.request().method == "HEAD");
  body_ = {};
  write_out();
}

void Session::reply(int status, std::string_view message) {
  reply(Reply{status, std::string(message)});
}

void Session::reply(const Reply& answer) {
  t_answered_ns_ = now_ns();
  release_endpoint();
  release_slot();
  drop_upstream();
  if (timer_for_ != TimerFor::kNone) {
    timer_for_ = TimerFor::kNone;
    timer_.cancel();
  }
  leave_queue();
  status_ = answer.status;
  // A body announced and not read is not read at all: the connection ends after the answer.
  if (answer.close || body_unread_ || core_.draining.load(std::memory_order_relaxed)) {
    close_after_ = true;
  }
  head_ = simple_reply(answer.status, "application/json",
                       json_error_body(answer.status, answer.message), close_after_, answer.headers,
                       parser_.request().method == "HEAD");
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
  meter_call(end, false);
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
  if (up_ && reusable_after(resp_, *up_) && load_ == nullptr && status_ != 0 && !timed_out_) {
    w_.pool.give_back(std::move(up_), pool_key_, core_.draining.load());
  }
  drop_upstream();
  resp_.reset();  // frees a de-chunked body
  if (out_.capacity() > kKeptHeadBytes) std::string().swap(out_);
  out_.clear();
  if (head_.capacity() > kKeptHeadBytes) std::string().swap(head_);
  async_ = HeadVerdict::Async::kNone;
  if (async_body_.capacity() > kKeptHeadBytes) std::string().swap(async_body_);
  async_body_.clear();
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
  buf_.consume(parser_.consumed());  // a pipelined request moves to the front
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
  buf_.shrink();
  hold_exactly(buffered_now());
  since_ns_ = now_ns();
  if (!buf_.empty()) {
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
    if (buf_.reset()) fresh_parser();  // its views pointed into the bigger storage
    chunked_request_ = false;
    hold_exactly(buffered_now());
  }
  sock_.async_read_some(asio::buffer(buf_.space(), buf_.space_size()),  // never committed
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
  // Out of the limiter's queue (a ticket is only this call's while it waits for capacity).
  if (queued_ && queued_for_ == Queue::For::kCapacity) waiting_on_->limiter.cancel(ticket_);
  leave_queue();
  if (counted_ && route_) {
    route_->state->note_end();
    counted_ = false;
  }
  // A call whose caller hung up is metered now: one still being worked on is billed up to
  // here and counted as an error (its answer is lost), one being written as it was answered.
  if (phase_ == Phase::kBusy || phase_ == Phase::kWriting) {
    meter_call(now_ns(), phase_ == Phase::kBusy);
  }
  drop_upstream();
  error_code ignored;
  timer_.cancel();
  sock_.close(ignored);
  hold_exactly(0);
  w_.remove(this);
}

void Session::meter_call(std::int64_t end, bool hung_up) {
  if (metered_ || !route_ || !core_.meter) return;
  metered_ = true;
  metering::CallRecord call;
  if (forwarded_ || t_dispatch_ns_ != 0) {
    if (timed_out_ || status_ == 504) {
      call.outcome = metering::Outcome::kTimeout;
    } else if (hung_up || status_ == 0 || status_ >= 500) {
      call.outcome = metering::Outcome::kError;
    } else {
      call.outcome = metering::Outcome::kSuccess;
    }
    const std::int64_t answered = t_answered_ns_ != 0 ? t_answered_ns_ : end;
    call.execution_seconds =
        static_cast<double>(execution_ns_ >= 0
                                ? execution_ns_
                                : std::max<std::int64_t>(0, answered - t_dispatch_ns_)) /
        1e9;
  } else if (status_ == 429 || status_ == 503) {
    call.outcome = metering::Outcome::kThrottled;
  } else {
    return;  // refused before admission: not an invocation
  }
  call.latency_seconds = static_cast<double>(end - t_start_) / 1e9;
  if (waited_for_replica_) call.replica_wait_seconds = static_cast<double>(replica_wait_ns_) / 1e9;
  call.memory_bytes = route_->memory_bytes;
  // An event trigger's call, as the platform's own caller (the dispatcher) says, when it names
  // one of the function's triggers: the split stays bounded by what the Function declares.
  if (credentialed_) {
    const std::string_view trigger = parser_.request().header("kubefn-trigger");
    if (trigger == "async") {
      call.trigger = trigger;
    } else if (!trigger.empty()) {
      for (const std::string& t : route_->event_triggers) {
        if (t == trigger) call.trigger = trigger;
      }
    }
  }
  FunctionState& state = *route_->state;
  metering::FunctionMeter* m = state.meter.load(std::memory_order_acquire);
  if (m == nullptr) {
    // function() returns the same meter for the same name, so a race is harmless.
    m = &core_.meter->function(route_->ns, route_->name);
    state.meter.store(m, std::memory_order_release);
  }
  m->record(call);
}

}  // namespace kubefn::gateway
