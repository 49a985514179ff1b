// kubefn-gateway: serves /{namespace}/{function}/... for the functions it learns from the
// Kubernetes API (--kubernetes or --kubeconfig) or from --route flags.
#include <prometheus/registry.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kubefn/async/call_store.hpp"
#include "kubefn/gateway/gateway.hpp"
#include "kubefn/gateway/kubernetes_source.hpp"
#include "kubefn/kube/in_cluster_config.hpp"
#include "kubefn/kube/kubeconfig.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/kube/trigger_claims.hpp"
#include "kubefn/metering/meter.hpp"
#include "kubefn/metering/sizing.hpp"
#include "stats_reporter.hpp"

namespace {

using namespace kubefn;

void log_line(const std::string& level, const std::string& msg, const std::string& extra = {}) {
  std::ostringstream out;
  out << "{\"level\":\"" << level << "\",\"msg\":" << nlohmann::json(msg).dump() << extra << "}\n";
  std::cerr << out.str() << std::flush;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// "ns/name=host:port[,host:port...][;public][;concurrency=N][;timeout=SECONDS][;host=NAME]
// [;path=PREFIX]"
std::optional<gateway::FunctionRoute> parse_route(const std::string& spec, std::string* error) {
  auto parts = split(spec, ';');
  if (parts.empty()) {
    *error = "empty route";
    return std::nullopt;
  }
  const std::string& head = parts[0];
  std::size_t eq = head.find('=');
  std::size_t slash = head.find('/');
  if (eq == std::string::npos || slash == std::string::npos || slash > eq) {
    *error = "expected ns/name=host:port[,host:port...]";
    return std::nullopt;
  }
  gateway::FunctionRoute r;
  r.ns = head.substr(0, slash);
  r.name = head.substr(slash + 1, eq - slash - 1);
  int i = 0;
  for (const std::string& hp : split(head.substr(eq + 1), ',')) {
    std::size_t colon = hp.rfind(':');
    if (colon == std::string::npos) {
      *error = "endpoint \"" + hp + "\" has no port";
      return std::nullopt;
    }
    gateway::Endpoint e;
    e.id = r.name + "-" + std::to_string(i++);
    e.host = hp.substr(0, colon);
    e.port = static_cast<std::uint16_t>(std::stoi(hp.substr(colon + 1)));
    e.ready = true;
    r.endpoints.push_back(e);
  }
  for (std::size_t k = 1; k < parts.size(); ++k) {
    const std::string& opt = parts[k];
    if (opt == "public") {
      r.access = gateway::Access::kPublic;
    } else if (opt.rfind("concurrency=", 0) == 0) {
      r.concurrency = std::stoi(opt.substr(12));
    } else if (opt.rfind("timeout=", 0) == 0) {
      r.timeout = std::chrono::milliseconds(static_cast<long>(std::stod(opt.substr(8)) * 1000));
    } else if (opt.rfind("host=", 0) == 0) {
      if (!r.host.empty()) {
        *error = "a route has at most one host";
        return std::nullopt;
      }
      r.host = opt.substr(5);
    } else if (opt.rfind("path=", 0) == 0) {
      if (const kube::ClaimKey path = kube::path_claim_key(opt.substr(5)); !path.ok()) {
        *error = path.error;
        return std::nullopt;
      }
      r.path = opt.substr(5);
    } else {
      *error = "unknown route option \"" + opt + "\"";
      return std::nullopt;
    }
  }
  return r;
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<long>(s * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"kubefn-gateway: the public HTTP door to kubefn functions"};
  gateway::GatewayOptions options;
  int port = 8080;
  double queue_timeout = 10;
  double activation_timeout = 0;
  double write_timeout = 30;
  int metrics_port = 9090;
  bool kubernetes = false;
  std::string kubeconfig;
  std::string context;
  std::string namespaces;
  std::string keys_file;
  std::string keys_secret = "kubefn-system/kubefn-gateway-keys";
  std::vector<std::string> route_specs;
  std::vector<std::string> reserved_hosts;
  std::vector<std::string> allow_hosts;
  std::string stats_address;
  std::string prices_file;
  app.add_option("--port", port, "listening port (0 picks one)")->check(CLI::Range(0, 65535));
  app.add_option("--bind-address", options.bind_address, "listening address");
  app.add_option("--threads", options.threads, "event-loop threads (0: CPUs available)")
      ->check(CLI::Range(0, 256));
  app.add_flag("--kubernetes", kubernetes,
               "learn functions from the Kubernetes API ($KUBECONFIG, in-cluster, ~/.kube/config)");
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig file (implies --kubernetes)");
  app.add_option("--context", context, "kubeconfig context");
  app.add_option("--namespaces", namespaces, "comma-separated namespaces to serve (default: all)")
      ->envname("KUBEFN_WATCH_NAMESPACES");
  app.add_option("--keys-file", keys_file,
                 "file of bearer tokens for private functions, one per line: TOKEN "
                 "[SCOPE[,SCOPE...]], SCOPE one of *, NAMESPACE/*, NAMESPACE/NAME (re-read on "
                 "change)");
  app.add_option("--reserved-host", reserved_hosts,
                 "a name of the gateway itself (a host, or *.suffix) that no Function may claim "
                 "as spec.triggers.http.host; localhost is always reserved (repeatable)");
  app.add_option("--allow-host", allow_hosts,
                 "NAMESPACE=PATTERN: Functions of NAMESPACE (* for any) may claim hosts PATTERN "
                 "matches (a host, *.suffix or *); none: no host triggers (repeatable)");
  app.add_option("--keys-secret", keys_secret,
                 "namespace/name of the Secret of bearer tokens (Kubernetes mode; empty: none)");
  app.add_option("--queue-limit", options.queue_limit,
                 "per function: requests that may wait for capacity");
  app.add_option("--queue-timeout", queue_timeout, "seconds a request may wait for capacity")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--activation-timeout", activation_timeout,
                 "seconds a request may wait for a first ready replica (0: answer 503 at once)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--write-timeout", write_timeout,
                 "seconds a response may make no progress (no byte written) before the "
                 "connection is cut")
      ->check(CLI::Range(0.001, 3600.0));
  app.add_option("--max-connections", options.max_connections,
                 "client connections open at once; more are accepted and closed")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--max-buffered-bytes", options.max_buffered_bytes,
                 "request and response bytes buffered across the gateway; a request needing "
                 "more gets 503")
      ->check(CLI::Range(std::size_t{1} << 20, std::size_t{1} << 40));
  app.add_option("--metrics-port", metrics_port,
                 "port of GET /metrics, a listener of its own (0 picks one, -1: none)")
      ->check(CLI::Range(-1, 65535));
  app.add_option("--metrics-bind-address", options.metrics_address, "metrics listening address");
  app.add_option("--route", route_specs,
                 "static route: ns/name=host:port[,host:port...][;public][;concurrency=N]"
                 "[;timeout=SECONDS][;host=NAME][;path=PREFIX] (repeatable)");
  app.add_option("--stats-address", stats_address,
                 "host:port of the operator's stats stream: the load is sent there every "
                 "second (empty: not sent)")
      ->envname("KUBEFN_STATS_ADDRESS");
  app.add_option("--prices", prices_file,
                 "price sheet file (YAML or JSON) calls are priced with; read again when it "
                 "changes (default: the built-in sheet)");
  std::string async_nats_url, async_nats_credentials;
  app.add_option("--async-nats-url", async_nats_url,
                 "NATS server(s) with JetStream of the asynchronous call queue, "
                 "nats://host:port[,...] (empty: /async/ answers 501)")
      ->envname("KUBEFN_ASYNC_NATS_URL");
  app.add_option("--async-nats-credentials", async_nats_credentials,
                 "file holding the NATS credentials of the call queue: 'USER:PASSWORD' or a "
                 "token, on its first line");
  app.add_option("--async-callback-host", options.callback_hosts,
                 "a host asynchronous calls' X-Callback-Url may name (a host, *.suffix or *; "
                 "repeatable); none: any");
  CLI11_PARSE(app, argc, argv);
  if (!async_nats_url.empty()) {
    async::CallFrontOptions a;
    a.url = async_nats_url;
    if (!async_nats_credentials.empty()) {
      auto c = async::read_queue_credentials(async_nats_credentials);
      if (!c) {
        std::cerr << "kubefn-gateway: cannot read --async-nats-credentials "
                  << async_nats_credentials << "\n";
        return 2;
      }
      a.user = c->user;
      a.password = c->password;
      a.token = c->token;
    }
    options.async_calls = std::make_shared<async::CallFront>(std::move(a));
  }
  options.port = static_cast<std::uint16_t>(port);
  options.queue_timeout = seconds_to_ms(queue_timeout);
  options.activation_timeout = seconds_to_ms(activation_timeout);
  options.write_timeout = seconds_to_ms(write_timeout);
  options.metrics_port = metrics_port;
  if (!kubeconfig.empty()) kubernetes = true;

