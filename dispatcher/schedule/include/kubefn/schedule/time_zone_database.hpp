// Zones by IANA name, read from a directory of TZif files (the system's /usr/share/zoneinfo, or
// one a test writes) and kept once read. Thread-safe; the zones it hands out are immutable.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "kubefn/schedule/result.hpp"
#include "kubefn/schedule/time_zone.hpp"

namespace kubefn::schedule {

inline constexpr std::string_view kSystemZoneDirectory = "/usr/share/zoneinfo";

class TimeZoneDatabase {
 public:
  explicit TimeZoneDatabase(std::filesystem::path directory = kSystemZoneDirectory);

  // "" and "UTC" are UTC without reading a file. Other names must be IANA names
  // ("Europe/Berlin", "Etc/GMT+5"): letters, digits, '_', '-', '+', '.' in '/'-separated parts,
  // none of them "." or "..", not absolute. Errors name the zone and say what is wrong:
  // `time zone "Mars/Olympus": unknown time zone (no such file in /usr/share/zoneinfo)`.
  Result<std::shared_ptr<const TimeZone>> locate(std::string_view name);

  const std::filesystem::path& directory() const { return directory_; }

 private:
  const std::filesystem::path directory_;
  const std::shared_ptr<const TimeZone> utc_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> zones_;  // guarded by mu_
};

// Whether `name` has the shape of an IANA zone name (see locate); nothing is read.
bool valid_zone_name(std::string_view name);

}  // namespace kubefn::schedule
