// Pure builders: from a Function to the Kubernetes objects it wants (the source ConfigMap, the
// build Job, the Deployment, the Service). Same input, same output, byte for byte; no clock,
// no client, no randomness.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "kubefn/controller/function_spec.hpp"

namespace kubefn::platform::kubernetes {

inline constexpr int kFunctionPort = 8080;
// The container of a replica (the runtime) and of a build Job's pod (kubefn-build).
inline constexpr const char* kFunctionContainer = "function";
inline constexpr const char* kBuildContainer = "build";
inline constexpr const char* kManagedBy = "kubefn-operator";

// Content-hashed ConfigMap name: <function>-src-<first 10 hex digits of the digest>.
std::string source_config_map_name(const controller::FunctionSpec& spec, const std::string& digest);

nlohmann::json owner_reference(const controller::FunctionSpec& spec);
nlohmann::json common_labels(const controller::FunctionSpec& spec);
std::string selector_string(const controller::FunctionSpec& spec);

// Immutable ConfigMap with the source under <module>.cpp.
nlohmann::json make_source_config_map(const controller::FunctionSpec& spec,
                                      const std::string& source_text, const std::string& digest);

struct DeploymentInputs {
  std::string image;
  std::string source_config_map;  // empty when the function has no source (prebuilt image)
  std::string source_digest;
  std::optional<std::int64_t> replicas;  // unset: leave to whoever owns the scale
  std::string stats_address;             // KUBEFN_STATS_ADDRESS, when load reports are on
};

nlohmann::json make_deployment(const controller::FunctionSpec& spec, const DeploymentInputs& in);
nlohmann::json make_service(const controller::FunctionSpec& spec);

// The build Job of one source digest: the builder compiles the source ConfigMap, pushes
// <repository>:<tag> and reports the digest in its termination message. It runs as the
// builder's non-root user; the Function's dependencies must be in the builder image.
struct BuildJobInputs {
  std::string source_config_map;
  std::string source_digest;
  std::string repository;  // where the image goes, e.g. registry:5000/kubefn/default/hello
  std::string base_image;
  std::string builder_image;
  std::string registry_secret;  // optional dockerconfigjson Secret
  bool plain_http = false;
  std::int64_t timeout_seconds = 600;
};

// <function>-build-<first 10 hex digits of the digest>, within the 63 characters a Job's
// pods can carry in their job-name label.
std::string build_job_name(const controller::FunctionSpec& spec, const std::string& digest);
// src-<first 16 hex digits of the digest>: equal sources share a tag.
std::string build_image_tag(const std::string& digest);
nlohmann::json make_build_job(const controller::FunctionSpec& spec, const BuildJobInputs& in);

}  // namespace kubefn::platform::kubernetes
