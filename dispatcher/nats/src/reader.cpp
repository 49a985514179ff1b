// The reader thread: connects, handshakes, reads and routes what the server sends, keeps the
// connection alive with PINGs, and reconnects.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>

#include "connection_impl.hpp"

namespace kubefn::nats::detail {
namespace {

constexpr std::size_t kReadChunk = std::size_t{64} * 1024;

int ms_until(Clock::time_point t) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, INT_MAX));
}

}  // namespace

void ConnectionImpl::reader_main() {
  std::size_t index = 0;
  int failures = 0;
  bool initial = true;
  Status initial_error;
  while (!stopping_.load()) {
    const ServerAddress& server = servers_[index % servers_.size()];
    SessionEnd end;
    {
      auto fd = tcp_connect(server.host, server.port, options_.connect_timeout,
                            options_.write_timeout, wake_.read_fd());
      if (fd.ok()) {
        end = run_session(*fd, server);
        if (end.was_connected) {
          ::shutdown(fd->get(), SHUT_RDWR);  // unblocks a writer stuck in send()
          teardown(end.reason);
        }
      } else {
        end.reason = fd.status();
      }
    }  // the socket is closed here, after nobody can write to it any more
    if (end.was_connected) {
      initial = false;
      failures = 0;
      if (stopping_.load() || !options_.reconnect.enabled) break;
      continue;  // one immediate attempt, on the same server
    }
    if (stopping_.load()) break;
    ++index;
    if (initial) {
      // Prefer a refusal (credentials, TLS) over a server that was simply not there.
      if (initial_error.ok() || end.reason.code() != ErrorCode::kConnectionFailed)
        initial_error = end.reason;
      if (index < servers_.size()) continue;
      finish_initial(Status(initial_error.code(), "cannot connect to NATS (" + options_.url +
                                                      "): " + initial_error.message()));
      return;
    }
    ++failures;
    report(Status(end.reason.code(),
                  "reconnect to " + server.to_string() + " failed: " + end.reason.message()));
    const int max_attempts = options_.reconnect.max_attempts;
    if (max_attempts >= 0 && failures >= max_attempts) {
      {
        std::lock_guard lock(write_mu_);
        set_state(ConnectionState::kClosed);
      }
      const Status gave_up(ErrorCode::kClosed,
                           "gave up reconnecting after " + std::to_string(failures) + " attempts");
      fail_waiters(gave_up);
      end_subscriptions(gave_up);
      report(gave_up);
      post([this] {
        if (options_.on_state_change) options_.on_state_change(ConnectionState::kClosed);
      });
      break;
    }
    std::unique_lock lock(stop_mu_);
    stop_cv_.wait_for(lock, backoff(failures), [&] { return stopping_.load(); });
  }
}

std::chrono::milliseconds ConnectionImpl::backoff(int failures) {
  const auto& policy = options_.reconnect;
  const double initial = static_cast<double>(policy.initial_delay.count());
  const double cap = static_cast<double>(policy.max_delay.count());
  const double base = std::min(cap, initial * std::pow(2.0, std::min(failures - 1, 30)));
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> factor(1.0 - jitter, 1.0 + jitter);
  return std::chrono::milliseconds(
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(base * factor(rng_)))));
}

