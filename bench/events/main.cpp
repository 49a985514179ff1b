// bench/events: messages per second through a NATS JetStream trigger and a Kafka trigger of
// `kubefn up` into a no-op function, against a bare consumer of the same broker in the same run
// (fetch/poll and acknowledge/commit, no HTTP), and publish-to-handler latency at a fixed rate.
// Real brokers (nats-server, Apache Kafka in KRaft mode) and the real `kubefn up`; the last line
// printed is one JSON object of the figures.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/kafka/consumer.hpp"
#include "kubefn/kafka/producer.hpp"
#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/kafka_broker.hpp"
#include "kubefn/testing/metrics_text.hpp"
#include "kubefn/testing/nats_server.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using kubefn::testing::read_file;

// Thrown so that the servers and `kubefn up` are stopped on the way out.
struct Failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void die(const std::string& why) {
  throw Failed(why);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Publishes messages [0, n) to `subject` from `threads` threads, each waiting for its PubAck.
void nats_publish(kubefn::nats::JetStream& js, const std::string& subject, int n, int threads) {
  std::vector<std::thread> ts;
  std::atomic<int> next{0};
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        if (!js.publish(subject, std::to_string(i)).ok()) die("NATS publish failed");
      }
    });
  }
  for (auto& t : ts)
    t.join();
}

void kafka_produce(kubefn::kafka::Producer& p, const std::string& topic, int n, int threads) {
  std::vector<std::thread> ts;
  std::atomic<int> next{0};
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        kubefn::kafka::OutgoingMessage m;
        m.topic = topic;
        m.key = std::to_string(i);
        m.value = std::to_string(i);
        if (!p.produce(m).ok()) die("Kafka produce failed");
      }
    });
  }
  for (auto& t : ts)
    t.join();
}

// The bare references: a pull consumer that fetches and acknowledges, a group member that polls
// and commits, nothing else. The messages are in the broker first; the time runs from the first
// one taken to the last, as for the triggers.
double nats_bare(kubefn::nats::JetStream& js, int n) {
  kubefn::nats::ConsumerConfig c;
  c.durable_name = "bare";
  c.filter_subject = "bare.in";
  c.max_ack_pending = 10000;
  if (!js.create_or_update_consumer("BENCH", c).ok()) die("NATS consumer");
  int got = 0;
  Clock::time_point first{};
  const auto deadline = Clock::now() + 120s;
  while (got < n && Clock::now() < deadline) {
    auto batch = js.fetch("BENCH", "bare", 256, 500ms);
    if (!batch.ok()) continue;
    for (auto& m : batch.value()) {
      if (got == 0) first = Clock::now();
      (void)m.ack();
      ++got;
    }
  }
  if (got < n) die("the bare NATS consumer did not get every message");
  return (n - 1) / seconds_since(first);
}

double kafka_bare(const std::string& brokers, int n) {
  kubefn::kafka::ConsumerConfig cc;
  cc.client.bootstrap_servers = brokers;
  cc.group_id = "bare";
  auto c = kubefn::kafka::make_consumer(cc);
  if (!c.ok() || !c.value()->subscribe({"bare"}).ok()) die("Kafka consumer");
  int got = 0;
  Clock::time_point first{};
  auto last_commit = Clock::now();
  const auto deadline = Clock::now() + 120s;
  while (got < n && Clock::now() < deadline) {
    auto m = c.value()->poll(100ms);
    if (m.ok() && m.value()) {
      if (got == 0) first = Clock::now();
      c.value()->done(*m.value());
      ++got;
    }
    if (Clock::now() - last_commit > 1s) {
      (void)c.value()->commit_async();
      last_commit = Clock::now();
    }
  }
  (void)c.value()->commit();
  if (got < n) die("the bare Kafka consumer did not get every record");
  return (n - 1) / seconds_since(first);
}

