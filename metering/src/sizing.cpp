#include "kubefn/metering/sizing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kubefn::metering {

namespace {

std::optional<double> quantity_at(const nlohmann::json& resources, const char* kind,
                                  const char* name) {
  if (!resources.is_object() || !resources.contains(kind)) return std::nullopt;
  const auto& group = resources[kind];
  if (!group.is_object() || !group.contains(name)) return std::nullopt;
  const auto& v = group[name];
  if (v.is_number()) return v.get<double>() >= 0 ? std::optional(v.get<double>()) : std::nullopt;
  if (v.is_string()) return parse_quantity(v.get<std::string>());
  return std::nullopt;
}

}  // namespace

ReplicaSize replica_size(const nlohmann::json& resources) {
  ReplicaSize size;
  const auto mem_limit = quantity_at(resources, "limits", "memory");
  const auto mem_request = quantity_at(resources, "requests", "memory");
  const auto cpu_limit = quantity_at(resources, "limits", "cpu");
  const auto cpu_request = quantity_at(resources, "requests", "cpu");
  if (mem_limit) size.memory_limit_bytes = static_cast<std::int64_t>(std::ceil(*mem_limit));
  if (const auto m = mem_request ? mem_request : mem_limit) {
    size.memory_request_bytes = static_cast<std::int64_t>(std::ceil(*m));
  }
  if (const auto c = cpu_request ? cpu_request : cpu_limit) size.cpu_request_cores = *c;
  return size;
}

ReplicaUsage usage_of(const ReplicaSlice& s, const ReplicaSize& size) {
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  ReplicaUsage u;
  if (s.seconds <= 0) return u;
  const double busy = std::clamp(s.busy_seconds, 0.0, s.seconds);
  u.busy_seconds = busy;
  if (s.ready) {
    u.idle_seconds = s.seconds - busy;
  } else {
    u.starting_seconds = s.seconds - busy;
  }
  u.cpu_core_seconds = std::max(size.cpu_request_cores * s.seconds, std::max(0.0, s.cpu_seconds));
  u.memory_gb_seconds =
      std::max(static_cast<double>(size.memory_request_bytes), std::max(0.0, s.rss_bytes)) / kGiB *
      s.seconds;
  return u;
}

std::variant<PriceSheet, std::string> read_price_sheet(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return "cannot read the price sheet " + path.string();
  std::ostringstream text;
  text << in.rdbuf();
  auto sheet = parse_price_sheet(text.str());
  if (auto* why = std::get_if<std::string>(&sheet)) return path.string() + ": " + *why;
  return sheet;
}

std::optional<std::variant<PriceSheet, std::string>> PriceFile::changed() {
  std::error_code ec;
  const auto target = std::filesystem::canonical(path_, ec);
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  if (read_ && !ec && mtime == mtime_ && target == target_) return std::nullopt;
  if (read_ && ec && target_.empty()) return std::nullopt;  // still unreadable: said before
  read_ = true;
  mtime_ = ec ? std::filesystem::file_time_type{} : mtime;
  target_ = ec ? std::filesystem::path() : target;
  return read_price_sheet(path_);
}

}  // namespace kubefn::metering
