#include "kubefn/kafka/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>

namespace kubefn::kafka {
namespace {

using ::testing::HasSubstr;

const std::string kCa = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const std::string kCert = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
const std::string kKey = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

ClientConfig plain(std::string servers = "broker-0:9092") {
  ClientConfig c;
  c.bootstrap_servers = std::move(servers);
  return c;
}

std::string value_of(const Properties& p, const std::string& key) {
  for (const auto& [k, v] : p) {
    if (k == key) return v;
  }
  return "<unset>";
}

struct BadConfig {
  std::string name;
  ClientConfig config;
  std::string message_part;
};

ClientConfig with(ClientConfig c, void (*change)(ClientConfig&)) {
  change(c);
  return c;
}

// Names the case in test names and failures (CTest lists GetParam() beside the name).
void PrintTo(const BadConfig& c, std::ostream* os) {
  *os << c.name;
}

class BadClientConfig : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadClientConfig, IsRefusedSayingWhatToChange) {
  auto p = client_properties(GetParam().config);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kInvalidConfig);
  EXPECT_THAT(p.status().message(), HasSubstr(GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadClientConfig,
    ::testing::Values(
        BadConfig{"NoServers", plain(""), "no bootstrap servers: give host:port"},
        BadConfig{"BlankServers", plain("  "), "no bootstrap servers"},
        BadConfig{"NoPort", plain("broker-0"), "\"broker-0\" has no port: give host:port"},
        BadConfig{"PortNotANumber", plain("broker-0:http"), "has no valid port (1-65535)"},
        BadConfig{"PortZero", plain("broker-0:0"), "has no valid port"},
        BadConfig{"PortTooLarge", plain("broker-0:65536"), "has no valid port"},
        BadConfig{"NoHost", plain(":9092"), "\":9092\" has no host"},
        BadConfig{"Scheme", plain("kafka://broker-0:9092"), "has a scheme: give host:port"},
        BadConfig{"EmptyEntry", plain("a:1,,b:2"), "have an empty entry between commas"},
        BadConfig{"TrailingComma", plain("a:1,"), "empty entry"},
        BadConfig{"BareIpv6", plain("::1:9092"), "write an IPv6 address as [address]:port"},
        BadConfig{"BrokenIpv6", plain("[::1]9092"), "is not [ipv6]:port"},
        BadConfig{"SpaceInHost", plain("bro ker:9092"), "has a space in its host"},
        BadConfig{"TlsSettingsWithTlsOff",
                  with(plain(), [](ClientConfig& c) { c.tls.ca_pem = kCa; }),
                  "are given but TLS is off"},
        BadConfig{"SkipVerifyWithTlsOff",
                  with(plain(), [](ClientConfig& c) { c.tls.skip_verify = true; }), "TLS is off"},
        BadConfig{"CaNotPem",
                  with(plain(),
                       [](ClientConfig& c) {
                         c.tls.enabled = true;
                         c.tls.ca_pem = "/etc/ssl/ca.crt";
                       }),
                  "TLS CA (ca.crt) holds no PEM certificate"},
        BadConfig{"CertWithoutKey",
                  with(plain(),
                       [](ClientConfig& c) {
                         c.tls.enabled = true;
                         c.tls.cert_pem = kCert;
                       }),
                  "(tls.crt) is given without its key (tls.key)"},
        BadConfig{"KeyWithoutCert",
                  with(plain(),
                       [](ClientConfig& c) {
                         c.tls.enabled = true;
                         c.tls.key_pem = kKey;
                       }),
                  "(tls.key) is given without its certificate (tls.crt)"},
        BadConfig{"KeyGivenAsCert",
                  with(plain(),
                       [](ClientConfig& c) {
                         c.tls.enabled = true;
                         c.tls.cert_pem = kKey;
                         c.tls.key_pem = kKey;
                       }),
                  "(tls.crt) holds no PEM certificate"},
        BadConfig{"CertGivenAsKey",
                  with(plain(),
                       [](ClientConfig& c) {
                         c.tls.enabled = true;
                         c.tls.cert_pem = kCert;
                         c.tls.key_pem = kCert;
                       }),
                  "(tls.key) holds no PEM private key"},
        BadConfig{"EncryptedKey",
                  with(plain(),
                       [](ClientConfig& c) {
                         c.tls.enabled = true;
                         c.tls.cert_pem = kCert;
                         c.tls.key_pem =
                             "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED "
                             "PRIVATE KEY-----\n";
                       }),
                  "is encrypted: give it unencrypted"},
        BadConfig{
            "SaslUserWithoutMechanism",
            with(plain(), [](ClientConfig& c) { c.sasl.username = "alice"; }),
            "without a mechanism: set sasl.mechanism to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
        BadConfig{
            "SaslWithoutPassword",
            with(plain(),
                 [](ClientConfig& c) {
                   c.sasl.mechanism = SaslMechanism::kScramSha512;
                   c.sasl.username = "alice";
                 }),
            "SASL SCRAM-SHA-512 needs sasl.username and sasl.password; the password is empty"},
        BadConfig{"SaslWithoutUsername",
                  with(plain(),
                       [](ClientConfig& c) {
                         c.sasl.mechanism = SaslMechanism::kPlain;
                         c.sasl.password = "secret";
                       }),
                  "the username is empty"},
        BadConfig{"ExtraOverridesMappedProperty",
                  with(plain(), [](ClientConfig& c) { c.extra["bootstrap.servers"] = "x:1"; }),
                  "\"bootstrap.servers\" is set by the client itself"},
        BadConfig{"ExtraOverridesCommitRule",
                  with(plain(), [](ClientConfig& c) { c.extra["enable.auto.commit"] = "true"; }),
                  "\"enable.auto.commit\" is set by the client itself"},
        BadConfig{"ExtraAliasOfServers",
                  with(plain(), [](ClientConfig& c) { c.extra["metadata.broker.list"] = "x:1"; }),
                  "is set by the client itself"},
        BadConfig{"ExtraEmptyName", with(plain(), [](ClientConfig& c) { c.extra[""] = "x"; }),
                  "empty name"}),
    [](const auto& info) { return info.param.name; });

TEST(ClientProperties, PlaintextIsTheMinimalSet) {
  auto p = client_properties(plain(" broker-0:9092 , [::1]:9093 "));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(*p, (Properties{{"bootstrap.servers", "broker-0:9092,[::1]:9093"},
                            {"client.id", "kubefn"},
                            {"security.protocol", "plaintext"},
                            {"reconnect.backoff.max.ms", "2000"},
                            {"log.connection.close", "false"}}));
}

TEST(ClientProperties, TlsWithCaVerifiesTheBrokerName) {
  ClientConfig c = plain();
  c.tls.enabled = true;
  c.tls.ca_pem = kCa;
  auto p = client_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "security.protocol"), "ssl");
  EXPECT_EQ(value_of(*p, "ssl.ca.pem"), kCa);
  EXPECT_EQ(value_of(*p, "ssl.endpoint.identification.algorithm"), "https");
  EXPECT_EQ(value_of(*p, "enable.ssl.certificate.verification"), "<unset>");
  EXPECT_EQ(value_of(*p, "ssl.certificate.pem"), "<unset>");
}

TEST(ClientProperties, TlsWithoutCaUsesTheSystemStore) {
  ClientConfig c = plain();
  c.tls.enabled = true;
  auto p = client_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "security.protocol"), "ssl");
  EXPECT_EQ(value_of(*p, "ssl.ca.pem"), "<unset>");
}

