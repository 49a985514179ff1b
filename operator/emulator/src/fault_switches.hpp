#pragma once

// Test-controlled failures: injected HTTP errors per verb and resource, and added latency.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api_error.hpp"

namespace kubefn::emulator {

class FaultSwitches {
 public:
  void inject_error(std::string verb, std::string resource, int http_status, int times,
                    int retry_after_s);
  void set_latency(std::string verb, std::chrono::milliseconds delay);
  // Consumes one matching injected error, if any.
  std::optional<ApiError> take_error(const std::string& verb, const std::string& resource);
  std::chrono::milliseconds latency(const std::string& verb) const;
  void clear();

 private:
  struct Injection {
    std::string verb;
    std::string resource;
    int status;
    int remaining;
    int retry_after_s;
  };
  mutable std::mutex mu_;
  std::vector<Injection> injections_;
  std::map<std::string, std::chrono::milliseconds> latency_;
};

}  // namespace kubefn::emulator
