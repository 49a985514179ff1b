// The state behind a Connection: lifecycle, the calls of any thread, the callback thread.
#include "connection_impl.hpp"

#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>

namespace kubefn::nats::detail {
namespace {

std::string random_token(std::mt19937_64& rng, std::size_t n) {
  static constexpr std::string_view kAlphabet =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    out += kAlphabet[pick(rng)];
  return out;
}

}  // namespace

void ReplySlot::push(Message message) {
  {
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(message));
  }
  cv_.notify_all();
}

void ReplySlot::fail(Status status) {
  {
    std::lock_guard lock(mu_);
    if (failure_.ok()) failure_ = std::move(status);
  }
  cv_.notify_all();
}

Result<Message> ReplySlot::next(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return !messages_.empty() || !failure_.ok(); });
  if (!messages_.empty()) {
    Message m = std::move(messages_.front());
    messages_.pop_front();
    return m;
  }
  if (!failure_.ok()) return failure_;
  return Status(ErrorCode::kTimeout, "no reply in time");
}

ConnectionImpl::ConnectionImpl(Options options, std::vector<ServerAddress> servers)
    : options_(std::move(options)), servers_(std::move(servers)), rng_(std::random_device{}()) {
  inbox_prefix_ = "_INBOX." + random_token(rng_, 22);
  fetch_prefix_ = inbox_prefix_ + "F";  // not matched by the inbox's <prefix>.*
  inbox_sub_ = std::make_shared<SubscriptionState>();
  inbox_sub_->sid = next_sid_++;
  inbox_sub_->subject = inbox_prefix_ + ".*";
  inbox_sub_->internal = true;
  subs_[inbox_sub_->sid] = inbox_sub_;
}

ConnectionImpl::~ConnectionImpl() {
  close();
}

Status ConnectionImpl::start() {
  callbacks_ = std::thread([this] { callback_main(); });
  callback_thread_id_ = callbacks_.get_id();
  reader_ = std::thread([this] { reader_main(); });
  Status status;
  {
    std::unique_lock lock(initial_mu_);
    initial_cv_.wait(lock, [&] { return initial_done_; });
    status = initial_status_;
  }
  if (status.ok()) return status;
  // Nobody holds this connection: stop quietly, with no callback for a state nobody saw.
  {
    std::lock_guard lock(close_mu_);
    closed_ = true;
  }
  reader_.join();
  {
    std::lock_guard lock(cb_mu_);
    tasks_.clear();
    cb_stop_ = true;
  }
  cb_cv_.notify_all();
  callbacks_.join();
  return status;
}

void ConnectionImpl::close() {
  {
    std::lock_guard lock(close_mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (on_callback_thread()) {
    std::fprintf(stderr, "kubefn::nats: a Connection was closed from its own callback thread\n");
    std::abort();
  }
  stopping_.store(true);
  wake_.wake();
  { std::lock_guard lock(stop_mu_); }
  stop_cv_.notify_all();
  if (reader_.joinable()) reader_.join();
  bool already_closed = false;
  {
    std::lock_guard lock(write_mu_);
    already_closed = state_.load() == ConnectionState::kClosed;
    fd_ = -1;
    set_state(ConnectionState::kClosed);
  }
  const Status closed(ErrorCode::kClosed, "connection closed");
  fail_waiters(closed);
  end_subscriptions(closed);
  if (!already_closed) {
    post([this] {
      if (options_.on_state_change) options_.on_state_change(ConnectionState::kClosed);
    });
  }
  {
    std::lock_guard lock(cb_mu_);
    cb_stop_ = true;
  }
  cb_cv_.notify_all();
  if (callbacks_.joinable()) callbacks_.join();
}

bool ConnectionImpl::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_mu_);
  state_cv_.wait_for(lock, timeout, [&] {
    const auto s = state_.load();
    return s == ConnectionState::kConnected || s == ConnectionState::kClosed;
  });
  return state_.load() == ConnectionState::kConnected;
}

ServerInfo ConnectionImpl::server_info() const {
  std::lock_guard lock(info_mu_);
  return info_;
}

void ConnectionImpl::set_state(ConnectionState state) {
  {
    std::lock_guard lock(state_mu_);
    state_.store(state);
  }
  state_cv_.notify_all();
}