TEST(ClientProperties, MutualTlsSendsTheClientCertificate) {
  ClientConfig c = plain();
  c.tls.enabled = true;
  c.tls.ca_pem = kCa;
  c.tls.cert_pem = kCert;
  c.tls.key_pem = "-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----\n";
  auto p = client_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "ssl.certificate.pem"), kCert);
  EXPECT_EQ(value_of(*p, "ssl.key.pem"), c.tls.key_pem);
}

TEST(ClientProperties, SkipVerifyTurnsOffCertificateAndNameChecks) {
  ClientConfig c = plain();
  c.tls.enabled = true;
  c.tls.skip_verify = true;
  auto p = client_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "enable.ssl.certificate.verification"), "false");
  EXPECT_EQ(value_of(*p, "ssl.endpoint.identification.algorithm"), "none");
}

struct SaslCase {
  SaslMechanism mechanism;
  bool tls;
  std::string protocol;
  std::string mechanisms;
};

void PrintTo(const SaslCase& c, std::ostream* os) {
  *os << c.mechanisms << (c.tls ? " over TLS" : " in clear");
}

class SaslMapping : public ::testing::TestWithParam<SaslCase> {};

TEST_P(SaslMapping, SetsProtocolMechanismAndCredentials) {
  ClientConfig c = plain();
  c.tls.enabled = GetParam().tls;
  c.sasl = {GetParam().mechanism, "alice", "s3cret"};
  auto p = client_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "security.protocol"), GetParam().protocol);
  EXPECT_EQ(value_of(*p, "sasl.mechanisms"), GetParam().mechanisms);
  EXPECT_EQ(value_of(*p, "sasl.username"), "alice");
  EXPECT_EQ(value_of(*p, "sasl.password"), "s3cret");
}

