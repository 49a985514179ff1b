#include "kubefn/controller/function_reconciler.hpp"

#include <utility>

#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/source_digest.hpp"

namespace kubefn::controller {

using nlohmann::json;

using api::condition::kBuilt;
using api::condition::kDeploymentReady;
using api::condition::kReady;
using api::condition::kSourceReady;

namespace {

kube::ReconcileResult look_again(std::optional<std::chrono::seconds> after) {
  kube::ReconcileResult r;
  if (after) r.requeue_after = *after;
  return r;
}

// The status one reconcile writes: the live one, with conditions stamped with this
// reconcile's time and the generation it saw, and an Event whenever Ready changes.
class StatusDraft {
 public:
  StatusDraft(const json& function, std::int64_t generation, std::string now, EventRecorder& events)
      : function_(function),
        generation_(generation),
        now_(std::move(now)),
        events_(events),
        status_(function.value("status", json::object())),
        previous_ready_(find_condition(status_, kReady)) {
    status_["observedGeneration"] = generation_;
  }

  json& status() { return status_; }
  json take() { return std::move(status_); }
  void set(const Condition& c) { set_condition(status_, c, now_, generation_); }
  // Sets Ready, with an Event of `event_type` when its status or reason changed.
  void set_ready(const Condition& c, const char* event_type) {
    if (previous_ready_.is_null() || previous_ready_.value("status", "") != c.status ||
        previous_ready_.value("reason", "") != c.reason) {
      events_.record(function_, event_type, c.reason, c.message);
    }
    set(c);
  }

 private:
  const json& function_;
  const std::int64_t generation_;
  const std::string now_;
  EventRecorder& events_;
  json status_;
  const json previous_ready_;
};

// The replicas in status, DeploymentReady, and Ready unless a trigger claim was refused (the
// function then runs at its own route, but is not Ready, saying why).
void workload_status(const WorkloadOutcome& w, const kube::ClaimProblem& refused,
                     StatusDraft& draft) {
  auto set_ready_unless_refused = [&](const Condition& ready) {
    if (refused.reason.empty()) {
      draft.set_ready(ready, "Normal");
    } else {
      draft.set_ready({kReady, "False", refused.reason, refused.message}, "Warning");
    }
  };
  json& status = draft.status();
  status["replicas"] = w.replicas;
  status["readyReplicas"] = w.ready;
  status["selector"] = w.selector;
  status["url"] = w.url;
  if (w.wanted == 0 && w.rolled_out) {
    draft.set({kDeploymentReady, "True", "ScaledToZero", "no replica wanted"});
    set_ready_unless_refused(
        {kReady, "True", "ScaledToZero", "scaled to zero; the next call starts a replica"});
  } else if (w.available && w.rolled_out) {
    draft.set({kDeploymentReady, "True", "Available",
               std::to_string(w.ready) + "/" + std::to_string(w.wanted) + " ready"});
    set_ready_unless_refused({kReady, "True", "Ready", ""});
  } else if (!w.blocked_reason.empty()) {
    // The replicas cannot get ready until the user acts: said on both conditions, with a
    // Warning Event when the reason first appears or changes (set_ready), not on every look.
    draft.set({kDeploymentReady, "False", w.blocked_reason, w.blocked_message});
    draft.set_ready({kReady, "False", w.blocked_reason, w.blocked_message}, "Warning");
  } else {
    std::string msg = std::to_string(w.ready) + "/" + std::to_string(w.wanted) + " replicas ready" +
                      (w.rolled_out ? "" : ", rollout in progress");
    if (!w.blocked_message.empty()) msg += "; " + w.blocked_message;
    draft.set({kDeploymentReady, "False", "Deploying", msg});
    draft.set_ready({kReady, "False", "Deploying", msg}, "Normal");
  }
}

}  // namespace

kube::Result<kube::ReconcileResult> FunctionReconciler::finish(
    json& function, json status, kube::Result<kube::ReconcileResult> r) {
  const json& live_status = function.value("status", json::object());
  // status.scaling is the autoscaler's and status.triggers the dispatcher's: carried over,
  // never rewritten here.
  for (const char* theirs : {"scaling", "triggers"}) {
    if (auto it = live_status.find(theirs); it != live_status.end()) status[theirs] = *it;
  }
  if (status != live_status) {
    json updated = function;
    updated["status"] = std::move(status);
    auto written = client_.update_status(api::functions(), updated, {kFieldManager});
    if (!written.ok()) {
      if (r.ok()) return written.status();
    } else {
      ++writes_.status_updates;
    }
  }
  return r;
}

std::variant<std::string, StepOutcome> FunctionReconciler::resolve_source(
    const FunctionSpec& spec) {
  switch (spec.source_kind) {
    case SourceKind::kInline:
      return spec.inline_source;
    case SourceKind::kConfigMap: {
      // Read from the API itself: the user's ConfigMap carries no kubefn label, so no cache
      // holds it.
      auto cm = client_.get(
          kube::ObjectRef{kube::resources::config_maps(), spec.ns, spec.config_map_name});
      if (!cm.ok() && !cm.status().is_not_found()) return StepOutcome::api_error(cm.status());
      std::string why;
      if (!cm.ok()) {
        why = "ConfigMap " + spec.config_map_name +
              " named in spec.source.configMapRef does "
              "not exist: create it or fix the name";
      } else if (!cm.value()["data"].contains(spec.config_map_key)) {
        why = "ConfigMap " + spec.config_map_name + " has no key " + spec.config_map_key +
              ": add it or set spec.source.configMapRef.key";
      }
      if (!why.empty()) return StepOutcome::failed("SourceNotFound", why, std::chrono::seconds(30));
      return cm.value()["data"][spec.config_map_key].get<std::string>();
    }
    case SourceKind::kUrl:
      // Fetched and checked against spec.source.sha256, then exactly like an inline source.
      // A failure stops here: the platform keeps running what it ran (the previous image).
      return url_sources_.resolve(spec.url, spec.url_sha256);
    case SourceKind::kNone:
      break;
  }
  return std::string();
}

kube::Result<kube::ReconcileResult> FunctionReconciler::reconcile(const std::string& ns,
                                                                  const std::string& name) {
  auto got = reader_.get(kube::ObjectRef{api::functions(), ns, name});
  if (!got.ok()) {
    if (got.status().is_not_found()) {  // deleted
      platform_.forget(ns, name);
      return kube::ReconcileResult{};
    }
    return got.status();
  }
  json function = std::move(got).value();
  if (function["metadata"].contains("deletionTimestamp")) {
    platform_.forget(ns, name);
    return kube::ReconcileResult{};
  }

  StatusDraft draft(function, function["metadata"].value("generation", 0),
                    rfc3339(clock_.wall_now()), events_);
  // A step that is not done: Ready follows it; API errors retry with backoff.
  auto stop_at = [&](const StepOutcome& o,
                     const char* step_condition) -> kube::Result<kube::ReconcileResult> {
    if (!o.error.ok()) return finish(function, draft.take(), o.error);
    const bool failed = o.state == StepOutcome::State::kFailed;
    if (step_condition != nullptr) draft.set({step_condition, "False", o.reason, o.message});
    draft.set_ready({kReady, "False", o.reason, o.message}, failed ? "Warning" : "Normal");
    return finish(function, draft.take(), look_again(o.requeue_after));
  };

  // 1. The spec, validated beyond the schema. A bad spec is terminal until edited.
  auto parsed = parse_function(function);
  if (auto* err = std::get_if<SpecError>(&parsed)) {
    draft.set({kSourceReady, "Unknown", err->reason, "the spec is invalid"});
    draft.set_ready({kReady, "False", err->reason, err->message}, "Warning");
    return finish(function, draft.take(), kube::ReconcileResult{});
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
      draft.set({kSourceReady, "Unknown", claim_problem.reason, "the spec is invalid"});
      draft.set_ready({kReady, "False", claim_problem.reason, claim_problem.message}, "Warning");
      return finish(function, draft.take(), kube::ReconcileResult{});
    }
  }

