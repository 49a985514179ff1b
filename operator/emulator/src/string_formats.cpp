#include "string_formats.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>
#include <string>
#include <vector>

#include "go_format.hpp"

namespace kubefn::emulator {
namespace {

bool digit(char c) {
  return c >= '0' && c <= '9';
}

bool hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), hex);
}

bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// time.Parse("2006-01-02", s): exact widths, month 1-12, a day that exists in that month.
bool is_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!digit(s[i])) return false;
  }
  const int year = std::stoi(std::string(s.substr(0, 4)));
  const int month = std::stoi(std::string(s.substr(5, 2)));
  const int day = std::stoi(std::string(s.substr(8, 2)));
  if (month < 1 || month > 12) return false;
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int max = kDays[static_cast<std::size_t>(month - 1)] + (month == 2 && leap(year) ? 1 : 0);
  return day >= 1 && day <= max;
}

// strfmt.IsDateTime: the date before the first "t" (case-insensitive), then
// hh:mm:ss[.frac](z|±hh:mm) after it.
bool is_date_time(std::string_view str) {
  if (str.size() < 4) return false;
  std::string s(str);
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto t = s.find('t');
  if (t == std::string::npos || !is_date(std::string_view(s).substr(0, t))) return false;
  const auto next = s.find('t', t + 1);
  const std::string time =
      s.substr(t + 1, next == std::string::npos ? std::string::npos : next - t - 1);
  static const std::regex kTime(
      R"(^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$)");
  std::smatch m;
  if (!std::regex_search(time, m, kTime)) return false;
  return m[1].str() <= "23" && m[2].str() <= "59" && m[3].str() <= "59";
}

// (?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$ and its versioned kinds.
bool is_uuid(std::string_view s, char version) {
  static constexpr std::array<std::size_t, 5> kGroups = {8, 4, 4, 4, 12};
  std::array<std::string_view, 5> groups;
  std::size_t pos = 0;
  for (std::size_t g = 0; g < kGroups.size(); ++g) {
    if (g > 0 && pos < s.size() && s[pos] == '-') ++pos;
    if (pos + kGroups[g] > s.size()) return false;
    groups[g] = s.substr(pos, kGroups[g]);
    if (!all_hex(groups[g])) return false;
    pos += kGroups[g];
  }
  if (pos != s.size()) return false;
  if (version == 0) return true;
  if (groups[2][0] != version) return false;
  if (version == '3') return true;
  const char variant = static_cast<char>(std::tolower(static_cast<unsigned char>(groups[3][0])));
  return variant == '8' || variant == '9' || variant == 'a' || variant == 'b';
}

bool is_hex_color(std::string_view s) {
  if (!s.empty() && s[0] == '#') s.remove_prefix(1);
  return (s.size() == 3 || s.size() == 6) && all_hex(s);
}

// ^rgb\(\s*N\s*,\s*N\s*,\s*N\s*\)$ with N in 0-255 written without leading zeros.
bool is_rgb_color(std::string_view s) {
  if (s.rfind("rgb(", 0) != 0) return false;
  std::size_t i = 4;
  const auto spaces = [&] {
    while (i < s.size() &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\f' || s[i] == '\r'))
      ++i;
  };
  for (int n = 0; n < 3; ++n) {
    spaces();
    const std::size_t start = i;
    while (i < s.size() && digit(s[i]))
      ++i;
    const auto num = s.substr(start, i - start);
    if (num.empty() || num.size() > 3 || (num.size() > 1 && num[0] == '0')) return false;
    if (std::stoi(std::string(num)) > 255) return false;
    spaces();
    const char want = n < 2 ? ',' : ')';
    if (i >= s.size() || s[i] != want) return false;
    ++i;
  }
  return i == s.size();
}

bool base64_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
}

// govalidator.IsBase64: groups of four, the last one optionally padded.
bool is_base64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (base64_char(s[i])) continue;
    const bool tail_pad =
        s[i] == '=' && (i == s.size() - 1 || (i == s.size() - 2 && s.back() == '='));
    if (!tail_pad) return false;
  }
  return true;
}

