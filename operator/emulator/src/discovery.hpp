#pragma once

// Discovery documents (aggregated apidiscovery.k8s.io/v2 and the legacy per-group-version
// lists), /version, and the minimal OpenAPI v3 kubectl needs to hand validation to the server.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "resource_types.hpp"

namespace kubefn::emulator {

inline constexpr char kAggregatedDiscoveryType[] =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

nlohmann::json version_document();
// core = true for /api, false for /apis.
nlohmann::json aggregated_discovery(const std::vector<ResourceType>& types, bool core);
nlohmann::json legacy_api_versions(const std::string& server_address);
nlohmann::json legacy_group_list(const std::vector<ResourceType>& types);
std::optional<nlohmann::json> legacy_group(const std::vector<ResourceType>& types,
                                           const std::string& group);
std::optional<nlohmann::json> legacy_resource_list(const std::vector<ResourceType>& types,
                                                   const std::string& group,
                                                   const std::string& version);
nlohmann::json openapi_v3_root(const std::vector<ResourceType>& types, uint64_t hash);
// `gv_path` is "api/v1" or "apis/<group>/<version>".
std::optional<nlohmann::json> openapi_v3_document(const std::vector<ResourceType>& types,
                                                  const std::string& gv_path);

}  // namespace kubefn::emulator
