// The keys of a Secret a trigger names (its broker's address and credentials), decoded.
#pragma once

#include <map>
#include <string>

#include "kubefn/kube/kube_client.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::dispatch {

// data (base64) and stringData of Secret ns/name; NotFound when there is none.
kube::Result<std::map<std::string, std::string>> secret_values(kube::KubeClient& client,
                                                               const std::string& ns,
                                                               const std::string& name);

}  // namespace kubefn::dispatch
