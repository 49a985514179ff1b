#include "kubefn/platform/kubernetes/converged_deployments.hpp"

namespace kubefn::platform::kubernetes {

bool ConvergedDeployments::matches(const std::string& key, std::int64_t generation,
                                   const std::string& desired_hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.generation == generation &&
         it->second.desired_hash == desired_hash;
}

void ConvergedDeployments::remember(const std::string& key, std::int64_t generation,
                                    const std::string& desired_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[key] = Entry{generation, desired_hash};
}

void ConvergedDeployments::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

std::size_t ConvergedDeployments::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace kubefn::platform::kubernetes
