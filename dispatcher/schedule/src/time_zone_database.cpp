#include "kubefn/schedule/time_zone_database.hpp"

#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace kubefn::schedule {
namespace {

// Larger than any TZif file tzdata ships (a few KB), small enough to read whole.
constexpr std::uintmax_t kMaxZoneFileSize = 1 << 20;

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '+' || c == '.';
}

}  // namespace

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  std::size_t start = 0;
  while (true) {
    const auto slash = name.find('/', start);
    const auto part =
        name.substr(start, slash == std::string_view::npos ? name.npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      if (!name_char(c)) return false;
    }
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

TimeZoneDatabase::TimeZoneDatabase(std::filesystem::path directory)
    : directory_(std::move(directory)), utc_(std::make_shared<const TimeZone>(TimeZone::utc())) {}

Result<std::shared_ptr<const TimeZone>> TimeZoneDatabase::locate(std::string_view name) {
  if (name.empty() || name == "UTC") return utc_;
  const std::string quoted = "time zone \"" + std::string(name) + "\": ";
  if (!valid_zone_name(name)) {
    return Error{quoted +
                 "not an IANA time zone name such as \"Europe/Berlin\" (letters, digits, _ - + "
                 "in /-separated parts; no absolute path, no \"..\")"};
  }
  std::lock_guard lock(mu_);
  if (auto it = zones_.find(name); it != zones_.end()) return it->second;

  const std::filesystem::path path = directory_ / std::filesystem::path(std::string(name));
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(path, ec);
  if (!regular) {
    return Error{quoted + "unknown time zone (no such file in " + directory_.string() + ")"};
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxZoneFileSize) return Error{quoted + "not a TZif file"};
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return Error{quoted + "cannot read " + path.string()};

  auto zone = TimeZone::from_tzif(std::string(name), data);
  if (!zone) return zone.error();
  auto shared = std::make_shared<const TimeZone>(std::move(zone).value());
  zones_.emplace(std::string(name), shared);
  return shared;
}

}  // namespace kubefn::schedule