// IPv4 as k8s.io/utils/net parses it: four decimal fields up to 255, leading zeros allowed.
bool is_ipv4_sloppy(std::string_view s) {
  int fields = 0;
  std::size_t i = 0;
  while (fields < 4) {
    if (fields > 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    int n = 0;
    std::size_t digits = 0;
    while (i < s.size() && digit(s[i])) {
      n = n * 10 + (s[i] - '0');
      if (n > 255) return false;
      ++i;
      ++digits;
    }
    if (digits == 0) return false;
    ++fields;
  }
  return i == s.size();
}

bool is_ipv6(std::string_view s) {
  in6_addr addr;
  return inet_pton(AF_INET6, std::string(s).c_str(), &addr) == 1;
}

bool is_ip_sloppy(std::string_view s) {
  return is_ipv4_sloppy(s) || is_ipv6(s);
}

bool is_cidr(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  const auto addr = s.substr(0, slash);
  const auto mask = s.substr(slash + 1);
  if (mask.empty() || !std::all_of(mask.begin(), mask.end(), digit) || mask.size() > 8)
    return false;
  const int bits = std::stoi(std::string(mask));
  if (is_ipv4_sloppy(addr)) return bits <= 32;
  return is_ipv6(addr) && bits <= 128;
}

// net.ParseMAC: 6, 8 or 20 octets as xx:xx:.., xx-xx-.. or xxxx.xxxx.xxxx.
bool is_mac(std::string_view s) {
  if (s.size() < 14) return false;
  const auto octets_ok = [](std::size_t n) { return n == 6 || n == 8 || n == 20; };
  if (s[2] == ':' || s[2] == '-') {
    if ((s.size() + 1) % 3 != 0 || !octets_ok((s.size() + 1) / 3)) return false;
    for (std::size_t i = 0; i < s.size(); i += 3) {
      if (!hex(s[i]) || !hex(s[i + 1])) return false;
      if (i + 2 < s.size() && s[i + 2] != s[2]) return false;
    }
    return true;
  }
  if (s[4] == '.') {
    if ((s.size() + 1) % 5 != 0 || !octets_ok(2 * (s.size() + 1) / 5)) return false;
    for (std::size_t i = 0; i < s.size(); i += 5) {
      if (!all_hex(s.substr(i, 4))) return false;
      if (i + 4 < s.size() && s[i + 4] != '.') return false;
    }
    return true;
  }
  return false;
}

// strfmt.IsHostname; \p{S} and \p{L} are approximated by every non-ASCII code point.
bool is_hostname(std::string_view s) {
  static const std::wregex kHostname = [] {
    const std::wstring u = std::wstring(L"\u0080-") + static_cast<wchar_t>(0x10FFFF);
    const std::wstring c = L"[a-zA-Z0-9" + u + L"]";
    const std::wstring pattern = L"^(" + c + L"((-?" + c + L"{0,62})?)|(" + c + L"(([a-zA-Z0-9\\-" +
                                 u + L"]{0,61}" + c + L")?)(\\.)){1,}([a-zA-Z" + u + L"]){2,63})$";
    return std::wregex(pattern, std::regex::ECMAScript);
  }();
  if (s.size() > 255) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    const auto len = (dot == std::string_view::npos ? s.size() : dot) - start;
    if (len > 63) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  const std::wstring w = utf8_to_wide(s);
  return std::regex_search(w, kHostname);
}

bool is_ssn(std::string_view s) {
  if (s.size() != 11) return false;
  for (std::size_t i : {0, 1, 2, 4, 5, 7, 8, 9, 10}) {
    if (!digit(s[i])) return false;
  }
  return (s[3] == '-' || s[3] == ' ') && (s[6] == '-' || s[6] == ' ');
}

}  // namespace

bool string_format_valid(const std::string& format, std::string_view value) {
  std::string f = format;
  std::erase(f, '-');
  if (f == "datetime") return is_date_time(value);
  if (f == "date") return is_date(value);
  if (f == "uuid") return is_uuid(value, 0);
  if (f == "uuid3") return is_uuid(value, '3');
  if (f == "uuid4") return is_uuid(value, '4');
  if (f == "uuid5") return is_uuid(value, '5');
  if (f == "hexcolor") return is_hex_color(value);
  if (f == "rgbcolor") return is_rgb_color(value);
  if (f == "byte") return is_base64(value);
  if (f == "bsonobjectid") return value.size() == 24 && all_hex(value);
  if (f == "ipv4") return is_ip_sloppy(value) && value.find('.') != std::string_view::npos;
  if (f == "ipv6") return is_ipv6(value) && value.find(':') != std::string_view::npos;
  if (f == "cidr") return is_cidr(value);
  if (f == "mac") return is_mac(value);
  if (f == "hostname") return is_hostname(value);
  if (f == "ssn") return is_ssn(value);
  return true;  // password, and the formats not checked here
}

}  // namespace kubefn::emulator
