// The state behind a Connection, shared with its Subscriptions, JetStream handles and pulled
// messages (which hold it weakly or after close() only to learn that it is closed).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/message.hpp"
#include "kubefn/nats/protocol.hpp"
#include "kubefn/nats/status.hpp"
#include "kubefn/nats/url.hpp"
#include "socket.hpp"

namespace kubefn::nats::detail {

using Clock = std::chrono::steady_clock;
inline constexpr std::string_view kPing = "PING\r\n";
inline constexpr std::string_view kPong = "PONG\r\n";
inline std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

class ReplySlot;

struct SubscriptionState {
  std::uint64_t sid = 0;
  std::string subject;
  std::string queue;
  MessageHandler handler;  // empty: subscribe_sync
  bool internal = false;   // the connection's inbox
  // A fetch's inbox: its messages go to this slot (they keep their own subjects, so only the
  // sid tells whose they are).
  std::shared_ptr<ReplySlot> slot;

  // Guarded by ConnectionImpl::subs_mu_.
  std::uint64_t max = 0;  // auto-unsubscribe after this many; 0: never
  // Guarded by ConnectionImpl::write_mu_: the connection generation its SUB was sent on.
  std::uint64_t sent_generation = 0;

  std::atomic<bool> cancelled{false};  // unsubscribed: nothing more is handed over
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::size_t> queued{0};  // received, not yet taken by the handler or next()
  std::atomic<bool> slow{false};       // dropping since the last report
  std::mutex handler_mu;               // held while the handler runs

  // subscribe_sync: the queue next() takes from, and why it ended.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> messages;
  bool ended = false;
  Status end_reason;
};

// The messages sent to one reply subject of the inbox, until the waiter closes it.
class ReplySlot {
 public:
  void push(Message message);
  void fail(Status status);
  // The next message (those that came before a failure first), the failure, or kTimeout.
  Result<Message> next(std::chrono::steady_clock::time_point deadline);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> messages_;
  Status failure_;
};

class ConnectionImpl : public std::enable_shared_from_this<ConnectionImpl> {
 public:
  ConnectionImpl(Options options, std::vector<ServerAddress> servers);
  ~ConnectionImpl();
  ConnectionImpl(const ConnectionImpl&) = delete;
  ConnectionImpl& operator=(const ConnectionImpl&) = delete;

  // The first connect: each server tried once. Starts the threads on success.
  Status start();
  void close();

  ConnectionState state() const { return state_.load(); }
  bool wait_connected(std::chrono::milliseconds timeout) const;
  ServerInfo server_info() const;
  std::int64_t max_payload() const { return max_payload_.load(); }
  std::uint64_t reconnects() const { return reconnects_.load(); }

  Status publish(const Message& message);
  Result<Message> request(const Message& message, std::chrono::milliseconds timeout);
  Status flush(std::chrono::milliseconds timeout);

  Result<std::shared_ptr<SubscriptionState>> subscribe(std::string_view subject,
                                                       std::string_view queue,
                                                       MessageHandler handler);
  void unsubscribe(SubscriptionState& sub);
  Status auto_unsubscribe(SubscriptionState& sub, std::uint64_t max);

  // A reply subject of the inbox and the slot its messages go to, until close_reply().
  struct Reply {
    std::uint64_t token = 0;
    std::string subject;
    std::shared_ptr<ReplySlot> slot;
  };
  Reply open_reply();
  void close_reply(std::uint64_t token);

  // A subscription of its own on a fresh inbox subject, its messages going to a slot: for
  // replies that come with other subjects (JetStream deliveries). kDisconnected when not
  // connected. Closed by close_inbox(sid).
  struct Inbox {
    std::uint64_t sid = 0;
    std::string subject;
    std::shared_ptr<ReplySlot> slot;
  };
  Result<Inbox> open_inbox();
  void close_inbox(std::uint64_t sid);

 private:
  enum class Phase { kAwaitInfo, kAwaitPong, kConnected };
  struct SessionEnd {
    bool was_connected = false;
    Status reason;
  };

  void reader_main();
  SessionEnd run_session(Fd& fd, const ServerAddress& server);
  // Handles one operation; a non-ok Status ends the session.
  Status handle(ServerOp& op, Phase& phase, int fd, const ServerAddress& server);
  Status send_handshake(int fd, const ServerAddress& server);
  void become_connected(int fd);
  static std::string subscribe_frame(std::uint64_t sid, const SubscriptionState& sub);
  void teardown(const Status& reason);
  void finish_initial(Status status);
  void set_state(ConnectionState state);  // with write_mu_ held
  void route(ServerOp& op);
  void deliver(const std::shared_ptr<SubscriptionState>& sub, Message&& message, bool last);
  void end_subscriptions(const Status& reason);
  void fail_waiters(const Status& reason);
  std::chrono::milliseconds backoff(int failures);

  Status write(std::string_view frame);
  Status write_locked(std::string_view frame);  // with write_mu_ held
  Status not_connected() const;

  void callback_main();
  void post(std::function<void()> task);
  void report(Status error);
  bool on_callback_thread() const;

  const Options options_;
  const std::vector<ServerAddress> servers_;
  std::string inbox_prefix_;  // "_INBOX.<random>", replies go to <prefix>.<token>
  std::string fetch_prefix_;  // "_INBOX.<random>F", fetches subscribe to <prefix>.<token>

  // Writes, and the state and socket they depend on. Taken before subs_mu_ and pong_mu_.
  std::mutex write_mu_;
  int fd_ = -1;                   // the connected socket, -1 otherwise (reader owns it)
  std::uint64_t generation_ = 0;  // one per successful handshake
  bool ever_connected_ = false;
  std::atomic<ConnectionState> state_{ConnectionState::kConnecting};
  mutable std::mutex state_mu_;  // for state_cv_
  mutable std::condition_variable state_cv_;

  std::mutex subs_mu_;
  std::map<std::uint64_t, std::shared_ptr<SubscriptionState>> subs_;
  std::uint64_t next_sid_ = 1;
  std::shared_ptr<SubscriptionState> inbox_sub_;

  std::mutex replies_mu_;
  std::map<std::uint64_t, std::shared_ptr<ReplySlot>> replies_;
  std::uint64_t next_token_ = 1;

  // Waiters for PONGs in the order their PINGs were written; null for the keepalive ones.
  std::mutex pong_mu_;
  std::deque<std::shared_ptr<std::promise<Status>>> pongs_;

  mutable std::mutex info_mu_;
  ServerInfo info_;
  std::atomic<std::int64_t> max_payload_{std::int64_t{1} << 20};
  std::atomic<bool> server_headers_{true};
  std::atomic<std::uint64_t> reconnects_{0};

  // The reader thread: socket, parser, reconnects.
  std::thread reader_;
  WakePipe wake_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;  // for stop_cv_, the backoff's interruptible sleep
  std::condition_variable stop_cv_;
  ProtocolParser parser_;
  std::mt19937_64 rng_;

  std::mutex initial_mu_;
  std::condition_variable initial_cv_;
  bool initial_done_ = false;
  Status initial_status_;

  // The callback thread: handlers, state changes, async errors, in order.
  std::thread callbacks_;
  std::thread::id callback_thread_id_;
  std::mutex cb_mu_;
  std::condition_variable cb_cv_;
  std::deque<std::function<void()>> tasks_;
  bool cb_stop_ = false;

  std::mutex close_mu_;
  bool closed_ = false;
};

}  // namespace kubefn::nats::detail
