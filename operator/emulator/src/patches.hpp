#pragma once

// The patch formats the API accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the
// subset of strategic merge patch that kubectl sends for built-in kinds.

#include <nlohmann/json.hpp>
#include <string>

#include "api_error.hpp"

namespace kubefn::emulator {

nlohmann::json merge_patch(nlohmann::json target, const nlohmann::json& patch);
Result<nlohmann::json> json_patch(const nlohmann::json& target, const nlohmann::json& ops);
Result<nlohmann::json> strategic_merge_patch(nlohmann::json target, const nlohmann::json& patch);

}  // namespace kubefn::emulator
