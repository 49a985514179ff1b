#include "kubefn/testing/kafka_broker.hpp"

#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kubefn/testing/free_port.hpp"

namespace kubefn::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// A client of the broker for the helper's own requests, quiet about refused connections while
// the broker starts.
Handle admin_client(const std::string& bootstrap) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "200", err, sizeof err);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("KafkaBroker: cannot create a librdkafka client: ") + err);
  }
  return Handle(rk);
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(1, left.count()));
}

// A Kafka cluster id: 16 random bytes, base64url without padding (as Uuid.toString writes them),
// not starting with '-' (the storage tool would take it for an option; Kafka's own
// Uuid.randomUuid() draws again for the same reason).
std::string random_cluster_id() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  for (;;) {
    std::array<unsigned char, 16> bytes{};
    for (auto& b : bytes)
      b = static_cast<unsigned char>(rd());
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char b : bytes) {
      acc = (acc << 8) | b;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out += kAlphabet[(acc >> bits) & 0x3f];
      }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 0x3f];
    if (out.front() != '-') return out;
  }
}

std::string tail_of(const std::string& path, std::size_t bytes) {
  const std::string text = read_file(path);
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

bool has_broker_jar(const std::string& libs_dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(libs_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("kafka_2.13-", 0) == 0 && name.size() > 4 &&
        name.compare(name.size() - 4, 4, ".jar") == 0)
      return true;
  }
  return false;
}

// Runs openssl with `args`; throws with its output when it fails.
void openssl(const std::filesystem::path& dir, const std::string& step,
             std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  const std::string out = (dir / (step + ".out")).string();
  ChildProcess tool(args, {}, out, out);
  const auto code = tool.wait_exit(std::chrono::seconds(60));
  if (code == 127) throw std::runtime_error("make_test_certificates: openssl is not on PATH");
  if (code != 0)
    throw std::runtime_error(
        "make_test_certificates: openssl " + args[1] + " (" + step + ") failed (" +
        (code ? "exit " + std::to_string(*code) : std::string("timeout")) + "): " + read_file(out));
}

// Names and passwords go into JAAS and --add-scram syntax unquoted: keep them plain.
void check_user(const KafkaUser& user) {
  for (const std::string& s : {user.name, user.password}) {
    const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
    if (!plain)
      throw std::invalid_argument("KafkaBroker: SASL user \"" + user.name +
                                  "\": names and passwords are [A-Za-z0-9._-]+");
  }
}

}  // namespace

