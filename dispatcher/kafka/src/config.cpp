#include "kubefn/kafka/config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace kubefn::kafka {
namespace {

Status invalid(std::string message) {
  return Status(ErrorCode::kInvalidConfig, std::move(message));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  int n = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  return n >= 1 && n <= 65535;
}

// One "host:port" (or "[v6]:port") of the list; empty when it is fine.
std::string server_problem(std::string_view entry) {
  const std::string quoted = "\"" + std::string(entry) + "\"";
  if (entry.find("://") != std::string_view::npos)
    return quoted + " has a scheme: give host:port (TLS and SASL are set on their own)";
  std::string_view host, port;
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos || close + 1 >= entry.size() || entry[close + 1] != ':')
      return quoted + " is not [ipv6]:port";
    host = entry.substr(1, close - 1);
    port = entry.substr(close + 2);
  } else {
    const auto colon = entry.rfind(':');
    if (colon == std::string_view::npos) return quoted + " has no port: give host:port";
    host = entry.substr(0, colon);
    port = entry.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return quoted + " is not host:port (write an IPv6 address as [address]:port)";
  }
  if (host.empty()) return quoted + " has no host";
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c))) return quoted + " has a space in its host";
  }
  if (!valid_port(port)) return quoted + " has no valid port (1-65535)";
  return {};
}

