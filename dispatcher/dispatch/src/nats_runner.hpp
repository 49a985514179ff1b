// One NATS JetStream trigger: a durable pull consumer on the trigger's stream, each message
// delivered through the gateway and acknowledged (a double ack, confirmed by the server) only
// after a 2xx; a failure is NAKed with the backoff as its delay, so the retry waits in the
// broker and survives a restart; after maxRetries the message is published to the dead-letter
// subject with the failure, then acknowledged. Nothing is acknowledged that was not delivered
// or dead-lettered.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "context.hpp"
#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream.hpp"

namespace kubefn::dispatch {

struct NatsCredentials {
  std::string url;
  std::string user;
  std::string password;
  std::string token;
};

// In place of delivering messages as events (asynchronous calls use it): `prepare` runs on
// each (re)connect before the consumer is made, `handle` takes each message and must ack,
// nak or leave it as the event delivery does.
struct NatsHandling {
  std::function<nats::Status(const nats::Connection&)> prepare;
  std::function<void(nats::JsMessage& m, nats::JetStream& js, Stopper& stopper)> handle;
};

class NatsRunner final : public TriggerRunner {
 public:
  NatsRunner(Context& ctx, FunctionInfo fn, triggers::NatsTrigger trigger,
             NatsCredentials credentials, NatsHandling handling = {});
  ~NatsRunner() override;

 private:
  void loop();
  bool prepare(nats::JetStream& js, std::string& error);
  void work();
  void handle(nats::JsMessage& m);
  void report_pending(nats::JetStream& js);
  void fail(const std::string& error);
  int workers() const;

  Context& ctx_;
  const FunctionInfo fn_;
  const triggers::NatsTrigger trigger_;
  const NatsCredentials credentials_;
  const NatsHandling handling_;
  Stopper stopper_;
  std::optional<nats::Connection> connection_;
  std::optional<nats::JetStream> js_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nats::JsMessage> queue_;  // fetched, not yet taken by a worker
  int busy_ = 0;                       // workers delivering a message
  std::set<nats::JsMessage*> held_;    // being delivered: kept alive at the server (in_progress)
  bool stopping_ = false;
  std::string last_error_;
  std::vector<std::thread> workers_;
  std::thread loop_;
};

}  // namespace kubefn::dispatch
