// Produces records and waits for the broker's acknowledgement: the dead-letter topic's writer.
#pragma once

#include <chrono>
#include <memory>

#include "kubefn/kafka/client_events.hpp"
#include "kubefn/kafka/config.hpp"
#include "kubefn/kafka/message.hpp"
#include "kubefn/kafka/status.hpp"

namespace kubefn::kafka {

class Producer {
 public:
  // Destroy it only when no produce() is waiting.
  virtual ~Producer() = default;
  // Sends the record and waits until every in-sync replica has it (acks=all, idempotent: a
  // retried record is written once), or until it failed: at the latest after the config's
  // delivery_timeout, during which librdkafka retries across broker restarts. Any thread.
  virtual Result<DeliveryReport> produce(const OutgoingMessage& message) = 0;
  // Waits until every record sent is acknowledged or failed.
  virtual Status flush(std::chrono::milliseconds timeout) = 0;
};

// kInvalidConfig when librdkafka refuses the settings. `events` (optional) must outlive the
// producer.
Result<std::unique_ptr<Producer>> make_producer(const ProducerConfig& config,
                                                ClientEvents* events = nullptr);

}  // namespace kubefn::kafka
