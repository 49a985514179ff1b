// When the platform last looked at the pods of something not ready (a Deployment, a build
// Job), and what it found. Pods are not in the operator's caches, so a look is a list (and,
// for a crash, a log read): this keeps them few. A look happens when the owner changed (its
// generation or status: what the informer's events bring) and otherwise after 5 s, 10 s,
// 20 s, ... at most 60 s, while what was found stands in between; a crashed container's log
// is read once per instance.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "kubefn/kube/clock.hpp"

namespace kubefn::platform::kubernetes {

struct PodLook {
  std::string reason;   // a pod_reason, or empty: nothing against the pods (yet)
  std::string message;  // the condition message; without a reason, a note (e.g. a list refused)
  std::string log_instance;  // the container instance whose log `log_lines` is
  std::optional<std::string> log_lines;
  std::string log_missing;  // why the log could not be read
  // A build pod whose container exited 0 with a report naming the image: the build is done,
  // whether or not the Job controller has marked the Job Complete yet.
  std::string built_image;
};

// Thread-safe: the controller's workers share one.
class PodLooks {
 public:
  static constexpr std::chrono::seconds kFirstInterval{5};
  static constexpr std::chrono::seconds kMaxInterval{60};

  // What the last look at `key` found, while it stands: `token` (what the owner looked like)
  // unchanged and the next look not due. `wait` gets the time until it is. nullopt: look now.
  std::optional<PodLook> standing(const std::string& key, const std::string& token,
                                  kube::Clock::TimePoint now, kube::Clock::Duration* wait) const;
  // What the previous look at `key` found, whatever its token (for its log).
  std::optional<PodLook> previous(const std::string& key) const;
  // Remembers a look made now; returns the time until the next one (kFirstInterval after a
  // change of token, twice the last interval otherwise, at most kMaxInterval).
  kube::Clock::Duration record(const std::string& key, const std::string& token,
                               kube::Clock::TimePoint now, PodLook look);
  void forget(const std::string& key);
  std::size_t size() const;

 private:
  struct Entry {
    std::string token;
    kube::Clock::TimePoint next;
    kube::Clock::Duration interval{};
    PodLook look;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace kubefn::platform::kubernetes
