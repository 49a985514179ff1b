// The Kubernetes platform: a content-hashed ConfigMap holds the source, a build Job turns it
// into an image, a Deployment runs it and a Service names it. Everything is owned by the
// Function, so deleting the Function deletes it all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kubefn/controller/platform.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/kube_client.hpp"
#include "kubefn/platform/kubernetes/converged_deployments.hpp"
#include "kubefn/platform/kubernetes/pod_looks.hpp"
#include "kubefn/platform/kubernetes/pod_problems.hpp"

namespace kubefn::platform::kubernetes {

// How source builds run. With an empty `registry`, builds are off and only spec.image runs.
struct BuildSettings {
  std::string registry;         // repository prefix for built images, e.g. "registry:5000/kubefn"
  std::string base_image;       // the runtime base image the function layer goes on
  std::string builder_image;    // the image holding kubefn-build
  std::string registry_secret;  // a dockerconfigjson Secret in the Function's namespace (optional)
  bool plain_http = false;      // the registry speaks plain HTTP
  std::int64_t timeout_seconds = 600;
  // Where replicas send their load reports (the operator's stats stream, host:port); set as
  // KUBEFN_STATS_ADDRESS in every Deployment. Empty: replicas do not report.
  std::string stats_address;
};

// One for the operator's life, shared by the controller's workers (thread-safe: what it keeps
// between reconciles is the ConvergedDeployments).
class KubernetesPlatform final : public controller::Platform {
 public:
  // Writes (and reads of objects the user owns) go to `client`; reads of what the platform
  // owns go to FunctionContext::reader, which may serve Deployments without their pod
  // template (the operator's caches do): the platform then fetches the whole one from
  // `client` when it must compare, which the converged Deployments it remembers make rare.
  //
  // While a Deployment is not available and rolled out, or a build Job runs, the platform
  // looks at its pods (a list through the reader, and the log of a crashed container from
  // `client`) to say what keeps them from running (pod_problems.hpp); PodLooks keeps those
  // looks few, timed by `clock` (null: the real one).
  explicit KubernetesPlatform(kube::KubeClient& client, BuildSettings build = {},
                              kube::Clock* clock = nullptr)
      : client_(client),
        build_(std::move(build)),
        clock_(clock != nullptr ? *clock : real_clock_) {}

  // ConfigMaps, Services, Jobs and Deployments, Deployments cached without their pod template
  // (the biggest part of them).
  std::vector<controller::OwnedResource> owned_resources() const override;
  controller::StepOutcome prepare(const controller::FunctionContext& ctx) override;
  controller::BuildOutcome build(const controller::FunctionContext& ctx) override;
  controller::WorkloadOutcome run(const controller::FunctionContext& ctx,
                                  const std::string& image) override;
  void forget(const std::string& ns, const std::string& name) override;
  kube::Status scale(const std::string& ns, const std::string& name,
                     std::int64_t replicas) override;

 private:
  controller::BuildOutcome job_result(const controller::FunctionContext& ctx,
                                      const nlohmann::json& job);
  // Why the replicas of `deployment` (running `image`) are not ready, into out.blocked_*, and
  // when to look again into out.step.requeue_after.
  void report_replicas(const controller::FunctionContext& ctx, const nlohmann::json& deployment,
                       const std::string& image, controller::WorkloadOutcome& out);
  PodLook look_at_replicas(const controller::FunctionContext& ctx, const std::string& image,
                           const std::string& key, bool serving);
  // What the running build Job's pods say; `wait` gets the time until the next look.
  PodLook look_at_build(const controller::FunctionContext& ctx, const nlohmann::json& job,
                        kube::Clock::Duration* wait);
  // The log lines of the crashed container of `problem`, read once per container instance.
  void read_log(const std::string& key, const std::string& ns, const std::string& container,
                const PodProblem& problem, PodLook& look);

  kube::KubeClient& client_;
  const BuildSettings build_;
  kube::RealClock real_clock_;
  kube::Clock& clock_;
  ConvergedDeployments converged_;
  PodLooks looks_;
};

}  // namespace kubefn::platform::kubernetes
