#pragma once

// meta.k8s.io/v1 Table rendering: CRD printer columns, and the columns kubectl users expect for
// the built-in kinds.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "resource_types.hpp"

namespace kubefn::emulator {

// `include_object` is the includeObject parameter: None, Metadata (default) or Object.
nlohmann::json make_table(const ResourceType& type, const std::vector<nlohmann::json>& objects,
                          const std::string& resource_version, const std::string& include_object,
                          bool with_columns);
// Evaluates the simple JSONPath forms used by printer columns and scale paths (".a.b", ".a[0].b").
nlohmann::json json_path_value(const nlohmann::json& object, const std::string& path);

}  // namespace kubefn::emulator
