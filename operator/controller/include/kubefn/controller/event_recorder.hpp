// Kubernetes Events about Functions, for `kubectl describe`.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"

namespace kubefn::controller {

class EventRecorder {
 public:
  virtual ~EventRecorder() = default;
  // type is "Normal" or "Warning"; reason is CamelCase.
  virtual void record(const nlohmann::json& object, const std::string& type,
                      const std::string& reason, const std::string& message) = 0;
};

// Writes core/v1 Events through the API. Failures are dropped: an Event is advisory.
class ApiEventRecorder final : public EventRecorder {
 public:
  ApiEventRecorder(kube::KubeClient& client, kube::Clock& clock) : client_(client), clock_(clock) {}
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason,
              const std::string& message) override;

 private:
  kube::KubeClient& client_;
  kube::Clock& clock_;
  std::mutex mu_;
  std::uint64_t sequence_ = 0;
};

std::string rfc3339(kube::Clock::WallTime t);

}  // namespace kubefn::controller
