#pragma once

// The fieldValidation query parameter (Strict, Warn, Ignore) and what it governs: unknown fields
// (those pruning removes) and duplicate JSON keys, reported as the API server's strict decoder
// words them, either as an error or as Warning response headers.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_error.hpp"

namespace kubefn::emulator {

enum class FieldValidation { kIgnore, kWarn, kStrict };

// "" is the server default, Warn. Anything else but Ignore, Warn and Strict is the 422 the real
// server answers for `options_kind` (CreateOptions, UpdateOptions, PatchOptions).
Result<FieldValidation> parse_field_validation(const std::string& value,
                                               const std::string& options_kind);

// Duplicate keys in a JSON text, as `duplicate field "spec.a"`, in the order a strict decoder
// meets them (repeats reported once, at most 100). Empty when the text is not JSON.
std::vector<std::string> duplicate_json_fields(std::string_view text);
// The strict errors of a JSON patch document: unknown and duplicate fields of its operations
// (`json patch unknown field "[0].foo"`) and duplicates inside their values.
std::vector<std::string> json_patch_strict_errors(std::string_view text);
// For server-side apply bodies (YAML or JSON): keys repeated in a mapping, as the YAML decoder
// reports them (`line 3: key "a" already set in map`). JSON bodies only; YAML is not scanned.
std::vector<std::string> apply_duplicate_keys(std::string_view text);

// "strict decoding error: <e1>, <e2>".
std::string strict_decoding_message(const std::vector<std::string>& errors);

// The Warning headers the API server sends for these texts (`299 - "unknown field \"x\""`):
// duplicates and texts with control characters dropped, the total size capped as it caps it.
std::vector<std::string> warning_headers(const std::vector<std::string>& texts);

}  // namespace kubefn::emulator