ConnectionImpl::SessionEnd ConnectionImpl::run_session(Fd& fd, const ServerAddress& server) {
  parser_.reset();
  Phase phase = Phase::kAwaitInfo;
  SessionEnd end;
  const auto handshake_deadline = Clock::now() + options_.connect_timeout;
  auto next_ping = Clock::time_point::max();
  int pings_out = 0;
  std::vector<ServerOp> ops;
  std::string buf(kReadChunk, '\0');
  for (;;) {
    if (stopping_.load()) {
      end.reason = Status(ErrorCode::kClosed, "connection closed");
      break;
    }
    const auto now = Clock::now();
    if (phase != Phase::kConnected && now >= handshake_deadline) {
      end.reason =
          Status(ErrorCode::kConnectionFailed, "no handshake with " + server.to_string() +
                                                   " within " + ms_text(options_.connect_timeout));
      break;
    }
    if (phase == Phase::kConnected && now >= next_ping) {
      if (pings_out >= options_.max_pings_outstanding) {
        end.reason =
            Status(ErrorCode::kConnectionLost, "stale connection: " + std::to_string(pings_out) +
                                                   " PINGs unanswered by " + server.to_string());
        break;
      }
      Status st;
      {
        std::lock_guard lock(write_mu_);
        {
          std::lock_guard pong_lock(pong_mu_);
          pongs_.push_back(nullptr);
        }
        st = write_locked(kPing);
      }
      if (!st.ok()) {
        end.reason = st;
        break;
      }
      ++pings_out;
      next_ping = now + options_.ping_interval;
      continue;
    }
    pollfd fds[2] = {{fd.get(), POLLIN, 0}, {wake_.read_fd(), POLLIN, 0}};
    const int rc =
        ::poll(fds, 2, ms_until(phase == Phase::kConnected ? next_ping : handshake_deadline));
    if (rc < 0) {
      if (errno == EINTR) continue;
      end.reason = Status(ErrorCode::kConnectionLost, std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (rc == 0 || (fds[1].revents & POLLIN) != 0 || fds[0].revents == 0) continue;
    const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n == 0) {
      end.reason = Status(
          phase == Phase::kConnected ? ErrorCode::kConnectionLost : ErrorCode::kConnectionFailed,
          server.to_string() + " closed the connection");
      break;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      end.reason = Status(ErrorCode::kConnectionLost, std::string("read: ") + std::strerror(errno));
      break;
    }
    ops.clear();
    const Status parsed =
        parser_.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)), ops);
    Status st;
    for (auto& op : ops) {
      const Phase before = phase;
      if (op.kind == ServerOp::Kind::kPong) pings_out = 0;
      st = handle(op, phase, fd.get(), server);
      if (!st.ok()) break;
      if (before != Phase::kConnected && phase == Phase::kConnected) {
        end.was_connected = true;
        next_ping = Clock::now() + options_.ping_interval;
      }
    }
    if (!st.ok()) {
      end.reason = st;
      break;
    }
    if (!parsed.ok()) {
      end.reason = parsed;
      break;
    }
  }
  return end;
}

Status ConnectionImpl::handle(ServerOp& op, Phase& phase, int fd, const ServerAddress& server) {
  switch (op.kind) {
    case ServerOp::Kind::kInfo: {
      auto info = parse_info(op.text);
      if (!info.ok()) return info.status();
      if (phase == Phase::kAwaitInfo && info->tls_required) {
        return Status(ErrorCode::kUnsupported,
                      server.to_string() + " requires TLS, which this client does not do");
      }
      const bool lame_duck = info->lame_duck_mode;
      max_payload_.store(info->max_payload);
      server_headers_.store(info->headers);
      {
        std::lock_guard lock(info_mu_);
        info_ = std::move(*info);
      }
      if (phase == Phase::kAwaitInfo) {
        phase = Phase::kAwaitPong;
        return send_handshake(fd, server);
      }
      if (lame_duck) {
        report(Status(ErrorCode::kServerError,
                      server.to_string() + " is shutting down (lame duck mode)"));
      }
      return {};
    }
    case ServerOp::Kind::kPing:
      if (phase == Phase::kConnected) return write(kPong);
      return send_all(fd, kPong);
    case ServerOp::Kind::kPong:
      if (phase == Phase::kAwaitPong) {
        become_connected(fd);
        phase = Phase::kConnected;
      } else if (phase == Phase::kConnected) {
        std::shared_ptr<std::promise<Status>> waiter;
        {
          std::lock_guard lock(pong_mu_);
          if (!pongs_.empty()) {
            waiter = std::move(pongs_.front());
            pongs_.pop_front();
          }
        }
        if (waiter) waiter->set_value(Status());
      }
      return {};
    case ServerOp::Kind::kOk:
      return {};
    case ServerOp::Kind::kErr: {
      Status error = status_from_server_error(op.text);
      if (phase != Phase::kConnected) return error;  // the handshake was refused
      report(std::move(error));
      return {};
    }
    case ServerOp::Kind::kMsg:
      if (phase == Phase::kAwaitInfo)
        return Status(ErrorCode::kProtocol, "a message before the server's INFO");
      route(op);
      return {};
  }
  return {};
}

