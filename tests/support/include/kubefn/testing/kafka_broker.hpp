// A real single-node Apache Kafka for tests: KRaft mode (broker and controller in one JVM) from
// the jars scripts/tools/kafka fetched into .tools/kafka-<version>/libs, on the machine's Java,
// listening on 127.0.0.1 only (free ports), its data in a TempDir of its own. It can be killed
// and started again on the same ports and data. Uses librdkafka (metadata for readiness, the
// Admin API for topics): a binary that uses it links librdkafka (pkg-config rdkafka).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::testing {

class KafkaBroker {
 public:
  // Formats the storage and starts the broker; on return it answers metadata requests with
  // itself as a live broker. Throws std::runtime_error saying what to do: run scripts/setup when
  // the jars or Java are missing; the broker's log when it did not come up in `start_timeout`.
  explicit KafkaBroker(std::string libs_dir,
                       std::chrono::seconds start_timeout = std::chrono::seconds(120));
  ~KafkaBroker();
  KafkaBroker(const KafkaBroker&) = delete;
  KafkaBroker& operator=(const KafkaBroker&) = delete;

  // "127.0.0.1:<port>".
  const std::string& bootstrap_servers() const { return bootstrap_; }

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
  std::chrono::seconds start_timeout_;
  std::uint16_t port_ = 0;
  std::uint16_t controller_port_ = 0;
  std::string bootstrap_;
  std::string properties_;
  std::string log_config_;
  int runs_ = 0;
  std::string out_path_;
  std::chrono::milliseconds last_start_time_{0};
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace kubefn::testing