std::string sink_function(const std::string& lat_file, const std::string& trigger) {
  return R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: sink
  namespace: default
spec:
  handler: sink.take
  concurrency: 64
  env:
    - {name: LAT, value: ")" +
         lat_file + R"("}
  scaling: {minReplicas: 1, maxReplicas: 1}
  source:
    inline: |
      #include <chrono>
      #include <cstdlib>
      #include <fstream>
      #include <kubefn/function.hpp>
      #include <mutex>
      #include <string>
      std::mutex mu;
      std::string take(const kubefn::Event& e, kubefn::Context&) {
        // "t=<unix ns>": a latency probe; anything else is only taken.
        if (e.data.size() > 2 && e.data.substr(0, 2) == "t=") {
          const long long sent = std::atoll(std::string(e.data.substr(2)).c_str());
          const long long now = std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::system_clock::now().time_since_epoch()).count();
          std::lock_guard<std::mutex> lock(mu);
          std::ofstream(std::getenv("LAT"), std::ios::app) << (now - sent) << std::endl;
        }
        return "ok";
      }
      KUBEFN_HANDLER(take);
  triggers:
)" + trigger;
}

class Up {
 public:
  Up(const std::string& kubefn, const std::string& runtime, const std::string& manifest,
     std::vector<std::string> extra = {})
      : dir_() {
    std::filesystem::create_directories(dir_.file("fns"));
    kubefn::testing::write_file(dir_.file("fns") + "/sink.yaml", manifest);
    std::vector<std::string> argv{kubefn,           "up", dir_.file("fns"), "--gateway-port", "0",
                                  "--metrics-port", "0",  "--runtime",      runtime};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<kubefn::testing::ChildProcess>(
        argv, std::map<std::string, std::string>{{"KUBEFN_HOME", dir_.file("home")}},
        dir_.file("out"), dir_.file("err"));
    const bool up = kubefn::testing::wait_until(
        [&] {
          std::smatch m;
          const std::string out = read_file(dir_.file("out"));
          static const std::regex mx("kubefn: metrics http://127\\.0\\.0\\.1:([0-9]+)");
          static const std::regex gw("kubefn: gateway http://127\\.0\\.0\\.1:([0-9]+)");
          if (!std::regex_search(out, m, mx)) return !process_->running();
          metrics_ = static_cast<std::uint16_t>(std::stoi(m[1]));
          if (std::regex_search(out, m, gw)) gateway_ = static_cast<std::uint16_t>(std::stoi(m[1]));
          return true;
        },
        180s, 100ms);
    if (!up || metrics_ == 0) die("kubefn up did not start: " + read_file(dir_.file("err")));
  }
  std::uint16_t gateway() const { return gateway_; }
  std::string token() const {
    std::string t = read_file(dir_.file("home") + "/token");
    while (!t.empty() && t.back() == '\n')
      t.pop_back();
    return t;
  }
  double delivered(const std::string& trigger) {
    auto r = kubefn::testing::http_request(metrics_, "GET", "/metrics");
    if (!r) return 0;
    return kubefn::testing::metric_value(r->body,
                                         "kubefn_trigger_events_total{function=\"sink\",namespace="
                                         "\"default\",result=\"delivered\",trigger=\"" +
                                             trigger + "\"}")
        .value_or(0);
  }
  bool wait_delivered(const std::string& trigger, double n, std::chrono::seconds timeout) {
    return kubefn::testing::wait_until([&] { return delivered(trigger) >= n; }, timeout, 20ms);
  }
  std::string log() const { return read_file(dir_.file("err")); }

 private:
  kubefn::testing::TempDir dir_;
  std::unique_ptr<kubefn::testing::ChildProcess> process_;
  std::uint16_t metrics_ = 0;
  std::uint16_t gateway_ = 0;
};

struct Percentiles {
  double p50 = 0, p99 = 0;
  std::size_t n = 0;
};

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.p50 = v[v.size() / 2];
  p.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  return p;
}

