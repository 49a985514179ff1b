// Small text helpers the parsers share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kubefn::schedule::text {

inline bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  return s;
}

// The whitespace-separated words of `s`.
inline std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && space(s[i]))
      ++i;
    const std::size_t start = i;
    while (i < s.size() && !space(s[i]))
      ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

inline bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

inline std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

}  // namespace kubefn::schedule::text