// ---- calls from any thread ----------------------------------------------------------------

Status ConnectionImpl::not_connected() const {
  if (state_.load() == ConnectionState::kClosed)
    return Status(ErrorCode::kClosed, "connection closed");
  return Status(ErrorCode::kDisconnected, "not connected to NATS (reconnecting)");
}

Status ConnectionImpl::write(std::string_view frame) {
  std::lock_guard lock(write_mu_);
  return write_locked(frame);
}

Status ConnectionImpl::write_locked(std::string_view frame) {
  if (state_.load() != ConnectionState::kConnected || fd_ < 0) return not_connected();
  Status st = send_all(fd_, frame);
  if (st.ok()) return st;
  // The reader sees the shut socket, tears the connection down and reconnects.
  ::shutdown(fd_, SHUT_RDWR);
  return Status(ErrorCode::kConnectionLost, "connection to NATS lost: " + st.message());
}

Status ConnectionImpl::publish(const Message& message) {
  if (!message.headers.empty() && state_.load() == ConnectionState::kConnected &&
      !server_headers_.load()) {
    return Status(ErrorCode::kUnsupported, "the server does not support message headers");
  }
  auto frame = encode_publish(message, max_payload_.load());
  if (!frame.ok()) return frame.status();
  return write(*frame);
}

Result<Message> ConnectionImpl::request(const Message& message, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Reply reply = open_reply();
  Message out = message;
  out.reply = reply.subject;
  if (Status st = publish(out); !st.ok()) {
    close_reply(reply.token);
    return st;
  }
  auto answer = reply.slot->next(deadline);
  close_reply(reply.token);
  if (!answer.ok()) {
    if (answer.status().code() == ErrorCode::kTimeout) {
      return Status(ErrorCode::kTimeout,
                    "no reply on '" + message.subject + "' within " + ms_text(timeout));
    }
    return answer.status();
  }
  if (answer->status == 503) {
    return Status(ErrorCode::kNoResponders, "no responders on '" + message.subject + "'")
        .set_server_code(503);
  }
  return answer;
}

Status ConnectionImpl::flush(std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<std::promise<Status>>();
  auto done = waiter->get_future();
  {
    std::lock_guard lock(write_mu_);
    if (state_.load() != ConnectionState::kConnected) return not_connected();
    {
      std::lock_guard pong_lock(pong_mu_);
      pongs_.push_back(waiter);
    }
    if (Status st = write_locked(kPing); !st.ok()) return st;
  }
  if (done.wait_for(timeout) != std::future_status::ready)
    return Status(ErrorCode::kTimeout, "no PONG within " + ms_text(timeout));
  return done.get();
}

Result<std::shared_ptr<SubscriptionState>> ConnectionImpl::subscribe(std::string_view subject,
                                                                     std::string_view queue,
                                                                     MessageHandler handler) {
  if (Status st = validate_subject(subject, true); !st.ok()) return st;
  if (Status st = validate_queue_group(queue); !st.ok()) return st;
  auto sub = std::make_shared<SubscriptionState>();
  sub->subject = std::string(subject);
  sub->queue = std::string(queue);
  sub->handler = std::move(handler);
  std::lock_guard lock(write_mu_);
  if (state_.load() == ConnectionState::kClosed) return not_connected();
  {
    std::lock_guard subs_lock(subs_mu_);
    sub->sid = next_sid_++;
    subs_[sub->sid] = sub;
  }
  // While disconnected the interest is sent by the next handshake. A failed write drops the
  // connection, and the handshake after it sends it as well.
  if (state_.load() == ConnectionState::kConnected &&
      write_locked(encode_subscribe(sub->subject, sub->queue, sub->sid)).ok()) {
    sub->sent_generation = generation_;
  }
  return sub;
}

void ConnectionImpl::unsubscribe(SubscriptionState& sub) {
  sub.cancelled.store(true);
  {
    std::lock_guard lock(write_mu_);
    bool removed = false;
    {
      std::lock_guard subs_lock(subs_mu_);
      removed = subs_.erase(sub.sid) > 0;
    }
    if (removed && state_.load() == ConnectionState::kConnected)
      (void)write_locked(encode_unsubscribe(sub.sid));
  }
  {
    std::lock_guard lock(sub.mu);
    if (!sub.ended) {
      sub.ended = true;
      sub.end_reason = Status(ErrorCode::kClosed, "unsubscribed from '" + sub.subject + "'");
    }
  }
  sub.cv.notify_all();
  // Wait for a handler that is running now (on the callback thread the caller is that handler).
  if (!on_callback_thread()) {
    std::lock_guard wait_for_handler(sub.handler_mu);
  }
}