Percentiles latencies(const std::string& file) {
  std::vector<double> ms;
  std::istringstream in(read_file(file));
  for (std::string ns; in >> ns;)
    ms.push_back(std::stod(ns) / 1e6);
  return percentiles(std::move(ms));
}

// Through `kubefn up`: the backlog drained (time from the first delivery to the last), then
// probes at a fixed rate. `send(i, body)` puts one message in the broker.
struct TriggerRun {
  double rate = 0;
  Percentiles latency;
};

TriggerRun through_kubefn(const std::string& kubefn, const std::string& runtime,
                          const std::string& trigger_name, const std::string& trigger_yaml, int n,
                          int probe_rate, int probe_seconds,
                          const std::function<void(int, const std::string&)>& send) {
  kubefn::testing::TempDir work;
  const std::string lat = work.file("latency");
  Up up(kubefn, runtime, sink_function(lat, trigger_yaml));
  if (!kubefn::testing::wait_until([&] { return up.delivered(trigger_name) >= 1; }, 240s, 5ms)) {
    die("the " + trigger_name + " trigger delivered nothing: " + up.log());
  }
  const auto first = Clock::now();
  if (!up.wait_delivered(trigger_name, n, 240s)) die(trigger_name + ": not all delivered");
  TriggerRun r;
  r.rate = (n - 1) / seconds_since(first);
  const int probes = probe_rate * probe_seconds;
  const auto start = Clock::now();
  for (int i = 0; i < probes; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(1000000LL * i / probe_rate));
    send(i, "t=" + std::to_string(unix_ns()));
  }
  if (!up.wait_delivered(trigger_name, n + probes, 120s)) die(trigger_name + ": probes lost");
  r.latency = latencies(lat);
  return r;
}

// Asynchronous calls into the same no-op function: n calls through the gateway as usual
// (the reference), then n queued with POST /async/ (202 once stored, run by the dispatcher),
// from `clients` threads each; then probes at a fixed rate for the queue-to-handler latency.
struct AsyncRun {
  double sync_rate = 0;    // calls/s answered by the function through the gateway
  double accept_rate = 0;  // 202s/s
  double async_rate = 0;   // queued calls/s run to completion (202 of the first to the last run)
  Percentiles accept;      // time to the 202, ms
  Percentiles latency;     // queued to handler, ms
};

AsyncRun async_calls(const std::string& kubefn, const std::string& runtime, const std::string& url,
                     int n, int probe_rate, int probe_seconds) {
  kubefn::testing::TempDir work;
  const std::string lat = work.file("latency");
  Up up(kubefn, runtime, sink_function(lat, ""), {"--async-nats-url", url});
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + up.token()}};
  if (!kubefn::testing::wait_until(
          [&] {
            auto r =
                kubefn::testing::http_request(up.gateway(), "POST", "/default/sink/", "x", auth);
            return r && r->status == 200;
          },
          240s, 100ms)) {
    die("the sink function never answered: " + up.log());
  }
  constexpr int kClients = 8;
  auto drive = [&](const std::string& target, int expect, std::vector<double>* ms) {
    std::vector<std::thread> threads;
    std::mutex mu;
    std::atomic<int> failed{0};
    const auto start = Clock::now();
    for (int c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        kubefn::testing::HttpConnection conn(up.gateway());  // keep-alive, as a client would
        const std::string request = kubefn::testing::build_request("POST", target, "x", auth);
        std::vector<double> mine;
        for (int i = c; i < n; i += kClients) {
          const auto t0 = Clock::now();
          std::optional<kubefn::testing::HttpReply> r;
          if (conn.send(request)) r = conn.read_reply();
          if (!r || r->status != expect) ++failed;
          mine.push_back(seconds_since(t0) * 1000);
        }
        std::lock_guard<std::mutex> lock(mu);
        if (ms != nullptr) ms->insert(ms->end(), mine.begin(), mine.end());
      });
    }
    for (auto& t : threads)
      t.join();
    if (failed > 0)
      die(target + ": " + std::to_string(failed.load()) + " calls not answered " +
          std::to_string(expect));
    return n / seconds_since(start);
  };
  AsyncRun r;
  r.sync_rate = drive("/default/sink/", 200, nullptr);
  std::vector<double> accept_ms;
  const auto first = Clock::now();
  r.accept_rate = drive("/async/default/sink/", 202, &accept_ms);
  r.accept = percentiles(accept_ms);
  if (!up.wait_delivered("async", n, 240s)) die("async: not all run: " + up.log());
  r.async_rate = n / seconds_since(first);
  const int probes = probe_rate * probe_seconds;
  const auto start = Clock::now();
  kubefn::testing::HttpConnection conn(up.gateway());
  for (int i = 0; i < probes; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(1000000LL * i / probe_rate));
    std::optional<kubefn::testing::HttpReply> reply;
    if (conn.send(kubefn::testing::build_request("POST", "/async/default/sink/",
                                                 "t=" + std::to_string(unix_ns()), auth))) {
      reply = conn.read_reply();
    }
    if (!reply || reply->status != 202) die("async probe refused");
  }
  if (!up.wait_delivered("async", n + probes, 120s)) die("async: probes lost");
  r.latency = latencies(lat);
  return r;
}

}  // namespace

