// How to reach the brokers and as whom, as a small struct, and the librdkafka properties it
// means: pure functions, checked, so that a bad trigger or Secret is reported before any
// connection is tried.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubefn/kafka/status.hpp"

namespace kubefn::kafka {

enum class SaslMechanism { kNone, kPlain, kScramSha256, kScramSha512 };

// "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" (librdkafka's and the Secret's spelling), "" for none.
std::string_view to_string(SaslMechanism mechanism);
// A Secret's `sasl.mechanism`, case-insensitive; empty is kNone.
Result<SaslMechanism> parse_sasl_mechanism(std::string_view text);

struct TlsConfig {
  bool enabled = false;
  std::string ca_pem;    // PEM certificates the brokers' are checked against; empty: the system's
  std::string cert_pem;  // the client's certificate for mutual TLS (PEM), with key_pem
  std::string key_pem;   // its private key (PEM, unencrypted)
  bool skip_verify = false;  // accept any broker certificate and host name
};

struct SaslConfig {
  SaslMechanism mechanism = SaslMechanism::kNone;
  std::string username;
  std::string password;
};

struct ClientConfig {
  std::string bootstrap_servers;  // host:port[,host:port...]
  std::string client_id = "kubefn";
  TlsConfig tls;
  SaslConfig sasl;
  // Further librdkafka properties (e.g. "debug"), added last. One that the mapping sets itself
  // is refused: the commit rule and security settings are not for overriding.
  std::map<std::string, std::string> extra;
};

// Where a partition with no committed offset in the group starts.
enum class StartOffset { kEarliest, kLatest };

struct ConsumerConfig {
  ClientConfig client;
  std::string group_id;
  StartOffset start = StartOffset::kEarliest;
  // A member not heard from for this long is dropped from the group and its partitions move.
  std::chrono::milliseconds session_timeout{45000};
};

struct ProducerConfig {
  ClientConfig client;
  // A record not acknowledged by the broker within this time fails (librdkafka retries until
  // then, across broker restarts).
  std::chrono::milliseconds delivery_timeout{30000};
};

// A trigger's Secret (its keys decoded) over `base`, as the dispatcher reads it: bootstrapServers
// only when `base` has none (the trigger's own field wins); ca.crt, tls.crt, tls.key; TLS on
// when ca.crt or tls.crt is given or `tls` is "true"; sasl.mechanism (see
// parse_sasl_mechanism), sasl.username, sasl.password. Other keys are ignored. kInvalidConfig for
// a bad sasl.mechanism; the rest is checked by client_properties.
Result<ClientConfig> client_config_from_secret(const std::map<std::string, std::string>& values,
                                               ClientConfig base);

// librdkafka properties, in the order they are set.
using Properties = std::vector<std::pair<std::string, std::string>>;

// Connection and security: bootstrap.servers, client.id, security.protocol, ssl.*, sasl.*.
// kInvalidConfig naming the setting and what to change when the config is not usable.
Result<Properties> client_properties(const ClientConfig& config);
// client_properties plus the group and the commit rule: enable.auto.commit=false,
// enable.auto.offset.store=false (offsets are committed only as the Consumer's tracker allows),
// eager rebalancing (see README.md).
Result<Properties> consumer_properties(const ConsumerConfig& config);
// client_properties plus acks=all and idempotence: a retried record is written once, in order.
Result<Properties> producer_properties(const ProducerConfig& config);

}  // namespace kubefn::kafka
