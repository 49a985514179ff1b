// A function's size, as metering prices it, from its spec.resources (Kubernetes's
// ResourceRequirements), and the price sheet from a file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "kubefn/metering/meter.hpp"
#include "kubefn/metering/price_sheet.hpp"

namespace kubefn::metering {

struct ReplicaSize {
  // limits.memory in bytes (what GB-seconds are billed by); 0: none.
  std::int64_t memory_limit_bytes = 0;
  // requests.cpu in cores and requests.memory in bytes, each defaulting to its limit as the
  // API server defaults them; 0: none (usage alone counts).
  double cpu_request_cores = 0;
  std::int64_t memory_request_bytes = 0;
};

// Quantities it cannot read count as absent (the Function's spec is validated before).
ReplicaSize replica_size(const nlohmann::json& resources);

// A replica's stretch of time, as a platform saw it.
struct ReplicaSlice {
  bool ready = false;       // past its first readiness for the whole stretch (else starting)
  double seconds = 0;       // the stretch
  double busy_seconds = 0;  // of it, with at least one call in flight
  double cpu_seconds = 0;   // CPU it used in it
  double rss_bytes = 0;     // its resident memory (the last reading)
};

// The rule both platforms meter replicas by: busy time (clamped to the stretch) is busy, the
// rest starting (not yet ready) or idle (ready); CPU is max(request x seconds, used) in
// core-seconds, memory max(request, resident) x seconds in GB-seconds (GB = 2^30 bytes).
ReplicaUsage usage_of(const ReplicaSlice& slice, const ReplicaSize& size);

// A Kubernetes quantity ("128Mi", "500m", "1.5", "2e3", "1G") as a number of units (the price
// sheet's defaultMemory reads the same grammar, without the fractional suffixes).
std::optional<double> parse_quantity(std::string_view text);

// parse_price_sheet of the file's contents; an error names the file.
std::variant<PriceSheet, std::string> read_price_sheet(const std::filesystem::path& path);

// A price sheet file, read again whenever its modification time (or, for a mounted
// ConfigMap, the file it links to) changes: a new sheet applies from the moment it is read.
class PriceFile {
 public:
  explicit PriceFile(std::filesystem::path path) : path_(std::move(path)) {}
  // The first call reads the file; later ones return the sheet (or why it cannot be read)
  // only when the file changed since, and nothing when it did not.
  std::optional<std::variant<PriceSheet, std::string>> changed();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool read_ = false;
  std::filesystem::file_time_type mtime_{};
  std::filesystem::path target_;
};

}  // namespace kubefn::metering
