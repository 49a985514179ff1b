#include "kubefn/platform/local/up.hpp"

#include <prometheus/text_serializer.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include "kubefn/api/function.hpp"
#include "kubefn/async/call_store.hpp"
#include "kubefn/builder/image_build.hpp"
#include "kubefn/cli/manifest.hpp"
#include "kubefn/controller/function_controller.hpp"
#include "kubefn/controller/scaling_status.hpp"
#include "kubefn/delivery/gateway_caller.hpp"
#include "kubefn/dispatch/dispatcher.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/emulator/yaml_to_json.hpp"
#include "kubefn/gateway/gateway.hpp"
#include "kubefn/gateway/key_ring.hpp"
#include "kubefn/http/event_id.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/platform/local/console.hpp"
#include "kubefn/platform/local/local_autoscaler.hpp"
#include "kubefn/platform/local/local_platform.hpp"
#include "kubefn/platform/local/replica_supervisor.hpp"
#include "kubefn/telemetry/health_server.hpp"
#include "local_defaults.hpp"
#include "local_meter.hpp"
#include "platform_token.hpp"
#include "replica_metrics.hpp"
#include "up_state.hpp"

namespace kubefn::platform::local {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const kube::GroupVersionResource kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                       false};

fs::path default_home() {
  if (const char* h = std::getenv("KUBEFN_HOME"); h != nullptr && *h != '\0') return h;
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : "/tmp") / ".kubefn";
}

std::string self_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::string find_runtime(const UpOptions& o) {
  if (!o.runtime_binary.empty()) return o.runtime_binary;
  std::error_code ec;
  const fs::path beside = fs::path(self_dir()) / "kubefn-runtime";
  if (fs::exists(beside, ec)) return beside.string();
  return kBuildTreeRuntime;
}

// Every Function in the manifests under `dir` (recursively).
kube::Result<std::vector<cli::ManifestObject>> functions_in(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
        files.push_back(it->path().string());
      }
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(dir);
  }
  std::vector<cli::ManifestObject> out;
  std::istringstream no_stdin;
  for (const auto& f : files) {
    auto objects = cli::read_manifests(f, no_stdin);
    if (!objects.ok()) return objects.status();
    for (auto& m : objects.value()) {
      if (m.object.value("kind", "") != "Function") continue;
      kube::Status valid = cli::check_function(m, "default");
      if (!valid.ok()) return valid;
      out.push_back(std::move(m));
    }
  }
  return out;
}

kube::Status apply(kube::KubeClient& client, const json& object) {
  kube::PatchOptions opts;
  opts.field_manager = "kubefn";
  opts.force = true;
  auto r = client.patch(
      kube::ObjectRef{api::functions(), kube::object_namespace(object), kube::object_name(object)},
      kube::PatchType::kApply, object, opts);
  return r.ok() ? kube::Status() : r.status();
}

// Ready, or stopped short of it for a reason that needs the user.
bool settled(const json& fn, std::string* line) {
  const json& st = fn.value("status", json::object());
  json ready;
  for (const auto& c : st.value("conditions", json::array())) {
    if (c.value("type", "") == api::condition::kReady) ready = c;
  }
  if (ready.is_null()) {
    *line = "waiting";
    return false;
  }
  const std::string reason = ready.value("reason", "");
  *line = ready.value("status", "") == "True" ? "ready" : reason;
  const std::string msg = ready.value("message", "");
  if (!msg.empty() && ready.value("status", "") != "True") *line += ": " + msg;
  const bool current = st.value("observedGeneration", 0) >= fn["metadata"].value("generation", 0);
  if (ready.value("status", "") == "True") return current;
  return current && reason != "Building" && reason != "Deploying";
}

