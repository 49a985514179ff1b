#include "kubefn/nats/connection.hpp"

#include "connection_impl.hpp"

namespace kubefn::nats {

std::string_view to_string(ConnectionState state) {
  switch (state) {
    case ConnectionState::kConnecting:
      return "connecting";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kDisconnected:
      return "disconnected";
    case ConnectionState::kClosed:
      return "closed";
  }
  return "unknown";
}

// ---- Subscription -------------------------------------------------------------------------

Subscription::Subscription(std::weak_ptr<detail::ConnectionImpl> connection,
                           std::shared_ptr<detail::SubscriptionState> state)
    : connection_(std::move(connection)), state_(std::move(state)) {}

Subscription::Subscription(Subscription&& other) noexcept
    : connection_(std::move(other.connection_)), state_(std::move(other.state_)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    unsubscribe();
    connection_ = std::move(other.connection_);
    state_ = std::move(other.state_);
  }
  return *this;
}

Subscription::~Subscription() {
  unsubscribe();
}

void Subscription::unsubscribe() {
  if (!state_) return;
  if (auto connection = connection_.lock()) {
    connection->unsubscribe(*state_);
  } else {
    state_->cancelled.store(true);
  }
  state_.reset();
}

Status Subscription::auto_unsubscribe(std::uint64_t max) {
  if (!state_) return Status(ErrorCode::kClosed, "no subscription");
  auto connection = connection_.lock();
  if (!connection) return Status(ErrorCode::kClosed, "connection closed");
  return connection->auto_unsubscribe(*state_, max);
}

Result<Message> Subscription::next(std::chrono::milliseconds timeout) {
  if (!state_) return Status(ErrorCode::kClosed, "no subscription");
  if (state_->handler)
    return Status(ErrorCode::kInvalidArgument, "next() on a subscription with a handler");
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] { return !state_->messages.empty() || state_->ended; });
  if (!state_->messages.empty()) {
    Message m = std::move(state_->messages.front());
    state_->messages.pop_front();
    if (state_->queued.fetch_sub(1) == 1) state_->slow.store(false);
    return m;
  }
  if (state_->ended) return state_->end_reason;
  return Status(ErrorCode::kTimeout, "no message on '" + state_->subject + "' within " +
                                         std::to_string(timeout.count()) + " ms");
}

const std::string& Subscription::subject() const {
  static const std::string kNone;
  return state_ ? state_->subject : kNone;
}

std::uint64_t Subscription::delivered() const {
  return state_ ? state_->delivered.load() : 0;
}
std::uint64_t Subscription::dropped() const {
  return state_ ? state_->dropped.load() : 0;
}

// ---- Connection ---------------------------------------------------------------------------

Result<Connection> Connection::connect(Options options) {
  auto servers = parse_server_urls(options.url);
  if (!servers.ok()) return servers.status();
  const auto positive = [](std::chrono::milliseconds d) { return d.count() > 0; };
  if (!positive(options.connect_timeout) || !positive(options.ping_interval) ||
      !positive(options.write_timeout) || options.max_pings_outstanding < 1) {
    return Status(ErrorCode::kInvalidArgument,
                  "connect_timeout, ping_interval and write_timeout must be > 0 and "
                  "max_pings_outstanding >= 1");
  }
  if (options.reconnect.initial_delay.count() < 0 ||
      options.reconnect.max_delay < options.reconnect.initial_delay) {
    return Status(ErrorCode::kInvalidArgument, "reconnect delays: need 0 <= initial <= max");
  }
  if (options.max_pending_messages == 0)
    return Status(ErrorCode::kInvalidArgument, "max_pending_messages must be > 0");
  auto impl = std::make_shared<detail::ConnectionImpl>(std::move(options), std::move(*servers));
  if (Status st = impl->start(); !st.ok()) return st;
  return Connection(std::move(impl));
}

Connection::Connection(std::shared_ptr<detail::ConnectionImpl> impl) : impl_(std::move(impl)) {}
Connection::Connection(Connection&&) noexcept = default;

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

Connection::~Connection() {
  close();
}

void Connection::close() {
  if (impl_) impl_->close();
}

namespace {
Status closed_connection() {
  return Status(ErrorCode::kClosed, "connection closed");
}
}  // namespace

ConnectionState Connection::state() const {
  return impl_ ? impl_->state() : ConnectionState::kClosed;
}

bool Connection::wait_connected(std::chrono::milliseconds timeout) const {
  return impl_ && impl_->wait_connected(timeout);
}

ServerInfo Connection::server_info() const {
  return impl_ ? impl_->server_info() : ServerInfo{};
}
std::int64_t Connection::max_payload() const {
  return impl_ ? impl_->max_payload() : 0;
}
std::uint64_t Connection::reconnects() const {
  return impl_ ? impl_->reconnects() : 0;
}

Status Connection::publish(std::string_view subject, std::string_view data) {
  Message m;
  m.subject = std::string(subject);
  m.data = std::string(data);
  return publish(m);
}

Status Connection::publish(const Message& message) {
  return impl_ ? impl_->publish(message) : closed_connection();
}

Result<Message> Connection::request(std::string_view subject, std::string_view data,
                                    std::chrono::milliseconds timeout) {
  Message m;
  m.subject = std::string(subject);
  m.data = std::string(data);
  return request(m, timeout);
}

Result<Message> Connection::request(const Message& message, std::chrono::milliseconds timeout) {
  if (!impl_) return closed_connection();
  return impl_->request(message, timeout);
}

Result<Subscription> Connection::subscribe(std::string_view subject, MessageHandler handler,
                                           std::string_view queue) {
  if (!impl_) return closed_connection();
  if (!handler) return Status(ErrorCode::kInvalidArgument, "subscribe needs a handler");
  auto state = impl_->subscribe(subject, queue, std::move(handler));
  if (!state.ok()) return state.status();
  return Subscription(impl_, std::move(*state));
}

Result<Subscription> Connection::subscribe_sync(std::string_view subject, std::string_view queue) {
  if (!impl_) return closed_connection();
  auto state = impl_->subscribe(subject, queue, nullptr);
  if (!state.ok()) return state.status();
  return Subscription(impl_, std::move(*state));
}

Status Connection::flush(std::chrono::milliseconds timeout) {
  return impl_ ? impl_->flush(timeout) : closed_connection();
}
}  // namespace kubefn::nats
