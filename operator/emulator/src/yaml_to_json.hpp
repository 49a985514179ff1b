#pragma once

// Apply patches may be YAML (application/apply-patch+yaml); kubectl sends JSON, other clients
// may not.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kubefn::emulator {

// nullopt when the text is neither JSON nor YAML.
std::optional<nlohmann::json> parse_json_or_yaml(const std::string& text);

// A YAML body (Content-Type application/yaml) as the API server converts it to JSON (a repeated
// key keeps its last value); on failure, nullopt and `error` says why, as yaml-cpp words it
// ("yaml: line 3: ...").
std::optional<nlohmann::json> parse_yaml(const std::string& text, std::string* error = nullptr);
// Keys repeated in a mapping of a YAML text, in document order, as the strict YAML decoder
// reports them: `line 7: key "handler" already set in map`. Empty when the text does not parse.
std::vector<std::string> yaml_duplicate_keys(const std::string& text);

}  // namespace kubefn::emulator
