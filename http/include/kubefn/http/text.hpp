// Small text helpers every HTTP path of kubefn shares (the runtime's and the gateway's).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kubefn::http {

std::string_view trim_ows(std::string_view s);  // without leading and trailing spaces and tabs
bool iequals(std::string_view a, std::string_view b);  // ASCII case-insensitive equality
bool is_tchar(char c);              // RFC 9110 section 5.6.2 token character (field names, methods)
bool is_token(std::string_view s);  // one or more tchars
std::size_t heap_bytes(const std::string& s);  // what `s` holds beyond its inline storage

// Calls f(item) for each non-empty item of a comma-separated list (RFC 9110 section 5.6.1),
// spaces around items trimmed.
template <typename F>
void for_each_list_item(std::string_view value, F f) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view item = trim_ows(value.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool list_contains(std::string_view value, std::string_view token);

// Appends `n` in decimal.
void append_decimal(std::string& out, std::size_t n);

}  // namespace kubefn::http
