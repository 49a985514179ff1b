#include "kubefn/controller/function_spec.hpp"

#include <cmath>
#include <regex>
#include <set>

#include "kubefn/controller/spec_validation.hpp"
#include "kubefn/triggers/trigger_spec.hpp"

namespace kubefn::controller {
namespace {

using nlohmann::json;

struct Invalid {
  SpecError error;
};

[[noreturn]] void invalid(std::string reason, std::string message) {
  throw Invalid{SpecError{std::move(reason), std::move(message)}};
}

const json* field(const json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string get_string(const json& obj, const char* name, const std::string& path) {
  const json* f = field(obj, name);
  if (f == nullptr) return {};
  if (!f->is_string()) invalid("InvalidSpec", path + " must be a string");
  return f->get<std::string>();
}

std::optional<std::int64_t> get_int(const json& obj, const char* name, const std::string& path,
                                    std::int64_t min, std::int64_t max) {
  const json* f = field(obj, name);
  if (f == nullptr) return std::nullopt;
  if (!f->is_number_integer()) invalid("InvalidSpec", path + " must be an integer");
  auto v = f->get<std::int64_t>();
  if (v < min || v > max) {
    invalid("InvalidSpec", path + " is " + std::to_string(v) + "; it must be between " +
                               std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

bool is_module_name(const std::string& s) {
  static const std::regex re("^[A-Za-z_][A-Za-z0-9_-]*$");
  return std::regex_match(s, re);
}

// The most a ConfigMap holds: the source ConfigMap must take the inline source.
constexpr std::size_t kMaxSource = 1 << 20;

void check(const std::optional<SpecError>& e) {
  if (e) throw Invalid{*e};
}

void parse_source(const json& spec, FunctionSpec& out) {
  const json* src = field(spec, "source");
  const std::string image = out.image;
  if (src == nullptr) {
    if (image.empty()) {
      invalid("MissingSource",
              "spec.source is empty and spec.image is not set: give the code in "
              "spec.source.inline, spec.source.configMapRef or spec.source.url, or a prebuilt "
              "image in spec.image");
    }
    return;
  }
  if (!src->is_object()) invalid("InvalidSpec", "spec.source must be an object");
  int kinds = 0;
  if (const json* i = field(*src, "inline")) {
    if (!i->is_string()) invalid("InvalidSpec", "spec.source.inline must be a string");
    out.inline_source = i->get<std::string>();
    if (out.inline_source.empty()) invalid("MissingSource", "spec.source.inline is empty");
    if (out.inline_source.size() > kMaxSource) {
      invalid("InvalidSource", "spec.source.inline is " + std::to_string(out.inline_source.size()) +
                                   " bytes, more than the 1 MiB a ConfigMap holds: move the "
                                   "source to spec.source.url, or build an image and set "
                                   "spec.image");
    }
    out.source_kind = SourceKind::kInline;
    ++kinds;
  }
  if (const json* cm = field(*src, "configMapRef")) {
    if (!cm->is_object()) invalid("InvalidSpec", "spec.source.configMapRef must be {name, key}");
    out.config_map_name = get_string(*cm, "name", "spec.source.configMapRef.name");
    if (!is_dns_subdomain(out.config_map_name)) {
      invalid("InvalidSource", "spec.source.configMapRef.name \"" + out.config_map_name +
                                   "\" is not a valid ConfigMap name");
    }
    out.config_map_key = get_string(*cm, "key", "spec.source.configMapRef.key");
    if (out.config_map_key.empty()) out.config_map_key = out.module + ".cpp";
    if (!is_config_map_key(out.config_map_key)) {
      invalid("InvalidSource", "spec.source.configMapRef.key \"" + out.config_map_key +
                                   "\" is not a ConfigMap key: letters, digits, '-', '_' and "
                                   "'.' (not . or .. or starting with ..), at most 253");
    }
    out.source_kind = SourceKind::kConfigMap;
    ++kinds;
  }
  if (field(*src, "url") != nullptr) {
    out.url = get_string(*src, "url", "spec.source.url");
    out.url_sha256 = get_string(*src, "sha256", "spec.source.sha256");
    if (out.url.size() > 2048) {
      invalid("InvalidSource",
              "spec.source.url is " + std::to_string(out.url.size()) + " characters: at most 2048");
    }
    // user:password@ would be stored in the Function and shown in its status and events.
    static const std::regex userinfo_re("^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@");
    if (std::regex_search(out.url, userinfo_re)) {
      invalid("InvalidSource",
              "spec.source.url carries credentials (user:password@host): they would show in "
              "the Function's status and events; serve the source without them");
    }
    static const std::regex url_re("^https?://[^\\s/$.?#][^\\s]*$");
    if (!std::regex_match(out.url, url_re)) {
      invalid("InvalidSource", "spec.source.url \"" + out.url + "\" is not an http(s) URL");
    }
    static const std::regex sha_re("^[a-f0-9]{64}$");
    if (!std::regex_match(out.url_sha256, sha_re)) {
      invalid("InvalidSource",
              "spec.source.sha256 must be the 64 lower-case hex digits of the SHA-256 of what "
              "spec.source.url serves (sha256sum prints it)");
    }
    out.source_kind = SourceKind::kUrl;
    ++kinds;
  } else if (field(*src, "sha256") != nullptr) {
    invalid("InvalidSource",
            "spec.source.sha256 is set without spec.source.url: add the URL "
            "or remove the sha256");
  }
  if (kinds > 1) {
    invalid("ConflictingSource",
            "spec.source sets more than one of inline, configMapRef and url: keep exactly one");
  }
  if (kinds == 0 && image.empty()) {
    invalid("MissingSource",
            "spec.source has none of inline, configMapRef and url, and spec.image is not set");
  }
  if (kinds == 1 && !image.empty()) {
    invalid("ConflictingSource",
            "spec.image and spec.source are both set: an image is run as is, so remove one");
  }
}

}  // namespace

const char* to_string(ScalingMetric m) {
  return m == ScalingMetric::kRps ? "rps" : "concurrency";
}

const char* to_string(Access a) {
  return a == Access::kPublic ? "public" : "private";
}

std::variant<FunctionSpec, SpecError> parse_function(const json& function) {
  FunctionSpec out;
  try {
    const json* meta = field(function, "metadata");
    if (meta == nullptr) invalid("InvalidSpec", "metadata is missing");
    out.name = get_string(*meta, "name", "metadata.name");
    out.ns = get_string(*meta, "namespace", "metadata.namespace");
    out.uid = get_string(*meta, "uid", "metadata.uid");
    if (const json* g = field(*meta, "generation"); g != nullptr && g->is_number_integer()) {
      out.generation = g->get<std::int64_t>();
    }
    // The name becomes a Deployment, a Service (DNS-1035 label) and a ConfigMap prefix.
    static const std::regex name_re("^[a-z]([-a-z0-9]*[a-z0-9])?$");
    if (out.name.size() > 52 || !std::regex_match(out.name, name_re)) {
      invalid("InvalidName", "metadata.name \"" + out.name +
                                 "\" must be at most 52 lower-case letters, digits and '-', "
                                 "starting with a letter (it names the function's Service)");
    }
    const json* spec = field(function, "spec");
    if (spec == nullptr || !spec->is_object()) {
      invalid("InvalidSpec", "spec is missing: a Function needs at least spec.handler");
    }

    out.runtime = get_string(*spec, "runtime", "spec.runtime");
    if (out.runtime.empty()) out.runtime = "cpp20";
    if (out.runtime != "cpp20") {
      invalid("UnknownRuntime", "spec.runtime \"" + out.runtime + "\" is not supported: use cpp20");
    }

    const std::string handler = get_string(*spec, "handler", "spec.handler");
    if (handler.empty()) {
      invalid("InvalidHandler",
              "spec.handler is empty: set it to <module>.<function>, e.g. hello.greet for "
              "KUBEFN_HANDLER(greet) in hello.cpp");
    }
    auto dot = handler.find('.');
    if (dot == std::string::npos || handler.find('.', dot + 1) != std::string::npos) {
      invalid("InvalidHandler",
              "spec.handler \"" + handler + "\" must be <module>.<function>, e.g. hello.greet");
    }
    out.module = handler.substr(0, dot);
    out.handler_name = handler.substr(dot + 1);
    if (handler.size() > 253 || dot > 249) {
      invalid("InvalidHandler",
              "spec.handler is too long: at most 253 characters, and the "
              "module at most 249 (<module>.cpp names the source's "
              "ConfigMap key)");
    }
    if (!is_module_name(out.module)) {
      invalid("InvalidHandler", "spec.handler module \"" + out.module +
                                    "\" must be letters, digits, '_' or '-', not starting "
                                    "with a digit");
    }
    if (!is_cpp_identifier(out.handler_name)) {
      invalid("InvalidHandler", "spec.handler function \"" + out.handler_name +
                                    "\" must be a C++ identifier that is not a keyword: the "
                                    "name passed to KUBEFN_HANDLER(...)");
    }

    out.image = get_string(*spec, "image", "spec.image");
    if (!out.image.empty()) check(check_image(out.image));
    parse_source(*spec, out);

    if (const json* deps = field(*spec, "dependencies")) {
      if (!deps->is_array()) invalid("InvalidSpec", "spec.dependencies must be a list");
      if (deps->size() > 64) {
        invalid("InvalidDependency", "spec.dependencies lists " + std::to_string(deps->size()) +
                                         " packages: at most 64");
      }
      // What the builder hands to the package tools: a name, never an option ("-o...").
      static const std::regex pkg_re("^[a-z0-9][a-z0-9+.-]+$");
      std::set<std::string> seen;
      for (std::size_t i = 0; i < deps->size(); ++i) {
        const json& d = (*deps)[i];
        if (!d.is_string() || d.get<std::string>().size() > 128 ||
            !std::regex_match(d.get<std::string>(), pkg_re)) {
          invalid("InvalidDependency",
                  "spec.dependencies[" + std::to_string(i) + "]: " + d.dump() +
                      " is not a Debian package name: lower-case letters, digits, '+', '-' and "
                      "'.', starting with a letter or digit, at most 128 (for example "
                      "zlib1g-dev)");
        }
        if (seen.insert(d.get<std::string>()).second) out.dependencies.push_back(d);
      }
      if (!out.dependencies.empty() && !out.image.empty()) {
        invalid("ConflictingSource",
                "spec.dependencies only apply to builds from source, but spec.image is set");
      }
    }

    out.replicas = get_int(*spec, "replicas", "spec.replicas", 0, 100000);
    if (const json* env = field(*spec, "env")) {
      if (!env->is_array()) invalid("InvalidSpec", "spec.env must be a list of {name, value}");
      check(check_env(*env));
      out.env = *env;
    }
    if (const json* ef = field(*spec, "envFrom")) {
      if (!ef->is_array()) invalid("InvalidSpec", "spec.envFrom must be a list");
      check(check_env_from(*ef));
      out.env_from = *ef;
    }
    if (const json* secrets = field(*spec, "secrets")) {
      if (!secrets->is_array()) invalid("InvalidSpec", "spec.secrets must be a list of names");
      std::set<std::string> seen;
      for (std::size_t i = 0; i < secrets->size(); ++i) {
        const json& s = (*secrets)[i];
        if (!s.is_string() || !is_dns_subdomain(s.get<std::string>())) {
          invalid("InvalidSecret", "spec.secrets[" + std::to_string(i) + "]: " + s.dump() +
                                       " is not a Secret name: lower-case letters, digits, '-' "
                                       "and '.', at most 253");
        }
        if (seen.insert(s.get<std::string>()).second) out.secrets.push_back(s);
      }
    }
    if (const json* r = field(*spec, "resources")) {
      if (!r->is_object()) invalid("InvalidSpec", "spec.resources must be an object");
      check(check_resources(*r));
      out.resources = *r;
    }
    out.timeout_seconds = get_int(*spec, "timeout", "spec.timeout", 1, 3600).value_or(180);
    out.concurrency = get_int(*spec, "concurrency", "spec.concurrency", 1, 10000).value_or(100);

    if (const json* sc = field(*spec, "scaling")) {
      out.min_replicas =
          get_int(*sc, "minReplicas", "spec.scaling.minReplicas", 0, 100000).value_or(0);
      out.max_replicas =
          get_int(*sc, "maxReplicas", "spec.scaling.maxReplicas", 1, 100000).value_or(10);
      if (out.min_replicas > out.max_replicas) {
        invalid("InvalidScaling", "spec.scaling.minReplicas (" + std::to_string(out.min_replicas) +
                                      ") is above spec.scaling.maxReplicas (" +
                                      std::to_string(out.max_replicas) + ")");
      }
      const std::string metric = get_string(*sc, "metric", "spec.scaling.metric");
      if (metric == "rps") {
        out.metric = ScalingMetric::kRps;
      } else if (!metric.empty() && metric != "concurrency") {
        invalid("InvalidScaling",
                "spec.scaling.metric \"" + metric + "\" is unknown: use concurrency or rps");
      }
      if (const json* t = field(*sc, "target")) {
        if (!t->is_number() || t->get<double>() <= 0) {
          invalid("InvalidScaling", "spec.scaling.target must be a number above 0");
        }
        out.target = t->get<double>();
        if (out.metric == ScalingMetric::kConcurrency &&
            *out.target > static_cast<double>(out.concurrency)) {
          invalid("InvalidScaling",
                  "spec.scaling.target (" + t->dump() + ") is above spec.concurrency (" +
                      std::to_string(out.concurrency) +
                      "): a replica could never reach it; lower the target or raise concurrency");
        }
      }
      out.scale_to_zero_grace_seconds =
          get_int(*sc, "scaleToZeroGracePeriod", "spec.scaling.scaleToZeroGracePeriod", 0, 86400)
              .value_or(30);
      out.stable_window_seconds =
          get_int(*sc, "stableWindow", "spec.scaling.stableWindow", 6, 3600);
      const std::string keep_alive = get_string(*sc, "keepAlive", "spec.scaling.keepAlive");
      if (!keep_alive.empty() && keep_alive != "learned" && keep_alive != "fixed") {
        invalid("InvalidScaling",
                "spec.scaling.keepAlive \"" + keep_alive + "\" is unknown: use learned or fixed");
      }
      out.learned_keep_alive = keep_alive != "fixed";
      if (const json* c = field(*sc, "coldStartCost")) {
        // What the autoscaler's keep-alive weighs one cold start against, in replica-seconds.
        if (!c->is_number() || !std::isfinite(c->get<double>()) || c->get<double>() < 0 ||
            c->get<double>() > 86400) {
          // A NaN or an infinity would print as null.
          const double v = c->is_number() ? c->get<double>() : 0;
          const std::string shown = std::isnan(v)   ? "NaN"
                                    : std::isinf(v) ? (v > 0 ? "infinite" : "-infinite")
                                                    : c->dump();
          invalid("InvalidScaling",
                  "spec.scaling.coldStartCost is " + shown +
                      "; it must be a number of replica-seconds from 0 to 86400: how long an "
                      "idle replica may be kept to spare the next call one cold start");
        }
        out.cold_start_cost = c->get<double>();
      }
    }
    if (const json* tr = field(*spec, "triggers")) {
      if (const json* http = field(*tr, "http")) {
        out.http_path = get_string(*http, "path", "spec.triggers.http.path");
        out.http_host = get_string(*http, "host", "spec.triggers.http.host");
        if (!out.http_path.empty() && out.http_path.front() != '/') {
          invalid("InvalidTrigger", "spec.triggers.http.path must start with '/'");
        }
      }
      // The event triggers the dispatcher runs: checked here so a bad one is a condition.
      auto events = triggers::parse_triggers(tr, out.ns, out.name);
      if (auto* e = std::get_if<triggers::TriggerError>(&events)) {
        invalid("InvalidTrigger", e->message);
      }
    }
    const std::string access = get_string(*spec, "access", "spec.access");
    if (access == "public") {
      out.access = Access::kPublic;
    } else if (!access.empty() && access != "private") {
      invalid("InvalidSpec", "spec.access \"" + access + "\" is unknown: use private or public");
    }
  } catch (const Invalid& e) {
    return e.error;
  } catch (const nlohmann::json::exception& e) {
    return SpecError{"InvalidSpec", std::string("spec could not be read: ") + e.what()};
  }
  return out;
}

}  // namespace kubefn::controller
