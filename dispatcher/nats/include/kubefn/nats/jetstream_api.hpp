// The JetStream API's shapes ($JS.API.*): stream and consumer configurations and infos, the
// PubAck, a stored message, the pull request, and the JSON each is sent or received as. Pure
// functions of text, so that every mapping is tested without a server.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/nats/message.hpp"
#include "kubefn/nats/status.hpp"

namespace kubefn::nats {

enum class StorageType { kFile, kMemory };
enum class RetentionPolicy { kLimits, kInterest, kWorkQueue };
enum class DiscardPolicy { kOld, kNew };
enum class AckPolicy { kExplicit, kNone, kAll };
enum class DeliverPolicy { kAll, kLast, kNew, kByStartSequence, kLastPerSubject };

struct StreamConfig {
  std::string name;
  std::vector<std::string> subjects;
  std::string description;
  StorageType storage = StorageType::kFile;
  RetentionPolicy retention = RetentionPolicy::kLimits;
  DiscardPolicy discard = DiscardPolicy::kOld;
  std::chrono::nanoseconds max_age{0};  // 0: unlimited
  // How long a Nats-Msg-Id is remembered to drop a duplicate; 0: the server's (2 minutes).
  std::chrono::nanoseconds duplicate_window{0};
  std::int64_t max_msgs = -1;
  std::int64_t max_bytes = -1;
  std::int64_t max_msgs_per_subject = -1;
  std::int32_t max_msg_size = -1;
  int num_replicas = 1;
  bool allow_direct = false;
};

struct StreamState {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::int64_t consumer_count = 0;
};

struct StreamInfo {
  StreamConfig config;
  StreamState state;
  std::string created;  // RFC 3339, as the server wrote it
};

struct ConsumerConfig {
  // Durable: it survives a server restart and the clients that pull from it.
  std::string durable_name;
  std::string description;
  std::string filter_subject;  // empty: every subject of the stream
  AckPolicy ack_policy = AckPolicy::kExplicit;
  // An unacknowledged message is delivered again after this long; 0: the server's (30 s).
  std::chrono::nanoseconds ack_wait{0};
  std::int64_t max_deliver = -1;     // deliveries of one message, -1: unlimited
  std::int64_t max_ack_pending = 0;  // delivered, not yet acknowledged; 0: the server's (1000)
  std::int64_t max_waiting = 0;      // pull requests waiting at once; 0: the server's (512)
  DeliverPolicy deliver_policy = DeliverPolicy::kAll;
  std::uint64_t opt_start_seq = 0;  // with kByStartSequence
  // Redelivery delays after the 1st, 2nd, ... delivery in place of ack_wait (the last one
  // repeats); empty: ack_wait every time.
  std::vector<std::chrono::nanoseconds> backoff;
};

struct SequenceInfo {
  std::uint64_t consumer_seq = 0;
  std::uint64_t stream_seq = 0;
};

struct ConsumerInfo {
  std::string stream_name;
  std::string name;
  ConsumerConfig config;
  SequenceInfo delivered;
  SequenceInfo ack_floor;
  std::int64_t num_ack_pending = 0;  // delivered, awaiting an ack
  std::int64_t num_redelivered = 0;
  std::int64_t num_waiting = 0;   // pull requests waiting
  std::uint64_t num_pending = 0;  // in the stream, not yet delivered
  // What is still to be done: not delivered plus delivered and not acknowledged.
  std::uint64_t backlog() const {
    return num_pending + static_cast<std::uint64_t>(num_ack_pending > 0 ? num_ack_pending : 0);
  }
};

struct PubAck {
  std::string stream;
  std::uint64_t seq = 0;
  bool duplicate = false;  // a message with the same Nats-Msg-Id is already stored (at `seq`)
  std::string domain;
};

// A message read back from a stream by sequence or as the last on a subject.
struct StoredMessage {
  std::string subject;
  std::uint64_t seq = 0;
  Headers headers;
  std::string data;
  std::string time;  // RFC 3339
};

// The "error" object of an API answer, as kJetStream with server_code() ("code") and
// js_err_code() ("err_code"); success when `json` has none. kProtocol when it is not JSON.
Status api_error_from_json(std::string_view json);

std::string stream_config_to_json(const StreamConfig& config);
Result<StreamInfo> stream_info_from_json(std::string_view json);
// The CONSUMER.DURABLE.CREATE request: {"stream_name":..,"config":{..}}.
std::string consumer_create_request_json(std::string_view stream, const ConsumerConfig& config);
Result<ConsumerInfo> consumer_info_from_json(std::string_view json);
Result<PubAck> pub_ack_from_json(std::string_view json);
// The STREAM.MSG.GET answer; data and headers base64-decoded.
Result<StoredMessage> stored_message_from_json(std::string_view json);
// {"batch":n,"expires":nanoseconds}.
std::string pull_request_json(int batch, std::chrono::nanoseconds expires);

// Standard base64 (RFC 4648, padding required); kProtocol on anything else.
Result<std::string> base64_decode(std::string_view text);

// Names of streams and consumers go into subjects: no '.', '*', '>', whitespace, or '/'.
Status validate_api_name(std::string_view what, std::string_view name);

}  // namespace kubefn::nats