Result<std::string> bootstrap_list(const std::string& servers) {
  if (trim(servers).empty())
    return invalid("no bootstrap servers: give host:port[,host:port...] of the Kafka brokers");
  std::string out;
  std::string_view rest = servers;
  for (;;) {
    const auto comma = rest.find(',');
    const std::string_view entry = trim(rest.substr(0, comma));
    if (entry.empty())
      return invalid("bootstrap servers \"" + servers + "\" have an empty entry between commas");
    if (auto problem = server_problem(entry); !problem.empty())
      return invalid("bootstrap server " + problem);
    if (!out.empty()) out += ',';
    out += entry;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

bool contains(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

Status check_tls(const TlsConfig& tls) {
  if (!tls.enabled) {
    if (!tls.ca_pem.empty() || !tls.cert_pem.empty() || !tls.key_pem.empty() || tls.skip_verify)
      return invalid(
          "TLS settings (ca.crt, tls.crt, tls.key or skip-verify) are given but TLS is off: turn "
          "TLS on or remove them");
    return {};
  }
  if (!tls.ca_pem.empty() && !contains(tls.ca_pem, "-----BEGIN CERTIFICATE-----"))
    return invalid("TLS CA (ca.crt) holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  if (tls.cert_pem.empty() != tls.key_pem.empty())
    return invalid(tls.cert_pem.empty()
                       ? "TLS client key (tls.key) is given without its certificate (tls.crt)"
                       : "TLS client certificate (tls.crt) is given without its key (tls.key)");
  if (!tls.cert_pem.empty() && !contains(tls.cert_pem, "-----BEGIN CERTIFICATE-----"))
    return invalid(
        "TLS client certificate (tls.crt) holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  if (!tls.key_pem.empty()) {
    if (contains(tls.key_pem, "ENCRYPTED PRIVATE KEY"))
      return invalid("TLS client key (tls.key) is encrypted: give it unencrypted");
    if (!contains(tls.key_pem, "-----BEGIN") || !contains(tls.key_pem, "PRIVATE KEY-----"))
      return invalid(
          "TLS client key (tls.key) holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
  }
  return {};
}

Status check_sasl(const SaslConfig& sasl) {
  if (sasl.mechanism == SaslMechanism::kNone) {
    if (!sasl.username.empty() || !sasl.password.empty())
      return invalid(
          "a SASL username or password is given without a mechanism: set sasl.mechanism to PLAIN, "
          "SCRAM-SHA-256 or SCRAM-SHA-512");
    return {};
  }
  if (sasl.username.empty() || sasl.password.empty())
    return invalid("SASL " + std::string(to_string(sasl.mechanism)) +
                   " needs sasl.username and sasl.password; " +
                   (sasl.username.empty() ? "the username is empty" : "the password is empty"));
  return {};
}

// The properties of any client, without `extra`.
Result<Properties> base_properties(const ClientConfig& config) {
  auto servers = bootstrap_list(config.bootstrap_servers);
  if (!servers.ok()) return servers.status();
  if (Status s = check_tls(config.tls); !s.ok()) return s;
  if (Status s = check_sasl(config.sasl); !s.ok()) return s;

  Properties p;
  p.emplace_back("bootstrap.servers", *servers);
  if (!config.client_id.empty()) p.emplace_back("client.id", config.client_id);
  const bool sasl = config.sasl.mechanism != SaslMechanism::kNone;
  p.emplace_back("security.protocol", config.tls.enabled ? (sasl ? "sasl_ssl" : "ssl")
                                                         : (sasl ? "sasl_plaintext" : "plaintext"));
  if (config.tls.enabled) {
    if (!config.tls.ca_pem.empty()) p.emplace_back("ssl.ca.pem", config.tls.ca_pem);
    if (!config.tls.cert_pem.empty()) {
      p.emplace_back("ssl.certificate.pem", config.tls.cert_pem);
      p.emplace_back("ssl.key.pem", config.tls.key_pem);
    }
    if (config.tls.skip_verify) {
      p.emplace_back("enable.ssl.certificate.verification", "false");
      p.emplace_back("ssl.endpoint.identification.algorithm", "none");
    } else {
      p.emplace_back("ssl.endpoint.identification.algorithm", "https");
    }
  }
  if (sasl) {
    p.emplace_back("sasl.mechanisms", std::string(to_string(config.sasl.mechanism)));
    p.emplace_back("sasl.username", config.sasl.username);
    p.emplace_back("sasl.password", config.sasl.password);
  }
  // Back within two seconds of a broker's return (librdkafka's default backs off to 10 s).
  p.emplace_back("reconnect.backoff.max.ms", "2000");
  // Idle connections the broker closes are no news.
  p.emplace_back("log.connection.close", "false");
  return p;
}

// Properties that keep the commit rule and the security settings whatever the mapping of this
// kind of client sets: never taken from `extra`.
constexpr std::array<std::string_view, 13> kNeverExtra = {"enable.auto.commit",
                                                          "enable.auto.offset.store",
                                                          "auto.commit.interval.ms",
                                                          "enable.partition.eof",
                                                          "partition.assignment.strategy",
                                                          "group.id",
                                                          "metadata.broker.list",
                                                          "sasl.mechanism",
                                                          "request.required.acks",
                                                          "acks",
                                                          "enable.idempotence",
                                                          "security.protocol",
                                                          "bootstrap.servers"};

Result<Properties> with_extra(Properties p, const std::map<std::string, std::string>& extra) {
  for (const auto& extra_property : extra) {
    const std::string& key = extra_property.first;
    if (trim(key).empty()) return invalid("an extra Kafka property has an empty name");
    const bool set_here =
        std::any_of(p.begin(), p.end(), [&](const auto& kv) { return kv.first == key; });
    const bool never = std::find(kNeverExtra.begin(), kNeverExtra.end(), key) != kNeverExtra.end();
    if (set_here || never)
      return invalid("the extra Kafka property \"" + key +
                     "\" is set by the client itself: remove it from the extra properties");
    p.push_back(extra_property);
  }
  return p;
}

}  // namespace

std::string_view to_string(SaslMechanism mechanism) {
  switch (mechanism) {
    case SaslMechanism::kNone:
      return "";
    case SaslMechanism::kPlain:
      return "PLAIN";
    case SaslMechanism::kScramSha256:
      return "SCRAM-SHA-256";
    case SaslMechanism::kScramSha512:
      return "SCRAM-SHA-512";
  }
  return "";
}

Result<SaslMechanism> parse_sasl_mechanism(std::string_view text) {
  std::string upper(trim(text));
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (auto m : {SaslMechanism::kNone, SaslMechanism::kPlain, SaslMechanism::kScramSha256,
                 SaslMechanism::kScramSha512}) {
    if (upper == to_string(m)) return m;
  }
  return invalid("SASL mechanism \"" + std::string(text) +
                 "\" is not supported: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
}

Result<ClientConfig> client_config_from_secret(const std::map<std::string, std::string>& values,
                                               ClientConfig base) {
  auto pick = [&](const char* key) {
    auto it = values.find(key);
    return it == values.end() ? std::string() : it->second;
  };
  if (base.bootstrap_servers.empty()) base.bootstrap_servers = pick("bootstrapServers");
  base.tls.ca_pem = pick("ca.crt");
  base.tls.cert_pem = pick("tls.crt");
  base.tls.key_pem = pick("tls.key");
  base.tls.enabled =
      !base.tls.ca_pem.empty() || !base.tls.cert_pem.empty() || pick("tls") == "true";
  auto mechanism = parse_sasl_mechanism(pick("sasl.mechanism"));
  if (!mechanism.ok()) return mechanism.status();
  base.sasl.mechanism = mechanism.value();
  base.sasl.username = pick("sasl.username");
  base.sasl.password = pick("sasl.password");
  return base;
}

Result<Properties> client_properties(const ClientConfig& config) {
  auto p = base_properties(config);
  if (!p.ok()) return p;
  return with_extra(std::move(p).value(), config.extra);
}

Result<Properties> consumer_properties(const ConsumerConfig& config) {
  if (trim(config.group_id).empty())
    return invalid("no consumer group id: every trigger reads in a group of its own");
  if (config.session_timeout.count() < 1000)
    return invalid("consumer session timeout " + std::to_string(config.session_timeout.count()) +
                   " ms is too short: give at least 1000 ms");
  auto base = base_properties(config.client);
  if (!base.ok()) return base;
  Properties p = std::move(base).value();
  p.emplace_back("group.id", config.group_id);
  // The commit rule: nothing is committed or stored behind the Consumer's back.
  p.emplace_back("enable.auto.commit", "false");
  p.emplace_back("enable.auto.offset.store", "false");
  p.emplace_back("auto.offset.reset",
                 config.start == StartOffset::kEarliest ? "earliest" : "latest");
  // Eager rebalancing: librdkafka 2.0's cooperative protocol can lose the assignment when a
  // commit meets a rebalance (README.md).
  p.emplace_back("partition.assignment.strategy", "roundrobin");
  p.emplace_back("enable.partition.eof", "false");
  p.emplace_back("session.timeout.ms", std::to_string(config.session_timeout.count()));
  return with_extra(std::move(p), config.client.extra);
}

Result<Properties> producer_properties(const ProducerConfig& config) {
  if (config.delivery_timeout.count() < 1)
    return invalid("producer delivery timeout must be positive");
  auto base = base_properties(config.client);
  if (!base.ok()) return base;
  Properties p = std::move(base).value();
  p.emplace_back("acks", "all");
  p.emplace_back("enable.idempotence", "true");
  p.emplace_back("message.timeout.ms", std::to_string(config.delivery_timeout.count()));
  return with_extra(std::move(p), config.client.extra);
}

}  // namespace kubefn::kafka
