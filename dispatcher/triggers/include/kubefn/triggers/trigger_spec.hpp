// A Function's event triggers (spec.triggers.schedules, .nats, .kafka) as values: what the
// controller validates (a bad trigger is a condition naming the field) and what the dispatcher
// runs. No I/O here: the broker clients and the clock live in the dispatcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kubefn/schedule/concurrency.hpp"

namespace kubefn::triggers {

using ConcurrencyPolicy = schedule::ConcurrencyPolicy;

// How failed deliveries are retried before they go to the dead-letter destination: attempt n
// (1-based) after a failure waits min(max_backoff, backoff * 2^(n-1)) with full jitter.
struct RetryPolicy {
  int max_retries = 3;  // deliveries after the first; 0 = none
  std::chrono::milliseconds backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
};

struct ScheduleTrigger {
  std::string name;
  std::string schedule;                   // cron (5 fields), @hourly-style names, @every <duration>
  std::string time_zone;                  // IANA name; empty = UTC
  std::optional<nlohmann::json> payload;  // sent as the JSON body; none: an empty body
  ConcurrencyPolicy concurrency = ConcurrencyPolicy::kAllow;
  std::optional<std::int64_t> starting_deadline_seconds;
  bool suspend = false;
  RetryPolicy retry;
};

// Where a trigger's broker settings and credentials come from: the Secret's keys, in the
// Function's namespace.
struct SecretRef {
  std::string name;  // empty: none
};

struct NatsTrigger {
  std::string name;
  std::string url;       // nats://host:port[,...]; empty: the Secret's `url`
  SecretRef secret;      // keys: url, user, password, token
  std::string stream;    // a JetStream stream that exists
  std::string subject;   // filter subject; empty: the whole stream
  std::string consumer;  // durable consumer; default kubefn-<namespace>-<function>-<name>
  std::string dead_letter_subject;  // default kubefn.deadletter.<namespace>.<function>.<name>
  int max_in_flight = 0;            // 0: the function's concurrency x its maximum replicas
  RetryPolicy retry;
};

struct KafkaTrigger {
  std::string name;
  std::string bootstrap_servers;  // host:port[,...]; empty: the Secret's `bootstrapServers`
  SecretRef secret;  // keys: bootstrapServers, ca.crt, tls.crt, tls.key, sasl.mechanism,
                     // sasl.username, sasl.password
  std::string topic;
  std::string consumer_group;       // default kubefn-<namespace>-<function>-<name>
  std::string dead_letter_topic;    // default <topic>.deadletter
  int in_flight_per_partition = 1;  // > 1 gives up per-partition order
  int max_in_flight = 0;
  RetryPolicy retry;
};

struct Triggers {
  std::vector<ScheduleTrigger> schedules;
  std::vector<NatsTrigger> nats;
  std::vector<KafkaTrigger> kafka;
  bool empty() const { return schedules.empty() && nats.empty() && kafka.empty(); }
};

// What is wrong, naming the field and what to change, e.g.
// `spec.triggers.schedules[0].schedule "61 * * * *": minute field ...`.
struct TriggerError {
  std::string message;
};

// Reads spec.triggers (the object; null or absent gives no triggers). `ns` and `function` name
// the defaults (consumer, group, dead-letter subject). The HTTP trigger is not read here.
std::variant<Triggers, TriggerError> parse_triggers(const nlohmann::json* triggers,
                                                    const std::string& ns,
                                                    const std::string& function);

// A Go-style duration ("90s", "1m30s", "500ms", "2h"): the form every trigger field takes.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace kubefn::triggers
