// The price sheet every cost figure is computed with: capacity prices for the machines the
// functions run on (OpenCost's on-prem defaults), the list prices of a hosted function service
// for comparison (Lambda's x86, first tier), the billing granularity and the default memory
// size of a function that declares none.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

namespace kubefn::metering {

struct PriceSheet {
  std::string currency = "USD";
  // Each call's execution time is rounded up to a multiple of this (Lambda: 1 ms).
  double granularity_seconds = 0.001;
  // Capacity, per core-hour and per GB-hour (GB = 2^30 bytes) of max(request, usage).
  double cpu_core_hour = 0.031611;
  double memory_gb_hour = 0.004237;
  // Per million invocations on this platform (none on your own capacity by default).
  double requests_per_million = 0.0;
  // The hosted comparison: per million requests and per GB-second of billed time.
  double lambda_requests_per_million = 0.20;
  double lambda_gb_second = 0.0000166667;
  // The memory size of a function with no memory limit, in bytes (Lambda's default, 128 MB).
  std::int64_t default_memory_bytes = 128LL << 20;

  // What one replica-second of `cores` and `gb` costs at these prices.
  double replica_second(double cores, double gb) const {
    return (cores * cpu_core_hour + gb * memory_gb_hour) / 3600.0;
  }
  // `seconds` rounded up to the granularity.
  double billed(double seconds) const;

  bool operator==(const PriceSheet&) const = default;
};

// The sheet as JSON, with the same field names parse_price_sheet reads.
nlohmann::json to_json(const PriceSheet& p);

// Reads a sheet from YAML or JSON text. Fields (all optional; a missing one keeps its default):
//   currency: USD                 (3 letters; read upper-cased)
//   granularity: 1ms              (a duration: 1ms, 100ms, 1s; > 0 and <= 1h)
//   cpuCoreHour: 0.031611         (>= 0)
//   memoryGBHour: 0.004237        (>= 0)
//   requestsPerMillion: 0
//   lambda: {requestsPerMillion: 0.20, gbSecond: 0.0000166667}
//   defaultMemory: 128Mi          (a Kubernetes quantity, > 0)
// An unknown field, a wrong type or a value out of range is an error naming the field and
// what it accepts.
std::variant<PriceSheet, std::string> parse_price_sheet(std::string_view text);

}  // namespace kubefn::metering
