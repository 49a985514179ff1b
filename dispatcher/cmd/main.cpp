// kubefn-dispatcher: runs every Function's event triggers on a cluster, calling the functions
// through the gateway with the gateway key it is given. Replicas share the work: each schedule
// run is claimed in the Function's status (one replica wins it), and the replicas of a queue
// trigger pull from one durable consumer. main() wires the real clock, client, caller and
// dispatcher, and (with --stats-address) streams the queue triggers' backlogs to the
// operator's autoscaler once a second.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "kubefn/async/call_store.hpp"
#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/delivery/gateway_caller.hpp"
#include "kubefn/dispatch/dispatcher.hpp"
#include "kubefn/kube/in_cluster_config.hpp"
#include "kubefn/kube/kubeconfig.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/stats/stream.hpp"
#include "kubefn/telemetry/health_server.hpp"
#include "kubefn/telemetry/process_collector.hpp"

namespace {

void log_line(const std::string& level, const std::string& msg) {
  std::ostringstream out;
  out << "{\"level\":\"" << level << "\",\"msg\":" << nlohmann::json(msg).dump() << "}\n";
  std::cerr << out.str() << std::flush;
}

// The first line of `path` that is not blank or a # comment, trimmed.
std::string first_token(const std::string& path) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const auto e = line.find_first_of(" \t\r", b);
    return line.substr(b, e == std::string::npos ? std::string::npos : e - b);
  }
  return {};
}

// A backlog measured longer ago than this is not sent: its runner cannot reach its broker, and
// the figure says nothing of now (the slowest measures every 5 s).
constexpr std::chrono::seconds kBacklogMaxAge{15};

