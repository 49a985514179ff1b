#include "kubefn/schedule/cron_fields.hpp"

#include <array>
#include <bit>
#include <chrono>
#include <string>

#include "text.hpp"

namespace kubefn::schedule {
namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};
// The most days each month can have (February: in leap years).
constexpr std::array<unsigned, 13> kMaxDays = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

enum class Names { kNone, kMonths, kDays };

struct Field {
  std::string_view name;
  int min;
  int max;       // the largest value accepted (day-of-week: 7, another Sunday)
  int open_max;  // what `*` and `a/n` run up to (day-of-week: 6)
  Names names;
  bool day;  // accepts `?`
};

constexpr Field kMinute{"minute", 0, 59, 59, Names::kNone, false};
constexpr Field kHour{"hour", 0, 23, 23, Names::kNone, false};
constexpr Field kDayOfMonth{"day-of-month", 1, 31, 31, Names::kNone, true};
constexpr Field kMonth{"month", 1, 12, 12, Names::kMonths, false};
constexpr Field kDayOfWeek{"day-of-week", 0, 7, 6, Names::kDays, true};

struct Parsed {
  std::uint64_t bits = 0;
  bool any = false;  // `*` or `?` with no step above 1
};

class FieldParser {
 public:
  FieldParser(const Field& f, std::string_view text) : f_(f), text_(text) {}

  Result<Parsed> parse() const {
    Parsed out;
    std::size_t start = 0;
    while (true) {
      const auto comma = text_.find(',', start);
      const auto element =
          text_.substr(start, comma == std::string_view::npos ? text_.npos : comma - start);
      auto one = parse_element(element);
      if (!one) return one.error();
      out.bits |= one->bits;
      out.any = out.any || one->any;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (f_.max == 7 && (out.bits & (std::uint64_t{1} << 7))) {
      out.bits = (out.bits & ~(std::uint64_t{1} << 7)) | 1;  // 7 is Sunday
    }
    return out;
  }

 private:
  Error fail(const std::string& what) const {
    return Error{std::string(f_.name) + " field " + text::quote(text_) + ": " + what};
  }

  std::string range_text() const {
    return std::to_string(f_.min) + "-" + std::to_string(f_.max) +
           (f_.names == Names::kMonths ? " or JAN-DEC"
            : f_.names == Names::kDays ? " or SUN-SAT (0 and 7 are Sunday)"
                                       : "");
  }

  static bool quartz(std::string_view v) {
    if (v.find('#') != std::string_view::npos) return true;
    if (v.empty()) return false;
    const char last = text::lower(v.back());
    return (last == 'l' || last == 'w') &&
           (v.size() == 1 || text::digits(v.substr(0, v.size() - 1)) || text::iequals(v, "LW"));
  }

  Result<int> value(std::string_view v, std::string_view element) const {
    if (v.empty()) return fail(text::quote(element) + " is missing a number");
    if (text::digits(v)) {
      const int n = v.size() > 4 ? 10000 : std::stoi(std::string(v));
      if (n < f_.min || n > f_.max) {
        return fail(std::string(v) + " is out of range " + range_text());
      }
      return n;
    }
    if (f_.names == Names::kMonths) {
      for (std::size_t i = 0; i < kMonthNames.size(); ++i) {
        if (text::iequals(v, kMonthNames[i])) return static_cast<int>(i) + 1;
      }
    }
    if (f_.names == Names::kDays) {
      for (std::size_t i = 0; i < kDayNames.size(); ++i) {
        if (text::iequals(v, kDayNames[i])) return static_cast<int>(i);
      }
    }
    if (f_.day && quartz(v)) {
      return fail(text::quote(v) + ": L, W and # (Quartz extensions) are not supported");
    }
    if (v == "?") return fail("? is only allowed in the day-of-month and day-of-week fields");
    switch (f_.names) {
      case Names::kMonths:
        return fail(text::quote(v) + " is not a number or a month name (JAN-DEC)");
      case Names::kDays:
        return fail(text::quote(v) + " is not a number or a day name (SUN-SAT)");
      case Names::kNone:
        break;
    }
    return fail(text::quote(v) + " is not a number");
  }

  Result<Parsed> parse_element(std::string_view element) const {
    if (element.empty()) return fail("empty list element (two commas, or one at an end)");
    const auto slash = element.find('/');
    if (slash != std::string_view::npos && element.find('/', slash + 1) != std::string_view::npos)
      return fail(text::quote(element) + " has more than one '/'");
    const std::string_view range = element.substr(0, slash);
    Parsed out;
    int lo = 0;
    int hi = 0;
    bool single = false;
    if (range == "*" || (range == "?" && f_.day)) {
      lo = f_.min;
      hi = f_.open_max;
      out.any = true;
    } else {
      const auto dash = range.find('-');
      if (dash != std::string_view::npos && range.find('-', dash + 1) != std::string_view::npos)
        return fail(text::quote(element) + " has more than one '-'");
      auto a = value(range.substr(0, dash), element);
      if (!a) return a.error();
      lo = hi = a.value();
      single = dash == std::string_view::npos;
      if (!single) {
        auto b = value(range.substr(dash + 1), element);
        if (!b) return b.error();
        hi = b.value();
        if (lo > hi) {
          return fail(
              "range " + std::string(range) + " starts after it ends" +
              (f_.names == Names::kDays && hi == 0 ? " (write Sunday as 7 at a range's end)" : ""));
        }
      }
    }
    int step = 1;
    if (slash != std::string_view::npos) {
      const std::string_view s = element.substr(slash + 1);
      if (!text::digits(s)) {
        return fail("step " + text::quote(s) + " in " + text::quote(element) + " is not a number");
      }
      step = s.size() > 4 ? 10000 : std::stoi(std::string(s));
      if (step < 1) return fail("step in " + text::quote(element) + " must be at least 1");
      if (single) hi = std::max(lo, f_.open_max);  // `a/n` is `a-max/n`
      if (step > 1) out.any = false;
    }
    for (int v = lo; v <= hi; v += step)
      out.bits |= std::uint64_t{1} << v;
    return out;
  }

  const Field& f_;
  std::string_view text_;
};

// The smallest set value >= from, or -1.
int next_set(std::uint64_t bits, int from) {
  if (from > 63) return -1;
  const std::uint64_t masked = bits & (~std::uint64_t{0} << from);
  return masked == 0 ? -1 : std::countr_zero(masked);
}

unsigned days_in(int year, unsigned month) {
  using namespace std::chrono;
  return static_cast<unsigned>(
      year_month_day_last{std::chrono::year{year}, month_day_last{std::chrono::month{month}}}
          .day());
}

constexpr int kLastYear = 9999;

}  // namespace

