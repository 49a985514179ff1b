// The Function resource's names: its group, version and resource, the labels and annotations
// kubefn puts on what it creates, and the condition types of its status. The operator, the
// gateway, the CLI and the local platform spell them only here.
#pragma once

#include "kubefn/kube/resource.hpp"

namespace kubefn::api {

inline constexpr const char* kGroup = "kubefn.dev";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kApiVersion = "kubefn.dev/v1alpha1";
inline constexpr const char* kKind = "Function";
inline constexpr const char* kResource = "functions";

inline kube::GroupVersionResource functions() {
  return {kGroup, kVersion, kResource, true};
}

// On every object made for a Function (its name), and on its build Jobs (the source digest).
inline constexpr const char* kFunctionLabel = "kubefn.dev/function";
inline constexpr const char* kBuildLabel = "kubefn.dev/build";
// On a Function's Deployment: the digest of the source its image was built from.
inline constexpr const char* kSourceDigestAnnotation = "kubefn.dev/source-digest";
// On a Function's Service: the access mode the gateway enforces (public or private).
inline constexpr const char* kAccessAnnotation = "kubefn.dev/access";

// Condition types of Function.status.conditions, in the order they become true.
namespace condition {
inline constexpr const char* kSourceReady = "SourceReady";
inline constexpr const char* kBuilt = "Built";
inline constexpr const char* kDeploymentReady = "DeploymentReady";
inline constexpr const char* kReady = "Ready";
}  // namespace condition

}  // namespace kubefn::api
