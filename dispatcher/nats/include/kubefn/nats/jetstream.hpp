// JetStream over a Connection: streams, durable pull consumers, publishing with a PubAck, pulling
// batches, and reading the last message of a subject.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream_api.hpp"
#include "kubefn/nats/js_message.hpp"
#include "kubefn/nats/message.hpp"
#include "kubefn/nats/status.hpp"

namespace kubefn::nats {

struct JetStreamOptions {
  // "$JS.API"; for a JetStream domain "$JS.<domain>.API".
  std::string api_prefix = "$JS.API";
  // For every API call and publish that gives no timeout of its own.
  std::chrono::milliseconds timeout{5000};
  // A publish answered "no responders" (no stream took the subject) is tried again this many
  // times, this long apart: a stream is briefly absent while its server restarts.
  int publish_retries = 2;
  std::chrono::milliseconds publish_retry_wait{250};
};

struct PublishOptions {
  // Nats-Msg-Id: a second message with the same id within the stream's duplicate window is not
  // stored again and its PubAck says duplicate. Empty: none.
  std::string msg_id;
  // Nats-Expected-Stream: refused unless the subject belongs to this stream.
  std::string expected_stream;
  Headers headers;
  std::chrono::milliseconds timeout{0};  // 0: JetStreamOptions::timeout
};

// Holds the connection's state, not the Connection: calls after the Connection is closed or
// destroyed fail with kClosed. Copyable; usable from any thread.
class JetStream {
 public:
  explicit JetStream(const Connection& connection, JetStreamOptions options = {});

  // Creates the stream, or updates it when it exists with another configuration.
  Result<StreamInfo> create_or_update_stream(const StreamConfig& config);
  Result<StreamInfo> stream_info(std::string_view stream);
  Status delete_stream(std::string_view stream);
  Status purge_stream(std::string_view stream);

  // Creates the durable pull consumer `config.durable_name`, or updates the fields the server
  // lets change (ack_wait, max_deliver, max_ack_pending, backoff, description, ...).
  Result<ConsumerInfo> create_or_update_consumer(std::string_view stream,
                                                 const ConsumerConfig& config);
  Result<ConsumerInfo> consumer_info(std::string_view stream, std::string_view consumer);
  Status delete_consumer(std::string_view stream, std::string_view consumer);

  // Publishes and waits for the stream's PubAck. kNoResponders: no stream took the subject
  // (after JetStreamOptions::publish_retries).
  // kJetStream: the stream refused it (server_code() and js_err_code() say why).
  Result<PubAck> publish(std::string_view subject, std::string_view data,
                         const PublishOptions& options = {});
  Result<PubAck> publish(const Message& message, const PublishOptions& options = {});

  // One pull request for up to `batch` messages that waits at most `expires` on the server:
  // returns when `batch` messages came, or the server ended the request (408 at expiry, 404),
  // with what came by then (possibly none). kConflict (409) when the server refused or ended
  // it before any message (consumer deleted, leadership change, too many waiting requests),
  // kInvalidArgument for batch < 1 or expires < 1 ms. The client waits expires + 1 s at most.
  Result<std::vector<JsMessage>> fetch(std::string_view stream, std::string_view consumer,
                                       int batch, std::chrono::milliseconds expires);
  // The same, handing each message to `on_message` on the calling thread as it arrives (so
  // that work starts before the batch is full). Returns how many were handed over.
  Result<int> fetch_each(std::string_view stream, std::string_view consumer, int batch,
                         std::chrono::milliseconds expires,
                         const std::function<void(JsMessage&&)>& on_message);

  // The last message stored on `subject` in `stream` (STREAM.MSG.GET last_by_subj): a small
  // key-value lookup. is_not_found() when there is none.
  Result<StoredMessage> get_last_message(std::string_view stream, std::string_view subject);

 private:
  Result<std::string> api(const std::string& subject_suffix, std::string_view body);
  std::shared_ptr<detail::ConnectionImpl> connection_;
  JetStreamOptions options_;
};

}  // namespace kubefn::nats