TestCertificates make_test_certificates(const std::filesystem::path& dir, const std::string& name) {
  const auto at = [&](const std::string& suffix) { return (dir / (name + suffix)).string(); };
  openssl(
      dir, name + "-ca",
      {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("-ca.key"), "-out",
       at("-ca.crt"), "-days", "7", "-subj", "/CN=kubefn test CA " + name, "-addext",
       "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  openssl(dir, name + "-csr",
          {"req", "-newkey", "rsa:2048", "-nodes", "-keyout", at(".key"), "-out", at(".csr"),
           "-subj", "/CN=127.0.0.1"});
  write_file(at(".ext"),
             "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
             "basicConstraints=CA:FALSE\n"
             "keyUsage=critical,digitalSignature,keyEncipherment\n"
             "extendedKeyUsage=serverAuth\n");
  openssl(dir, name + "-sign",
          {"x509", "-req", "-in", at(".csr"), "-CA", at("-ca.crt"), "-CAkey", at("-ca.key"),
           "-CAcreateserial", "-out", at(".crt"), "-days", "7", "-extfile", at(".ext")});
  TestCertificates out;
  out.ca_pem = read_file(at("-ca.crt"));
  out.cert_pem = read_file(at(".crt"));
  out.key_pem = read_file(at(".key"));
  out.keystore_path = at("-keystore.pem");
  write_file(out.keystore_path, out.key_pem + out.cert_pem);
  return out;
}

KafkaBroker::KafkaBroker(std::string libs_dir, std::chrono::seconds start_timeout)
    : KafkaBroker(std::move(libs_dir), [&] {
        KafkaBrokerOptions options;
        options.start_timeout = start_timeout;
        return options;
      }()) {}

KafkaBroker::KafkaBroker(std::string libs_dir, KafkaBrokerOptions options)
    : libs_dir_(std::move(libs_dir)),
      options_(std::move(options)),
      start_timeout_(options_.start_timeout) {
  if (!has_broker_jar(libs_dir_))
    throw std::runtime_error("KafkaBroker: no Apache Kafka jars (kafka_2.13-*.jar) in " +
                             libs_dir_ +
                             ": run scripts/setup, which fetches them with scripts/tools/kafka");
  const bool any_sasl = options_.sasl_plaintext || options_.sasl_ssl;
  if (any_sasl && options_.plain_users.empty() && options_.scram_sha256_users.empty())
    throw std::invalid_argument("KafkaBroker: a SASL listener needs PLAIN or SCRAM-SHA-256 users");
  for (const auto& u : options_.plain_users)
    check_user(u);
  for (const auto& u : options_.scram_sha256_users)
    check_user(u);

  std::vector<std::uint16_t> taken;
  auto next_address = [&taken] {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const std::uint16_t p = free_port();
      if (p == 0) break;
      if (std::find(taken.begin(), taken.end(), p) != taken.end()) continue;
      taken.push_back(p);
      return "127.0.0.1:" + std::to_string(p);
    }
    throw std::runtime_error("KafkaBroker: no free port on 127.0.0.1");
  };
  bootstrap_ = next_address();
  port_ = taken.back();
  const std::string controller = next_address();
  controller_port_ = taken.back();

  // The PLAINTEXT listener, then those the options ask for: name (= protocol) and address.
  std::vector<std::pair<std::string, std::string>> listeners = {{"PLAINTEXT", bootstrap_}};
  if (options_.sasl_plaintext)
    listeners.emplace_back("SASL_PLAINTEXT", sasl_plaintext_ = next_address());
  if (options_.ssl) listeners.emplace_back("SSL", ssl_ = next_address());
  if (options_.sasl_ssl) listeners.emplace_back("SASL_SSL", sasl_ssl_ = next_address());
  std::string listener_list, advertised, protocols;
  for (const auto& [listener, address] : listeners) {
    listener_list += listener + "://" + address + ",";
    advertised += (advertised.empty() ? "" : ",") + listener + "://" + address;
    protocols += listener + ":" + listener + ",";
  }

  // Combined broker and controller, one node: every replication factor and quorum is 1, groups
  // rebalance at once, topics exist only when created. Few threads: the machine is small.
  std::vector<std::pair<std::string, std::string>> settings = {
      {"process.roles", "broker,controller"},
      {"node.id", "1"},
      {"controller.quorum.voters", "1@" + controller},
      {"listeners", listener_list + "CONTROLLER://" + controller},
      {"advertised.listeners", advertised},
      {"controller.listener.names", "CONTROLLER"},
      {"inter.broker.listener.name", "PLAINTEXT"},
      {"listener.security.protocol.map", protocols + "CONTROLLER:PLAINTEXT"},
      {"log.dirs", dir_.file("data")},
      {"num.partitions", "1"},
      {"auto.create.topics.enable", "false"},
      {"offsets.topic.replication.factor", "1"},
      {"offsets.topic.num.partitions", "1"},
      {"transaction.state.log.replication.factor", "1"},
      {"transaction.state.log.min.isr", "1"},
      {"transaction.state.log.num.partitions", "1"},
      {"share.coordinator.state.topic.replication.factor", "1"},
      {"share.coordinator.state.topic.min.isr", "1"},
      {"group.initial.rebalance.delay.ms", "0"},
      // A broker killed and started again registers anew only once the session of its old
      // registration has expired (9 s by default).
      {"broker.session.timeout.ms", "4000"},
      {"broker.heartbeat.interval.ms", "500"},
      {"num.network.threads", "2"},
      {"num.io.threads", "2"},
      {"background.threads", "2"},
      {"num.recovery.threads.per.data.dir", "1"},
      {"log.cleaner.threads", "1"},
  };
  if (any_sasl) {
    std::string mechanisms;
    if (!options_.plain_users.empty()) mechanisms = "PLAIN";
    if (!options_.scram_sha256_users.empty())
      mechanisms += std::string(mechanisms.empty() ? "" : ",") + "SCRAM-SHA-256";
    settings.emplace_back("sasl.enabled.mechanisms", mechanisms);
    std::string plain_jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required";
    for (const auto& u : options_.plain_users)
      plain_jaas += " user_" + u.name + "=\"" + u.password + "\"";
    plain_jaas += ";";
    for (const char* listener : {"sasl_plaintext", "sasl_ssl"}) {
      const std::string prefix = std::string("listener.name.") + listener + ".";
      if (!options_.plain_users.empty())
        settings.emplace_back(prefix + "plain.sasl.jaas.config", plain_jaas);
      if (!options_.scram_sha256_users.empty())
        settings.emplace_back(prefix + "scram-sha-256.sasl.jaas.config",
                              "org.apache.kafka.common.security.scram.ScramLoginModule required;");
    }
  }
  if (options_.ssl || options_.sasl_ssl) {
    certificates_ = make_test_certificates(dir_.path(), "broker");
    settings.emplace_back("ssl.keystore.type", "PEM");
    settings.emplace_back("ssl.keystore.location", certificates_.keystore_path);
    settings.emplace_back("ssl.client.auth", "none");
  }
  std::string text;
  for (const auto& [key, value] : settings)
    text.append(key).append("=").append(value).append("\n");
  properties_ = dir_.write("server.properties", text).string();
  log_config_ = dir_.write("log4j2.properties",
                           "status = warn\n"
                           "appender.out.type = Console\n"
                           "appender.out.name = out\n"
                           "appender.out.layout.type = PatternLayout\n"
                           "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
                           "rootLogger.level = INFO\n"
                           "rootLogger.appenderRef.out.ref = out\n"
                           "logger.state.name = state.change.logger\n"
                           "logger.state.level = WARN\n")
                    .string();
  format();
  start();
}

