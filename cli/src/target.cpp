#include "kubefn/cli/target.hpp"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kubefn/kube/kubeconfig.hpp"

namespace kubefn::cli {
namespace {

using kube::Result;
using kube::Status;
using kube::StatusCode;
namespace fs = std::filesystem;

bool process_alive(long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) == 0) return true;
  return errno == EPERM;  // alive, owned by someone else
}

std::optional<std::string> slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string env_or_empty(const kube::EnvLookup& env, const std::string& name) {
  auto value = env(name);
  return value ? *value : std::string();
}

Result<Target> cluster_target(const TargetFlags& flags, const TargetEnvironment& environment) {
  std::vector<fs::path> files;
  if (!flags.kubeconfig.empty()) {
    if (!environment.file_exists(flags.kubeconfig)) {
      return Status(StatusCode::kInvalidConfig,
                    "kubeconfig " + flags.kubeconfig + " does not exist: check --kubeconfig");
    }
    files.emplace_back(flags.kubeconfig);
  } else {
    files = kube::kubeconfig_files_from_env(environment.env);
  }
  kube::KubeconfigOverrides overrides;
  overrides.context = flags.context;
  overrides.namespace_ = flags.ns;
  std::vector<fs::path> existing;
  for (const auto& file : files) {
    if (environment.file_exists(file)) existing.push_back(file);
  }
  // One file is read through the environment; several are merged by the kubeconfig loader.
  std::optional<std::string> text;
  if (existing.size() == 1) text = environment.read_file(existing.front());
  auto config = text ? kube::parse_kubeconfig(*text, existing.front().parent_path(), overrides)
                     : kube::load_kubeconfig(files, overrides);
  if (!config.ok()) {
    return Status(config.status().code(), "kubeconfig: " + config.status().message());
  }
  Target target;
  target.kind = Target::Kind::kCluster;
  target.api = *config;
  target.ns = flags.ns.empty() ? config->default_namespace : flags.ns;
  if (target.ns.empty()) target.ns = "default";
  target.gateway =
      !flags.gateway.empty() ? flags.gateway : env_or_empty(environment.env, "KUBEFN_GATEWAY");
  target.described = "cluster " + config->server;
  return target;
}

}  // namespace

Result<LocalState> parse_local_state(const std::string& json_text) {
  auto doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status(StatusCode::kInvalidConfig, "not a JSON object");
  }
  LocalState state;
  auto text = [&](const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (auto it = doc.find("pid"); it != doc.end() && it->is_number_integer()) {
    state.pid = it->get<long>();
  }
  state.api = text("api");
  state.kubeconfig = text("kubeconfig");
  state.gateway = text("gateway");
  state.metrics = text("metrics");
  state.logs = text("logs");
  if (state.pid <= 0 || state.api.empty()) {
    return Status(StatusCode::kInvalidConfig, "pid and api are required");
  }
  return state;
}

TargetEnvironment process_target_environment() {
  TargetEnvironment environment;
  environment.env = kube::process_environment();
  environment.pid_alive = process_alive;
  environment.file_exists = [](const fs::path& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec);
  };
  environment.read_file = slurp;
  return environment;
}

fs::path kubefn_home(const kube::EnvLookup& env) {
  if (auto home = env("KUBEFN_HOME"); home && !home->empty()) return *home;
  if (auto home = env("HOME"); home && !home->empty()) return fs::path(*home) / ".kubefn";
  return ".kubefn";
}

Result<Target> select_target(const TargetFlags& flags, const TargetEnvironment& environment) {
  if (!flags.kubeconfig.empty() || !flags.context.empty()) {
    return cluster_target(flags, environment);
  }
  const fs::path state_path = kubefn_home(environment.env) / "up.json";
  if (auto text = environment.read_file(state_path)) {
    auto state = parse_local_state(*text);
    if (state.ok() && environment.pid_alive(state->pid)) {
      Target target;
      target.kind = Target::Kind::kLocal;
      target.ns = flags.ns.empty() ? "default" : flags.ns;
      if (state->kubeconfig.empty()) {
        target.api.server = state->api;
      } else {
        // The API asks for the token, over TLS with the CA kubefn up wrote beside it.
        const fs::path file = state->kubeconfig;
        auto text = environment.read_file(file);
        if (!text) {
          return Status(StatusCode::kInvalidConfig,
                        "cannot read " + file.string() + ", the kubeconfig of kubefn up (pid " +
                            std::to_string(state->pid) +
                            "): run kubefn as the user who started it, or pass --kubeconfig");
        }
        kube::KubeconfigOverrides overrides;
        overrides.namespace_ = target.ns;
        auto config = kube::parse_kubeconfig(*text, file.parent_path(), overrides);
        if (!config.ok()) {
          return Status(config.status().code(),
                        "kubeconfig " + file.string() + ": " + config.status().message());
        }
        target.api = *config;
      }
      target.api.default_namespace = target.ns;
      target.gateway = !flags.gateway.empty() ? flags.gateway : state->gateway;
      target.metrics = state->metrics;
      target.logs_dir = state->logs;
      target.described = "local platform (pid " + std::to_string(state->pid) + ")";
      return target;
    }
  }
  for (const auto& file : kube::kubeconfig_files_from_env(environment.env)) {
    if (environment.file_exists(file)) return cluster_target(flags, environment);
  }
  return Status(StatusCode::kInvalidConfig,
                "no platform: start one with `kubefn up`, or pass --kubeconfig");
}

}  // namespace kubefn::cli