Status ConnectionImpl::auto_unsubscribe(SubscriptionState& sub, std::uint64_t max) {
  if (max == 0) return Status(ErrorCode::kInvalidArgument, "auto_unsubscribe needs max > 0");
  bool done_already = false;
  std::lock_guard lock(write_mu_);
  {
    std::lock_guard subs_lock(subs_mu_);
    const auto it = subs_.find(sub.sid);
    if (it == subs_.end())
      return Status(ErrorCode::kClosed, "subscription to '" + sub.subject + "' has ended");
    if (sub.delivered.load() >= max) {
      subs_.erase(it);
      done_already = true;
    } else {
      sub.max = max;
    }
  }
  if (done_already) {
    {
      std::lock_guard sub_lock(sub.mu);
      sub.ended = true;
      sub.end_reason =
          Status(ErrorCode::kClosed, "subscription to '" + sub.subject + "' reached its limit of " +
                                         std::to_string(max) + " messages");
    }
    sub.cv.notify_all();
  }
  if (state_.load() != ConnectionState::kConnected) return {};  // sent with the next SUB
  return write_locked(encode_unsubscribe(sub.sid, done_already ? 0 : max));
}

ConnectionImpl::Reply ConnectionImpl::open_reply() {
  Reply reply;
  reply.slot = std::make_shared<ReplySlot>();
  std::lock_guard lock(replies_mu_);
  reply.token = next_token_++;
  reply.subject = inbox_prefix_ + "." + std::to_string(reply.token);
  replies_[reply.token] = reply.slot;
  return reply;
}

void ConnectionImpl::close_reply(std::uint64_t token) {
  std::lock_guard lock(replies_mu_);
  replies_.erase(token);
}

Result<ConnectionImpl::Inbox> ConnectionImpl::open_inbox() {
  auto sub = std::make_shared<SubscriptionState>();
  sub->slot = std::make_shared<ReplySlot>();
  std::lock_guard lock(write_mu_);
  if (state_.load() != ConnectionState::kConnected) return not_connected();
  {
    std::lock_guard subs_lock(subs_mu_);
    sub->sid = next_sid_++;
    sub->subject = fetch_prefix_ + "." + std::to_string(sub->sid);
    subs_[sub->sid] = sub;
  }
  if (Status st = write_locked(encode_subscribe(sub->subject, "", sub->sid)); !st.ok()) {
    std::lock_guard subs_lock(subs_mu_);
    subs_.erase(sub->sid);
    return st;
  }
  sub->sent_generation = generation_;
  return Inbox{sub->sid, sub->subject, sub->slot};
}

void ConnectionImpl::close_inbox(std::uint64_t sid) {
  std::lock_guard lock(write_mu_);
  bool removed = false;
  {
    std::lock_guard subs_lock(subs_mu_);
    removed = subs_.erase(sid) > 0;
  }
  if (removed && state_.load() == ConnectionState::kConnected)
    (void)write_locked(encode_unsubscribe(sid));
}

// ---- the callback thread ------------------------------------------------------------------

void ConnectionImpl::callback_main() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(cb_mu_);
      cb_cv_.wait(lock, [&] { return cb_stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    // User code: an exception must not end the thread every later callback depends on.
    try {
      task();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kubefn::nats: a callback threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "kubefn::nats: a callback threw\n");
    }
  }
}

void ConnectionImpl::post(std::function<void()> task) {
  {
    std::lock_guard lock(cb_mu_);
    if (cb_stop_) return;
    tasks_.push_back(std::move(task));
  }
  cb_cv_.notify_one();
}

void ConnectionImpl::report(Status error) {
  if (!options_.on_async_error) return;
  post([this, error = std::move(error)] { options_.on_async_error(error); });
}

bool ConnectionImpl::on_callback_thread() const {
  return std::this_thread::get_id() == callback_thread_id_;
}

}  // namespace kubefn::nats::detail
