#pragma once

// Values rendered the way Go's fmt, strconv and encoding/json render them, for the messages the
// API server builds with them (field errors, strict decoding errors, warnings), which clients and
// tests compare byte for byte.
//
// Decoded JSON follows the API server's unstructured decoding: a number written without a
// fraction or exponent that fits int64 is an int64, every other number a float64.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kubefn::emulator {

// Whether the API server decodes `v` as an int64 (else a float64 when it is a number).
bool is_go_int(const nlohmann::json& v);
int64_t go_int(const nlohmann::json& v);
double go_float64(const nlohmann::json& v);

// strconv.Quote / %q.
std::string go_quote(std::string_view s);
// %v of a float64 ("1e+06", "0.5", "3600").
std::string go_float(double v);
// %v of an int64.
inline std::string go_int_text(int64_t v) {
  return std::to_string(v);
}
// encoding/json.Marshal of a decoded value: sorted keys, HTML characters escaped.
std::string go_json(const nlohmann::json& v);
// JSON as the API server writes response bodies (encoding/json escaping), from a dumped document.
std::string go_json_escape_html(std::string dumped);
// How a field.Error shows its bad value: %v for numbers and booleans, %q for strings, JSON for
// everything else (null, objects, arrays).
std::string go_field_value(const nlohmann::json& v);

// Go's %v of a decoded JSON value: <nil>, bare strings, [a b], map[k:v] (keys sorted).
std::string go_v(const nlohmann::json& v);
// What storing a decoded value and reading it back does to its numbers: a whole float64 below
// 1e21 is written without a fraction, so it comes back an int64 (when it fits one).
void go_round_trip_numbers(nlohmann::json& v);
// Go's reflect.DeepEqual over decoded JSON: an int64 never equals a float64.
bool go_deep_equal(const nlohmann::json& a, const nlohmann::json& b);

// Number of Unicode code points (utf8.RuneCountInString; invalid bytes count one each).
std::size_t rune_count(std::string_view s);
// The code points of UTF-8 text (invalid bytes become U+FFFD), for matching patterns per code
// point as Go's regexp does.
std::wstring utf8_to_wide(std::string_view s);

}  // namespace kubefn::emulator
