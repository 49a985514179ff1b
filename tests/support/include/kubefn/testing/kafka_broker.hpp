// A real single-node Apache Kafka for tests: KRaft mode (broker and controller in one JVM) from
// the jars scripts/tools/kafka fetched into .tools/kafka-<version>/libs, on the machine's Java,
// listening on 127.0.0.1 only (free ports), its data in a TempDir of its own. It can be killed
// and started again on the same ports and data. Uses librdkafka (metadata for readiness, the
// Admin API for topics): a binary that uses it links librdkafka (pkg-config rdkafka).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::testing {

// A CA and a server certificate it signed for 127.0.0.1 and localhost (PEM, unencrypted keys),
// made with the openssl CLI in `dir` under names starting with `name`. Throws when openssl fails.
struct TestCertificates {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  std::string keystore_path;  // the key and then the certificate: a PEM keystore for Kafka
};
TestCertificates make_test_certificates(const std::filesystem::path& dir, const std::string& name);

struct KafkaUser {
  std::string name;
  std::string password;
};

// Listeners besides the PLAINTEXT one (which always stays: the helper's own readiness checks and
// topics, and the broker's traffic with itself, go through it), each on a free port of its own.
struct KafkaBrokerOptions {
  std::chrono::seconds start_timeout{120};
  // SASL users: PLAIN ones in the listeners' JAAS config, SCRAM-SHA-256 ones written into the
  // metadata when the storage is formatted (kafka-storage format --add-scram). A SASL listener
  // offers the mechanisms that have users; it needs at least one.
  std::vector<KafkaUser> plain_users;
  std::vector<KafkaUser> scram_sha256_users;
  bool sasl_plaintext = false;  // SASL_PLAINTEXT on sasl_plaintext_servers()
  // SSL and SASL_SSL with a CA and server certificate made in the broker's dir (ca_pem()), the
  // broker's key and certificate a PEM keystore (ssl.keystore.type=PEM); no client certificates.
  bool ssl = false;       // SSL on ssl_servers()
  bool sasl_ssl = false;  // SASL_SSL on sasl_ssl_servers()
};

class KafkaBroker {
 public:
  // Formats the storage and starts the broker; on return it answers metadata requests with
  // itself as a live broker. Throws std::runtime_error saying what to do: run scripts/setup when
  // the jars or Java are missing; the broker's log when it did not come up in `start_timeout`.
  explicit KafkaBroker(std::string libs_dir,
                       std::chrono::seconds start_timeout = std::chrono::seconds(120));
  KafkaBroker(std::string libs_dir, KafkaBrokerOptions options);
  ~KafkaBroker();
  KafkaBroker(const KafkaBroker&) = delete;
  KafkaBroker& operator=(const KafkaBroker&) = delete;

  // "127.0.0.1:<port>".
  const std::string& bootstrap_servers() const { return bootstrap_; }
  // "127.0.0.1:<port>" of the listeners the options asked for; empty when off.
  const std::string& sasl_plaintext_servers() const { return sasl_plaintext_; }
  const std::string& ssl_servers() const { return ssl_; }
  const std::string& sasl_ssl_servers() const { return sasl_ssl_; }
  // The CA (PEM) of the SSL and SASL_SSL listeners' certificate; empty without them.
  const std::string& ca_pem() const { return certificates_.ca_pem; }

  // SIGKILL, and waits for the process to be gone: no controlled shutdown, no flush.
  void kill();
  // SIGTERM (a controlled shutdown), and waits for the process to exit.
  void stop();
  // Starts it again (same ports, same data) and waits until it is ready; nothing if running.
  void start();
  bool running();
  // How long the last start took, from spawning Java until ready.
  std::chrono::milliseconds last_start_time() const { return last_start_time_; }

  // Creates `topic` with `partitions` partitions (replication 1) and waits until every partition
  // has a leader. Throws when the broker refuses (the topic exists, ...).
  void create_topic(const std::string& topic, int partitions,
                    std::chrono::seconds timeout = std::chrono::seconds(30));

  // The end of the current run's output, for failure messages.
  std::string log_tail(std::size_t bytes = 6000) const;

 private:
  void format();
  void wait_ready(std::chrono::steady_clock::time_point deadline);

  TempDir dir_;  // declared first: removed after the process is gone
  std::string libs_dir_;
  KafkaBrokerOptions options_;
  std::chrono::seconds start_timeout_;
  std::uint16_t port_ = 0;
  std::uint16_t controller_port_ = 0;
  std::string bootstrap_;
  std::string sasl_plaintext_;
  std::string ssl_;
  std::string sasl_ssl_;
  TestCertificates certificates_;
  std::string properties_;
  std::string log_config_;
  int runs_ = 0;
  std::string out_path_;
  std::chrono::milliseconds last_start_time_{0};
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace kubefn::testing
