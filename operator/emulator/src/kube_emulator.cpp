#include "kubefn/emulator/kube_emulator.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "api_handler.hpp"
#include "fake_controllers.hpp"
#include "fault_switches.hpp"
#include "http_server.hpp"
#include "object_store.hpp"
#include "self_signed_cert.hpp"

namespace kubefn::emulator {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("kube emulator: cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

HttpServerConfig server_config(const EmulatorOptions& o) {
  HttpServerConfig c;
  c.port = o.port;
  c.tls = o.tls;
  c.token = o.token;
  c.allowed_hosts = o.allowed_hosts;
  if (!o.tls) return c;
  if (!o.cert_file.empty() || !o.key_file.empty()) {
    c.cert_pem = read_file(o.cert_file);
    c.key_pem = read_file(o.key_file);
    return c;
  }
  auto identity = make_self_signed_identity();
  if (!identity.ok()) throw std::runtime_error(identity.error().message);
  c.cert_pem = identity.value().cert_pem;
  c.key_pem = identity.value().key_pem;
  return c;
}

}  // namespace

struct KubeEmulator::Impl {
  explicit Impl(EmulatorOptions o)
      : options(std::move(o)),
        store(options.watch_cache_size, options.crd_schema_pruning, options.crd_schema_validation,
              Durability{options.data_dir, options.data_compact_bytes}),
        handler(store, faults, options.bookmark_interval),
        config(server_config(options)),
        server(config, handler),
        controllers(store,
                    ControllerOptions{options.deployment_controller,
                                      std::chrono::milliseconds(options.deployment_ready_delay_ms),
                                      options.garbage_collector}) {
    handler.set_server_port(server.port());
  }

  ~Impl() {
    store.shutdown();
    server.stop();
  }

  EmulatorOptions options;
  ObjectStore store;
  FaultSwitches faults;
  ApiHandler handler;
  HttpServerConfig config;
  HttpServer server;
  FakeControllers controllers;
};

KubeEmulator::KubeEmulator(EmulatorOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}

KubeEmulator::~KubeEmulator() = default;

std::string KubeEmulator::url() const {
  return std::string(impl_->options.tls ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(port());
}

uint16_t KubeEmulator::port() const {
  return impl_->server.port();
}

std::string KubeEmulator::ca_pem() const {
  return impl_->config.cert_pem;
}

void KubeEmulator::drop_watches() {
  impl_->store.drop_watches();
}

void KubeEmulator::compact() {
  impl_->store.compact();
}

void KubeEmulator::expire_next_watches(int times) {
  impl_->store.expire_next_watches(times);
}

void KubeEmulator::inject_error(std::string verb, std::string resource, int http_status, int times,
                                int retry_after_s) {
  impl_->faults.inject_error(std::move(verb), std::move(resource), http_status, times,
                             retry_after_s);
}

void KubeEmulator::set_latency(std::string verb, std::chrono::milliseconds delay) {
  impl_->faults.set_latency(std::move(verb), delay);
}

void KubeEmulator::set_pod_log(const std::string& ns, const std::string& pod,
                               const std::string& container, std::string text, bool previous) {
  impl_->handler.pod_logs().set(ns, pod, container, previous, std::move(text));
}

void KubeEmulator::reset() {
  impl_->faults.clear();
  impl_->handler.pod_logs().clear();
  impl_->store.reset();
}

ApiReply KubeEmulator::call(std::string_view method, std::string_view target,
                            const nlohmann::json& body, std::string_view content_type) {
  HttpRequest req{std::string(method), std::string(target), std::string(content_type),
                  "application/json", body.is_null() ? "" : body.dump()};
  auto handled = impl_->handler.handle(req, false);
  if (handled.watch) {
    return ApiReply{
        400, nlohmann::json{{"kind", "Status"}, {"message", "watch is not supported in-process"}}};
  }
  auto parsed = nlohmann::json::parse(handled.reply.body, nullptr, false);
  return ApiReply{handled.reply.status,
                  parsed.is_discarded() ? nlohmann::json(handled.reply.body) : parsed};
}

std::optional<nlohmann::json> KubeEmulator::get(std::string_view item_path) {
  auto reply = call("GET", item_path);
  if (reply.status != 200) return std::nullopt;
  return reply.body;
}

uint64_t KubeEmulator::resource_version() const {
  return impl_->store.resource_version();
}

std::size_t KubeEmulator::open_watches() const {
  return impl_->handler.open_watches();
}

std::size_t KubeEmulator::requests_served() const {
  return impl_->server.requests_served();
}

}  // namespace kubefn::emulator