int run(int argc, char** argv) {
  if (argc < 4) die("usage: events_bench KUBEFN RUNTIME KAFKA_LIBS [N] [RATE] [SECONDS]");
  const std::string kubefn = argv[1], runtime = argv[2], kafka_libs = argv[3];
  const int n = argc > 4 ? std::atoi(argv[4]) : 5000;
  const int rate = argc > 5 ? std::atoi(argv[5]) : 100;
  const int probe_seconds = argc > 6 ? std::atoi(argv[6]) : 10;

  kubefn::testing::NatsServer nats_server;
  kubefn::testing::KafkaBroker broker(kafka_libs);
  for (const char* t : {"bare", "platform"})
    broker.create_topic(t, 3);
  kubefn::nats::Options no;
  no.url = nats_server.url();
  auto conn = kubefn::nats::Connection::connect(no);
  if (!conn.ok()) die(conn.status().message());
  kubefn::nats::JetStream js(conn.value());
  for (auto [name, subject] : {std::pair{"BENCH", "bare.>"}, std::pair{"PLAT", "plat.>"}}) {
    kubefn::nats::StreamConfig s;
    s.name = name;
    s.subjects = {subject};
    if (!js.create_or_update_stream(s).ok()) die("stream");
  }
  kubefn::kafka::ProducerConfig pc;
  pc.client.bootstrap_servers = broker.bootstrap_servers();
  auto producer = kubefn::kafka::make_producer(pc);
  if (!producer.ok()) die(producer.status().message());

  std::cout << "putting " << n << " messages in each broker, twice (not timed)\n";
  nats_publish(js, "bare.in", n, 8);
  nats_publish(js, "plat.in", n, 8);
  kafka_produce(*producer.value(), "bare", n, 32);
  kafka_produce(*producer.value(), "platform", n, 32);

  std::cout << "bare consumers draining them (fetch + ack; poll + commit)\n";
  const double nats_bare_rate = nats_bare(js, n);
  std::printf("  NATS JetStream: %.0f msg/s\n", nats_bare_rate);
  const double kafka_bare_rate = kafka_bare(broker.bootstrap_servers(), n);
  std::printf("  Kafka:          %.0f msg/s\n", kafka_bare_rate);

  std::cout << "kubefn up's triggers draining them into a no-op function (the gateway, the "
               "runtime, an HTTP call and an acknowledgement per message), then "
            << rate << " msg/s for " << probe_seconds << " s of latency probes\n";
  const TriggerRun nr =
      through_kubefn(kubefn, runtime, "nats",
                     "    nats:\n      - {name: nats, url: \"" + nats_server.url() +
                         "\", stream: PLAT, subject: plat.in}\n",
                     n, rate, probe_seconds, [&](int, const std::string& body) {
                       if (!js.publish("plat.in", body).ok()) die("publish");
                     });
  std::printf(
      "  NATS trigger:  %.0f msg/s (x%.2f of the bare consumer); latency p50 %.2f ms, "
      "p99 %.2f ms\n",
      nr.rate, nr.rate / nats_bare_rate, nr.latency.p50, nr.latency.p99);
  const int per_partition = 1;
  const TriggerRun kr = through_kubefn(kubefn, runtime, "kafka",
                                       "    kafka:\n      - {name: kafka, bootstrapServers: \"" +
                                           broker.bootstrap_servers() + "\", topic: platform}\n",
                                       n, rate, probe_seconds, [&](int i, const std::string& body) {
                                         kubefn::kafka::OutgoingMessage m;
                                         m.topic = "platform";
                                         m.key = std::to_string(i);
                                         m.value = body;
                                         if (!producer.value()->produce(m).ok()) die("produce");
                                       });
  std::printf(
      "  Kafka trigger: %.0f msg/s (x%.2f of the bare consumer; one in flight per "
      "partition, 3 partitions); latency p50 %.2f ms, p99 %.2f ms (the produce waits "
      "for acks=all)\n",
      kr.rate, kr.rate / kafka_bare_rate, kr.latency.p50, kr.latency.p99);

  std::cout << "asynchronous calls into the same function: " << n
            << " through the gateway as usual, then " << n
            << " queued with POST /async/ (8 clients each), then " << rate << " calls/s for "
            << probe_seconds << " s of latency probes\n";
  const AsyncRun ar = async_calls(kubefn, runtime, nats_server.url(), n, rate, probe_seconds);
  std::printf(
      "  calls:        %.0f calls/s answered through the gateway\n"
      "  async calls:  %.0f accepted/s (202 p50 %.2f ms, p99 %.2f ms), %.0f run/s to the end "
      "(x%.2f of the calls); queued to handler p50 %.2f ms, p99 %.2f ms\n",
      ar.sync_rate, ar.accept_rate, ar.accept.p50, ar.accept.p99, ar.async_rate,
      ar.async_rate / ar.sync_rate, ar.latency.p50, ar.latency.p99);

  nlohmann::json out = {{"messages", n},
                        {"sync_calls_per_s", ar.sync_rate},
                        {"async_accepted_per_s", ar.accept_rate},
                        {"async_run_per_s", ar.async_rate},
                        {"async_ratio", ar.async_rate / ar.sync_rate},
                        {"async_accept_p50_ms", ar.accept.p50},
                        {"async_accept_p99_ms", ar.accept.p99},
                        {"async_p50_ms", ar.latency.p50},
                        {"async_p99_ms", ar.latency.p99},
                        {"nats_bare_msgs_per_s", nats_bare_rate},
                        {"nats_trigger_msgs_per_s", nr.rate},
                        {"nats_ratio", nr.rate / nats_bare_rate},
                        {"kafka_bare_msgs_per_s", kafka_bare_rate},
                        {"kafka_trigger_msgs_per_s", kr.rate},
                        {"kafka_ratio", kr.rate / kafka_bare_rate},
                        {"kafka_in_flight_per_partition", per_partition},
                        {"latency_rate_per_s", rate},
                        {"nats_p50_ms", nr.latency.p50},
                        {"nats_p99_ms", nr.latency.p99},
                        {"kafka_p50_ms", kr.latency.p50},
                        {"kafka_p99_ms", kr.latency.p99}};
  std::cout << out.dump() << "\n";
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench/events: " << e.what() << "\n";
    return 1;
  }
}
