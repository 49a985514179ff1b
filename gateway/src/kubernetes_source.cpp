#include "kubefn/gateway/kubernetes_source.hpp"

#include <map>
#include <optional>
#include <string>

#include "kubefn/api/function.hpp"
#include "kubefn/kube/json_fields.hpp"
#include "kubefn/metering/sizing.hpp"

namespace kubefn::gateway {
namespace {

using kube::field;
using kube::string_field;
using nlohmann::json;

// The container kubefn's pod template runs the function in (the operator's
// platform::kubernetes::kFunctionContainer, which the gateway does not link).
constexpr const char* kFunctionContainer = "function";

// Keeps only what the gateway reads of a Pod.
void trim_pod(json& pod) {
  json meta = json::object();
  const json& m = field(pod, "metadata");
  for (const char* k :
       {"name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp"}) {
    if (m.contains(k)) meta[k] = m[k];
  }
  json containers = json::array();
  for (const json& c : field(field(pod, "spec"), "containers")) {
    json ports = json::array();
    for (const json& p : field(c, "ports")) {
      json port = json::object();
      for (const char* k : {"name", "containerPort"}) {
        if (p.contains(k)) port[k] = p[k];
      }
      ports.push_back(std::move(port));
    }
    containers.push_back({{"name", string_field(c, "name")}, {"ports", std::move(ports)}});
  }
  json status = json::object();
  const json& s = field(pod, "status");
  if (s.contains("podIP")) status["podIP"] = s["podIP"];
  for (const json& c : field(s, "conditions")) {
    if (string_field(c, "type") == api::condition::kReady) status["conditions"] = json::array({c});
  }
  // Whether each container runs (its state's "running"), nothing else of its status.
  json statuses = json::array();
  for (const json& c : field(s, "containerStatuses")) {
    json state = json::object();
    if (field(field(c, "state"), "running").is_object()) state["running"] = json::object();
    statuses.push_back({{"name", string_field(c, "name")}, {"state", std::move(state)}});
  }
  if (!statuses.empty()) status["containerStatuses"] = std::move(statuses);
  json out = {{"metadata", std::move(meta)},
              {"spec", {{"containers", std::move(containers)}}},
              {"status", std::move(status)}};
  pod = std::move(out);
}

void trim_function(json& fn) {
  json meta = json::object();
  const json& m = field(fn, "metadata");
  for (const char* k : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (m.contains(k)) meta[k] = m[k];
  }
  json spec = json::object();
  const json& s = field(fn, "spec");
  for (const char* k : {"access", "concurrency", "timeout", "triggers", "resources"}) {
    if (s.contains(k)) spec[k] = s[k];
  }
  fn = json{{"metadata", std::move(meta)}, {"spec", std::move(spec)}};
}

}  // namespace

std::optional<FunctionRoute> route_from_function(const json& function) {
  const json& meta = field(function, "metadata");
  FunctionRoute r;
  r.ns = string_field(meta, "namespace");
  r.name = string_field(meta, "name");
  if (r.name.empty()) return std::nullopt;
  if (r.ns.empty()) r.ns = "default";
  const json& spec = field(function, "spec");
  r.access = string_field(spec, "access") == "public" ? Access::kPublic : Access::kPrivate;
  const json& c = field(spec, "concurrency");
  r.concurrency = c.is_number_integer() ? std::max(0, c.get<int>()) : 0;
  const json& t = field(spec, "timeout");
  if (t.is_number() && t.get<double>() > 0) {
    r.timeout = std::chrono::milliseconds(static_cast<long>(t.get<double>() * 1000));
  } else {
    r.timeout = std::chrono::seconds(180);  // the CRD's default
  }
  r.memory_bytes = metering::replica_size(field(spec, "resources")).memory_limit_bytes;
  const json& http = field(field(spec, "triggers"), "http");
  r.host = string_field(http, "host");
  r.path = string_field(http, "path");
  r.created = string_field(meta, "creationTimestamp");
  r.event_triggers = event_trigger_names(field(spec, "triggers"));
  return r;
}

std::vector<std::string> event_trigger_names(const json& triggers) {
  std::vector<std::string> out;
  for (const char* kind : {"schedules", "nats", "kafka"}) {
    for (const json& t : field(triggers, kind)) {
      std::string name = string_field(t, "name");
      if (!name.empty()) out.push_back(std::move(name));
    }
  }
  return out;
}

std::optional<Endpoint> endpoint_from_pod(const json& pod, std::uint16_t default_port) {
  const json& meta = field(pod, "metadata");
  const json& status = field(pod, "status");
  Endpoint e;
  e.id = string_field(meta, "name");
  e.host = string_field(status, "podIP");
  if (e.host.empty()) return std::nullopt;
  e.port = default_port;
  // The function's container: the one declaring the "http" port (the port the gateway calls
  // and probes), else the one named "function" (kubefn's pod template), else the only one.
  const json& containers = field(field(pod, "spec"), "containers");
  std::optional<std::string> function_container;
  bool named_function = false;
  for (const json& c : containers) {
    named_function = named_function || string_field(c, "name") == kFunctionContainer;
    for (const json& p : field(c, "ports")) {
      if (string_field(p, "name") == "http" && field(p, "containerPort").is_number_integer()) {
        e.port = static_cast<std::uint16_t>(field(p, "containerPort").get<int>());
        function_container = string_field(c, "name");
      }
    }
  }
  if (!function_container && named_function) function_container = kFunctionContainer;
  if (!function_container && containers.is_array() && containers.size() == 1) {
    function_container = string_field(containers[0], "name");
  }
  bool ready = false;
  for (const json& cond : field(status, "conditions")) {
    if (string_field(cond, "type") == api::condition::kReady)
      ready = string_field(cond, "status") == "True";
  }
  bool running = false;
  for (const json& c : field(status, "containerStatuses")) {
    if (function_container && string_field(c, "name") == *function_container)
      running = field(field(c, "state"), "running").is_object();
  }
  const bool deleting = meta.contains("deletionTimestamp");
  e.ready = ready && !deleting;
  e.started = running && !deleting;
  return e;
}

std::vector<Key> keys_from_secret(const json& secret, std::vector<std::string>* errors) {
  std::map<std::string, std::string> values;  // by data key; stringData wins, as on write
  for (const auto& [k, v] : field(secret, "data").items()) {
    if (v.is_string()) values[k] = base64_decode(v.get<std::string>());
  }
  for (const auto& [k, v] : field(secret, "stringData").items()) {
    if (v.is_string()) values[k] = v.get<std::string>();
  }
  auto fail = [&](const std::string& message) {
    if (errors != nullptr) errors->push_back(message);
  };
  constexpr std::string_view kScopes = ".scopes";
  std::vector<Key> out;
  for (const auto& [id, text] : values) {
    if (id.size() > kScopes.size() &&
        id.compare(id.size() - kScopes.size(), kScopes.size(), kScopes.data()) == 0) {
      if (!values.count(id.substr(0, id.size() - kScopes.size()))) {
        fail("key entry " + id + " gives the scopes of " +
             id.substr(0, id.size() - kScopes.size()) + ", which the Secret does not hold");
      }
      continue;
    }
    auto keys = parse_keys(text);
    if (!keys.ok()) {
      fail("key entry " + id + " is left out: " + keys.status().message());
      continue;
    }
    std::vector<std::string> scopes;
    if (auto s = values.find(id + std::string(kScopes)); s != values.end()) {
      std::string_view list = s->second;
      while (!list.empty() && (list.back() == '\n' || list.back() == '\r' || list.back() == ' '))
        list.remove_suffix(1);
      std::string why;
      while (why.empty()) {
        const std::size_t comma = list.find(',');
        std::string_view scope = list.substr(0, comma);
        why = scope_error(scope);
        scopes.emplace_back(scope);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
      if (!why.empty()) {
        fail("key entry " + id + " is left out: " + s->first + ": " + why);
        continue;
      }
    }
    for (Key& k : *keys) {
      if (k.scopes.empty()) k.scopes = scopes;
      out.push_back(std::move(k));
    }
  }
  return out;
}

KubernetesSource::KubernetesSource(kube::KubeClient& client, kube::Clock& clock, RouteTable& routes,
                                   KeyRing& keys, KubernetesSourceOptions options)
    : client_(client), clock_(clock), routes_(routes), keys_(keys), options_(std::move(options)) {
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  for (const std::string& ns : namespaces) {
    kube::InformerOptions fo;
    fo.resource = api::functions();
    fo.ns = ns;
    fo.transform = trim_function;
    functions_.push_back(std::make_unique<kube::Informer>(
        client_, clock_, fo,
        kube::InformerHandlers{[this](const json& o) { on_function(o, false); },
                               [this](const json&, const json& o) { on_function(o, false); },
                               [this](const json& o) { on_function(o, true); }}));
    kube::InformerOptions po;
    po.resource = kube::resources::pods();
    po.ns = ns;
    po.label_selector = api::kFunctionLabel;
    po.transform = trim_pod;
    pods_.push_back(std::make_unique<kube::Informer>(
        client_, clock_, po,
        kube::InformerHandlers{[this](const json& o) { on_pod(o); },
                               [this](const json&, const json& o) { on_pod(o); },
                               [this](const json& o) { on_pod(o); }}));
  }
  if (!options_.keys_secret_name.empty()) {
    kube::InformerOptions so;
    so.resource = kube::resources::secrets();
    so.ns = options_.keys_secret_namespace;
    so.field_selector = "metadata.name=" + options_.keys_secret_name;
    secret_ = std::make_unique<kube::Informer>(
        client_, clock_, so,
        kube::InformerHandlers{[this](const json& o) { on_secret(o, false); },
                               [this](const json&, const json& o) { on_secret(o, false); },
                               [this](const json& o) { on_secret(o, true); }});
  }
}

KubernetesSource::~KubernetesSource() {
  stop();
}

void KubernetesSource::start() {
  for (auto& i : functions_)
    i->start();
  for (auto& i : pods_)
    i->start();
  if (secret_) secret_->start();
}

void KubernetesSource::stop() {
  for (auto& i : functions_)
    i->stop();
  for (auto& i : pods_)
    i->stop();
  if (secret_) secret_->stop();
}

bool KubernetesSource::synced() const {
  for (auto& i : functions_) {
    if (!i->has_synced()) return false;
  }
  for (auto& i : pods_) {
    if (!i->has_synced()) return false;
  }
  return !secret_ || secret_->has_synced();
}

bool KubernetesSource::wait_for_sync(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
  };
  for (auto& i : functions_) {
    if (!i->wait_for_sync(left())) return false;
  }
  for (auto& i : pods_) {
    if (!i->wait_for_sync(left())) return false;
  }
  return !secret_ || secret_->wait_for_sync(left());
}

void KubernetesSource::on_function(const json& fn, bool deleted) {
  auto route = route_from_function(fn);
  if (!route) return;
  if (deleted) {
    routes_.remove(route->ns, route->name);
    return;
  }
  const std::string ns = route->ns;
  const std::string name = route->name;
  routes_.upsert(std::move(*route));
  refresh_endpoints(ns, name);  // pods may have been seen first, or while it was absent
}

void KubernetesSource::on_pod(const json& pod) {
  const json& meta = field(pod, "metadata");
  std::string fn = string_field(field(meta, "labels"), api::kFunctionLabel);
  if (fn.empty()) return;
  refresh_endpoints(string_field(meta, "namespace"), fn);
}

void KubernetesSource::refresh_endpoints(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Endpoint> endpoints;
  for (auto& informer : pods_) {
    for (const auto& pod : informer->cache().list_labelled(api::kFunctionLabel, name)) {
      if (string_field(field(*pod, "metadata"), "namespace") != ns) continue;
      if (auto e = endpoint_from_pod(*pod, options_.default_port)) endpoints.push_back(*e);
    }
  }
  std::sort(endpoints.begin(), endpoints.end(),
            [](const Endpoint& a, const Endpoint& b) { return a.id < b.id; });
  routes_.set_endpoints(ns, name, std::move(endpoints));
}

void KubernetesSource::on_secret(const json& secret, bool deleted) {
  if (deleted) {
    keys_.set_keys({});
    return;
  }
  std::vector<std::string> errors;
  keys_.set_keys(keys_from_secret(secret, &errors));
  if (options_.log) {
    for (const std::string& e : errors)
      options_.log("Secret " + options_.keys_secret_namespace + "/" + options_.keys_secret_name +
                   ": " + e);
  }
}

}  // namespace kubefn::gateway
