#pragma once

// Apply patches may be YAML (application/apply-patch+yaml); kubectl sends JSON, other clients
// may not.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace kubefn::emulator {

// nullopt when the text is neither JSON nor YAML.
std::optional<nlohmann::json> parse_json_or_yaml(const std::string& text);

}  // namespace kubefn::emulator
