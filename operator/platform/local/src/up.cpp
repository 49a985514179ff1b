#include "kubefn/platform/local/up.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "kubefn/api/function.hpp"
#include "kubefn/builder/image_build.hpp"
#include "kubefn/cli/manifest.hpp"
#include "kubefn/controller/function_controller.hpp"
#include "kubefn/controller/scaling_status.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/gateway/gateway.hpp"
#include "kubefn/gateway/key_ring.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/oci/credentials.hpp"
#include "kubefn/platform/local/local_autoscaler.hpp"
#include "kubefn/platform/local/local_platform.hpp"
#include "kubefn/platform/local/replica_supervisor.hpp"
#include "kubefn/telemetry/health_server.hpp"
#include "local_defaults.hpp"

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

// A blocking GET of 127.0.0.1:port/path with a deadline on every step; the body or "".
std::string local_get(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[16384];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0 && reply.size() < (8u << 20);) {
        reply.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  const auto head_end = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.1 200", 0) != 0 || head_end == std::string::npos) return "";
  return reply.substr(head_end + 4);  // the runtime answers /metrics with a content-length body
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

// Every replica's own metrics (the Kubeless-named function_* series, kubefn_runtime_*,
// process_*), with namespace, function and replica labels added, families merged.
std::string replica_metrics(gateway::RouteTable& routes) {
  struct Family {
    std::vector<std::string> head;  // HELP and TYPE lines
    std::vector<std::string> samples;
  };
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  for (const auto& route : routes.all()) {
    for (const auto& ep : route->endpoints) {
      if (!ep.ready) continue;
      const std::string text = local_get(ep.port, "/metrics");
      const std::string labels = "namespace=\"" + escape_label(route->ns) + "\",function=\"" +
                                 escape_label(route->name) + "\",replica=\"" + escape_label(ep.id) +
                                 "\"";
      std::istringstream in(text);
      std::string line;
      std::string family;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (line[0] == '#') {
          std::istringstream words(line);
          std::string hash, kind, name;
          words >> hash >> kind >> name;
          if (kind != "HELP" && kind != "TYPE") continue;
          family = name;
          auto [it, added] = families.try_emplace(name);
          if (added) order.push_back(name);
          if (it->second.head.size() < 2 &&
              (it->second.head.empty() || it->second.head.back() != line)) {
            bool seen = false;
            for (const auto& h : it->second.head)
              seen = seen || h == line;
            if (!seen) it->second.head.push_back(line);
          }
          continue;
        }
        const auto brace = line.find('{');
        const auto space = line.find(' ');
        std::string sample;
        if (brace != std::string::npos && brace < space) {
          const bool empty = line[brace + 1] == '}';
          sample = line.substr(0, brace + 1) + labels + (empty ? "" : ",") + line.substr(brace + 1);
        } else if (space != std::string::npos) {
          sample = line.substr(0, space) + "{" + labels + "}" + line.substr(space);
        } else {
          continue;
        }
        if (family.empty()) {
          family = line.substr(0, std::min(brace, space));
          if (families.try_emplace(family).second) order.push_back(family);
        }
        families[family].samples.push_back(std::move(sample));
      }
    }
  }
  std::string out;
  for (const auto& name : order) {
    const Family& f = families[name];
    for (const auto& h : f.head)
      out += h + "\n";
    for (const auto& s : f.samples)
      out += s + "\n";
  }
  return out;
}

namespace {

std::vector<std::string> read_tokens(const std::string& path) {
  std::vector<std::string> tokens;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    if (!line.empty() && line[0] != '#') tokens.push_back(line);
  }
  return tokens;
}

std::string random_token() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 32; ++i)
    t += kHex[rd() % 16];
  return t;
}

// Puts `text` at `path`, readable and writable by this user only from its first instant: a
// fresh file made with mode 0600 beside it (never one that exists, never through a link), then
// renamed over `path`, so a reader sees the old file or the whole new one.
kube::Status write_private_file(const fs::path& path, const std::string& text) {
  const std::string tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return kube::Status(kube::StatusCode::kInternalError,
                        "cannot create " + tmp + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  int error = 0;
  while (done < text.size() && error == 0) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      error = errno;
    }
  }
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(tmp.c_str());
    return kube::Status(kube::StatusCode::kInternalError,
                        "cannot write " + tmp + ": " + std::strerror(error));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return kube::Status(kube::StatusCode::kInternalError,
                        "cannot rename " + tmp + " to " + path.string() + ": " + std::strerror(e));
  }
  return kube::Status();
}

