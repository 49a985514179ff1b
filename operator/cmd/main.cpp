// kubefn-operator: reconciles Functions into ConfigMaps, Deployments and Services.
// main() wires the real clock, client, recorder, the Kubernetes platform, the controller,
// elector and endpoints.
#include <prometheus/text_serializer.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <sstream>

#include "kubefn/autoscaler/cluster_autoscaler.hpp"
#include "kubefn/autoscaler/stats_server.hpp"
#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/controller/function_controller.hpp"
#include "kubefn/kube/in_cluster_config.hpp"
#include "kubefn/kube/kubeconfig.hpp"
#include "kubefn/kube/leader_elector.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/metering/meter.hpp"
#include "kubefn/metering/sizing.hpp"
#include "kubefn/platform/kubernetes/kubernetes_platform.hpp"
#include "kubefn/platform/kubernetes/replica_meter.hpp"
#include "kubefn/telemetry/health_server.hpp"
#include "kubefn/telemetry/process_collector.hpp"

namespace {

std::mutex g_mu;
std::condition_variable g_cv;
std::atomic<int> g_signal{0};

void log_line(const std::string& level, const std::string& msg) {
  std::ostringstream out;
  out << "{\"level\":\"" << level << "\",\"msg\":" << nlohmann::json(msg).dump() << "}\n";
  std::cerr << out.str() << std::flush;
}

// The stats stream's samples go to the autoscaler, and each replica's second to metering too.
class StatsTee final : public kubefn::autoscaler::StatsSink {
 public:
  StatsTee(kubefn::autoscaler::StatsSink& scaler, kubefn::platform::kubernetes::ReplicaMeter* meter)
      : scaler_(scaler), meter_(meter) {}
  void on_replica(const kubefn::autoscaler::ReplicaReport& r) override {
    scaler_.on_replica(r);
    if (meter_ == nullptr) return;
    kubefn::platform::kubernetes::ReplicaSecond second;
    second.ns = r.ns;
    second.function = r.function;
    second.replica = r.replica;
    second.second_start_unix_ms = r.second_start_unix_ms;
    second.busy_seconds = r.busy_union_seconds;
    second.cpu_seconds = r.cpu_seconds;
    second.rss_bytes = r.rss_bytes;
    meter_->on_stats(second);
  }
  void on_gateway(const kubefn::autoscaler::GatewayReport& g) override { scaler_.on_gateway(g); }
  void on_dispatcher(const kubefn::autoscaler::DispatcherReport& d) override {
    scaler_.on_dispatcher(d);
  }