  // Host triggers: never the gateway's own names, and only where the admin allows them. A
  // --route's own host=NAME is the admin's word, so it is allowed for that route.
  kube::ClaimPolicy claim_policy;
  claim_policy.reserved_hosts = reserved_hosts;
  for (const std::string& a : allow_hosts) {
    auto allowance = kube::parse_host_allowance(a);
    if (!allowance.ok()) {
      log_line("error", "bad --allow-host: " + allowance.status().message());
      return 2;
    }
    claim_policy.allowances.push_back(std::move(*allowance));
  }
  gateway::RouteTable routes;
  gateway::KeyRing keys;
  for (const std::string& spec : route_specs) {
    std::string error;
    auto r = parse_route(spec, &error);
    if (!r) {
      log_line("error", "bad --route \"" + spec + "\": " + error);
      return 2;
    }
    if (!r->host.empty()) {
      const kube::ClaimKey host = kube::host_claim_key(r->host);
      if (!host.ok() || claim_policy.reserved(host.key)) {
        log_line("error", "bad --route \"" + spec + "\": " +
                              (host.ok() ? "host " + host.key + " is reserved for the gateway"
                                         : host.error));
        return 2;
      }
      claim_policy.allowances.push_back({r->ns, host.key});
    }
    routes.upsert(std::move(*r));
  }
  routes.set_claim_policy(std::move(claim_policy));

