// The Function resource's spec, parsed and validated beyond what the CRD schema can say.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kubefn/api/function.hpp"

namespace kubefn::controller {

enum class SourceKind { kNone, kInline, kConfigMap, kUrl };
enum class ScalingMetric { kConcurrency, kRps };
enum class Access { kPrivate, kPublic };

struct FunctionSpec {
  std::string name;
  std::string ns;
  std::string uid;
  std::int64_t generation = 0;

  std::string runtime = "cpp20";
  std::string module;        // handler before the '.'
  std::string handler_name;  // handler after the '.'
  SourceKind source_kind = SourceKind::kNone;
  std::string inline_source;
  std::string config_map_name;
  std::string config_map_key;  // default <module>.cpp
  std::string url;
  std::string url_sha256;
  std::vector<std::string> dependencies;
  std::string image;  // prebuilt; empty when built from source
  std::optional<std::int64_t> replicas;
  nlohmann::json env = nlohmann::json::array();
  nlohmann::json env_from = nlohmann::json::array();
  std::vector<std::string> secrets;
  nlohmann::json resources = nlohmann::json::object();
  std::int64_t timeout_seconds = 180;
  std::int64_t concurrency = 100;
  std::int64_t min_replicas = 0;
  std::int64_t max_replicas = 10;
  ScalingMetric metric = ScalingMetric::kConcurrency;
  std::optional<double> target;
  std::int64_t scale_to_zero_grace_seconds = 30;
  std::optional<std::int64_t> stable_window_seconds;  // spec.scaling.stableWindow (6..3600)
  bool learned_keep_alive = true;  // spec.scaling.keepAlive: learned (default) or fixed
  // spec.scaling.coldStartCost: idle replica-seconds one avoided cold start is worth (0-86400);
  // unset: the autoscaler's default.
  std::optional<double> cold_start_cost;
  std::string http_path;
  std::string http_host;
  Access access = Access::kPrivate;
};

// An invalid spec: reason is a CamelCase condition reason, message says what to change.
struct SpecError {
  std::string reason;
  std::string message;
};

std::variant<FunctionSpec, SpecError> parse_function(const nlohmann::json& function);

const char* to_string(ScalingMetric m);
const char* to_string(Access a);

}  // namespace kubefn::controller
