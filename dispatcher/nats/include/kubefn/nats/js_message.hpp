// A message pulled from a JetStream consumer: the message, where it stands in its stream and
// consumer (from its $JS.ACK reply subject), and the acknowledgements that settle it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "kubefn/nats/message.hpp"
#include "kubefn/nats/status.hpp"

namespace kubefn::nats {

namespace detail {
class ConnectionImpl;
}

// Parsed from $JS.ACK.<stream>.<consumer>.<delivered>.<stream_seq>.<consumer_seq>.<time>.<pending>
// (9 tokens) or $JS.ACK.<domain>.<account_hash>.<stream>.<consumer>.<delivered>.<stream_seq>.
// <consumer_seq>.<time>.<pending>[.<token>...] (11 or more; domain "_" means none).
struct JsMetadata {
  std::string domain;
  std::string account_hash;
  std::string stream;
  std::string consumer;
  std::uint64_t num_delivered = 0;  // 1 on the first delivery
  std::uint64_t stream_sequence = 0;
  std::uint64_t consumer_sequence = 0;
  std::int64_t timestamp_ns = 0;  // when the stream stored it, Unix nanoseconds
  std::uint64_t num_pending = 0;  // left to deliver after this one
  std::chrono::system_clock::time_point timestamp() const;
};

// kInvalidArgument when `reply` is not an ack subject of either form.
Result<JsMetadata> parse_ack_subject(std::string_view reply);

class JsMessage {
 public:
  JsMessage(Message message, JsMetadata metadata, std::weak_ptr<detail::ConnectionImpl> connection);

  const Message& message() const { return message_; }
  const std::string& subject() const { return message_.subject; }
  const Headers& headers() const { return message_.headers; }
  const std::string& data() const { return message_.data; }
  const JsMetadata& metadata() const { return metadata_; }

  // Done: never delivered again. Fire and forget: lost if the connection drops before the
  // server reads it (then the message comes again after ack_wait).
  Status ack();
  // Done, and waits until the server confirms it recorded the ack (a "double ack"): ok means
  // the message will not be delivered again. kTimeout or kConnectionLost: it may be.
  Status ack_sync(std::chrono::milliseconds timeout);
  // Not done: deliver it again after `delay` (0: now). Counts against max_deliver.
  Status nak(std::chrono::nanoseconds delay = std::chrono::nanoseconds{0});
  // Never deliver it again, without it being done (a poison message).
  Status term();
  // Still working on it: ack_wait starts again.
  Status in_progress();

 private:
  Status send(std::string_view body);

  Message message_;
  JsMetadata metadata_;
  std::weak_ptr<detail::ConnectionImpl> connection_;
};

}  // namespace kubefn::nats
