#include "kubefn/controller/event_recorder.hpp"

#include <cstdio>
#include <ctime>

namespace kubefn::controller {

using nlohmann::json;

std::string rfc3339(kube::Clock::WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void ApiEventRecorder::record(const json& object, const std::string& type,
                              const std::string& reason, const std::string& message) {
  const json& meta = object["metadata"];
  const std::string now = rfc3339(clock_.wall_now());
  std::uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = ++sequence_;
  }
  const auto wall =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.wall_now().time_since_epoch())
          .count();
  char suffix[40];
  std::snprintf(suffix, sizeof suffix, ".%llx%llx", static_cast<unsigned long long>(wall),
                static_cast<unsigned long long>(seq));
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata",
       {{"name", meta.value("name", "") + suffix}, {"namespace", meta.value("namespace", "")}}},
      {"involvedObject",
       {{"apiVersion", object.value("apiVersion", "")},
        {"kind", object.value("kind", "")},
        {"name", meta.value("name", "")},
        {"namespace", meta.value("namespace", "")},
        {"uid", meta.value("uid", "")},
        {"resourceVersion", meta.value("resourceVersion", "")}}},
      {"type", type},
      {"reason", reason},
      {"message", message},
      {"source", {{"component", "kubefn-operator"}}},
      {"reportingComponent", "kubefn-operator"},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
  };
  (void)client_.create(kube::resources::events(), event, {});
}

}  // namespace kubefn::controller