// The platform token in `path`, made (mode 0600) when there is none. One that others may read
// is made private first, and `err` says so.
kube::Result<std::string> platform_token(const fs::path& path, std::ostream& err) {
  const std::vector<std::string> kept = read_tokens(path.string());
  if (!kept.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      if (::chmod(path.c_str(), 0600) != 0) {
        return kube::Status(kube::StatusCode::kInternalError,
                            "cannot make " + path.string() + " private: " + std::strerror(errno));
      }
      err << "kubefn up: " << path.string() << " was readable by others; it is now 0600\n";
    }
    return kept.front();
  }
  std::string token = random_token();
  if (kube::Status s = write_private_file(path, token + "\n"); !s.ok()) return s;
  return token;
}

// A kubeconfig for the platform's API: its URL, the CA of its certificate and the token (JSON
// strings are YAML: whatever the token file holds, it stays one string).
std::string kubeconfig_text(const std::string& server, const std::string& ca_pem,
                            const std::string& token) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: kubefn-up\n  cluster:\n    server: " +
         json(server).dump() + "\n    certificate-authority-data: " + oci::base64_encode(ca_pem) +
         "\nusers:\n- name: kubefn-up\n  user:\n    token: " + json(token).dump() +
         "\ncontexts:\n- name: kubefn-up\n  context:\n    cluster: kubefn-up\n"
         "    user: kubefn-up\n    namespace: default\ncurrent-context: kubefn-up\n";
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
  if (std::ifstream in(state_file); in) {
    json prior = json::parse(in, nullptr, false);
    const long pid = prior.is_object() ? prior.value("pid", 0L) : 0L;
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) {
      err << "kubefn up: already running as pid " << pid << " (state in " << state_file.string()
          << "); stop it first, or set KUBEFN_HOME to run another\n";
      return 1;
    }
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
  auto token = platform_token(token_file, err);
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
    auto crd = cli::parse_manifests(kFunctionCrd, "crds/function.yaml");
    if (!crd.ok() || crd.value().empty()) {
      err << "kubefn up: the built-in Function CRD does not parse\n";
      return 1;
    }
    auto created = client->create(kCrds, crd.value()[0].object, {});
    // Kept by the API store from an earlier run: brought to this build's definition.
    if (!created.ok() && created.status().is_already_exists())
      created = client->update(kCrds, crd.value()[0].object, {});
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
    keys.set_keys(std::move(parsed).value());
  } else {
    keys.set({token.value()});
    token_note = token_file.string();
  }
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
  gateway::Gateway gw(routes, keys, gw_options, &registry);
  if (kube::Status s = gw.start(); !s.ok()) {
    err << "kubefn up: the gateway cannot listen on " << o.bind_address << ":" << o.gateway_port
        << ": " << s.message() << " (pick another with --gateway-port)\n";
    return 1;
  }
  const std::string gateway_url = "http://" + o.bind_address + ":" + std::to_string(gw.port());

  SupervisorOptions sup_options;
  sup_options.log_dir = home / "logs";
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
  ctl_options.platform = &platform;
  controller::FunctionController controller(*client, clock, events, registry, ctl_options);
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
    autoscaler.stop();
    controller.stop();
    platform.stop();
    gw.stop();
    supervisor.stop_all();
  }};

  std::unique_ptr<telemetry::HealthServer> metrics;
  try {
    metrics = std::make_unique<telemetry::HealthServer>(
        o.bind_address, o.metrics_port, registry, [&controller] { return controller.synced(); },
        [&routes] { return replica_metrics(routes); });
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
  if (kube::Status s = write_private_file(
          kubeconfig_file, kubeconfig_text(api->url(), api->ca_pem(), token.value()));
      !s.ok()) {
    err << "kubefn up: " << s.message() << "\n";
    return 1;
  }
  {
    json state = {{"pid", ::getpid()},
                  {"api", api->url()},
                  {"kubeconfig", kubeconfig_file.string()},
                  {"gateway", gateway_url},
                  {"metrics", metrics_url},
                  {"logs", (home / "logs").string()}};
    const fs::path tmp = state_file.string() + ".tmp";
    std::ofstream(tmp) << state.dump() << "\n";
    fs::rename(tmp, state_file, ec);
  }

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