Status ConnectionImpl::send_handshake(int fd, const ServerAddress& server) {
  ConnectRequest request;
  request.name = options_.name;
  const bool own_credentials =
      !server.user.empty() || !server.password.empty() || !server.token.empty();
  request.user = own_credentials ? server.user : options_.user;
  request.pass = own_credentials ? server.password : options_.password;
  request.auth_token = own_credentials ? server.token : options_.token;
  std::string frame = encode_connect(request);
  {
    std::lock_guard lock(write_mu_);
    std::lock_guard subs_lock(subs_mu_);
    const std::uint64_t generation = generation_ + 1;
    for (auto& [sid, sub] : subs_) {
      frame += subscribe_frame(sid, *sub);
      sub->sent_generation = generation;
    }
  }
  frame += kPing;
  return send_all(fd, frame);
}

// SUB, and UNSUB with what is left of an auto-unsubscribe (with subs_mu_ held).
std::string ConnectionImpl::subscribe_frame(std::uint64_t sid, const SubscriptionState& sub) {
  std::string frame = encode_subscribe(sub.subject, sub.queue, sid);
  const std::uint64_t delivered = sub.delivered.load();
  if (sub.max > delivered) frame += encode_unsubscribe(sid, sub.max - delivered);
  return frame;
}

void ConnectionImpl::become_connected(int fd) {
  bool reconnect = false;
  {
    std::lock_guard lock(write_mu_);
    fd_ = fd;
    ++generation_;
    {
      // Subscriptions made after the handshake's SUBs were written.
      std::lock_guard subs_lock(subs_mu_);
      for (auto& [sid, sub] : subs_) {
        if (sub->sent_generation == generation_) continue;
        (void)send_all(fd, subscribe_frame(sid, *sub));
        sub->sent_generation = generation_;
      }
    }
    reconnect = ever_connected_;
    ever_connected_ = true;
    // Counted before the state shows: whoever sees kConnected sees the count that goes with it.
    if (reconnect) reconnects_.fetch_add(1);
    set_state(ConnectionState::kConnected);
  }
  post([this] {
    if (options_.on_state_change) options_.on_state_change(ConnectionState::kConnected);
  });
  if (!reconnect) finish_initial(Status());
}

void ConnectionImpl::teardown(const Status& reason) {
  const bool closing = stopping_.load() || !options_.reconnect.enabled;
  {
    std::lock_guard lock(write_mu_);
    fd_ = -1;
    set_state(closing ? ConnectionState::kClosed : ConnectionState::kDisconnected);
  }
  const Status lost = stopping_.load() ? Status(ErrorCode::kClosed, "connection closed")
                                       : Status(ErrorCode::kConnectionLost,
                                                "connection to NATS lost: " + reason.message());
  fail_waiters(lost);
  if (closing) end_subscriptions(lost);
  if (!stopping_.load()) report(lost);
  const auto state = closing ? ConnectionState::kClosed : ConnectionState::kDisconnected;
  post([this, state] {
    if (options_.on_state_change) options_.on_state_change(state);
  });
}

void ConnectionImpl::finish_initial(Status status) {
  {
    std::lock_guard lock(initial_mu_);
    if (initial_done_) return;
    initial_done_ = true;
    initial_status_ = std::move(status);
  }
  initial_cv_.notify_all();
}

