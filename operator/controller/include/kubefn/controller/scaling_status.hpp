// status.scaling of a Function: the autoscaler's last scale and why, beside the Events it
// records. The reconciler carries it over and never writes it.
#pragma once

#include <string>

#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"

namespace kubefn::controller {

// Merge-patches status.scaling {desiredReplicas, reason, lastScaleTime} of ns/name.
kube::Status record_scaling(kube::KubeClient& client, const std::string& ns,
                            const std::string& name, int desired, const std::string& reason,
                            kube::Clock::WallTime when, const std::string& field_manager);

}  // namespace kubefn::controller
