// A connection to a NATS server (or one of several): publish, subscribe, request/reply, and
// reconnecting by itself when the connection drops. See README.md for the threading model.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kubefn/nats/message.hpp"
#include "kubefn/nats/protocol.hpp"
#include "kubefn/nats/status.hpp"

namespace kubefn::nats {

namespace detail {
class ConnectionImpl;
struct SubscriptionState;
}  // namespace detail

enum class ConnectionState {
  kConnecting,    // the first connect is under way
  kConnected,     // handshake done: calls go to the server
  kDisconnected,  // the connection dropped; reconnecting; calls fail with kDisconnected
  kClosed,        // close() was called or reconnecting gave up; calls fail with kClosed
};
std::string_view to_string(ConnectionState state);

// Delays between failed connect attempts: initial_delay doubled after each failure up to
// max_delay, each multiplied by a random factor in [1 - jitter, 1 + jitter] so that many clients
// of a restarted server do not come back in step. A drop is followed by one immediate attempt.
struct ReconnectPolicy {
  bool enabled = true;
  std::chrono::milliseconds initial_delay{100};
  std::chrono::milliseconds max_delay{5000};
  double jitter = 0.2;
  // Consecutive failed attempts before giving up (the connection is then kClosed); -1: never.
  int max_attempts = -1;
};

struct Options {
  // One or more comma-separated nats://[user:pass@]host[:port] URLs, tried in turn.
  std::string url = "nats://127.0.0.1:4222";
  // Used for a server whose URL carries no credentials.
  std::string user;
  std::string password;
  std::string token;
  std::string name = "kubefn";  // shown by the server's monitoring
  // TCP connect plus handshake (INFO, CONNECT, PING/PONG) for one attempt.
  std::chrono::milliseconds connect_timeout{2000};
  // A PING is sent after this long; when max_pings_outstanding of them are unanswered the server
  // is taken for dead and the connection is dropped (and reconnected).
  std::chrono::milliseconds ping_interval{20000};
  int max_pings_outstanding = 2;
  // A write blocked this long (the server stopped reading) drops the connection.
  std::chrono::milliseconds write_timeout{5000};
  ReconnectPolicy reconnect;
  // Messages a subscription holds that its handler or next() has not taken yet; beyond it
  // new ones are dropped, counted in Subscription::dropped() and reported as kSlowConsumer.
  std::size_t max_pending_messages = 65536;
  // Called on the connection's callback thread (see README.md), in order.
  std::function<void(ConnectionState)> on_state_change;
  // Errors nobody's call returns: a -ERR, a failed reconnect attempt, a slow consumer.
  std::function<void(const Status&)> on_async_error;
};

// Handlers run on the connection's callback thread, one at a time, in the order the messages
// arrived. A handler may publish, request and ack on the same connection; it must not destroy
// the connection.
using MessageHandler = std::function<void(Message&&)>;

// An interest in a subject, given up when destroyed (or by unsubscribe()).
class Subscription {
 public:
  Subscription() = default;
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  // Idempotent. Called from anywhere but the callback thread, it returns once the handler is
  // not running, and it never runs again.
  void unsubscribe();
  // Ends the subscription after `max` messages in total (those received so far included).
  Status auto_unsubscribe(std::uint64_t max);
  // The next message of a subscribe_sync() subscription: kTimeout when none came in time,
  // kClosed when the subscription or its connection ended.
  Result<Message> next(std::chrono::milliseconds timeout);

  bool valid() const { return state_ != nullptr; }
  const std::string& subject() const;
  std::uint64_t delivered() const;
  std::uint64_t dropped() const;

 private:
  friend class Connection;
  Subscription(std::weak_ptr<detail::ConnectionImpl> connection,
               std::shared_ptr<detail::SubscriptionState> state);
  std::weak_ptr<detail::ConnectionImpl> connection_;
  std::shared_ptr<detail::SubscriptionState> state_;
};

class Connection {
 public:
  // Connects to the first server that answers (each URL tried once) and completes the
  // handshake; then reconnects by itself. kAuthorization for refused credentials,
  // kConnectionFailed when no server answered, kInvalidArgument for bad options.
  static Result<Connection> connect(Options options);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();  // close()

  // Stops reconnecting, closes the socket, fails calls in flight with kClosed, runs the last
  // callbacks (kClosed among them) and joins the connection's threads. Idempotent; must not be
  // called from a handler or callback of this connection.
  void close();

  ConnectionState state() const;
  // Until connected (true), or closed or `timeout` passed (false).
  bool wait_connected(std::chrono::milliseconds timeout) const;
  // The INFO of the server connected to (or last connected to).
  ServerInfo server_info() const;
  std::int64_t max_payload() const;
  // Successful reconnects since connect().
  std::uint64_t reconnects() const;

  // Fire and forget: ok means the bytes went to the socket. kDisconnected while reconnecting
  // (nothing is buffered for later), kMaxPayload when too large, kInvalidArgument for a bad
  // subject or header.
  Status publish(std::string_view subject, std::string_view data);
  Status publish(const Message& message);

  // Publishes with a reply subject on this connection's inbox and waits for the first reply.
  // kNoResponders when nobody subscribes, kTimeout, kConnectionLost when the connection drops
  // while waiting, kDisconnected when not connected. message.reply is ignored.
  Result<Message> request(std::string_view subject, std::string_view data,
                          std::chrono::milliseconds timeout);
  Result<Message> request(const Message& message, std::chrono::milliseconds timeout);

  // Messages on `subject` (wildcards allowed) go to `handler` on the callback thread; with a
  // `queue` group each message goes to one member of the group. Works while disconnected: the
  // interest is sent (again) on every (re)connect.
  Result<Subscription> subscribe(std::string_view subject, MessageHandler handler,
                                 std::string_view queue = {});
  // The same, with messages taken by Subscription::next().
  Result<Subscription> subscribe_sync(std::string_view subject, std::string_view queue = {});

  // A PING answered: everything sent before it has been processed by the server.
  Status flush(std::chrono::milliseconds timeout);

 private:
  friend class JetStream;
  explicit Connection(std::shared_ptr<detail::ConnectionImpl> impl);
  std::shared_ptr<detail::ConnectionImpl> impl_;
};

}  // namespace kubefn::nats
