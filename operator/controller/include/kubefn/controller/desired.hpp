// Pure builders: from a Function to the Kubernetes objects it wants. Same input, same
// output, byte for byte; no clock, no client, no randomness.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "kubefn/controller/function_spec.hpp"

namespace kubefn::controller {

inline constexpr int kFunctionPort = 8080;
inline constexpr const char* kFunctionLabel = "kubefn.dev/function";
inline constexpr const char* kSourceDigestAnnotation = "kubefn.dev/source-digest";
inline constexpr const char* kManagedBy = "kubefn-operator";

// Hex SHA-256 of `data`.
std::string sha256_hex(const std::string& data);

// The digest that names a function's source: what the build depends on (source bytes,
// handler, runtime, dependencies). Equal digests build equal images.
std::string source_digest(const FunctionSpec& spec, const std::string& source_text);

// Content-hashed ConfigMap name: <function>-src-<first 10 hex digits of the digest>.
std::string source_config_map_name(const FunctionSpec& spec, const std::string& digest);

nlohmann::json owner_reference(const FunctionSpec& spec);
nlohmann::json common_labels(const FunctionSpec& spec);
std::string selector_string(const FunctionSpec& spec);

// Immutable ConfigMap with the source under <module>.cpp.
nlohmann::json make_source_config_map(const FunctionSpec& spec, const std::string& source_text,
                                      const std::string& digest);

struct DeploymentInputs {
  std::string image;
  std::string source_config_map;  // empty when the function has no source (prebuilt image)
  std::string source_digest;
  std::optional<std::int64_t> replicas;  // unset: leave to whoever owns the scale
};

nlohmann::json make_deployment(const FunctionSpec& spec, const DeploymentInputs& in);
nlohmann::json make_service(const FunctionSpec& spec);

}  // namespace kubefn::controller