  std::filesystem::file_time_type keys_mtime{};
  auto load_keys = [&](bool initial) {
    std::error_code ec;
    auto mtime = std::filesystem::last_write_time(keys_file, ec);
    if (ec) {
      if (initial) log_line("error", "cannot read --keys-file " + keys_file);
      return !initial;
    }
    if (!initial && mtime == keys_mtime) return true;
    keys_mtime = mtime;
    std::ifstream in(keys_file);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = gateway::parse_keys(text.str());
    if (!parsed.ok()) {
      // A bad edit changes nothing: the keys loaded before stay until the file is fixed.
      log_line("error", "--keys-file " + keys_file + ": " + parsed.status().message() +
                            (initial ? "" : "; keeping the keys loaded before"));
      return !initial;
    }
    log_line("info", "loaded keys", ",\"count\":" + std::to_string(parsed->size()));
    keys.set_keys(std::move(*parsed));
    return true;
  };
  if (!keys_file.empty() && !load_keys(true)) return 2;

  kube::RealClock clock;
  std::unique_ptr<kube::KubeClient> client;
  std::unique_ptr<gateway::KubernetesSource> source;
  if (kubernetes) {
    kube::Result<kube::ClientConfig> config = kube::load_config(kubeconfig, context);
    if (!config.ok()) {
      log_line("error", "cannot configure the Kubernetes client: " + config.status().to_string());
      return 2;
    }
    kube::RestClientOptions rest;
    rest.user_agent = "kubefn-gateway";
    auto made = kube::make_rest_kube_client(*config, clock, rest);
    if (!made.ok()) {
      log_line("error", "cannot create the Kubernetes client: " + made.status().to_string());
      return 2;
    }
    client = std::move(*made);
    gateway::KubernetesSourceOptions so;
    so.log = [](const std::string& message) { log_line("error", message); };
    so.namespaces = split(namespaces, ',');
    std::size_t slash = keys_secret.find('/');
    if (keys_secret.empty()) {
      so.keys_secret_name.clear();
    } else if (slash == std::string::npos) {
      so.keys_secret_name = keys_secret;
    } else {
      so.keys_secret_namespace = keys_secret.substr(0, slash);
      so.keys_secret_name = keys_secret.substr(slash + 1);
    }
    source = std::make_unique<gateway::KubernetesSource>(*client, clock, routes, keys, so);
    source->start();
  }

  prometheus::Registry registry;
  // A call that has to wait is reported to the operator at once (with --stats-address).
  std::atomic<gateway::GatewayStatsReporter*> reporter{nullptr};
  options.on_demand = [&reporter](const std::string& ns, const std::string& name) {
    if (gateway::GatewayStatsReporter* r = reporter.load()) r->demand(ns, name);
  };
  options.meter = std::make_shared<metering::Meter>();
  std::optional<metering::PriceFile> prices;
  auto load_prices = [&](bool initial) {
    auto changed = prices->changed();
    if (!changed) return true;
    if (auto* why = std::get_if<std::string>(&*changed)) {
      log_line("error",
               "--prices: " + *why + (initial ? "" : "; keeping the prices loaded before"));
      return !initial;
    }
    options.meter->set_prices(std::get<metering::PriceSheet>(*changed));
    log_line("info", "loaded prices",
             ",\"file\":" + nlohmann::json(prices->path().string()).dump());
    return true;
  };
  if (!prices_file.empty()) {
    prices.emplace(prices_file);
    if (!load_prices(true)) return 2;
  }
  gateway::Gateway gw(routes, keys, options, &registry);
  kube::Status st = gw.start();
  if (!st.ok()) {
    log_line("error", st.message());
    return 3;
  }
  log_line("info", "listening", ",\"port\":" + std::to_string(gw.port()));
  if (options.metrics_port >= 0) {
    log_line("info", "metrics listening", ",\"port\":" + std::to_string(gw.metrics_port()));
  }
  std::unique_ptr<gateway::GatewayStatsReporter> stats;
  if (!stats_address.empty()) {
    stats::StatsStreamOptions so;
    so.address = stats_address;
    so.log = [](const std::string& message) { log_line("info", message); };
    std::string name;
    if (const char* pod = std::getenv("POD_NAME"); pod != nullptr) name = pod;
    if (name.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof host - 1);
      name = host;
    }
    stats = std::make_unique<gateway::GatewayStatsReporter>(gw, std::move(so), name);
    reporter.store(stats.get());
  }

  for (;;) {
    timespec wait{2, 0};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (!keys_file.empty()) load_keys(false);
    if (prices) load_prices(false);
  }
  reporter.store(nullptr);
  if (stats) stats->stop();
  log_line("info", "draining: stopped accepting, finishing in-flight requests");
  gw.stop();
  if (source) source->stop();
  log_line("info", "drained, exiting");
  return 0;
}
