#include "schedule_testing.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

namespace kubefn::schedule::testing {
namespace {

std::chrono::seconds civil(std::string_view iso) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const std::string text(iso);
  const int n = std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s);
  if (n < 5) ADD_FAILURE() << "bad ISO time in a test: " << iso;
  using namespace std::chrono;
  const sys_days date{year{y} / month{static_cast<unsigned>(mo)} / day{static_cast<unsigned>(d)}};
  return date.time_since_epoch() + hours{h} + minutes{mi} + seconds{s};
}

void put_be(std::string& out, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void header(std::string& out, char version, std::uint32_t isut, std::uint32_t isstd,
            std::uint32_t leap, std::uint32_t time, std::uint32_t type, std::uint32_t chars) {
  out += "TZif";
  out.push_back(version);
  out.append(15, '\0');
  for (std::uint32_t v : {isut, isstd, leap, time, type, chars})
    put_be(out, v, 4);
}

}  // namespace

Instant utc(std::string_view iso) {
  return Instant{civil(iso)};
}

LocalTime local(std::string_view iso) {
  return LocalTime{civil(iso)};
}

std::string iso(Instant t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const auto tod = t - day;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(duration_cast<hours>(tod).count()),
                static_cast<int>(duration_cast<minutes>(tod).count() % 60),
                static_cast<int>(tod.count() % 60));
  return buf;
}

std::string iso(std::optional<Instant> t) {
  return t ? iso(*t) : "none";
}

Schedule parsed(std::string_view spec, std::string_view zone, TimeZoneDatabase& zones) {
  auto s = Schedule::parse(spec, zone, zones);
  if (!s) {
    ADD_FAILURE() << "parse(\"" << spec << "\", \"" << zone << "\"): " << s.error().message;
    return Schedule::parse("@every 1h", "", zones).value();
  }
  return std::move(s).value();
}

std::string parse_error(std::string_view spec, std::string_view zone, TimeZoneDatabase& zones) {
  auto s = Schedule::parse(spec, zone, zones);
  if (s) {
    ADD_FAILURE() << "parse(\"" << spec << "\", \"" << zone << "\") succeeded";
    return "";
  }
  return s.error().message;
}

std::vector<std::string> runs(const Schedule& s, std::string_view after, int n) {
  std::vector<std::string> out;
  std::optional<Instant> t = utc(after);
  for (int i = 0; i < n && t; ++i) {
    t = s.next(*t);
    out.push_back(iso(t));
  }
  return out;
}

std::string tzif_file(const std::vector<std::pair<std::int64_t, std::uint8_t>>& transitions,
                      const std::vector<TzifType>& types, std::string_view footer, char version,
                      int leap_seconds) {
  std::string chars;
  std::vector<std::uint8_t> index;
  for (const TzifType& t : types) {
    index.push_back(static_cast<std::uint8_t>(chars.size()));
    chars += t.abbreviation;
    chars.push_back('\0');
  }
  std::string out;
  // Version 1 block: no transitions, one type, one abbreviation byte.
  header(out, version, 0, 0, 0, 0, 1, 1);
  put_be(out, 0, 4);
  out.push_back('\0');
  out.push_back('\0');
  out.push_back('\0');
  if (version == '\0') return out;

  const auto n = static_cast<std::uint32_t>(transitions.size());
  header(out, version, 0, 0, static_cast<std::uint32_t>(leap_seconds), n,
         static_cast<std::uint32_t>(types.size()), static_cast<std::uint32_t>(chars.size()));
  for (const auto& [at, type] : transitions)
    put_be(out, static_cast<std::uint64_t>(at), 8);
  for (const auto& [at, type] : transitions)
    out.push_back(static_cast<char>(type));
  for (std::size_t i = 0; i < types.size(); ++i) {
    put_be(out, static_cast<std::uint32_t>(types[i].offset), 4);
    out.push_back(types[i].is_dst ? '\1' : '\0');
    out.push_back(static_cast<char>(index[i]));
  }
  out += chars;
  for (int i = 0; i < leap_seconds; ++i) {
    put_be(out, 78796800 + static_cast<std::uint64_t>(i) * 31536000, 8);
    put_be(out, static_cast<std::uint64_t>(i) + 1, 4);
  }
  out.push_back('\n');
  out += footer;
  out.push_back('\n');
  return out;
}

}  // namespace kubefn::schedule::testing
