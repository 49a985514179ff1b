#include "kubefn/schedule/go_duration.hpp"

#include <cstdint>
#include <string>

#include "text.hpp"

namespace kubefn::schedule {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t ns;
};

constexpr Unit kUnits[] = {
    {"ns", 1},           {"us", 1000},      {"\xC2\xB5s", 1000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1000},                                          // U+03BC Greek small letter mu
    {"ms", 1000000},     {"s", 1000000000}, {"m", 60ULL * 1000000000}, {"h", 3600ULL * 1000000000},
};

constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;  // |int64 min|

}  // namespace

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view s) {
  const std::string quoted = text::quote(s);
  auto bad = [&quoted](const std::string& why) {
    return Error{"invalid duration " + quoted + ": " + why};
  };
  std::string_view rest = s;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return std::chrono::nanoseconds{0};
  if (rest.empty()) return bad("expected a number and a unit, e.g. 90s or 1h30m");

  std::uint64_t total = 0;
  while (!rest.empty()) {
    std::uint64_t whole = 0;
    bool overflow = false;
    std::size_t i = 0;
    for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i) {
      if (whole > (kLimit - 9) / 10) overflow = true;
      if (!overflow) whole = whole * 10 + static_cast<std::uint64_t>(rest[i] - '0');
    }
    const bool had_whole = i > 0;
    std::uint64_t frac = 0;
    std::uint64_t scale = 1;
    bool had_frac = false;
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i) {
        had_frac = true;
        if (scale < 1000000000000000000ULL) {  // further digits are below a nanosecond
          frac = frac * 10 + static_cast<std::uint64_t>(rest[i] - '0');
          scale *= 10;
        }
      }
    }
    if (!had_whole && !had_frac) return bad("expected a number before each unit");
    if (overflow) return bad("out of range");
    std::size_t j = i;
    while (j < rest.size() && !(rest[j] >= '0' && rest[j] <= '9') && rest[j] != '.')
      ++j;
    const std::string_view unit_text = rest.substr(i, j - i);
    if (unit_text.empty()) return bad("missing unit (h, m, s, ms, us or ns)");
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit_text) unit = &u;
    }
    if (unit == nullptr) {
      return bad("unknown unit " + text::quote(unit_text) + " (use h, m, s, ms, us or ns)");
    }
    if (whole > kLimit / unit->ns) return bad("out of range");
    const unsigned __int128 part = static_cast<unsigned __int128>(whole) * unit->ns +
                                   static_cast<unsigned __int128>(frac) * unit->ns / scale;
    if (part > kLimit - total) return bad("out of range");
    total += static_cast<std::uint64_t>(part);
    rest.remove_prefix(j);
  }
  if (!negative && total == kLimit) return bad("out of range");
  const auto value =
      negative ? static_cast<std::int64_t>(0 - total) : static_cast<std::int64_t>(total);
  return std::chrono::nanoseconds{value};
}

}  // namespace kubefn::schedule