INSTANTIATE_TEST_SUITE_P(
    Table, SaslMapping,
    ::testing::Values(SaslCase{SaslMechanism::kPlain, false, "sasl_plaintext", "PLAIN"},
                      SaslCase{SaslMechanism::kPlain, true, "sasl_ssl", "PLAIN"},
                      SaslCase{SaslMechanism::kScramSha256, false, "sasl_plaintext",
                               "SCRAM-SHA-256"},
                      SaslCase{SaslMechanism::kScramSha256, true, "sasl_ssl", "SCRAM-SHA-256"},
                      SaslCase{SaslMechanism::kScramSha512, true, "sasl_ssl", "SCRAM-SHA-512"}),
    [](const auto& info) {
      std::string name = info.param.mechanisms + (info.param.tls ? "_Tls" : "_Plaintext");
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(ClientProperties, ExtraPropertiesComeLast) {
  ClientConfig c = plain();
  c.extra["debug"] = "cgrp";
  auto p = client_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->back(), (std::pair<std::string, std::string>{"debug", "cgrp"}));
}

TEST(ClientProperties, EmptyClientIdIsLeftToLibrdkafka) {
  ClientConfig c = plain();
  c.client_id.clear();
  auto p = client_properties(c);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(value_of(*p, "client.id"), "<unset>");
}

TEST(ConsumerProperties, KeepTheCommitRule) {
  ConsumerConfig c;
  c.client = plain();
  c.group_id = "kubefn-default-hello-orders";
  auto p = consumer_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "group.id"), "kubefn-default-hello-orders");
  EXPECT_EQ(value_of(*p, "enable.auto.commit"), "false");
  EXPECT_EQ(value_of(*p, "enable.auto.offset.store"), "false");
  EXPECT_EQ(value_of(*p, "auto.offset.reset"), "earliest");
  EXPECT_EQ(value_of(*p, "partition.assignment.strategy"), "roundrobin");
  EXPECT_EQ(value_of(*p, "enable.partition.eof"), "false");
  EXPECT_EQ(value_of(*p, "session.timeout.ms"), "45000");
  EXPECT_EQ(value_of(*p, "security.protocol"), "plaintext");
}

TEST(ConsumerProperties, LatestStartAndSessionTimeout) {
  ConsumerConfig c;
  c.client = plain();
  c.group_id = "g";
  c.start = StartOffset::kLatest;
  c.session_timeout = std::chrono::seconds(6);
  auto p = consumer_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "auto.offset.reset"), "latest");
  EXPECT_EQ(value_of(*p, "session.timeout.ms"), "6000");
}

TEST(ConsumerProperties, BadGroupOrTimeoutOrClientIsRefused) {
  ConsumerConfig c;
  c.client = plain();
  auto no_group = consumer_properties(c);
  ASSERT_FALSE(no_group.ok());
  EXPECT_THAT(no_group.status().message(), HasSubstr("no consumer group id"));

  c.group_id = "g";
  c.session_timeout = std::chrono::milliseconds(10);
  auto short_session = consumer_properties(c);
  ASSERT_FALSE(short_session.ok());
  EXPECT_THAT(short_session.status().message(), HasSubstr("10 ms is too short"));

  c.session_timeout = std::chrono::seconds(10);
  c.client.extra["partition.assignment.strategy"] = "cooperative-sticky";
  auto strategy = consumer_properties(c);
  ASSERT_FALSE(strategy.ok());
  EXPECT_THAT(strategy.status().message(), HasSubstr("is set by the client itself"));

  c.client = plain("nope");
  EXPECT_EQ(consumer_properties(c).status().code(), ErrorCode::kInvalidConfig);
}

TEST(ProducerProperties, AcknowledgedByAllAndIdempotent) {
  ProducerConfig c;
  c.client = plain();
  c.delivery_timeout = std::chrono::seconds(5);
  auto p = producer_properties(c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "acks"), "all");
  EXPECT_EQ(value_of(*p, "enable.idempotence"), "true");
  EXPECT_EQ(value_of(*p, "message.timeout.ms"), "5000");
  EXPECT_EQ(value_of(*p, "group.id"), "<unset>");

  c.client.extra["acks"] = "1";
  EXPECT_FALSE(producer_properties(c).ok());
  c.client.extra.clear();
  c.delivery_timeout = std::chrono::milliseconds(0);
  EXPECT_THAT(producer_properties(c).status().message(), HasSubstr("must be positive"));
}

struct MechanismCase {
  std::string name;
  std::string text;
  bool ok;
  SaslMechanism mechanism;
};

void PrintTo(const MechanismCase& c, std::ostream* os) {
  *os << c.name;
}

class ParseSaslMechanism : public ::testing::TestWithParam<MechanismCase> {};

