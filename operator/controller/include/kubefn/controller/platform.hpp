// The seam between the Function reconcile core and where functions run.
//
// The core (FunctionReconciler) reads a Function, validates it, resolves its source and the
// digest that names it, and turns the platform's answers into status conditions and Events.
// A platform makes the source available, builds an artifact for a source digest, runs
// replicas of an artifact, and sets replica counts. Two implement it: Kubernetes (ConfigMaps,
// build Jobs, Deployments, Services) and the embedded local platform (native builds, local
// processes). The logic above the seam is written once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/controller/event_recorder.hpp"
#include "kubefn/controller/function_spec.hpp"
#include "kubefn/controller/object_reader.hpp"
#include "kubefn/kube/resource.hpp"
#include "kubefn/kube/status.hpp"

namespace kubefn::controller {

// The field manager of every write the operator makes, the core's and its platform's alike,
// so managedFields name one owner.
inline constexpr const char* kFieldManager = "kubefn-operator";

// Counts of what one reconcile wrote, for metrics and for tests.
struct WriteCounts {
  int creates = 0;
  int updates = 0;
  int deletes = 0;
  int status_updates = 0;
};

// What a platform sees of the Function being reconciled.
struct FunctionContext {
  const nlohmann::json& function;  // the live object
  const FunctionSpec& spec;
  const std::string& source_text;  // empty for a prebuilt image
  const std::string& digest;       // the source digest; empty for a prebuilt image
  EventRecorder& events;
  WriteCounts& writes;
  // Where the platform reads the objects it keeps in the API (its owned_resources()): the
  // controller's caches of them in the operator, the API itself in tests.
  ObjectReader& reader;
};

struct StepOutcome {
  enum class State {
    kDone,     // this step is converged
    kWaiting,  // in progress: look again on the next event or after requeue_after
    kFailed,   // needs the user: reason and message say what to do
  };
  State state = State::kDone;
  std::string reason;  // CamelCase condition reason
  std::string message;
  kube::Status error;  // an API error: the reconcile is retried with backoff
  std::optional<std::chrono::seconds> requeue_after;

  static StepOutcome done() { return {}; }
  static StepOutcome waiting(std::string reason, std::string message,
                             std::optional<std::chrono::seconds> after = std::nullopt) {
    return {State::kWaiting, std::move(reason), std::move(message), {}, after};
  }
  static StepOutcome failed(std::string reason, std::string message,
                            std::optional<std::chrono::seconds> after = std::nullopt) {
    return {State::kFailed, std::move(reason), std::move(message), {}, after};
  }
  static StepOutcome api_error(kube::Status status) {
    StepOutcome o;
    o.state = State::kWaiting;
    o.error = std::move(status);
    return o;
  }
};

struct BuildOutcome {
  BuildOutcome(StepOutcome s, std::string i = {})  // NOLINT(google-explicit-constructor)
      : step(std::move(s)), image(std::move(i)) {}
  StepOutcome step;
  std::string image;  // set when step is kDone: what replicas run (an image, or a local artifact)
};

struct WorkloadOutcome {
  WorkloadOutcome() = default;
  WorkloadOutcome(StepOutcome s) : step(std::move(s)) {}  // NOLINT(google-explicit-constructor)
  StepOutcome step;
  std::int64_t wanted = 0;  // replicas asked for
  std::int64_t replicas = 0;
  std::int64_t ready = 0;
  bool rolled_out = false;  // every replica runs the latest template
  bool available = false;   // at least `wanted` replicas are ready
  std::string url;          // where the function answers inside the platform
  std::string selector;     // label selector of the replicas (for the scale subresource)
  // Why replicas are not ready, when the platform can tell and it is the user's to fix (a
  // container that crashes, an image that cannot be pulled, a pod no node takes): a condition
  // reason for DeploymentReady and Ready, and a message that says what to do. Without a
  // reason, `blocked_message` is a note added to Deploying's message (e.g. that the replicas
  // could not be looked at). Only read while the workload is not available and rolled out.
  std::string blocked_reason;
  std::string blocked_message;
};

// A kind of object a platform keeps in the API for each Function, labelled
// kubefn.dev/function=<name>. The controller watches it, looks at the Function again when one
// changes, and serves the platform's reads of it from its cache.
struct OwnedResource {
  kube::GroupVersionResource resource;
  // Drops, before an object is cached, what the platform never reads (may be empty; the
  // controller drops managedFields of every object itself).
  std::function<void(nlohmann::json&)> trim;
};

class Platform {
 public:
  virtual ~Platform() = default;

  // What to watch for this platform; none for one that tells of its changes itself
  // (FunctionController::requeue).
  virtual std::vector<OwnedResource> owned_resources() const { return {}; }

  // Makes the source (and anything callers resolve before the first replica, such as a
  // Service) exist. Called for every Function; ctx.digest is empty for a prebuilt image.
  virtual StepOutcome prepare(const FunctionContext& ctx) = 0;

  // Produces the artifact for ctx.digest. Only called when no artifact is recorded in the
  // Function's status for this digest, so an unchanged source never rebuilds.
  virtual BuildOutcome build(const FunctionContext& ctx) = 0;

  // Runs replicas of `image` and reports how they are doing.
  virtual WorkloadOutcome run(const FunctionContext& ctx, const std::string& image) = 0;

  // The Function is gone: release what the platform holds for it.
  virtual void forget(const std::string& ns, const std::string& name) = 0;

  // Sets the number of replicas (the autoscaler's and `kubectl scale`'s lever).
  virtual kube::Status scale(const std::string& ns, const std::string& name,
                             std::int64_t replicas) = 0;
};

}  // namespace kubefn::controller