void ConnectionImpl::fail_waiters(const Status& reason) {
  std::deque<std::shared_ptr<std::promise<Status>>> pongs;
  {
    std::lock_guard lock(pong_mu_);
    pongs.swap(pongs_);
  }
  for (auto& waiter : pongs)
    if (waiter) waiter->set_value(reason);
  {
    // Fetches: the server that held their pull requests is gone, nothing more comes to them.
    std::lock_guard lock(subs_mu_);
    for (auto& [sid, sub] : subs_)
      if (sub->slot) sub->slot->fail(reason);
  }
  std::lock_guard lock(replies_mu_);
  for (auto& [token, slot] : replies_)
    slot->fail(reason);
}

void ConnectionImpl::end_subscriptions(const Status& reason) {
  std::lock_guard lock(subs_mu_);
  for (auto& [sid, sub] : subs_) {
    {
      std::lock_guard sub_lock(sub->mu);
      if (sub->ended) continue;
      sub->ended = true;
      sub->end_reason = reason;
    }
    sub->cv.notify_all();
  }
}

void ConnectionImpl::route(ServerOp& op) {
  std::shared_ptr<SubscriptionState> sub;
  bool last = false;
  {
    std::lock_guard lock(subs_mu_);
    const auto it = subs_.find(op.sid);
    if (it == subs_.end()) return;  // unsubscribed a moment ago
    sub = it->second;
    if (!sub->internal && !sub->slot) {
      const std::uint64_t n = sub->delivered.fetch_add(1) + 1;
      if (sub->max > 0 && n >= sub->max) {
        subs_.erase(it);
        last = true;
      }
    }
  }
  if (sub->slot) {
    sub->slot->push(std::move(op.message));
    return;
  }
  if (!sub->internal) {
    deliver(sub, std::move(op.message), last);
    return;
  }
  const std::string_view subject = op.message.subject;
  if (subject.size() <= inbox_prefix_.size() + 1 ||
      subject.compare(0, inbox_prefix_.size(), inbox_prefix_) != 0)
    return;
  const std::string_view token_text = subject.substr(inbox_prefix_.size() + 1);
  std::uint64_t token = 0;
  const auto [end, ec] =
      std::from_chars(token_text.data(), token_text.data() + token_text.size(), token);
  if (ec != std::errc() || end != token_text.data() + token_text.size()) return;
  std::shared_ptr<ReplySlot> slot;
  {
    std::lock_guard lock(replies_mu_);
    const auto it = replies_.find(token);
    if (it == replies_.end()) return;  // a late reply: its caller gave up
    slot = it->second;
  }
  slot->push(std::move(op.message));
}

void ConnectionImpl::deliver(const std::shared_ptr<SubscriptionState>& sub, Message&& message,
                             bool last) {
  if (sub->cancelled.load()) return;
  bool queue_it = true;
  if (sub->queued.load() >= options_.max_pending_messages) {
    queue_it = false;
    sub->dropped.fetch_add(1);
    if (!sub->slow.exchange(true)) {
      report(Status(ErrorCode::kSlowConsumer,
                    "subscription to '" + sub->subject + "' fell behind: dropping messages (" +
                        std::to_string(options_.max_pending_messages) + " pending)"));
    }
  }
  if (sub->handler) {
    if (!queue_it) return;
    sub->queued.fetch_add(1);
    post([sub, m = std::move(message)]() mutable {
      if (sub->queued.fetch_sub(1) == 1) sub->slow.store(false);
      if (sub->cancelled.load()) return;
      std::lock_guard lock(sub->handler_mu);
      if (sub->cancelled.load()) return;
      sub->handler(std::move(m));
    });
    return;
  }
  {
    std::lock_guard lock(sub->mu);
    if (queue_it) {
      sub->queued.fetch_add(1);
      sub->messages.push_back(std::move(message));
    }
    if (last && !sub->ended) {
      sub->ended = true;
      sub->end_reason = Status(ErrorCode::kClosed, "subscription to '" + sub->subject +
                                                       "' reached its limit of " +
                                                       std::to_string(sub->max) + " messages");
    }
  }
  sub->cv.notify_all();
}

}  // namespace kubefn::nats::detail
