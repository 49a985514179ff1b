#include "kubefn/schedule/schedule.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "kubefn/schedule/go_duration.hpp"
#include "text.hpp"

namespace kubefn::schedule {
namespace {

using std::chrono::seconds;

struct Descriptor {
  std::string_view name;
  std::string_view fields;
};

constexpr std::array<Descriptor, 7> kDescriptors = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

// Past this, next() answers none: the calendar code works in years 1-9999.
constexpr Instant kLastInstant{
    std::chrono::sys_days{std::chrono::year{9999} / std::chrono::December / 31}.time_since_epoch() +
    std::chrono::hours{24} - seconds{1}};

constexpr Instant kFirstInstant{
    std::chrono::sys_days{std::chrono::year{1} / std::chrono::January / 1}.time_since_epoch()};

// Bounds the candidate loops: the times one overlap repeats or the transitions a sparse
// schedule crosses are far fewer.
constexpr int kMaxSteps = 1 << 16;

Result<std::variant<CronFields, seconds>> parse_rule(std::string_view spec) {
  if (spec.front() != '@') {
    auto fields = CronFields::parse(spec);
    if (!fields) return fields.error();
    return std::variant<CronFields, seconds>(std::move(fields).value());
  }
  const auto words = text::words(spec);
  const std::string_view head = words.front();
  if (text::iequals(head, "@every")) {
    if (words.size() == 1) return Error{"@every needs an interval, e.g. @every 1h30m"};
    if (words.size() > 2) {
      return Error{"@every takes one duration without spaces, e.g. @every 1h30m, not " +
                   text::quote(spec)};
    }
    auto d = parse_go_duration(words[1]);
    if (!d) return Error{"@every: " + d.error().message};
    if (d.value() < kMinInterval) {
      return Error{"@every " + std::string(words[1]) + ": the interval must be at least 1s"};
    }
    if (d.value() % seconds{1} != std::chrono::nanoseconds{0}) {
      return Error{"@every " + std::string(words[1]) +
                   ": the interval must be a whole number of seconds"};
    }
    return std::variant<CronFields, seconds>(std::chrono::duration_cast<seconds>(d.value()));
  }
  for (const Descriptor& d : kDescriptors) {
    if (text::iequals(head, d.name)) {
      if (words.size() > 1) return Error{std::string(d.name) + " takes nothing after it"};
      auto fields = CronFields::parse(d.fields);
      return std::variant<CronFields, seconds>(std::move(fields).value());
    }
  }
  return Error{"unknown descriptor " + text::quote(head) +
               ": use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or "
               "@every <duration>"};
}

}  // namespace

Schedule::Schedule(std::string spec, std::shared_ptr<const TimeZone> zone,
                   std::variant<CronFields, seconds> rule)
    : spec_(std::move(spec)), zone_(std::move(zone)), rule_(rule) {}

Result<Schedule> Schedule::parse(std::string_view spec_text, std::string_view time_zone,
                                 TimeZoneDatabase& zones) {
  const std::string_view spec = text::trim(spec_text);
  if (spec.empty()) {
    return Error{
        "empty schedule: expected 5 fields (minute hour day-of-month month "
        "day-of-week), a descriptor such as @daily, or @every <duration>"};
  }
  std::string_view rest = spec;
  std::string_view zone_name = text::trim(time_zone);
  for (std::string_view prefix : {std::string_view("CRON_TZ="), std::string_view("TZ=")}) {
    if (!rest.starts_with(prefix)) continue;
    std::size_t end = prefix.size();
    while (end < rest.size() && !text::space(rest[end]))
      ++end;
    const std::string_view name = rest.substr(prefix.size(), end - prefix.size());
    if (name.empty()) {
      return Error{std::string(prefix) + " needs a zone name, e.g. " + std::string(prefix) +
                   "Europe/Berlin 0 2 * * *"};
    }
    if (!zone_name.empty()) {
      return Error{"the schedule sets its zone (" + std::string(rest.substr(0, end)) +
                   ") and so does timeZone (" + text::quote(zone_name) + "): set only timeZone"};
    }
    zone_name = name;
    rest = text::trim(rest.substr(end));
    if (rest.empty()) {
      return Error{"nothing after " + std::string(spec.substr(0, end)) +
                   ": expected the schedule, e.g. " + std::string(prefix) +
                   "Europe/Berlin 0 2 * * *"};
    }
    break;
  }
  auto rule = parse_rule(rest);
  if (!rule) return rule.error();
  auto zone = zones.locate(zone_name);
  if (!zone) return zone.error();
  return Schedule(std::string(spec), std::move(zone).value(), std::move(rule).value());
}

std::optional<seconds> Schedule::interval() const {
  if (auto* d = std::get_if<seconds>(&rule_)) return *d;
  return std::nullopt;
}

std::optional<Instant> Schedule::next(Instant after) const {
  if (after >= kLastInstant) return std::nullopt;
  if (auto* d = std::get_if<seconds>(&rule_)) {
    if (after > kLastInstant - *d) return std::nullopt;
    return after + *d;
  }
  const CronFields& f = std::get<CronFields>(rule_);
  const Instant from = std::max(after, kFirstInstant - seconds{1});
  const auto t = f.wall_clock ? next_wall_clock(f, from) : next_periodic(f, from);
  if (!t || *t > kLastInstant) return std::nullopt;
  return t;
}

// The first matching wall-clock time whose instant is after `after`, a wall-clock time standing
// for its first instant (a time in a gap: the first instant after the gap). Times after the
// clock's reading at `after` can still be behind it: the first pass of a repeated hour.
std::optional<Instant> Schedule::next_wall_clock(const CronFields& f, Instant after) const {
  auto local = f.next_match(zone_->to_local(after) + seconds{1});
  for (int step = 0; local && step < kMaxSteps; ++step) {
    const Instant at = zone_->resolve(*local).first;
    if (at > after) return at;
    local = f.next_match(*local + std::chrono::minutes{1});
  }
  return std::nullopt;
}

// The first instant after `after` whose wall-clock reading matches: within each interval of
// one offset the clock runs evenly, so the first match in local time is the first in time,
// unless it lies past the interval's end.
std::optional<Instant> Schedule::next_periodic(const CronFields& f, Instant after) const {
  Instant from = after + seconds{1};
  for (int step = 0; step < kMaxSteps; ++step) {
    const ZoneInfo z = zone_->info(from);
    const auto local = f.next_match(LocalTime{(from + z.offset).time_since_epoch()});
    if (!local) return std::nullopt;
    const Instant at{local->time_since_epoch() - z.offset};
    if (at < z.end) return at;
    from = z.end;
  }
  return std::nullopt;
}

}  // namespace kubefn::schedule