 private:
  kubefn::autoscaler::StatsSink& scaler_;
  kubefn::platform::kubernetes::ReplicaMeter* meter_;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kubefn;
  // SIGTERM and SIGINT are taken by one waiting thread. Block them first, so that every
  // thread started later (the HTTP client's among them) inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CLI::App app{"kubefn-operator: runs kubefn Functions on Kubernetes"};
  std::string kubeconfig;
  std::string context;
  std::string namespaces;
  int workers = 2;
  bool leader_elect = false;
  std::string lease_namespace = "kubefn-system";
  std::string lease_name = "kubefn-operator";
  std::string identity;
  std::string bind = "0.0.0.0";
  int metrics_port = 8080;
  double lease_seconds = 15;
  int stats_port = 0;
  app.add_option("--kubeconfig", kubeconfig,
                 "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  app.add_option("--context", context, "kubeconfig context");
  app.add_option("--namespaces", namespaces, "comma-separated namespaces to watch (default: all)")
      ->envname("KUBEFN_WATCH_NAMESPACES");
  app.add_option("--workers", workers, "concurrent reconciles")->check(CLI::Range(1, 64));
  app.add_flag("--leader-elect", leader_elect, "elect a leader on a Lease before reconciling")
      ->envname("KUBEFN_LEADER_ELECT");
  app.add_option("--lease-namespace", lease_namespace,
                 "the operator's own namespace: of the leader Lease and the metering checkpoint")
      ->envname("POD_NAMESPACE");
  app.add_option("--lease-name", lease_name, "name of the leader Lease");
  app.add_option("--lease-duration", lease_seconds, "seconds a leader's Lease lasts unrenewed")
      ->check(CLI::Range(1.0, 600.0));
  app.add_option("--identity", identity, "this replica's name in the Lease (default: host name)")
      ->envname("POD_NAME");
  app.add_option("--bind-address", bind, "address of /healthz, /readyz and /metrics");
  app.add_option("--metrics-port", metrics_port,
                 "port of /healthz, /readyz and /metrics (0 picks one)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--stats-port", stats_port,
                 "port of the stats stream replicas and gateways report load to; runs the "
                 "autoscaler on the leader (0: off)")
      ->check(CLI::Range(0, 65535))
      ->envname("KUBEFN_STATS_PORT");
  bool metering_on = true;
  std::string metering_checkpoint = "kubefn-metering";
  std::string prices_file;
  app.add_flag("--metering,!--no-metering", metering_on,
               "meter every Function's replicas (on the leader) and export their time, usage and "
               "cost on /metrics (default: on)");
  app.add_option("--metering-checkpoint", metering_checkpoint,
                 "ConfigMap in --lease-namespace that records how far each pod is metered");
  app.add_option("--prices", prices_file,
                 "price sheet (YAML or JSON) metering prices with, read again when it changes "
                 "(default: the built-in sheet)")
      ->envname("KUBEFN_PRICES");
  platform::kubernetes::BuildSettings build;
  app.add_option(
         "--stats-address", build.stats_address,
         "host:port replicas dial to report load (the operator's Service and --stats-port); "
         "set in every Function's Deployment")
      ->envname("KUBEFN_STATS_ADDRESS");
  app.add_option("--registry", build.registry,
                 "repository prefix built images are pushed to, e.g. registry:5000/kubefn "
                 "(empty: no builds; only spec.image runs)")
      ->envname("KUBEFN_REGISTRY");
  app.add_option("--base-image", build.base_image, "the runtime base image builds append to")
      ->envname("KUBEFN_BASE_IMAGE");
  app.add_option("--builder-image", build.builder_image, "the image build Jobs run")
      ->envname("KUBEFN_BUILDER_IMAGE");
  app.add_option("--registry-secret", build.registry_secret,
                 "dockerconfigjson Secret, in each Function's namespace, with push credentials")
      ->envname("KUBEFN_REGISTRY_SECRET");
  app.add_flag("--registry-plain-http", build.plain_http, "the registry speaks plain HTTP")
      ->envname("KUBEFN_REGISTRY_PLAIN_HTTP");
  app.add_option("--build-timeout", build.timeout_seconds, "seconds a build Job may run")
      ->check(CLI::Range(10, 86400));
  std::vector<std::string> reserved_hosts;
  std::vector<std::string> allow_hosts;
  app.add_option("--reserved-host", reserved_hosts,
                 "a name of the gateway (a host, or *.suffix) no Function may claim as "
                 "spec.triggers.http.host; localhost is always reserved (repeatable; give the "
                 "gateway the same)");
  app.add_option("--allow-host", allow_hosts,
                 "NAMESPACE=PATTERN: Functions of NAMESPACE (* for any) may claim hosts PATTERN "
                 "matches (a host, *.suffix or *); none: no host triggers (repeatable; give the "
                 "gateway the same)");
  CLI11_PARSE(app, argc, argv);
  if (!build.registry.empty() && (build.base_image.empty() || build.builder_image.empty())) {
    log_line("error", "--registry needs --base-image and --builder-image");
    return 2;
  }
  kube::ClaimPolicy claims;
  claims.reserved_hosts = reserved_hosts;
  for (const std::string& a : allow_hosts) {
    auto allowance = kube::parse_host_allowance(a);
    if (!allowance.ok()) {
      log_line("error", "bad --allow-host: " + allowance.status().message());
      return 2;
    }
    claims.allowances.push_back(std::move(*allowance));
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
  if (identity.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    identity = std::string(host) + "-" + std::to_string(getpid());
  }

  prometheus::Registry registry;
  auto& leader_gauge = prometheus::BuildGauge()
                           .Name("leader_election_master_status")
                           .Help("1 while this replica leads, else 0")
                           .Register(registry)
                           .Add({{"name", lease_name}});
  controller::ApiEventRecorder events(**client, clock);
  // Functions run as Deployments built by Jobs; the controller's workers share the platform
  // and the fetched URL sources for the operator's life.
  platform::kubernetes::KubernetesPlatform kubernetes_platform(**client, build);
  controller::UrlSources url_sources;  // spec.source.url, over HTTP(S)
  controller::ControllerOptions options;
  options.namespaces = split(namespaces);
  options.workers = workers;
  options.claims = std::move(claims);
  controller::FunctionController controller(**client, clock, events, registry, kubernetes_platform,
                                            url_sources, options);

  // Metering: the leader accounts every Function's replicas into the Meter (each stretch once,
  // through the checkpoint ConfigMap); every replica serves the prices, the leader the rest.
  auto meter_log = [](const std::string& level, const std::string& msg) { log_line(level, msg); };
  metering::Meter meter;
  std::unique_ptr<platform::kubernetes::PriceFileWatcher> prices;
  if (!prices_file.empty()) {
    // A sheet it cannot read at start stops it (as the gateway and `kubefn up` do): nothing is
    // priced at prices nobody chose. A bad edit later keeps the prices before.
    if (auto first = metering::read_price_sheet(prices_file);
        std::holds_alternative<std::string>(first)) {
      log_line("error", "--prices: " + std::get<std::string>(first));
      return 2;
    }
    prices = std::make_unique<platform::kubernetes::PriceFileWatcher>(
        meter, clock, prices_file, std::chrono::seconds(5), meter_log);
    prices->check();
    prices->start();
  }
  std::unique_ptr<platform::kubernetes::ReplicaMeter> replica_meter;
  if (metering_on) {
    platform::kubernetes::ReplicaMeterOptions mo;
    mo.namespaces = options.namespaces;
    mo.checkpoint_namespace = lease_namespace;
    mo.checkpoint_name = metering_checkpoint;
    mo.identity = identity;
    mo.log = meter_log;
    replica_meter =
        std::make_unique<platform::kubernetes::ReplicaMeter>(**client, clock, meter, mo);
  }
  auto extra_metrics = [&] {
    std::string text = telemetry::process_metrics_text();
    if (!metering_on) return text;
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out,
                                           platform::kubernetes::replica_families(meter.Collect()));
    return text + out.str();
  };

  std::unique_ptr<telemetry::HealthServer> health;
  try {
    health = std::make_unique<telemetry::HealthServer>(
        bind, static_cast<std::uint16_t>(metrics_port), registry,
        [&] { return controller.synced() || (leader_elect && leader_gauge.Value() == 0); },
        extra_metrics);
  } catch (const std::exception& e) {
    log_line("error", std::string("cannot serve metrics: ") + e.what());
    return 4;
  }
  log_line("info", "metrics on " + bind + ":" + std::to_string(health->port()) + " as " + identity);

  // The autoscaler: only the leader decides and writes scales, and only it serves the stream
  // (a Service selecting the leader, or reporters reconnecting, find it).
  autoscaler::ClusterAutoscalerOptions aso;
  aso.namespaces = options.namespaces;
  std::unique_ptr<autoscaler::ClusterAutoscaler> scaler;
  std::unique_ptr<StatsTee> tee;
  std::unique_ptr<autoscaler::StatsServer> stats;
  auto start_autoscaler = [&] {
    if (stats_port == 0) return;
    scaler =
        std::make_unique<autoscaler::ClusterAutoscaler>(**client, clock, events, registry, aso);
    tee = std::make_unique<StatsTee>(*scaler, replica_meter.get());
    stats = std::make_unique<autoscaler::StatsServer>(*tee, bind,
                                                      static_cast<std::uint16_t>(stats_port));
    kube::Status st = stats->start();
    if (!st.ok()) {
      log_line("error", "autoscaler off: " + st.message());
      stats.reset();
      tee.reset();
      scaler.reset();
      return;
    }
    scaler->start();
    log_line("info",
             "autoscaler on; stats stream on " + bind + ":" + std::to_string(stats->port()));
  };

  std::atomic<bool> lost{false};
  std::unique_ptr<kube::LeaderElector> elector;
  if (leader_elect) {
    kube::LeaderElectionConfig le{lease_namespace, lease_name, identity};
    le.lease_duration = std::chrono::milliseconds(static_cast<long>(lease_seconds * 1000));
    le.renew_deadline = le.lease_duration * 2 / 3;
    le.retry_period = le.lease_duration / 5;
    elector = std::make_unique<kube::LeaderElector>(
        **client, clock, le,
        kube::LeaderCallbacks{
            [&] {
              leader_gauge.Set(1);
              log_line("info", "became the leader; reconciling");
              controller.start();
              start_autoscaler();
              if (replica_meter) replica_meter->start();
            },
            [&] {
              leader_gauge.Set(0);
              lost = true;
              log_line("warn", "lost the lease; exiting so a fresh replica can compete");
              std::lock_guard<std::mutex> lock(g_mu);
              g_cv.notify_all();
            },
            [&](const std::string& who) { log_line("info", "leader is " + who); },
            [&](const kube::Status& error) {
              log_line("warn", "could not release the lease (the next leader waits it out): " +
                                   error.to_string());
            }});
    elector->start();
  } else {
    controller.start();
    start_autoscaler();
    if (replica_meter) replica_meter->start();
  }

  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    g_signal = sig;
    std::lock_guard<std::mutex> lock(g_mu);
    g_cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(g_mu);
    g_cv.wait(lock, [&] { return g_signal != 0 || lost; });
  }
  log_line("info", "shutting down");
  if (stats) stats->stop();
  if (scaler) scaler->stop();
  // A last checkpoint while still leading: the next leader resumes from here.
  if (replica_meter) replica_meter->stop();
  if (prices) prices->stop();
  controller.stop();
  if (elector) elector->stop();  // releases the lease so another replica takes over at once
  if (g_signal == 0) pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  return lost ? 1 : 0;
}
