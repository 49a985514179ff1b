#pragma once

// The texts of Go's encoding/json errors, which the API server passes on when it cannot decode a
// body or a patch (`couldn't get version/kind; json parse error: unexpected end of JSON input`,
// `error decoding patch: invalid character 'o' in literal null (expecting 'u')`).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kubefn::emulator {

// The *json.SyntaxError json.Unmarshal reports for `text` (its syntax check runs over the whole
// input first), or empty when `text` is one valid JSON value.
std::string go_json_syntax_error(std::string_view text);

// What json.UnmarshalTypeError calls a decoded value: "object", "array", "string", "number",
// "bool" or "null".
std::string go_json_value_kind(const nlohmann::json& value);

// How the API server quotes an undecodable body in its 400: `<empty>`, the first `max` bytes of
// a body starting with '{' (then " ..."), else their hex encoding.
std::string go_body_summary(std::string_view body, std::size_t max = 30);

}  // namespace kubefn::emulator