TEST_P(ParseSaslMechanism, ReadsTheSecretsSpelling) {
  auto m = parse_sasl_mechanism(GetParam().text);
  ASSERT_EQ(m.ok(), GetParam().ok) << GetParam().text;
  if (m.ok()) {
    EXPECT_EQ(*m, GetParam().mechanism);
  } else {
    EXPECT_EQ(m.status().code(), ErrorCode::kInvalidConfig);
    EXPECT_THAT(m.status().message(), HasSubstr("use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseSaslMechanism,
    ::testing::Values(MechanismCase{"Gssapi", "GSSAPI", false, {}},
                      MechanismCase{"ScramSha1", "SCRAM-SHA-1", false, {}},
                      MechanismCase{"BareScram", "SCRAM", false, {}},
                      MechanismCase{"Empty", "", true, SaslMechanism::kNone},
                      MechanismCase{"Plain", "PLAIN", true, SaslMechanism::kPlain},
                      MechanismCase{"LowerCase", "plain", true, SaslMechanism::kPlain},
                      MechanismCase{"Spaces", " scram-sha-256 ", true, SaslMechanism::kScramSha256},
                      MechanismCase{"Sha512", "SCRAM-SHA-512", true, SaslMechanism::kScramSha512}),
    [](const auto& info) { return info.param.name; });

TEST(ClientConfigFromSecret, MapsEveryKeyOfTheSecret) {
  ClientConfig base;
  base.client_id = "kubefn-dispatcher";
  auto c = client_config_from_secret({{"bootstrapServers", "kafka-0:9093,kafka-1:9093"},
                                      {"ca.crt", kCa},
                                      {"tls.crt", kCert},
                                      {"tls.key", kKey},
                                      {"sasl.mechanism", "scram-sha-512"},
                                      {"sasl.username", "orders"},
                                      {"sasl.password", "s3cret"},
                                      {"unrelated", "ignored"}},
                                     base);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->bootstrap_servers, "kafka-0:9093,kafka-1:9093");
  EXPECT_EQ(c->client_id, "kubefn-dispatcher");
  EXPECT_TRUE(c->tls.enabled);
  EXPECT_EQ(c->tls.ca_pem, kCa);
  EXPECT_EQ(c->tls.cert_pem, kCert);
  EXPECT_EQ(c->tls.key_pem, kKey);
  EXPECT_FALSE(c->tls.skip_verify);
  EXPECT_EQ(c->sasl.mechanism, SaslMechanism::kScramSha512);
  EXPECT_EQ(c->sasl.username, "orders");
  EXPECT_EQ(c->sasl.password, "s3cret");
  auto p = client_properties(*c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "security.protocol"), "sasl_ssl");
}

TEST(ClientConfigFromSecret, TheTriggersBootstrapServersWin) {
  auto c = client_config_from_secret({{"bootstrapServers", "from-secret:9092"}},
                                     plain("from-trigger:9092"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->bootstrap_servers, "from-trigger:9092");
  EXPECT_FALSE(c->tls.enabled);
  EXPECT_EQ(c->sasl.mechanism, SaslMechanism::kNone);
}

TEST(ClientConfigFromSecret, TlsIsOnWithACaACertificateOrTlsTrue) {
  EXPECT_TRUE(client_config_from_secret({{"tls", "true"}}, plain())->tls.enabled);
  EXPECT_TRUE(client_config_from_secret({{"ca.crt", kCa}}, plain())->tls.enabled);
  EXPECT_TRUE(
      client_config_from_secret({{"tls.crt", kCert}, {"tls.key", kKey}}, plain())->tls.enabled);
  EXPECT_FALSE(client_config_from_secret({{"tls", "false"}}, plain())->tls.enabled);
  // A key alone does not turn TLS on: client_properties then names the missing certificate.
  auto key_only = client_config_from_secret({{"tls.key", kKey}}, plain());
  ASSERT_TRUE(key_only.ok());
  EXPECT_FALSE(key_only->tls.enabled);
  EXPECT_THAT(client_properties(*key_only).status().message(), HasSubstr("TLS is off"));
}

TEST(ClientConfigFromSecret, PlainSaslWithoutTls) {
  auto c = client_config_from_secret(
      {{"sasl.mechanism", "PLAIN"}, {"sasl.username", "u"}, {"sasl.password", "p"}}, plain());
  ASSERT_TRUE(c.ok());
  auto p = client_properties(*c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(value_of(*p, "security.protocol"), "sasl_plaintext");
  EXPECT_EQ(value_of(*p, "sasl.mechanisms"), "PLAIN");
}

TEST(ClientConfigFromSecret, ABadMechanismIsRefused) {
  auto c = client_config_from_secret({{"sasl.mechanism", "GSSAPI"}}, plain());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kInvalidConfig);
  EXPECT_THAT(c.status().message(), HasSubstr("\"GSSAPI\" is not supported"));
}

}  // namespace
}  // namespace kubefn::kafka
