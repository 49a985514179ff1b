// One client connection of the public port, and the calls it makes one after another.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admission.hpp"
#include "gateway_core.hpp"
#include "kubefn/gateway/http_proxy.hpp"
#include "kubefn/http/connection_buffer.hpp"
#include "kubefn/http/request_parser.hpp"
#include "kubefn/http/response_parser.hpp"
#include "upstream_pool.hpp"

namespace kubefn::gateway {

// A client connection's state machine: read a request (idle, reading), decide from its head
// (admission) before reading its body, wait for capacity or a first replica, forward it to a
// replica over a pooled connection (busy), write the answer (writing), then the next request;
// after a refusal that left a body unread, linger. Every buffer it holds is counted in the
// buffer budget.
//
// Threading: lives on its worker's thread; every handler and check() and close() run there.
// Handlers hold a shared_ptr to it; the worker's session set holds a raw pointer until close().
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& w, boost::asio::ip::tcp::socket sock);

  void start() { read_more(); }
  // From the worker's sweep: closes idle connections past their time, or all idle ones
  // when draining; answers 408 to requests not received in time; cuts responses that made
  // no progress for write_timeout.
  void check(std::int64_t now, bool draining);
  void close();
  // The activation probe made a replica of the function of `state` routable: a call waiting
  // for a first replica of it looks again now rather than at its next recheck.
  void replica_may_be_ready(const FunctionState* state);

 private:
  using error_code = boost::system::error_code;
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
  // Reading the request.
  void read_more();
  void on_read(const error_code& ec, std::size_t n);
  void process();
  bool on_head(bool body_pending);
  bool reserve_body(const http::HttpRequest& req);
  void send_continue();
  // Admission of a whole request.
  void handle();
  // An asynchronous call to queue, or a look at one's state: answered once the call queue
  // answers (on its thread, posted back here).
  void handle_async();
  void async_answered(int status, std::string body,
                      std::vector<std::pair<std::string, std::string>> headers);
  void serve_builtin(const Reply& answer);
  void admit(CallFacts facts);
  void wait(const Queue& q);
  void enter_queue(Queue::For what);
  void leave_queue();
  bool on_granted(std::uint64_t gen);
  void wait_for_replica();
  // Forwarding.
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
  bool lost_probed_endpoint();
  void response_too_large();
  void arm_timer(std::int64_t deadline_ns);
  void on_timer(std::uint64_t gen);
  void drop_upstream();
  void release_endpoint();
  void release_slot();
  // Answering.
  void out_of_buffers();
  void reply(const Reply& answer);
  void reply(int status, std::string_view message);
  void write_out();
  void write_some();
  void on_written(const error_code& ec);
  void finish_exchange();
  // The call in hand, to the function's meter, once: an invocation (by outcome) when it was
  // forwarded or throttled; refusals before admission (no route, no access) are not.
  void meter_call(std::int64_t end, bool hung_up);
  void linger();

  // The bytes this connection's buffers take now: the read buffer (twice when a chunked
  // body is being de-chunked beside it), the upstream connection's, a de-chunked response,
  // and the heads being sent.
  std::size_t buffered_now() const {
    std::size_t n = buf_.capacity() * (chunked_request_ ? 2 : 1) + out_.capacity() +
                    head_.capacity() + resp_.owned_bytes();
    if (up_) n += up_->buf.size();
    return n;
  }
  // This connection's share of the buffer budget: grown only when the budget allows it...
  bool hold_at_least(std::size_t bytes) {
    if (bytes <= held_) return true;
    if (!core_.budget.take(bytes - held_, false)) return false;
    held_ = bytes;
    return true;
  }
  // ... set to what it holds once buffers were freed (or moved elsewhere).
  void hold_exactly(std::size_t bytes) {
    if (bytes > held_) {
      core_.budget.take(bytes - held_, true);
    } else if (bytes < held_) {
      core_.budget.give(held_ - bytes);
    }
    held_ = bytes;
  }

  Worker& w_;
  GatewayCore& core_;
  boost::asio::ip::tcp::socket sock_;
  http::ConnectionBuffer buf_;  // the client's bytes: grows for a large request, shrinks after
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
  HeadVerdict::Async async_ = HeadVerdict::Async::kNone;
  std::string call_id_;       // kState
  std::string callback_url_;  // kCall
  bool async_preferred_ = false;
  bool credentialed_ = false;         // HeadVerdict::credentialed
  bool strip_authorization_ = false;  // HeadVerdict::strip_authorization
  std::string async_body_;            // the answer's JSON, while it is written
  std::string out_;
  std::vector<int> tried_;
  int attempts_ = 0;
  int endpoint_ = -1;
  std::shared_ptr<EndpointLoad> load_;
  std::unique_ptr<Upstream> up_;
  http::HttpResponseParser resp_;
  boost::asio::steady_timer timer_;
  enum class TimerFor {
    kNone,
    kQueue,
    kActivation,
    kConnect,
    kRequest
  } timer_for_ = TimerFor::kNone;
  std::int64_t request_deadline_ns_ = 0;
  std::int64_t activation_deadline_ns_ = 0;  // 0: the call has not waited for a first replica
  int probed_losses_ = 0;  // connections to a probed endpoint that failed (lost_probed_endpoint)
  std::uint64_t ticket_ = 0;
  bool counted_ = false;  // note_start() called
  bool slot_held_ = false;
  // Waiting for capacity or a first replica (queued_for_): counted in the function's
  // `waiting` (of waiting_on_, the state it was counted on) and the queued gauge until
  // leave_queue().
  bool queued_ = false;
  Queue::For queued_for_ = Queue::For::kCapacity;
  std::shared_ptr<FunctionState> waiting_on_;
  bool timed_out_ = false;
  bool connect_timed_out_ = false;
  bool request_sent_ = false;  // the whole request reached the upstream connection
  int status_ = 0;
  std::int64_t t_start_ = 0;
  std::int64_t waited_ns_ = 0;  // queue, activation and upstream waits
  std::int64_t t_wait_start_ = 0;
  bool builtin_ = false;
  bool forwarded_ = false;
  // Metering of the call (meter_call): when it was first sent to a replica and answered,
  // what the replica said its execution took (-1: nothing), how long it waited for a first
  // replica (a cold start when it did), and whether it was metered yet.
  std::int64_t t_dispatch_ns_ = 0;
  std::int64_t t_answered_ns_ = 0;
  std::int64_t execution_ns_ = -1;
  bool waited_for_replica_ = false;
  std::int64_t replica_wait_ns_ = 0;
  bool metered_ = true;
  const EndpointLoad* pool_key_ = nullptr;
  std::string head_;
  std::string_view body_;
  std::size_t written_ = 0;  // of head_ then body_
};

}  // namespace kubefn::gateway
