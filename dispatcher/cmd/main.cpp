// kubefn-dispatcher: runs every Function's event triggers on a cluster, calling the functions
// through the gateway with the gateway key it is given. Replicas share the work: each schedule
// run is claimed in the Function's status (one replica wins it), and the replicas of a queue
// trigger pull from one durable consumer. main() wires the real clock, client, caller and
// dispatcher.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/delivery/gateway_caller.hpp"
#include "kubefn/dispatch/dispatcher.hpp"
#include "kubefn/kube/in_cluster_config.hpp"
#include "kubefn/kube/kubeconfig.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  using namespace kubefn;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CLI::App app{"kubefn-dispatcher: runs kubefn Functions' event triggers"};
  std::string kubeconfig, context, namespaces, gateway_url, token_file;
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
  app.add_option("--bind-address", bind, "address of /healthz, /readyz and /metrics");
  app.add_option("--metrics-port", metrics_port, "port of /healthz, /readyz and /metrics")
      ->check(CLI::Range(0, 65535));
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
  log_line("info", "dispatching through " + gateway_url + "; metrics on " + bind + ":" +
                       std::to_string(health->port()));
  int sig = 0;
  sigwait(&signals, &sig);
  log_line("info", "shutting down: calls in flight finish, unacknowledged events are redelivered");
  dispatcher.stop();
  return 0;
}
