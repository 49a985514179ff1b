// Where the reconcile core and a platform read the objects of a Function: the API itself, or
// the informers' caches (what the controller uses, so a converged Function costs no request).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kubefn/kube/kube_client.hpp"

namespace kubefn::controller {

class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  virtual kube::Result<nlohmann::json> get(const kube::ObjectRef& ref) = 0;
  // Objects of `resource` in `ns` labelled kubefn.dev/function=<function>.
  virtual kube::Result<std::vector<nlohmann::json>> list_owned(
      const kube::GroupVersionResource& resource, const std::string& ns,
      const std::string& function) = 0;
};

// Every read a request to the API: for tests, and for what no informer caches.
class ClientReader final : public ObjectReader {
 public:
  explicit ClientReader(kube::KubeClient& client) : client_(client) {}
  kube::Result<nlohmann::json> get(const kube::ObjectRef& ref) override { return client_.get(ref); }
  kube::Result<std::vector<nlohmann::json>> list_owned(const kube::GroupVersionResource& resource,
                                                       const std::string& ns,
                                                       const std::string& function) override;

 private:
  kube::KubeClient& client_;
};

}  // namespace kubefn::controller
