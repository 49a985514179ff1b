// The dispatcher: watches Functions and runs their event triggers, sending every event through
// the gateway at least once (acknowledged only after a 2xx, retried with backoff, then
// dead-lettered; nothing dropped silently). The same class runs in `kubefn up` and as the
// cluster's kubefn-dispatcher Deployment.
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/delivery/gateway_caller.hpp"
#include "kubefn/delivery/in_flight_gate.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/informer.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/telemetry/json_log.hpp"

namespace kubefn::dispatch {

struct DispatcherOptions {
  std::string field_manager = "kubefn-dispatcher";
  std::vector<std::string> namespaces;  // empty: every namespace
  // The zone files schedules are read with.
  std::string zone_directory = "/usr/share/zoneinfo";
  // Asynchronous calls: the NATS server(s) of the gateway's call queue (nats://host:port[,...])
  // and their credentials. Empty: no asynchronous calls run here.
  std::string async_nats_url;
  std::string async_nats_user, async_nats_password, async_nats_token;
};

// What a queue trigger's source holds for its function, as last measured: NATS, the
// consumer's messages not delivered plus those delivered and not acknowledged (every 2 s);
// Kafka, the consumer group's lag over the topic's partitions (every 5 s).
struct Backlog {
  std::string ns;
  std::string function;
  std::string trigger;
  double pending = 0;
  kube::Clock::TimePoint updated;  // when it was measured, on the dispatcher's clock
};

class TriggerRunner;
struct Context;

class Dispatcher {
 public:
  Dispatcher(kube::KubeClient& client, kube::Clock& clock, controller::EventRecorder& events,
             delivery::FunctionCaller& caller, prometheus::Registry& registry,
             DispatcherOptions options);
  ~Dispatcher();  // stops every trigger and joins
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  void stop();

  // The first list of Functions has been seen.
  bool synced() const;
  // Triggers running now (for tests and logs).
  std::size_t running_triggers() const;
  // The backlog of every running queue trigger that has measured one (from any thread); a
  // trigger that stops leaves it.
  std::vector<Backlog> backlog() const;

 private:
  void work();
  void sync(const std::string& key, const nlohmann::json* function);

  const DispatcherOptions options_;
  std::unique_ptr<telemetry::LineWriter> log_;
  std::unique_ptr<Context> ctx_;
  std::vector<std::unique_ptr<kube::Informer>> informers_;  // one per namespace watched

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  // Functions changed since the worker last looked, by ns/name (null: deleted).
  std::map<std::string, std::optional<nlohmann::json>> changed_;
  std::thread worker_;

  // The worker's own (only it touches them).
  struct Running {
    std::string spec;  // what the runner was made from: a change restarts it
    std::unique_ptr<TriggerRunner> runner;
  };
  std::map<std::string, Running> running_;  // by ns/name/trigger
  std::atomic<std::size_t> running_count_{0};
  std::map<std::string, std::shared_ptr<delivery::InFlightGate>> gates_;  // by ns/name
  std::map<std::string, std::string> synced_;  // by ns/name: the uid/generation last run
};

}  // namespace kubefn::dispatch
