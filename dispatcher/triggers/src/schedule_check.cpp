#include "schedule_check.hpp"

#include "kubefn/schedule/go_duration.hpp"
#include "kubefn/schedule/schedule.hpp"
#include "kubefn/triggers/trigger_spec.hpp"

namespace kubefn::triggers::detail {

std::string check_schedule(const std::string& schedule, const std::string& time_zone) {
  // The system's zone files, read once per zone and kept: they change only with the tzdata
  // package, and every Function's check would otherwise read them again.
  static schedule::TimeZoneDatabase zones;
  auto parsed = schedule::Schedule::parse(schedule, time_zone, zones);
  if (!parsed.ok()) return parsed.error().message;
  return {};
}

}  // namespace kubefn::triggers::detail

namespace kubefn::triggers {

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  auto d = schedule::parse_go_duration(text);
  if (!d.ok()) return std::nullopt;
  return std::chrono::ceil<std::chrono::milliseconds>(d.value());
}

}  // namespace kubefn::triggers