// One DispatcherStats sample a second, with every queue trigger's backlog, on the stats stream.
class BacklogReporter {
 public:
  BacklogReporter(kubefn::dispatch::Dispatcher& dispatcher, kubefn::kube::Clock& clock,
                  kubefn::stats::StatsStreamOptions stream, std::string name)
      : dispatcher_(dispatcher),
        clock_(clock),
        name_(std::move(name)),
        stream_(std::move(stream)),
        thread_([this] { run(); }) {}
  ~BacklogReporter() { stop(); }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    stream_.stop();
  }

 private:
  void run() {
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_until(lock, next, [&] { return stop_; })) return;
      }
      next += std::chrono::seconds(1);
      if (next < std::chrono::steady_clock::now()) {
        next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      }
      kubefn::v1::StatsSample sample;
      auto* d = sample.mutable_dispatcher();
      d->set_dispatcher(name_);
      d->set_second_start_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      clock_.wall_now().time_since_epoch())
                                      .count());
      const auto now = clock_.now();
      for (const auto& b : dispatcher_.backlog()) {
        if (now - b.updated > kBacklogMaxAge) continue;
        auto* t = d->add_triggers();
        t->set_namespace_(b.ns);
        t->set_function(b.function);
        t->set_trigger(b.trigger);
        t->set_pending(b.pending);
      }
      // Sent with no trigger too: the autoscaler drops what this dispatcher no longer runs.
      stream_.offer(std::move(sample));
    }
  }

  kubefn::dispatch::Dispatcher& dispatcher_;
  kubefn::kube::Clock& clock_;
  const std::string name_;
  kubefn::stats::StatsStream stream_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace kubefn;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CLI::App app{"kubefn-dispatcher: runs kubefn Functions' event triggers"};
  std::string kubeconfig, context, namespaces, gateway_url, token_file, stats_address, name;
  std::string bind = "0.0.0.0";
  int metrics_port = 8080;
  app.add_option("--kubeconfig", kubeconfig,
                 "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  app.add_option("--context", context, "kubeconfig context");
  app.add_option("--namespaces", namespaces,
                 "comma-separated namespaces whose Functions it serves (default: all)")
      ->envname("KUBEFN_WATCH_NAMESPACES");
  app.add_option("--gateway", gateway_url, "the gateway events are sent through: http://host:port")
      ->required()
      ->envname("KUBEFN_GATEWAY_URL");
  app.add_option("--token-file", token_file,
                 "file whose first line is the gateway key the dispatcher calls with")
      ->required()
      ->envname("KUBEFN_GATEWAY_TOKEN_FILE");
  app.add_option("--stats-address", stats_address,
                 "host:port of the operator's stats stream: the queue triggers' backlogs are "
                 "sent there every second, for the autoscaler (empty: not sent)")
      ->envname("KUBEFN_STATS_ADDRESS");
  app.add_option("--name", name,
                 "the name this dispatcher reports its backlogs under (default: $POD_NAME, "
                 "else the host name)");
  app.add_option("--bind-address", bind, "address of /healthz, /readyz and /metrics");
  app.add_option("--metrics-port", metrics_port, "port of /healthz, /readyz and /metrics")
      ->check(CLI::Range(0, 65535));
  std::string async_nats_url, async_nats_credentials;
  app.add_option("--async-nats-url", async_nats_url,
                 "NATS server(s) with JetStream of the gateway's asynchronous call queue, "
                 "nats://host:port[,...] (empty: asynchronous calls are not run here)")
      ->envname("KUBEFN_ASYNC_NATS_URL");
  app.add_option("--async-nats-credentials", async_nats_credentials,
                 "file holding the call queue's NATS credentials: 'USER:PASSWORD' or a token, on "
                 "its first line");
  CLI11_PARSE(app, argc, argv);

  delivery::GatewayCallerOptions caller_options;
  if (!delivery::parse_gateway_url(gateway_url, caller_options)) {
    log_line("error", "--gateway \"" + gateway_url + "\" is not http://host[:port]");
    return 2;
  }
  caller_options.token = first_token(token_file);
  if (caller_options.token.empty()) {
    log_line("error", "--token-file " + token_file + " holds no token");
    return 2;
  }
  kube::Result<kube::ClientConfig> config = kube::load_config(kubeconfig, context);
  if (!config.ok()) {
    log_line("error", "cannot configure the Kubernetes client: " + config.status().to_string());
    return 2;
  }
  kube::RealClock clock;
  auto client = kube::make_rest_kube_client(*config, clock);
  if (!client.ok()) {
    log_line("error", "cannot create the Kubernetes client: " + client.status().to_string());
    return 2;
  }
  prometheus::Registry registry;
  controller::ApiEventRecorder events(**client, clock);
  delivery::GatewayCaller caller(caller_options);
  dispatch::DispatcherOptions options;
  for (std::stringstream in(namespaces); in.good();) {
    std::string n;
    std::getline(in, n, ',');
    if (!n.empty()) options.namespaces.push_back(n);
  }
  options.async_nats_url = async_nats_url;
  if (!async_nats_credentials.empty()) {
    auto c = async::read_queue_credentials(async_nats_credentials);
    if (!c) {
      log_line("error", "cannot read --async-nats-credentials " + async_nats_credentials);
      return 2;
    }
    options.async_nats_user = c->user;
    options.async_nats_password = c->password;
    options.async_nats_token = c->token;
  }
  dispatch::Dispatcher dispatcher(**client, clock, events, caller, registry, options);
  std::unique_ptr<telemetry::HealthServer> health;
  try {
    health = std::make_unique<telemetry::HealthServer>(
        bind, static_cast<std::uint16_t>(metrics_port), registry,
        [&] { return dispatcher.synced(); }, [] { return telemetry::process_metrics_text(); });
  } catch (const std::exception& e) {
    log_line("error", std::string("cannot serve metrics: ") + e.what());
    return 4;
  }
  dispatcher.start();
  std::unique_ptr<BacklogReporter> reporter;
  if (!stats_address.empty()) {
    if (name.empty()) {
      if (const char* pod = std::getenv("POD_NAME"); pod != nullptr) name = pod;
    }
    if (name.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof host - 1);
      name = host;
    }
    stats::StatsStreamOptions so;
    so.address = stats_address;
    so.log = [](const std::string& message) { log_line("info", message); };
    reporter = std::make_unique<BacklogReporter>(dispatcher, clock, std::move(so), name);
  }
  log_line("info", "dispatching through " + gateway_url + "; metrics on " + bind + ":" +
                       std::to_string(health->port()) +
                       (stats_address.empty() ? "" : "; backlogs to " + stats_address));
  int sig = 0;
  sigwait(&signals, &sig);
  log_line("info", "shutting down: calls in flight finish, unacknowledged events are redelivered");
  if (reporter) reporter->stop();
  dispatcher.stop();
  return 0;
}
