#include "go_format.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

constexpr char kHex[] = "0123456789abcdef";

// One UTF-8 sequence as Go decodes it: invalid or overlong bytes are U+FFFD of width 1.
struct Rune {
  char32_t r;
  std::size_t width;
};

Rune decode_rune(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t n = 0;
  char32_t r = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, r = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, r = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, r = b0 & 0x07, min = 0x10000;
  } else {
    return {0xFFFD, 1};
  }
  if (i + n > s.size()) return {0xFFFD, 1};
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {0xFFFD, 1};
    r = (r << 6) | (b & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return {0xFFFD, 1};
  return {r, n};
}

// unicode.IsPrint for runes beyond ASCII, minus unassigned code points: controls, format
// characters, separators other than the ASCII space and private use are not printable.
bool printable(char32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r < 0x7F) return true;
  if (r <= 0xA0 || r == 0xAD) return false;
  if ((r >= 0x600 && r <= 0x605) || r == 0x61C || r == 0x6DD || r == 0x70F || r == 0x180E)
    return false;
  if (r == 0x1680 || (r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F)) return false;
  if ((r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0xFEFF) return false;
  if ((r >= 0xFFF9 && r <= 0xFFFB) || (r >= 0xE000 && r <= 0xF8FF)) return false;
  if (r >= 0xF0000) return false;  // supplementary private use
  return true;
}

void append_hex(std::string& out, uint32_t v, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
    out += kHex[(v >> shift) & 0xF];
}

// The shortest decimal digits of |v| that round-trip, and the exponent of the first digit.
struct Digits {
  std::string digits;
  int exp = 0;
};

Digits shortest_digits(double v) {
  char buf[64];
  const auto res =
      std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
  const std::string_view text(buf, static_cast<std::size_t>(res.ptr - buf));
  Digits d;
  const auto e = text.find('e');
  for (char c : text.substr(0, e)) {
    if (c != '.') d.digits += c;
  }
  d.exp = std::stoi(std::string(text.substr(e + 1)));
  while (d.digits.size() > 1 && d.digits.back() == '0')
    d.digits.pop_back();
  return d;
}

std::string exponent_form(const Digits& d, bool negative) {
  std::string out = negative ? "-" : "";
  out += d.digits[0];
  if (d.digits.size() > 1) out += "." + d.digits.substr(1);
  out += d.exp < 0 ? "e-" : "e+";
  const int a = std::abs(d.exp);
  if (a < 10) out += '0';
  out += std::to_string(a);
  return out;
}

std::string fixed_form(const Digits& d, bool negative) {
  std::string out = negative ? "-" : "";
  if (d.exp < 0) {
    out += "0." + std::string(static_cast<std::size_t>(-d.exp - 1), '0') + d.digits;
    return out;
  }
  const auto int_len = static_cast<std::size_t>(d.exp) + 1;
  if (d.digits.size() <= int_len) {
    out += d.digits + std::string(int_len - d.digits.size(), '0');
  } else {
    out += d.digits.substr(0, int_len) + "." + d.digits.substr(int_len);
  }
  return out;
}

// The backslash escapes encoding/json and strconv.Quote write for `r`, or nullptr: both escape
// the quote, the backslash, \b, \f, \n, \r and \t; strconv.Quote also \a and \v.
const char* letter_escape(char32_t r, bool quote) {
  switch (r) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    case '\a':
      return quote ? "\\a" : nullptr;
    case '\v':
      return quote ? "\\v" : nullptr;
    default:
      return nullptr;
  }
}

// What encoding/json writes as \uXXXX to be safe in HTML: <, >, & and U+2028, U+2029.
bool html_unsafe(char32_t r) {
  return r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto rune = decode_rune(s, i);
    if (const char* escape = letter_escape(rune.r, false)) {
      out += escape;
    } else if (rune.r < 0x20 || html_unsafe(rune.r)) {
      out += "\\u";
      append_hex(out, rune.r, 4);
    } else if (rune.r == 0xFFFD && rune.width == 1) {
      out += "\\ufffd";
    } else {
      out.append(s.substr(i, rune.width));
    }
    i += rune.width;
  }
  out += '"';
}

