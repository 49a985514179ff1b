// The checks parse_function applies to what a Function hands on to its consumers: the
// Deployment's container (env, envFrom, resources, image), the builder (module, handler,
// dependencies) and the API's name rules. Each check follows the consumer's own rules, so an
// invalid Function becomes a condition before anything is created for it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "kubefn/controller/function_spec.hpp"

namespace kubefn::controller {

// Kubernetes name rules (apimachinery's validation).
bool is_dns_label(std::string_view s);      // DNS-1123 label: Secret volumes, ...
bool is_dns_subdomain(std::string_view s);  // DNS-1123 subdomain: ConfigMap, Secret names
bool is_config_map_key(std::string_view s);
bool is_qualified_name(std::string_view s);  // [prefix/]name: label keys, resource names
// v1.34's environment variable names: printable ASCII except '='.
bool is_env_var_name(std::string_view s);
// An OCI image reference: [host[:port]/]path[:tag][@digest].
bool is_image_reference(std::string_view s);
// A C++ identifier that is not a keyword: what KUBEFN_HANDLER(...) can name.
bool is_cpp_identifier(std::string_view s);

// spec.env, spec.envFrom, spec.resources and spec.image; nothing when valid.
std::optional<SpecError> check_env(const nlohmann::json& env);
std::optional<SpecError> check_env_from(const nlohmann::json& env_from);
std::optional<SpecError> check_resources(const nlohmann::json& resources);
std::optional<SpecError> check_image(const std::string& image);

// spec.resources with the platform's defaults (requests cpu 50m and memory 32Mi when no
// requests are set, a 128Mi memory limit when no limits are). A default never contradicts what
// the Function sets: a default request is at most the Function's limit, a default limit at
// least its request.
nlohmann::json effective_resources(const nlohmann::json& resources);

}  // namespace kubefn::controller
