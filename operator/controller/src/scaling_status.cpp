#include "kubefn/controller/scaling_status.hpp"

#include <nlohmann/json.hpp>

#include "kubefn/api/function.hpp"
#include "kubefn/controller/event_recorder.hpp"

namespace kubefn::controller {

kube::Status record_scaling(kube::KubeClient& client, const std::string& ns,
                            const std::string& name, int desired, const std::string& reason,
                            kube::Clock::WallTime when, const std::string& field_manager) {
  kube::PatchOptions opts;
  opts.field_manager = field_manager;
  opts.subresource = "status";
  const nlohmann::json patch = {
      {"status",
       {{"scaling",
         {{"desiredReplicas", desired}, {"reason", reason}, {"lastScaleTime", rfc3339(when)}}}}}};
  auto r = client.patch(kube::ObjectRef{api::functions(), ns, name}, kube::PatchType::kMerge, patch,
                        opts);
  return r.ok() ? kube::Status() : r.status();
}

}  // namespace kubefn::controller
