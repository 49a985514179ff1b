#include "kubefn/controller/function_reconciler.hpp"

#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/desired.hpp"

namespace kubefn::controller {

using nlohmann::json;

using api::condition::kBuilt;
using api::condition::kDeploymentReady;
using api::condition::kReady;
using api::condition::kSourceReady;

FunctionReconciler::FunctionReconciler(kube::KubeClient& client, ObjectReader& reader,
                                       kube::Clock& clock, EventRecorder& events,
                                       ConvergedDeployments* converged, BuildSettings build,
                                       UrlSources* url_sources, const kube::TriggerClaims* claims)
    : client_(client),
      reader_(reader),
      clock_(clock),
      events_(events),
      owned_platform_(
          std::make_unique<KubernetesPlatform>(client, reader, std::move(build), converged)),
      platform_(owned_platform_.get()),
      url_sources_(url_sources != nullptr ? url_sources : &UrlSources::shared()),
      claims_(claims) {}

ReconcileResult FunctionReconciler::finish(json& function, json status, ReconcileResult r) {
  const json& live_status = function.value("status", json::object());
  // status.scaling is the autoscaler's: carried over, never rewritten here.
  if (auto it = live_status.find("scaling"); it != live_status.end()) status["scaling"] = *it;
  if (status != live_status) {
    json updated = function;
    updated["status"] = std::move(status);
    auto res = client_.update_status(api::functions(), updated, {kFieldManager});
    if (!res.ok()) {
      if (r.error.ok()) r.error = res.status();
    } else {
      ++writes_.status_updates;
    }
  }
  return r;
}

ReconcileResult FunctionReconciler::reconcile(const std::string& ns, const std::string& name) {
  auto got = reader_.get(kube::ObjectRef{api::functions(), ns, name});
  if (!got.ok()) {
    if (got.status().is_not_found()) {  // deleted
      platform_->forget(ns, name);
      return {};
    }
    return {got.status(), std::nullopt};
  }
  json function = std::move(got).value();
  if (function["metadata"].contains("deletionTimestamp")) {
    platform_->forget(ns, name);
    return {};
  }

  const std::string now = rfc3339(clock_.wall_now());
  const std::int64_t generation = function["metadata"].value("generation", 0);
  json status = function.value("status", json::object());
  const json previous_ready = find_condition(status, kReady);
  status["observedGeneration"] = generation;

  auto ready_changed = [&](const Condition& c) {
    return previous_ready.is_null() || previous_ready.value("status", "") != c.status ||
           previous_ready.value("reason", "") != c.reason;
  };
  auto set_ready = [&](const Condition& c, const char* event_type) {
    if (ready_changed(c)) events_.record(function, event_type, c.reason, c.message);
    set_condition(status, c, now, generation);
  };
  // A step that is not done: Ready follows it; API errors retry with backoff.
  auto stop_at = [&](const StepOutcome& o, const char* step_condition) {
    if (!o.error.ok()) return finish(function, std::move(status), {o.error, std::nullopt});
    const bool failed = o.state == StepOutcome::State::kFailed;
    if (step_condition != nullptr) {
      set_condition(status, {step_condition, "False", o.reason, o.message}, now, generation);
    }
    set_ready({kReady, "False", o.reason, o.message}, failed ? "Warning" : "Normal");
    return finish(function, std::move(status), {kube::Status(), o.requeue_after});
  };

  // 1. The spec, validated beyond the schema. A bad spec is terminal until edited.
  auto parsed = parse_function(function);
  if (auto* err = std::get_if<SpecError>(&parsed)) {
    set_condition(status, {kSourceReady, "Unknown", err->reason, "the spec is invalid"}, now,
                  generation);
    set_ready({kReady, "False", err->reason, err->message}, "Warning");
    return finish(function, std::move(status), {});
  }
  const FunctionSpec& spec = std::get<FunctionSpec>(parsed);

  // The HTTP trigger's host and path (kube::TriggerClaims, the rules the gateway routes by).
  // A malformed one is a bad spec; one another Function holds, or one the platform does not
  // allow, leaves the function running at its own route, but not Ready, saying why.
  kube::ClaimProblem claim_problem;
  if (claims_ != nullptr) {
    const kube::ClaimVerdict verdict = claims_->verdict(ns, name);
    claim_problem = verdict.summary();
    for (const kube::ClaimProblem& p : verdict.problems) {
      if (p.reason == kube::kInvalidTriggerReason) claim_problem.reason = p.reason;
    }
    if (claim_problem.reason == kube::kInvalidTriggerReason) {
      set_condition(status, {kSourceReady, "Unknown", claim_problem.reason, "the spec is invalid"},
                    now, generation);
      set_ready({kReady, "False", claim_problem.reason, claim_problem.message}, "Warning");
      return finish(function, std::move(status), {});
    }
  }
  // Ready, unless a trigger claim was refused.
  auto set_ready_unless_refused = [&](const Condition& ready) {
    if (claim_problem.reason.empty()) {
      set_ready(ready, "Normal");
    } else {
      set_ready({kReady, "False", claim_problem.reason, claim_problem.message}, "Warning");
    }
  };

  // 2. The source, and the digest that names it.
  std::string source_text;
  std::string digest;
  switch (spec.source_kind) {
    case SourceKind::kInline:
      source_text = spec.inline_source;
      break;
    case SourceKind::kConfigMap: {
      auto cm =
          client_.get(kube::ObjectRef{kube::resources::config_maps(), ns, spec.config_map_name});
      if (!cm.ok() && !cm.status().is_not_found()) return {cm.status(), std::nullopt};
      std::string why;
      if (!cm.ok()) {
        why = "ConfigMap " + spec.config_map_name +
              " named in spec.source.configMapRef does "
              "not exist: create it or fix the name";
      } else if (!cm.value()["data"].contains(spec.config_map_key)) {
        why = "ConfigMap " + spec.config_map_name + " has no key " + spec.config_map_key +
              ": add it or set spec.source.configMapRef.key";
      }
      if (!why.empty()) {
        return stop_at(StepOutcome::failed("SourceNotFound", why, std::chrono::seconds(30)),
                       kSourceReady);
      }
      source_text = cm.value()["data"][spec.config_map_key].get<std::string>();
      break;
    }
    case SourceKind::kUrl: {
      // Fetched and checked against spec.source.sha256, then exactly like an inline source.
      // A failure stops here: the platform keeps running what it ran (the previous image).
      auto resolved = url_sources_->resolve(spec.url, spec.url_sha256);
      if (auto* failed = std::get_if<StepOutcome>(&resolved)) {
        return stop_at(*failed, kSourceReady);
      }
      source_text = std::move(std::get<std::string>(resolved));
      break;
    }
    case SourceKind::kNone:
      break;
  }
  if (spec.source_kind != SourceKind::kNone) {
    digest = source_digest(spec, source_text);
    status["sourceDigest"] = digest;
  } else {
    status.erase("sourceDigest");
  }
  FunctionContext ctx{function, spec, source_text, digest, events_, writes_};

  // 3. The platform stores the source and names the function before any replica runs.
  StepOutcome prepared = platform_->prepare(ctx);
  if (prepared.state != StepOutcome::State::kDone || !prepared.error.ok()) {
    return stop_at(prepared, nullptr);
  }
  if (digest.empty()) {
    set_condition(status, {kSourceReady, "True", "PrebuiltImage", "spec.image is run as is"}, now,
                  generation);
  } else {
    set_condition(status, {kSourceReady, "True", "SourceStored", "source digest " + digest}, now,
                  generation);
  }

  // 4. The image: prebuilt, the one already built for this very source digest, or a build.
  std::string image = spec.image;
  if (image.empty() && status.value("imageSourceDigest", "") == digest) {
    image = status.value("image", "");
  }
  if (image.empty()) {
    BuildOutcome built = platform_->build(ctx);
    if (built.step.state != StepOutcome::State::kDone || !built.step.error.ok()) {
      return stop_at(built.step, kBuilt);
    }
    image = built.image;
    status["imageSourceDigest"] = digest;
  }
  if (!spec.image.empty()) status.erase("imageSourceDigest");
  status["image"] = image;
  set_condition(status, {kBuilt, "True", spec.image.empty() ? "Built" : "PrebuiltImage", image},
                now, generation);

  // 5. Replicas of that image.
  WorkloadOutcome w = platform_->run(ctx, image);
  if (!w.step.error.ok()) return finish(function, std::move(status), {w.step.error, {}});
  if (w.step.state == StepOutcome::State::kFailed) return stop_at(w.step, nullptr);
  if (w.step.state == StepOutcome::State::kWaiting) {
    return finish(function, std::move(status), {kube::Status(), w.step.requeue_after});
  }

  // 6. Status.
  status["replicas"] = w.replicas;
  status["readyReplicas"] = w.ready;
  status["selector"] = w.selector;
  status["url"] = w.url;
  if (w.wanted == 0 && w.rolled_out) {
    set_condition(status, {kDeploymentReady, "True", "ScaledToZero", "no replica wanted"}, now,
                  generation);
    set_ready_unless_refused(
        {kReady, "True", "ScaledToZero", "scaled to zero; the next call starts a replica"});
  } else if (w.available && w.rolled_out) {
    set_condition(status,
                  {kDeploymentReady, "True", "Available",
                   std::to_string(w.ready) + "/" + std::to_string(w.wanted) + " ready"},
                  now, generation);
    set_ready_unless_refused({kReady, "True", "Ready", ""});
  } else {
    const std::string msg = std::to_string(w.ready) + "/" + std::to_string(w.wanted) +
                            " replicas ready" + (w.rolled_out ? "" : ", rollout in progress");
    set_condition(status, {kDeploymentReady, "False", "Deploying", msg}, now, generation);
    set_ready({kReady, "False", "Deploying", msg}, "Normal");
  }
  return finish(function, std::move(status), {kube::Status(), w.step.requeue_after});
}

}  // namespace kubefn::controller
