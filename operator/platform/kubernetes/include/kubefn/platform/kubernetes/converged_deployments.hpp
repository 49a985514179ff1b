// Per Deployment, the generation it had when the platform last found (or made) it equal to
// what it wanted, and a hash of that want. With it, the operator can cache Deployments
// without their pod templates: an unchanged generation and an unchanged want mean nothing to
// compare; anything else fetches the whole object once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace kubefn::platform::kubernetes {

// Thread-safe: the controller's workers share one.
class ConvergedDeployments {
 public:
  bool matches(const std::string& key, std::int64_t generation,
               const std::string& desired_hash) const;
  void remember(const std::string& key, std::int64_t generation, const std::string& desired_hash);
  void forget(const std::string& key);
  std::size_t size() const;

 private:
  struct Entry {
    std::int64_t generation = 0;
    std::string desired_hash;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace kubefn::platform::kubernetes
