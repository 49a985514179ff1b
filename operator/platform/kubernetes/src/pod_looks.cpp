#include "kubefn/platform/kubernetes/pod_looks.hpp"

#include <algorithm>

namespace kubefn::platform::kubernetes {

std::optional<PodLook> PodLooks::standing(const std::string& key, const std::string& token,
                                          kube::Clock::TimePoint now,
                                          kube::Clock::Duration* wait) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.token != token || now >= it->second.next) {
    return std::nullopt;
  }
  if (wait != nullptr) *wait = it->second.next - now;
  return it->second.look;
}

std::optional<PodLook> PodLooks::previous(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.look;
}

kube::Clock::Duration PodLooks::record(const std::string& key, const std::string& token,
                                       kube::Clock::TimePoint now, PodLook look) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = entries_.try_emplace(key);
  Entry& e = it->second;
  kube::Clock::Duration interval = kFirstInterval;
  if (!fresh && e.token == token) {
    interval = std::min<kube::Clock::Duration>(2 * e.interval, kMaxInterval);
  }
  e.token = token;
  e.interval = interval;
  e.next = now + interval;
  e.look = std::move(look);
  return interval;
}

void PodLooks::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

std::size_t PodLooks::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace kubefn::platform::kubernetes