// The console and the metering JSON it and `kubefn cost` read, on the metrics port.
telemetry::Routes api_routes(detail::LocalMeter& m) {
  auto json_reply = [](const std::function<std::string()>& body) {
    telemetry::HttpReply r;
    r.content_type = "application/json";
    r.headers.emplace_back("cache-control", "no-store");
    try {
      r.body = body();
    } catch (const std::invalid_argument& e) {
      r.status = 400;
      r.body = json{{"error", e.what()}}.dump();
    }
    return r;
  };
  telemetry::Routes routes = console::routes();
  routes["/api/v1/cost"] = [&m, json_reply](std::string_view q) {
    return json_reply([&] { return m.cost_json(q); });
  };
  routes["/api/v1/history"] = [&m, json_reply](std::string_view q) {
    return json_reply([&] { return m.history_json(q); });
  };
  return routes;
}

}  // namespace

int run_up(const UpOptions& o, std::ostream& out, std::ostream& err) {
  // Signals are taken by this thread only (sigwait below); every thread started from here on
  // inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const fs::path home = o.home.empty() ? default_home() : fs::path(o.home);
  const fs::path state_file = home / "up.json";
  std::error_code ec;
  fs::create_directories(home / "logs", ec);
  if (ec) {
    err << "kubefn up: cannot create " << home.string() << ": " << ec.message() << "\n";
    return 1;
  }
  if (const long pid = detail::running_pid(state_file); pid != 0) {
    err << "kubefn up: already running as pid " << pid << " (state in " << state_file.string()
        << "); stop it first, or set KUBEFN_HOME to run another\n";
    return 1;
  }
  const std::string runtime = find_runtime(o);
  if (::access(runtime.c_str(), X_OK) != 0) {
    err << "kubefn up: no runtime host at " << runtime
        << ": build it (scripts/run does) or pass --runtime\n";
    return 1;
  }

  // Container mode: the images go to a registry podman pulls from, on a base image.
  std::string base_image = o.base_image;
  if (o.containers) {
    if (o.registry.empty()) {
      err << "kubefn up: --containers needs --registry, a repository prefix podman can pull "
             "from (for example 127.0.0.1:5000/kubefn)\n";
      return 2;
    }
    if (base_image.empty()) {
      builder::BaseImageRequest req;
      req.runtime_path = runtime;
      req.image = o.registry + "/runtime:local";
      auto base = builder::build_base_image(req);
      if (!base.ok()) {
        err << "kubefn up: cannot push the runtime base image: " << base.status().message() << "\n";
        return 1;
      }
      base_image = base->image;
      err << "runtime base image " << base_image << "\n";
    }
  }

  // The platform token: the API's credential, and private functions' too unless --keys-file.
  const fs::path token_file = home / "token";
  auto token = detail::platform_token(token_file, err);
  if (!token.ok()) {
    err << "kubefn up: " << token.status().message() << "\n";
    return 1;
  }

  // 1. The API for Functions.
  emulator::EmulatorOptions api_options;
  api_options.port = o.api_port;
  api_options.deployment_controller = false;  // nothing here runs Deployments
  // The API's objects live in the home folder: kept across runs, on disk before answered.
  api_options.data_dir = (home / "api").string();
  // A credential, as a cluster's API asks for: the token, sent only over TLS.
  api_options.tls = true;
  api_options.token = token.value();
  // Only the names of this machine: a page whose own name was made to resolve to 127.0.0.1
  // (DNS rebinding) still sends that name as its Host.
  api_options.allowed_hosts = {"127.0.0.1", "localhost", "::1"};
  if (o.bind_address != "0.0.0.0" && o.bind_address != "::" &&
      std::find(api_options.allowed_hosts.begin(), api_options.allowed_hosts.end(),
                o.bind_address) == api_options.allowed_hosts.end()) {
    api_options.allowed_hosts.push_back(o.bind_address);
  }
  std::unique_ptr<emulator::KubeEmulator> api;
  try {
    api = std::make_unique<emulator::KubeEmulator>(api_options);
  } catch (const std::exception& e) {
    err << "kubefn up: cannot start the API server: " << e.what() << "\n";
    return 1;
  }
  kube::RealClock clock;
  kube::ClientConfig config;
  config.server = api->url();
  config.ca_pem = api->ca_pem();
  config.token = token.value();
  auto made = kube::make_rest_kube_client(config, clock);
  if (!made.ok()) {
    err << "kubefn up: " << made.status().to_string() << "\n";
    return 1;
  }
  std::unique_ptr<kube::KubeClient> client = std::move(made).value();
  {
    const auto crd = emulator::yaml_to_json(kFunctionCrd);
    if (!crd || !crd->is_object()) {
      err << "kubefn up: the built-in Function CRD does not parse\n";
      return 1;
    }
    auto created = client->create(kCrds, *crd, {});
    // Kept by the API store from an earlier run: brought to this build's definition.
    if (!created.ok() && created.status().is_already_exists())
      created = client->update(kCrds, *crd, {});
    if (!created.ok()) {
      err << "kubefn up: cannot install the Function CRD: " << created.status().to_string() << "\n";
      return 1;
    }
  }

  // 2. The gateway, the replicas and the platform.
  prometheus::Registry registry;
  gateway::RouteTable routes;
  gateway::KeyRing keys;
  std::string token_note;
  // The dispatcher's own key: events reach private functions through the gateway like any
  // call. Made here, kept in memory only, opening every function.
  const std::string dispatcher_token = http::make_event_id() + http::make_event_id();
  std::vector<gateway::Key> ring{gateway::Key{dispatcher_token, {"*"}}};
  if (!o.keys_file.empty()) {
    // The gateway's key-file format: "TOKEN [SCOPE[,SCOPE...]]" per line.
    std::ifstream in(o.keys_file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto parsed = gateway::parse_keys(text);
    if (!in.is_open() || !parsed.ok() || parsed.value().empty()) {
      err << "kubefn up: " << o.keys_file << ": "
          << (!in.is_open() ? std::string("cannot read it")
              : !parsed.ok()
                  ? parsed.status().message()
                  : std::string("holds no token (one per line: TOKEN [SCOPE[,SCOPE...]])"))
          << "\n";
      return 1;
    }
    for (gateway::Key& k : parsed.value())
      ring.push_back(std::move(k));
  } else {
    ring.push_back(gateway::Key{token.value(), {}});
    token_note = token_file.string();
  }
  keys.set_keys(std::move(ring));
  gateway::GatewayOptions gw_options;
  gw_options.bind_address = o.bind_address;
  gw_options.port = o.gateway_port;
  // A call to a function at zero waits for its first replica (the autoscaler is poked).
  std::atomic<LocalAutoscaler*> scaler{nullptr};
  gw_options.activation_timeout = std::chrono::seconds(o.activation_timeout_seconds);
  gw_options.queue_limit = static_cast<std::size_t>(o.queue_limit);
  gw_options.queue_timeout = std::chrono::seconds(o.queue_timeout_seconds);
  gw_options.on_demand = [&scaler](const std::string& ns, const std::string& name) {
    if (LocalAutoscaler* s = scaler.load()) s->poke(ns, name);
  };
  if (!o.async_nats_url.empty()) {
    async::CallFrontOptions a;
    a.url = o.async_nats_url;
    gw_options.async_calls = std::make_shared<async::CallFront>(std::move(a));
  }
  // Every call and every replica is metered; the totals survive a restart (the history).
  auto meter = std::make_shared<metering::Meter>();
  gw_options.meter = meter;
  detail::LocalMeterOptions meter_options;
  meter_options.dir = home / "metering";
  if (!o.prices_file.empty()) meter_options.prices_file = o.prices_file;
  meter_options.price_flags = o.price_flags;
  meter_options.list_functions = [&client] {
    auto list = client->list(api::functions(), "", {});
    return list.ok() ? list.value().items : std::vector<json>{};
  };
  std::unique_ptr<detail::LocalMeter> local_meter;
  try {
    local_meter = std::make_unique<detail::LocalMeter>(*meter, routes, std::move(meter_options));
  } catch (const std::exception& e) {
    err << "kubefn up: metering: " << e.what() << "\n";
    return 1;
  }
  gateway::Gateway gw(routes, keys, gw_options, &registry);
  if (kube::Status s = gw.start(); !s.ok()) {
    err << "kubefn up: the gateway cannot listen on " << o.bind_address << ":" << o.gateway_port
        << ": " << s.message() << " (pick another with --gateway-port)\n";
    return 1;
  }
  const std::string gateway_url = "http://" + o.bind_address + ":" + std::to_string(gw.port());

  SupervisorOptions sup_options;
  sup_options.log_dir = home / "logs";
  sup_options.on_event = [m = local_meter.get()](const ReplicaEvent& e) { m->on_event(e); };
  ReplicaSupervisor supervisor(sup_options);
  LocalPlatformOptions platform_options;
  platform_options.state_dir = home;
  platform_options.runtime_binary = runtime;
  platform_options.sdk_include = o.sdk_include;
  platform_options.gateway_url = gateway_url;
  if (o.containers) {
    platform_options.image_registry = o.registry;
    platform_options.base_image = base_image;
  }
  LocalPlatform platform(platform_options, supervisor, routes);

  controller::ApiEventRecorder events(*client, clock);
  controller::ControllerOptions ctl_options;
  ctl_options.workers = o.workers;
  controller::UrlSources url_sources;  // spec.source.url, over HTTP(S)
  controller::FunctionController controller(*client, clock, events, registry, platform, url_sources,
                                            ctl_options);
  platform.set_requeue([&controller](const std::string& ns, const std::string& name) {
    controller.requeue(ns, name);
  });
  controller.start();
  LocalAutoscaler autoscaler(
      gw, platform,
      [&client] {
        auto list = client->list(api::functions(), "", {});
        return list.ok() ? list.value().items : std::vector<json>{};
      },
      events, err, std::chrono::seconds(1),
      [&client, &clock](const std::string& ns, const std::string& name, int desired,
                        const std::string& reason) {
        // Best effort: the Event says the same; a failed write is retried by the next scale.
        (void)controller::record_scaling(*client, ns, name, desired, reason, clock.wall_now(),
                                         "kubefn-autoscaler");
      },
      &registry);
  scaler.store(&autoscaler);

  // Event triggers (schedules), delivered through the gateway at least once.
  delivery::GatewayCallerOptions caller_options;
  caller_options.host = o.bind_address;
  caller_options.port = gw.port();
  caller_options.token = dispatcher_token;
  delivery::GatewayCaller event_caller(caller_options);
  dispatch::DispatcherOptions dispatch_options;
  dispatch_options.async_nats_url = o.async_nats_url;
  dispatch::Dispatcher dispatcher(*client, clock, events, event_caller, registry, dispatch_options);
  // What waits in the queue triggers scales their functions too (0 -> N -> 0).
  autoscaler.set_backlog([&dispatcher] {
    std::vector<LocalAutoscaler::TriggerBacklog> out;
    for (const auto& b : dispatcher.backlog())
      out.push_back({b.ns, b.function, b.pending, b.updated});
    return out;
  });
  dispatcher.start();

  // 6. Stop, however run_up returns from here on: no new work; the builds (their compilers
  // killed, their threads joined, so none calls the controller after); the replicas (each
  // drains); then the servers, as the objects go (the platform before the controller, the
  // client and the API last).
  const fs::path kubeconfig_file = home / "kubeconfig";
  struct OnReturn {
    std::function<void()> run;
    ~OnReturn() { run(); }
  } stop{[&] {
    std::error_code ignored;
    fs::remove(state_file, ignored);
    fs::remove(kubeconfig_file, ignored);
    scaler.store(nullptr);
    dispatcher.stop();
    autoscaler.stop();
    controller.stop();
    platform.stop();
    gw.stop();
    supervisor.stop_all();
    local_meter->stop();  // the replicas' last seconds, and a last sample of the totals
  }};
  local_meter->start();

  std::unique_ptr<telemetry::HealthServer> metrics;
  try {
    metrics = std::make_unique<telemetry::HealthServer>(
        o.bind_address, o.metrics_port, registry, [&controller] { return controller.synced(); },
        [&routes, &meter] {
          prometheus::TextSerializer text;
          return detail::replica_metrics(routes) + text.Serialize(meter->Collect());
        },
        api_routes(*local_meter), api_options.allowed_hosts);
  } catch (const std::exception& e) {
    err << "kubefn up: the metrics endpoint cannot listen on port " << o.metrics_port << ": "
        << e.what() << " (pick another with --metrics-port)\n";
    return 1;
  }
  const std::string metrics_url =
      "http://" + o.bind_address + ":" + std::to_string(metrics->port());

  // 3. The Functions of the directory.
  std::vector<std::pair<std::string, std::string>> initial;
  if (!o.dir.empty()) {
    auto fns = functions_in(o.dir);
    if (!fns.ok()) {
      err << "kubefn up: " << fns.status().message() << "\n";
      return 1;
    }
    for (const auto& m : fns.value()) {
      if (kube::Status s = apply(*client, m.object); !s.ok()) {
        err << "kubefn up: " << m.source << ": " << s.to_string() << "\n";
        return 1;
      }
      initial.emplace_back(kube::object_namespace(m.object), kube::object_name(m.object));
      err << "function.kubefn.dev/" << initial.back().second << " applied\n";
    }
  }

  // 4. The kubeconfig for the API (kubectl, the CLI), and the state file the CLI finds the
  // platform by.
  if (kube::Status s = detail::write_private_file(
          kubeconfig_file, detail::kubeconfig_text(api->url(), api->ca_pem(), token.value()));
      !s.ok()) {
    err << "kubefn up: " << s.message() << "\n";
    return 1;
  }
  detail::write_state(state_file, {::getpid(), api->url(), kubeconfig_file.string(), gateway_url,
                                   metrics_url, (home / "logs").string()});

  // 5. Wait for the first Functions (progress on err), then say where the gateway is.
  std::map<std::string, std::string> last;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(o.ready_timeout_seconds);
  bool interrupted = false;
  for (bool all = initial.empty(); !all;) {
    all = true;
    for (const auto& [ns, name] : initial) {
      auto fn = client->get(kube::ObjectRef{api::functions(), ns, name});
      std::string line = fn.ok() ? "" : fn.status().message();
      const bool done = fn.ok() && settled(fn.value(), &line);
      all = all && done;
      if (last[ns + "/" + name] != line) {
        err << ns << "/" << name << ": " << line << "\n";
        last[ns + "/" + name] = line;
      }
    }
    if (all) break;
    if (std::chrono::steady_clock::now() > deadline) {
      err << "kubefn up: functions still not ready after " << o.ready_timeout_seconds
          << " s; serving anyway (kubefn describe NAME tells why)\n";
      break;
    }
    timespec wait{0, 200'000'000};
    if (sigtimedwait(&stop_signals, nullptr, &wait) > 0) {
      interrupted = true;
      break;
    }
  }
  if (!interrupted) {
    out << "kubefn: gateway " << gateway_url << "\n"
        << "kubefn: metrics " << metrics_url << "/metrics\n"
        << "kubefn: api " << api->url() << " (kubectl --kubeconfig " << kubeconfig_file.string()
        << ")\n";
    if (!token_note.empty()) {
      out << "kubefn: private functions take: Authorization: Bearer $(cat " << token_note << ")\n";
    }
    out.flush();
    int sig = 0;
    sigwait(&stop_signals, &sig);
    err << "kubefn up: stopping\n";
  }

  return 0;  // then step 6, once metrics is gone
}

}  // namespace kubefn::platform::local
