// An event on its way to a function: the CloudEvents 1.0 attributes it is sent with (binary
// mode, ce-* headers) and Kubeless's event-* headers, so handlers written for either read it.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace kubefn::delivery {

struct Event {
  std::string id;       // ce-id and event-id: the same on every delivery of this event
  std::string source;   // ce-source, e.g. nats://ORDERS or /schedules/default/report/nightly
  std::string type;     // ce-type, e.g. dev.kubefn.nats.message
  std::string subject;  // ce-subject: the NATS subject, the Kafka partition/offset, ...
  std::chrono::system_clock::time_point time;  // ce-time and event-time: when it happened
  std::string content_type;                    // of the body; empty: none sent
  std::string body;
  // Kubeless's event-namespace: which kind of trigger, e.g. nats.triggers.kubefn.dev.
  std::string kubeless_namespace;
  // The trigger that delivers it (the gateway meters by it: kubefn-trigger).
  std::string trigger;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The request headers of one delivery: ce-*, event-*, content-type, kubefn-trigger and
// kubefn-delivery-attempt (1 for the first).
HeaderList event_headers(const Event& event, int attempt);

// RFC 3339 UTC with milliseconds, e.g. 2026-12-02T10:00:00.123Z.
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace kubefn::delivery
