#pragma once

// Timestamps, durations and identifiers as the API server formats them in object metadata.

#include <chrono>
#include <random>
#include <string>

namespace kubefn::emulator {

// RFC 3339 in UTC with second precision: "2026-11-23T20:19:46Z".
std::string rfc3339(std::chrono::system_clock::time_point t);
// Parses the form rfc3339() writes; nullopt-like epoch (0) when malformed.
std::chrono::system_clock::time_point parse_rfc3339(const std::string& text);
// RFC 3339 with microseconds (metav1.MicroTime).
std::string rfc3339_micro(std::chrono::system_clock::time_point t);
std::string new_uid(std::mt19937_64& rng);
std::string random_suffix(std::mt19937_64& rng, std::size_t n);
// kubectl's human duration ("45s", "5m", "3h2m", "4d").
std::string human_duration(std::chrono::seconds d);

}  // namespace kubefn::emulator