  // 2. The source, and the digest that names it.
  auto source = resolve_source(spec);
  if (auto* stop = std::get_if<StepOutcome>(&source)) {
    if (!stop->error.ok()) return stop->error;  // retried, with nothing written
    return stop_at(*stop, kSourceReady);
  }
  const std::string source_text = std::move(std::get<std::string>(source));
  std::string digest;
  if (spec.source_kind != SourceKind::kNone) {
    digest = source_digest(spec, source_text);
    draft.status()["sourceDigest"] = digest;
  } else {
    draft.status().erase("sourceDigest");
  }
  FunctionContext ctx{function, spec, source_text, digest, events_, writes_, reader_};

  // 3. The platform stores the source and names the function before any replica runs.
  StepOutcome prepared = platform_.prepare(ctx);
  if (prepared.state != StepOutcome::State::kDone || !prepared.error.ok()) {
    return stop_at(prepared, nullptr);
  }
  if (digest.empty()) {
    draft.set({kSourceReady, "True", "PrebuiltImage", "spec.image is run as is"});
  } else {
    draft.set({kSourceReady, "True", "SourceStored", "source digest " + digest});
  }

  // 4. The image: prebuilt, the one already built for this very source digest, or a build.
  std::string image = spec.image;
  if (image.empty() && draft.status().value("imageSourceDigest", "") == digest) {
    image = draft.status().value("image", "");
  }
  if (image.empty()) {
    BuildOutcome built = platform_.build(ctx);
    if (built.step.state != StepOutcome::State::kDone || !built.step.error.ok()) {
      return stop_at(built.step, kBuilt);
    }
    image = built.image;
    draft.status()["imageSourceDigest"] = digest;
  }
  if (!spec.image.empty()) draft.status().erase("imageSourceDigest");
  draft.status()["image"] = image;
  draft.set({kBuilt, "True", spec.image.empty() ? "Built" : "PrebuiltImage", image});

  // 5. Replicas of that image.
  WorkloadOutcome w = platform_.run(ctx, image);
  if (!w.step.error.ok()) return finish(function, draft.take(), w.step.error);
  if (w.step.state == StepOutcome::State::kFailed) return stop_at(w.step, nullptr);
  if (w.step.state == StepOutcome::State::kWaiting) {
    return finish(function, draft.take(), look_again(w.step.requeue_after));
  }

  // 6. Status.
  workload_status(w, claim_problem, draft);
  return finish(function, draft.take(), look_again(w.step.requeue_after));
}

}  // namespace kubefn::controller