Result<CronFields> CronFields::parse(std::string_view fields) {
  const auto words = text::words(fields);
  if (words.size() != 5) {
    return Error{"expected 5 fields (minute hour day-of-month month day-of-week), found " +
                 std::to_string(words.size()) + " in " + text::quote(text::trim(fields)) +
                 (words.size() == 6 ? " (a seconds field is not supported)" : "")};
  }
  CronFields c;
  const std::array<const Field*, 5> specs = {&kMinute, &kHour, &kDayOfMonth, &kMonth, &kDayOfWeek};
  std::array<Parsed, 5> parsed;
  for (std::size_t i = 0; i < 5; ++i) {
    auto p = FieldParser(*specs[i], words[i]).parse();
    if (!p) return p.error();
    parsed[i] = p.value();
  }
  c.minutes = parsed[0].bits;
  c.hours = parsed[1].bits;
  c.days_of_month = parsed[2].bits;
  c.months = parsed[3].bits;
  c.days_of_week = parsed[4].bits;
  c.any_day_of_month = parsed[2].any;
  c.any_day_of_week = parsed[4].any;
  c.wall_clock = words[0].front() != '*' && words[1].front() != '*';

  // With the day of week unrestricted, the day of month must occur in one of the months.
  if (c.any_day_of_week && !c.any_day_of_month) {
    unsigned longest = 0;
    for (unsigned m = 1; m <= 12; ++m) {
      if (c.months & (std::uint64_t{1} << m)) longest = std::max(longest, kMaxDays[m]);
    }
    if (std::countr_zero(c.days_of_month) > static_cast<int>(longest)) {
      return Error{"day-of-month field " + text::quote(words[2]) + " never occurs in month field " +
                   text::quote(words[3]) + " (at most " + std::to_string(longest) +
                   " days): the schedule would never run; choose days those months have"};
    }
  }
  return c;
}

bool CronFields::matches_day(int year, unsigned month, unsigned day) const {
  using namespace std::chrono;
  const bool dom = (days_of_month >> day) & 1;
  const unsigned wd =
      weekday{sys_days{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day}}}
          .c_encoding();
  const bool dow = (days_of_week >> wd) & 1;
  if (any_day_of_month || any_day_of_week) return dom && dow;
  return dom || dow;
}

std::optional<LocalTime> CronFields::next_match(LocalTime from) const {
  using namespace std::chrono;
  const auto start = ceil<std::chrono::minutes>(from);
  const auto day0 = floor<days>(start);
  const year_month_day ymd{day0};
  int y = static_cast<int>(ymd.year());
  unsigned mo = static_cast<unsigned>(ymd.month());
  unsigned d = static_cast<unsigned>(ymd.day());
  const auto tod = duration_cast<std::chrono::minutes>(start - day0).count();
  int h = static_cast<int>(tod / 60);
  int mi = static_cast<int>(tod % 60);

  auto next_day = [&] {
    ++d;
    h = 0;
    mi = 0;
  };
  while (y <= kLastYear) {
    if (!((months >> mo) & 1)) {
      const int m = next_set(months, static_cast<int>(mo) + 1);
      if (m < 0 || m > 12) {
        ++y;
        mo = static_cast<unsigned>(std::countr_zero(months));
      } else {
        mo = static_cast<unsigned>(m);
      }
      d = 1;
      h = 0;
      mi = 0;
      continue;
    }
    if (d > days_in(y, mo)) {
      if (++mo > 12) {
        mo = 1;
        ++y;
      }
      d = 1;
      h = 0;
      mi = 0;
      continue;
    }
    if (!matches_day(y, mo, d)) {
      next_day();
      continue;
    }
    const int hh = next_set(hours, h);
    if (hh < 0 || hh > 23) {
      next_day();
      continue;
    }
    if (hh != h) {
      h = hh;
      mi = 0;
    }
    const int mm = next_set(minutes, mi);
    if (mm < 0 || mm > 59) {
      ++h;
      mi = 0;
      if (h > 23) next_day();
      continue;
    }
    return local_days{std::chrono::year{y} / std::chrono::month{mo} / std::chrono::day{d}} +
           std::chrono::hours{h} + std::chrono::minutes{mm};
  }
  return std::nullopt;
}

}  // namespace kubefn::schedule