void append_json(std::string& out, const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      out += "null";
      return;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case json::value_t::string:
      append_json_string(out, v.get_ref<const std::string&>());
      return;
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v) {
        if (!first) out += ',';
        first = false;
        append_json(out, x);
      }
      out += ']';
      return;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.items()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, k);
        out += ':';
        append_json(out, x);
      }
      out += '}';
      return;
    }
    default:
      break;
  }
  if (is_go_int(v)) {
    out += std::to_string(go_int(v));
    return;
  }
  const double f = go_float64(v);
  if (f == 0) {
    out += std::signbit(f) ? "-0" : "0";
    return;
  }
  const auto d = shortest_digits(f);
  const double a = std::fabs(f);
  if (a < 1e-6 || a >= 1e21) {
    auto text = exponent_form(d, f < 0);
    // encoding/json writes e-7, not e-07.
    const auto n = text.size();
    if (n >= 4 && text[n - 4] == 'e' && text[n - 3] == '-' && text[n - 2] == '0')
      text.erase(n - 2, 1);
    out += text;
  } else {
    out += fixed_form(d, f < 0);
  }
}

}  // namespace

bool is_go_int(const json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return true;
  return v.is_number_unsigned() &&
         v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

int64_t go_int(const json& v) {
  if (v.is_number_unsigned()) return static_cast<int64_t>(v.get<uint64_t>());
  return v.get<int64_t>();
}

double go_float64(const json& v) {
  if (v.is_number_unsigned()) return static_cast<double>(v.get<uint64_t>());
  if (v.is_number_integer()) return static_cast<double>(v.get<int64_t>());
  return v.get<double>();
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto rune = decode_rune(s, i);
    if (rune.r == 0xFFFD && rune.width == 1 && static_cast<unsigned char>(s[i]) >= 0x80) {
      out += "\\x";
      append_hex(out, static_cast<unsigned char>(s[i]), 2);
      ++i;
      continue;
    }
    const char32_t r = rune.r;
    if (r != '"' && r != '\\' && printable(r)) {
      out.append(s.substr(i, rune.width));
    } else if (const char* escape = letter_escape(r, true)) {
      out += escape;
    } else if (r < ' ' || r == 0x7F) {
      out += "\\x";
      append_hex(out, r, 2);
    } else if (r < 0x10000) {
      out += "\\u";
      append_hex(out, r, 4);
    } else {
      out += "\\U";
      append_hex(out, r, 8);
    }
    i += rune.width;
  }
  out += '"';
  return out;
}

std::string go_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  const auto d = shortest_digits(v);
  // %v is %g with the shortest digits: exponent form from 1e+06 and below 1e-04.
  if (d.exp < -4 || d.exp >= 6) return exponent_form(d, v < 0);
  return fixed_form(d, v < 0);
}

std::string go_json(const json& v) {
  std::string out;
  append_json(out, v);
  return out;
}

std::string go_json_escape_html(std::string dumped) {
  std::string out;
  out.reserve(dumped.size());
  for (std::size_t i = 0; i < dumped.size();) {
    const auto rune = decode_rune(dumped, i);
    if (html_unsafe(rune.r)) {
      out += "\\u";
      append_hex(out, rune.r, 4);
    } else {
      out.append(dumped, i, rune.width);
    }
    i += rune.width;
  }
  return out;
}

std::string go_field_value(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_string()) return go_quote(v.get_ref<const std::string&>());
  if (v.is_number()) return is_go_int(v) ? std::to_string(go_int(v)) : go_float(go_float64(v));
  return go_json(v);
}

void go_round_trip_numbers(json& v) {
  if (v.is_number_float()) {
    const double f = v.get<double>();
    if (std::isfinite(f) && f == std::trunc(f) && std::fabs(f) < 9.2e18)
      v = static_cast<int64_t>(f);
    return;
  }
  if (v.is_structured()) {
    for (auto& x : v)
      go_round_trip_numbers(x);
  }
}

bool go_deep_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    const bool ai = is_go_int(a);
    if (ai != is_go_int(b)) return false;
    return ai ? go_int(a) == go_int(b) : go_float64(a) == go_float64(b);
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!go_deep_equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [k, x] : a.items()) {
      const auto it = b.find(k);
      if (it == b.end() || !go_deep_equal(x, *it)) return false;
    }
    return true;
  }
  return a == b;
}

std::size_t rune_count(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); i += decode_rune(s, i).width)
    ++n;
  return n;
}

std::wstring utf8_to_wide(std::string_view s) {
  std::wstring out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto rune = decode_rune(s, i);
    out += static_cast<wchar_t>(rune.r);
    i += rune.width;
  }
  return out;
}

std::string go_v(const nlohmann::json& v) {
  if (v.is_null()) return "<nil>";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i)
      out += (i > 0 ? " " : "") + go_v(v[i]);
    return out + "]";
  }
  if (v.is_object()) {
    std::string out = "map[";
    bool first = true;
    for (const auto& [k, x] : v.items()) {
      out += (first ? "" : " ") + k + ":" + go_v(x);
      first = false;
    }
    return out + "]";
  }
  return go_field_value(v);
}

}  // namespace kubefn::emulator