KafkaBroker::~KafkaBroker() = default;

namespace {

std::vector<std::string> java_command(const std::string& libs_dir, const std::string& log_config,
                                      std::vector<std::string> main_and_args) {
  // A small heap, one GC thread, and no optimising compiler: a quick start on two cores.
  std::vector<std::string> argv = {"java",
                                   "-Xms64m",
                                   "-Xmx512m",
                                   "-XX:+UseSerialGC",
                                   "-XX:TieredStopAtLevel=1",
                                   "-Djava.awt.headless=true",
                                   "-Dlog4j2.configurationFile=" + log_config,
                                   "-cp",
                                   libs_dir + "/*"};
  argv.insert(argv.end(), main_and_args.begin(), main_and_args.end());
  return argv;
}

}  // namespace

void KafkaBroker::format() {
  const std::string out = dir_.file("format.out");
  const std::string err = dir_.file("format.err");
  std::vector<std::string> args = {
      "kafka.tools.StorageTool", "format", "--config", properties_, "--cluster-id",
      random_cluster_id()};
  // SCRAM credentials live in the cluster metadata: written there as the storage is formatted.
  for (const auto& u : options_.scram_sha256_users) {
    args.emplace_back("--add-scram");
    args.push_back("SCRAM-SHA-256=[name=" + u.name + ",password=" + u.password + "]");
  }
  ChildProcess tool(java_command(libs_dir_, log_config_, std::move(args)), {}, out, err);
  const auto code = tool.wait_exit(std::chrono::seconds(120));
  if (code == 127)
    throw std::runtime_error(
        "KafkaBroker: java is not on PATH: run scripts/setup (Kafka runs on Java 17)");
  if (code != 0)
    throw std::runtime_error("KafkaBroker: formatting the storage failed (" +
                             (code ? "exit " + std::to_string(*code) : std::string("timeout")) +
                             "): " + read_file(out) + read_file(err));
}

