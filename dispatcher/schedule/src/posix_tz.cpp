#include "kubefn/schedule/posix_tz.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

namespace kubefn::schedule {
namespace {

using std::chrono::seconds;

// A cursor over the TZ string; every read either consumes what it reads or fails.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool done() const { return i_ == s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool take(char c) {
    if (peek() != c || done()) return false;
    ++i_;
    return true;
  }
  // An abbreviation: 3+ letters, or `<` 3+ of [A-Za-z0-9+-] `>`.
  std::optional<std::string> name() {
    std::size_t start = i_;
    if (take('<')) {
      while (!done() &&
             (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '+' || peek() == '-'))
        ++i_;
      const std::size_t len = i_ - start - 1;
      if (!take('>') || len < 3) return std::nullopt;
      return std::string(s_.substr(start + 1, len));
    }
    while (!done() && std::isalpha(static_cast<unsigned char>(peek())))
      ++i_;
    if (i_ - start < 3) return std::nullopt;
    return std::string(s_.substr(start, i_ - start));
  }
  // [+-]hh[:mm[:ss]] with hh at most `max_hours`, as seconds.
  std::optional<seconds> hms(int max_hours) {
    int sign = 1;
    if (take('-')) {
      sign = -1;
    } else {
      take('+');
    }
    auto h = number(3);
    if (!h || *h > max_hours) return std::nullopt;
    long total = *h * 3600L;
    if (take(':')) {
      auto m = number(2);
      if (!m || *m > 59) return std::nullopt;
      total += *m * 60L;
      if (take(':')) {
        auto s = number(2);
        if (!s || *s > 59) return std::nullopt;
        total += *s;
      }
    }
    return seconds{sign * total};
  }
  // 1 to `max_digits` decimal digits.
  std::optional<int> number(std::size_t max_digits) {
    std::size_t start = i_;
    int v = 0;
    while (!done() && std::isdigit(static_cast<unsigned char>(peek())) && i_ - start < max_digits) {
      v = v * 10 + (peek() - '0');
      ++i_;
    }
    if (i_ == start || (!done() && std::isdigit(static_cast<unsigned char>(peek()))))
      return std::nullopt;
    return v;
  }
  bool at_offset() const {
    const char c = peek();
    return c == '+' || c == '-' || std::isdigit(static_cast<unsigned char>(c));
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

Error bad(std::string_view tz, std::string_view what) {
  return Error{"POSIX TZ rule \"" + std::string(tz) + "\": " + std::string(what)};
}

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr int kFirstYear = 1;
constexpr int kLastYear = 9999;

}  // namespace

Result<PosixTimeZone> PosixTimeZone::parse(std::string_view tz) {
  Reader r(tz);
  PosixTimeZone z;
  auto std_name = r.name();
  if (!std_name) return bad(tz, "expected a standard-time name (3+ letters or <...>) first");
  z.std_name_ = *std_name;
  auto std_off = r.hms(24);
  if (!std_off) return bad(tz, "expected the standard time's offset after " + z.std_name_);
  z.std_offset_ = -*std_off;
  z.dst_offset_ = z.std_offset_;
  if (r.done()) return z;

  auto dst_name = r.name();
  if (!dst_name) return bad(tz, "expected a daylight-time name after the standard offset");
  z.dst_name_ = *dst_name;
  z.dst_offset_ = z.std_offset_ + seconds{3600};
  if (r.at_offset()) {
    auto dst_off = r.hms(24);
    if (!dst_off) return bad(tz, "bad daylight-time offset");
    z.dst_offset_ = -*dst_off;
  }
  if (!r.take(',')) return bad(tz, "daylight time needs its rule (,start[/time],end[/time])");

  auto rule = [&r]() -> std::optional<Rule> {
    Rule x;
    if (r.take('J')) {
      x.kind = Rule::Kind::kJulianNoLeap;
      auto n = r.number(3);
      if (!n || *n < 1 || *n > 365) return std::nullopt;
      x.day = *n;
    } else if (r.take('M')) {
      x.kind = Rule::Kind::kMonthWeekDay;
      auto m = r.number(2);
      if (!m || *m < 1 || *m > 12 || !r.take('.')) return std::nullopt;
      auto w = r.number(1);
      if (!w || *w < 1 || *w > 5 || !r.take('.')) return std::nullopt;
      auto d = r.number(1);
      if (!d || *d > 6) return std::nullopt;
      x.month = *m;
      x.week = *w;
      x.day = *d;
    } else {
      x.kind = Rule::Kind::kZeroBasedDay;
      auto n = r.number(3);
      if (!n || *n > 365) return std::nullopt;
      x.day = *n;
    }
    if (r.take('/')) {
      auto t = r.hms(167);
      if (!t) return std::nullopt;
      x.time = *t;
    }
    return x;
  };
  z.start_ = rule();
  if (!z.start_) return bad(tz, "bad start of daylight time (Jn, n or Mm.w.d, then /time)");
  if (!r.take(',')) return bad(tz, "expected ',' and the end of daylight time");
  z.end_ = rule();
  if (!z.end_) return bad(tz, "bad end of daylight time (Jn, n or Mm.w.d, then /time)");
  if (!r.done()) return bad(tz, "unexpected text after the rule");
  return z;
}

Instant PosixTimeZone::at(const Rule& rule, int year, seconds offset) {
  using namespace std::chrono;
  const local_days jan1{std::chrono::year{year} / January / 1};
  local_days day;
  switch (rule.kind) {
    case Rule::Kind::kJulianNoLeap:
      day = jan1 + days{rule.day - 1 + ((is_leap(year) && rule.day >= 60) ? 1 : 0)};
      break;
    case Rule::Kind::kZeroBasedDay:
      day = jan1 + days{rule.day};
      break;
    case Rule::Kind::kMonthWeekDay: {
      const auto y = std::chrono::year{year};
      const auto m = month{static_cast<unsigned>(rule.month)};
      const auto wd = weekday{static_cast<unsigned>(rule.day)};
      day = rule.week == 5 ? local_days{year_month_weekday_last{y, m, weekday_last{wd}}}
                           : local_days{year_month_weekday{
                                 y, m, weekday_indexed{wd, static_cast<unsigned>(rule.week)}}};
      break;
    }
  }
  return Instant{day.time_since_epoch() + rule.time - offset};
}

ZoneInfo PosixTimeZone::info(Instant t) const {
  if (!start_) return ZoneInfo{kMinInstant, kMaxInstant, std_offset_, false, std_name_};
  using namespace std::chrono;
  const Instant first{sys_days{year{kFirstYear} / January / 1}.time_since_epoch()};
  const Instant last{sys_days{year{kLastYear} / December / 31}.time_since_epoch()};
  const Instant at_t = std::clamp(t, first, last);
  const int y = static_cast<int>(year_month_day{floor<days>(at_t + std_offset_)}.year());

  // The changes from two years before to two after: rule times can reach a week into the next
  // or previous year (v3's -167 to 167 hours), so these surely bracket `t`.
  struct Change {
    Instant at;
    bool dst;  // in force from `at` on
  };
  std::vector<Change> changes;
  for (int yy = std::max(kFirstYear, y - 2); yy <= std::min(kLastYear, y + 2); ++yy) {
    changes.push_back({at(*start_, yy, std_offset_), true});
    changes.push_back({at(*end_, yy, dst_offset_), false});
  }
  std::stable_sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
    return a.at < b.at || (a.at == b.at && !a.dst && b.dst);
  });
  // DST ending and starting again at one instant (DST all year) is no change.
  std::vector<Change> kept;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    if (i + 1 < changes.size() && changes[i].at == changes[i + 1].at) {
      ++i;
      continue;
    }
    if (!kept.empty() && kept.back().dst == changes[i].dst) continue;
    kept.push_back(changes[i]);
  }

  auto after = std::upper_bound(kept.begin(), kept.end(), t,
                                [](Instant v, const Change& c) { return v < c.at; });
  const bool dst =
      after == kept.begin() ? (kept.empty() ? false : !kept.front().dst) : std::prev(after)->dst;
  ZoneInfo z;
  z.begin = after == kept.begin() ? kMinInstant : std::prev(after)->at;
  z.end = after == kept.end() ? kMaxInstant : after->at;
  z.is_dst = dst;
  z.offset = dst ? dst_offset_ : std_offset_;
  z.abbreviation = dst ? dst_name_ : std_name_;
  return z;
}

}  // namespace kubefn::schedule
