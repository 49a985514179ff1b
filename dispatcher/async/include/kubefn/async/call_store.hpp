// The queue and the states of asynchronous calls on NATS JetStream: CallStore makes blocking
// calls on a connection (the dispatcher's); CallFront runs them on threads of its own and
// answers through callbacks, so that the gateway's event loops never wait on the broker.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/async/call.hpp"
#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream.hpp"

namespace kubefn::async {

// Thread-safe: every call is a JetStream request on the connection it was made with.
class CallStore {
 public:
  explicit CallStore(const nats::Connection& connection,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
  explicit CallStore(nats::JetStream js) : js_(std::move(js)) {}

  // Creates the call, state and dead-letter streams, or brings their configuration up to date.
  nats::Status ensure_streams();
  // Stores the call (Nats-Msg-Id: its id): one round trip. A call too large for the server is
  // kMaxPayload.
  nats::Status enqueue(const Call& call);
  nats::Status write_state(const CallState& state);
  // The call's last state; `queued` (from the call itself) while it waits in the queue with
  // no attempt yet. is_not_found() when neither is there (never queued, or older than a day).
  nats::Result<CallState> state(const std::string& ns, const std::string& function,
                                const std::string& id);

  // RFC 3339 UTC with milliseconds, as states write times.
  static std::string time_text(std::chrono::system_clock::time_point t);

 private:
  nats::JetStream js_;
};

// The call queue's NATS credentials as a file gives them (a mounted Secret's key): its first
// line, "USER:PASSWORD" or a token. nullopt when the file cannot be read.
struct QueueCredentials {
  std::string user, password, token;
};
std::optional<QueueCredentials> read_queue_credentials(const std::string& path);

struct CallFrontOptions {
  // One or more comma-separated nats://[user:pass@]host[:port] URLs.
  std::string url;
  std::string user, password, token;
  std::string name = "kubefn-gateway";
  int threads = 8;  // each waits on one JetStream round trip at a time
  std::chrono::milliseconds timeout{5000};
  // Requests waiting for a thread; more are answered kDisconnected at once.
  std::size_t max_waiting = 10000;
};

// Connects on first use and again after the connection is closed (a failed connect is not
// tried again for a second); the streams are ensured once per connection. Callbacks run on
// the front's threads.
class CallFront {
 public:
  explicit CallFront(CallFrontOptions options);
  ~CallFront();  // answers what waits with kClosed and joins
  CallFront(const CallFront&) = delete;
  CallFront& operator=(const CallFront&) = delete;

  void enqueue(Call call, std::function<void(nats::Status)> done);
  void lookup(std::string ns, std::string function, std::string id,
              std::function<void(nats::Result<CallState>)> done);
  // The server's max_payload once connected (0 before).
  std::int64_t max_payload() const;

 private:
  // The store, connected, with its streams; an error when the broker cannot be reached.
  nats::Result<CallStore*> store();
  void run();
  void submit(std::function<void()> task, std::function<void()> refuse);

  const CallFrontOptions options_;
  std::mutex connect_mu_;  // one connect at a time
  std::optional<nats::Connection> connection_;
  std::unique_ptr<CallStore> store_;
  std::atomic<std::int64_t> max_payload_{0};
  // After a failed connect, calls fail at once with its error for a second, so a broker
  // that is down costs each caller nothing but that answer (guarded by connect_mu_).
  std::chrono::steady_clock::time_point failed_at_{};
  nats::Status failure_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
};

}  // namespace kubefn::async