void KafkaBroker::start() {
  if (process_ != nullptr && process_->running()) return;
  ++runs_;
  out_path_ = dir_.file("broker-" + std::to_string(runs_) + ".log");
  const auto began = Clock::now();
  process_ = std::make_unique<ChildProcess>(
      java_command(libs_dir_, log_config_, {"kafka.Kafka", properties_}),
      std::map<std::string, std::string>{}, out_path_, out_path_ + ".err");
  wait_ready(began + start_timeout_);
  last_start_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began);
}

void KafkaBroker::wait_ready(Clock::time_point deadline) {
  Handle client = admin_client(bootstrap_);
  for (;;) {
    if (!process_->running()) {
      const auto code = process_->wait_exit(std::chrono::milliseconds(0));
      if (code == 127)
        throw std::runtime_error(
            "KafkaBroker: java is not on PATH: run scripts/setup (Kafka runs on Java 17)");
      throw std::runtime_error("KafkaBroker: the broker exited (" +
                               std::to_string(code.value_or(-1)) + ") while starting:\n" +
                               log_tail());
    }
    const rd_kafka_metadata_t* raw = nullptr;
    if (rd_kafka_metadata(client.get(), 0, nullptr, &raw, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Metadata metadata(raw);
      if (metadata->broker_cnt > 0) return;
    }
    if (Clock::now() >= deadline)
      throw std::runtime_error("KafkaBroker: no answer to a metadata request on " + bootstrap_ +
                               " within " + std::to_string(start_timeout_.count()) + " s:\n" +
                               log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void KafkaBroker::kill() {
  if (process_ == nullptr || !process_->running()) return;
  process_->signal(SIGKILL);
  if (!process_->wait_exit(std::chrono::seconds(30)))
    throw std::runtime_error("KafkaBroker: the broker did not die on SIGKILL");
}

void KafkaBroker::stop() {
  if (process_ == nullptr || !process_->running()) return;
  process_->signal(SIGTERM);
  if (!process_->wait_exit(std::chrono::seconds(60))) kill();
}

bool KafkaBroker::running() {
  return process_ != nullptr && process_->running();
}

void KafkaBroker::create_topic(const std::string& topic, int partitions,
                               std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Handle client = admin_client(bootstrap_);
  char err[512];
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  if (new_topic == nullptr) throw std::runtime_error("KafkaBroker: topic " + topic + ": " + err);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client.get());
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(client.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(options, remaining_ms(deadline), err, sizeof err);
  rd_kafka_CreateTopics(client.get(), &new_topic, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, remaining_ms(deadline));
  std::string failure;
  if (event == nullptr) {
    failure = "no answer in time";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_event_error_string(event);
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
    if (n == 1 && rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
      failure = rd_kafka_topic_result_error_string(results[0]);
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(new_topic);
  if (!failure.empty())
    throw std::runtime_error("KafkaBroker: creating topic " + topic + " failed: " + failure);

  // Created is not yet led: wait until metadata shows every partition with a leader.
  rd_kafka_topic_t* handle = rd_kafka_topic_new(client.get(), topic.c_str(), nullptr);
  bool led = false;
  while (!led && Clock::now() < deadline) {
    const rd_kafka_metadata_t* raw = nullptr;
    if (rd_kafka_metadata(client.get(), 0, handle, &raw, remaining_ms(deadline)) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      Metadata metadata(raw);
      for (int t = 0; t < metadata->topic_cnt; ++t) {
        const auto& mt = metadata->topics[t];
        if (topic != mt.topic || mt.err != RD_KAFKA_RESP_ERR_NO_ERROR ||
            mt.partition_cnt != partitions)
          continue;
        led = true;
        for (int p = 0; p < mt.partition_cnt; ++p)
          led = led && mt.partitions[p].leader >= 0;
      }
    }
    if (!led) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  rd_kafka_topic_destroy(handle);
  if (!led)
    throw std::runtime_error("KafkaBroker: topic " + topic +
                             " has no leader for every partition after " +
                             std::to_string(timeout.count()) + " s");
}

std::string KafkaBroker::log_tail(std::size_t bytes) const {
  if (out_path_.empty()) return {};
  return tail_of(out_path_, bytes) + tail_of(out_path_ + ".err", bytes / 4);
}

}  // namespace kubefn::testing
