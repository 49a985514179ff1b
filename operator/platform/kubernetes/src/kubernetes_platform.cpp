#include "kubefn/platform/kubernetes/kubernetes_platform.hpp"

#include <algorithm>
#include <chrono>

#include "kubefn/controller/source_digest.hpp"
#include "kubefn/platform/kubernetes/desired.hpp"
#include "kubefn/platform/kubernetes/json_subset.hpp"

namespace kubefn::platform::kubernetes {

using controller::BuildOutcome;
using controller::FunctionContext;
using controller::kFieldManager;
using controller::sha256_hex;
using controller::StepOutcome;
using controller::WorkloadOutcome;
using nlohmann::json;

namespace {

kube::ObjectRef ref(const kube::GroupVersionResource& r, const std::string& ns,
                    const std::string& name) {
  return kube::ObjectRef{r, ns, name};
}

// Overlays what we own onto the live object and keeps what the server or others own.
json converge_object(const json& live, const json& desired) {
  json out = live;
  json& meta = out["metadata"];
  for (const char* key : {"labels", "annotations"}) {
    if (desired["metadata"].contains(key)) {
      for (auto& [k, v] : desired["metadata"][key].items())
        meta[key][k] = v;
    }
  }
  meta["ownerReferences"] = desired["metadata"]["ownerReferences"];
  out["spec"].merge_patch(desired["spec"]);
  return out;
}

bool owned_by(const json& object, const controller::FunctionSpec& spec) {
  for (const auto& o : object["metadata"].value("ownerReferences", json::array())) {
    if (o.value("uid", "") == spec.uid) return true;
  }
  return false;
}

// Deployments are cached without their pod template (the biggest part of them); run() fetches
// a whole one only when it changed (see ConvergedDeployments).
void trim_deployment(json& object) {
  json& spec = object["spec"];
  json kept = {{"replicas", spec.value("replicas", 1)}};
  if (spec.contains("selector")) kept["selector"] = spec["selector"];
  spec = std::move(kept);
}

// The condition of `type` on a Job, "True"/"False", or empty when it has none.
std::string job_condition(const json& job, const std::string& type, std::string* message) {
  for (const auto& c : job.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == type) {
      if (message != nullptr) *message = c.value("message", "");
      return c.value("status", "");
    }
  }
  return "";
}

std::string label(const json& object, const char* key) {
  const json& labels = object["metadata"].value("labels", json::object());
  auto it = labels.find(key);
  return it != labels.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// When to look again: a whole number of seconds, at least one.
std::chrono::seconds look_again_in(kube::Clock::Duration wait) {
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(wait));
}

// The image a build pod's container reported when it exited 0 (its termination message, the
// JSON kubefn-build writes last); empty while none has.
std::string succeeded_build_image(const std::vector<json>& pods) {
  for (const auto& pod : pods) {
    for (const auto& cs :
         pod.value("status", json::object()).value("containerStatuses", json::array())) {
      if (cs.value("name", "") != kBuildContainer) continue;
      const json& terminated =
          cs.value("state", json::object()).value("terminated", json::object());
      if (!terminated.is_object() || !terminated.contains("exitCode") ||
          terminated.value("exitCode", -1) != 0) {
        continue;
      }
      const json report = json::parse(terminated.value("message", ""), nullptr, false);
      if (report.is_object() && report.value("image", "").find("@sha256:") != std::string::npos) {
        return report.value("image", "");
      }
    }
  }
  return "";
}

std::string build_look_key(const std::string& ns, const std::string& name) {
  return ns + "/" + name + " build";
}

}  // namespace

std::vector<controller::OwnedResource> KubernetesPlatform::owned_resources() const {
  return {{kube::resources::deployments(), trim_deployment},
          {kube::resources::services(), nullptr},
          {kube::resources::config_maps(), nullptr},
          {kube::resources::jobs(), nullptr}};
}

StepOutcome KubernetesPlatform::prepare(const FunctionContext& ctx) {
  const controller::FunctionSpec& spec = ctx.spec;
  const std::string& ns = spec.ns;
  // The source, in an immutable ConfigMap named by its digest.
  if (!ctx.digest.empty()) {
    json cm = make_source_config_map(spec, ctx.source_text, ctx.digest);
    const std::string name = cm["metadata"]["name"];
    auto live = ctx.reader.get(ref(kube::resources::config_maps(), ns, name));
    if (!live.ok() && !live.status().is_not_found()) return StepOutcome::api_error(live.status());
    if (!live.ok()) {
      auto created = client_.create(kube::resources::config_maps(), cm, {kFieldManager});
      if (!created.ok() && !created.status().is_already_exists()) {
        return StepOutcome::api_error(created.status());
      }
      if (created.ok()) ++ctx.writes.creates;
    }
  }
  // The Service, whatever the image: callers can resolve it before the first replica.
  json desired = make_service(spec);
  auto live = ctx.reader.get(ref(kube::resources::services(), ns, spec.name));
  if (!live.ok() && !live.status().is_not_found()) return StepOutcome::api_error(live.status());
  if (!live.ok()) {
    auto created = client_.create(kube::resources::services(), desired, {kFieldManager});
    if (!created.ok() && !created.status().is_already_exists()) {
      return StepOutcome::api_error(created.status());
    }
    // The cache holds only the objects kubefn labels: one it does not know may be someone
    // else's, so read it before going on as if it were ours.
    if (!created.ok()) {
      auto existing = client_.get(ref(kube::resources::services(), ns, spec.name));
      if (!existing.ok()) return StepOutcome::api_error(existing.status());
      if (!owned_by(existing.value(), spec)) {
        return StepOutcome::failed("ServiceConflict",
                                   "a Service named " + spec.name +
                                       " exists and is not owned by this Function: delete or "
                                       "rename it",
                                   std::chrono::seconds(30));
      }
    }
    if (created.ok()) {
      ++ctx.writes.creates;
      ctx.events.record(ctx.function, "Normal", "ServiceCreated", "created Service " + spec.name);
    }
  } else if (!owned_by(live.value(), spec)) {
    return StepOutcome::failed("ServiceConflict",
                               "a Service named " + spec.name +
                                   " exists and is not owned by this Function: delete or rename it",
                               std::chrono::seconds(30));
  } else if (!is_subset(desired["spec"], live.value()["spec"]) ||
             !is_subset(desired["metadata"]["labels"], live.value()["metadata"]["labels"])) {
    auto updated = client_.update(kube::resources::services(),
                                  converge_object(live.value(), desired), {kFieldManager});
    if (!updated.ok()) return StepOutcome::api_error(updated.status());
    ++ctx.writes.updates;
    ctx.events.record(ctx.function, "Normal", "ServiceUpdated", "updated Service " + spec.name);
  }
  return StepOutcome::done();
}

BuildOutcome KubernetesPlatform::build(const FunctionContext& ctx) {
  const controller::FunctionSpec& spec = ctx.spec;
  if (build_.registry.empty()) {
    return {StepOutcome::failed("BuildsDisabled",
                                "no image is built for source digest " + ctx.digest +
                                    ": the operator has no registry to push builds to (install "
                                    "it with a registry set), or set spec.image to a prebuilt "
                                    "image"),
            ""};
  }
  const std::string name = build_job_name(spec, ctx.digest);
  auto live = ctx.reader.get(ref(kube::resources::jobs(), spec.ns, name));
  if (!live.ok() && !live.status().is_not_found()) return {StepOutcome::api_error(live.status())};
  if (!live.ok()) {
    BuildJobInputs in;
    in.source_config_map = source_config_map_name(spec, ctx.digest);
    in.source_digest = ctx.digest;
    in.repository = build_.registry + "/" + spec.ns + "/" + spec.name;
    in.base_image = build_.base_image;
    in.builder_image = build_.builder_image;
    in.registry_secret = build_.registry_secret;
    in.plain_http = build_.plain_http;
    in.timeout_seconds = build_.timeout_seconds;
    auto created =
        client_.create(kube::resources::jobs(), make_build_job(spec, in), {kFieldManager});
    if (!created.ok() && !created.status().is_already_exists()) {
      return {StepOutcome::api_error(created.status())};
    }
    if (created.ok()) {
      ++ctx.writes.creates;
      ctx.events.record(
          ctx.function, "Normal", "BuildStarted",
          "build Job " + name + " started for source digest " + ctx.digest.substr(0, 16));
    }
    return {StepOutcome::waiting("Building", "build Job " + name + " is running")};
  }
  return job_result(ctx, live.value());
}

PodLook KubernetesPlatform::look_at_build(const FunctionContext& ctx, const json& job,
                                          kube::Clock::Duration* wait) {
  const std::string name = job["metadata"].value("name", "");
  const std::string key = build_look_key(ctx.spec.ns, ctx.spec.name);
  // The Job's status changes as its pod comes and goes: then look at once.
  const std::string token = name + " " + job.value("status", json::object()).dump();
  const auto now = clock_.now();
  if (auto standing = looks_.standing(key, token, now, wait)) return *standing;
  PodLook look;
  kube::ListOptions opts;
  opts.label_selector = std::string(api::kBuildLabel) + "=" + name;
  auto pods = client_.list(kube::resources::pods(), ctx.spec.ns, opts);
  if (!pods.ok()) {
    look.message = "its pod could not be read (" + clean_text(pods.status().to_string(), 300) + ")";
  } else {
    std::vector<json> mine;
    for (auto& pod : pods.value().items) {
      if (label(pod, api::kBuildLabel) == name) mine.push_back(std::move(pod));
    }
    PodScope scope;
    scope.kind = PodScope::Kind::kBuild;
    scope.container = kBuildContainer;
    scope.user_image = false;
    if (auto problem = find_pod_problem(mine, scope)) {
      look.reason = problem->reason;
      look.message = problem_message(*problem, std::nullopt, {},
                                     "build Job " + name + " waits until it is fixed");
    }
    look.built_image = succeeded_build_image(mine);
  }
  *wait = looks_.record(key, token, now, look);
  return look;
}

BuildOutcome KubernetesPlatform::job_result(const FunctionContext& ctx, const json& job) {
  const std::string name = job["metadata"].value("name", "");
  std::string job_message;
  const bool complete = job_condition(job, "Complete", nullptr) == "True";
  const bool failed = job_condition(job, "Failed", &job_message) == "True";
  if (!complete && !failed) {
    // Running, or stuck before it could run (a builder image that cannot be pulled, a pod no
    // node takes): the pod says which.
    kube::Clock::Duration wait{};
    const PodLook look = look_at_build(ctx, job, &wait);
    if (!look.built_image.empty()) {
      // The builder exited 0 and named its image: done a second or two before the kubelet
      // reports the pod Succeeded and the Job controller marks the Job Complete.
      looks_.forget(build_look_key(ctx.spec.ns, ctx.spec.name));
      ctx.events.record(ctx.function, "Normal", "Built", "built " + look.built_image);
      return {StepOutcome::done(), look.built_image};
    }
    if (!look.reason.empty()) {
      return {StepOutcome::failed(look.reason, look.message, look_again_in(wait))};
    }
    return {StepOutcome::waiting(
        "Building",
        "build Job " + name + " is running" + (look.message.empty() ? "" : "; " + look.message),
        look_again_in(wait))};
  }
  looks_.forget(build_look_key(ctx.spec.ns, ctx.spec.name));
  // The builder reports its result (or its first compile errors) in the termination message.
  kube::ListOptions opts;
  opts.label_selector = std::string(api::kBuildLabel) + "=" + name;
  auto pods = client_.list(kube::resources::pods(), ctx.spec.ns, opts);
  if (!pods.ok()) return {StepOutcome::api_error(pods.status())};
  std::vector<json> mine;
  for (auto& pod : pods.value().items) {
    if (label(pod, api::kBuildLabel) == name) mine.push_back(std::move(pod));
  }
  json report;
  for (const auto& pod : mine) {
    for (const auto& cs :
         pod.value("status", json::object()).value("containerStatuses", json::array())) {
      const json& terminated =
          cs.value("state", json::object()).value("terminated", json::object());
      const std::string message = terminated.value("message", "");
      if (message.empty()) continue;
      json parsed = json::parse(message, nullptr, false);
      report = parsed.is_object() ? parsed : json{{"error", message}};
    }
  }
  if (complete) {
    const std::string image = report.is_object() ? report.value("image", "") : "";
    if (image.empty()) {
      return {StepOutcome::failed("BuildFailed", "build Job " + name +
                                                     " succeeded without reporting an image: "
                                                     "kubectl logs job/" +
                                                     name)};
    }
    ctx.events.record(ctx.function, "Normal", "Built", "built " + image);
    return {StepOutcome::done(), image};
  }
  std::string why = report.is_object() ? report.value("error", "") : "";
  if (why.empty()) {
    // No word from the builder: it never ran (its deadline passed while its pod could not
    // start), or it died without writing one. The pod may say why.
    PodScope scope;
    scope.kind = PodScope::Kind::kBuild;
    scope.container = kBuildContainer;
    scope.user_image = false;
    why = job_message.empty() ? "see kubectl logs job/" + name : job_message;
    if (auto problem = find_pod_problem(mine, scope)) {
      why += "; " + problem->summary + "; " + problem->advice;
    }
    why = clean_text(why, kMaxProblemMessageBytes / 2);
  }
  return {StepOutcome::failed("BuildFailed", "build Job " + name + " failed: " + why +
                                                 " (the previous image, if any, keeps serving; "
                                                 "fix the source to build again)")};
}

WorkloadOutcome KubernetesPlatform::run(const FunctionContext& ctx, const std::string& image) {
  const controller::FunctionSpec& spec = ctx.spec;
  const std::string& ns = spec.ns;
  const std::string config_map_name =
      ctx.digest.empty() ? std::string() : source_config_map_name(spec, ctx.digest);
  WorkloadOutcome out;
  json deployment;
  // Replicas: spec.replicas when set (kubectl scale on the Function); otherwise whatever the
  // scale owner set, kept within [minReplicas, maxReplicas].
  auto live = ctx.reader.get(ref(kube::resources::deployments(), ns, spec.name));
  if (!live.ok() && !live.status().is_not_found()) return {StepOutcome::api_error(live.status())};
  DeploymentInputs in{image, config_map_name, ctx.digest, std::nullopt, build_.stats_address};
  if (!live.ok()) {
    in.replicas = spec.replicas.value_or(std::max<std::int64_t>(spec.min_replicas, 1));
    const json desired = make_deployment(spec, in);
    auto created = client_.create(kube::resources::deployments(), desired, {kFieldManager});
    if (!created.ok() && created.status().is_already_exists()) {
      // The cache holds only the objects kubefn labels: read what is there. Ours, not seen
      // yet by the cache: look again shortly; someone else's: a conflict.
      auto existing = client_.get(ref(kube::resources::deployments(), ns, spec.name));
      if (!existing.ok()) return {StepOutcome::api_error(existing.status())};
      if (!owned_by(existing.value(), spec)) {
        out.step = StepOutcome::failed(
            "DeploymentConflict",
            "a Deployment named " + spec.name +
                " exists and is not owned by this Function: delete or rename it",
            std::chrono::seconds(30));
        return out;
      }
      out.step = StepOutcome::waiting("Deploying", "waiting for the Deployment to be seen",
                                      std::chrono::seconds(1));
      return out;
    }
    if (!created.ok()) return {StepOutcome::api_error(created.status())};
    ++ctx.writes.creates;
    ctx.events.record(ctx.function, "Normal", "DeploymentCreated",
                      "created Deployment " + spec.name + " running " + image);
    deployment = std::move(created).value();
    converged_.remember(ns + "/" + spec.name, deployment["metadata"].value("generation", 0),
                        sha256_hex(desired["spec"].dump()));
  } else if (!owned_by(live.value(), spec)) {
    out.step =
        StepOutcome::failed("DeploymentConflict",
                            "a Deployment named " + spec.name +
                                " exists and is not owned by this Function: delete or rename it",
                            std::chrono::seconds(30));
    return out;
  } else {
    const std::int64_t current = live.value()["spec"].value("replicas", 1);
    in.replicas = spec.replicas.value_or(
        std::clamp<std::int64_t>(current, spec.min_replicas, spec.max_replicas));
    json desired = make_deployment(spec, in);
    const std::string key = ns + "/" + spec.name;
    const std::string want = sha256_hex(desired["spec"].dump());
    const std::int64_t generation = live.value()["metadata"].value("generation", 0);
    const bool labels_match =
        is_subset(desired["metadata"]["labels"], live.value()["metadata"]["labels"]);
    if (labels_match && converged_.matches(key, generation, want)) {
      // Unchanged since it last matched what we want: no need for its pod template.
      deployment = std::move(live).value();
    } else {
      json full = std::move(live).value();
      if (!full["spec"].contains("template")) {  // a cached copy without its pod template
        auto got = client_.get(ref(kube::resources::deployments(), ns, spec.name));
        if (!got.ok()) return {StepOutcome::api_error(got.status())};
        full = std::move(got).value();
      }
      if (is_subset(desired["spec"], full["spec"]) &&
          is_subset(desired["metadata"]["labels"], full["metadata"]["labels"])) {
        deployment = std::move(full);
      } else {
        auto updated = client_.update(kube::resources::deployments(),
                                      converge_object(full, desired), {kFieldManager});
        if (!updated.ok()) return {StepOutcome::api_error(updated.status())};
        ++ctx.writes.updates;
        ctx.events.record(ctx.function, "Normal", "DeploymentUpdated",
                          "updated Deployment " + spec.name);
        deployment = std::move(updated).value();
      }
      converged_.remember(key, deployment["metadata"].value("generation", 0), want);
    }
  }

  const json& st = deployment.value("status", json::object());
  out.wanted = deployment["spec"].value("replicas", 1);
  out.replicas = st.value("replicas", 0);
  out.ready = st.value("readyReplicas", 0);
  const std::int64_t updated = st.value("updatedReplicas", 0);
  const bool observed =
      st.value("observedGeneration", 0) >= deployment["metadata"].value("generation", 0);
  out.rolled_out = observed && updated >= out.wanted && out.replicas == updated;
  out.available = observed && out.ready >= out.wanted;
  out.selector = selector_string(spec);
  out.url =
      "http://" + spec.name + "." + ns + ".svc.cluster.local:" + std::to_string(kFunctionPort);

  // Not ready: the pods may say why, and what the user must do about it.
  if ((out.available || out.wanted == 0) && out.rolled_out) {
    looks_.forget(ns + "/" + spec.name);
  } else if (out.wanted > 0) {
    if (observed) {
      report_replicas(ctx, deployment, image, out);
    } else {
      // The Deployment controller has not acted on this generation: no pods of it yet.
      out.step.requeue_after = look_again_in(PodLooks::kFirstInterval);
    }
  }

  // Old source ConfigMaps (and finished build Jobs) go once no replica can still use them.
  if (out.rolled_out && !config_map_name.empty()) {
    auto cms = ctx.reader.list_owned(kube::resources::config_maps(), ns, spec.name);
    if (cms.ok()) {
      for (const auto& cm : cms.value()) {
        const std::string n = cm["metadata"].value("name", "");
        if (n == config_map_name || !owned_by(cm, spec)) continue;
        if (n.rfind(spec.name + "-src-", 0) != 0) continue;
        auto removed = client_.remove(ref(kube::resources::config_maps(), ns, n), {});
        if (removed.ok()) ++ctx.writes.deletes;
      }
    }
  }
  return out;
}

void KubernetesPlatform::report_replicas(const FunctionContext& ctx, const json& deployment,
                                         const std::string& image, WorkloadOutcome& out) {
  const std::string key = ctx.spec.ns + "/" + ctx.spec.name;
  // What the informer's events bring: a new generation, or replicas that came, went, got
  // ready or stopped being ready. Any of them is worth a look at once.
  const json& st = deployment.value("status", json::object());
  std::string token = image + " " + std::to_string(deployment["metadata"].value("generation", 0));
  for (const char* f : {"observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                        "availableReplicas", "unavailableReplicas"}) {
    token += " " + std::to_string(st.value(f, 0));
  }
  const auto now = clock_.now();
  kube::Clock::Duration wait{};
  std::optional<PodLook> look = looks_.standing(key, token, now, &wait);
  if (!look) {
    // Replicas of the previous template still serve while the new ones fail to come up.
    look = look_at_replicas(ctx, image, key, out.available && !out.rolled_out);
    wait = looks_.record(key, token, now, *look);
  }
  out.blocked_reason = look->reason;
  out.blocked_message = look->message;
  out.step.requeue_after = look_again_in(wait);
}

PodLook KubernetesPlatform::look_at_replicas(const FunctionContext& ctx, const std::string& image,
                                             const std::string& key, bool serving) {
  const controller::FunctionSpec& spec = ctx.spec;
  PodLook look;
  auto listed = ctx.reader.list_owned(kube::resources::pods(), spec.ns, spec.name);
  if (!listed.ok()) {
    look.message =
        "its pods could not be read (" + clean_text(listed.status().to_string(), 300) + ")";
    return look;
  }
  std::vector<json> pods;
  for (auto& pod : listed.value()) {
    // The Function's replicas, not its build pods.
    if (label(pod, api::kFunctionLabel) != spec.name || !label(pod, api::kBuildLabel).empty()) {
      continue;
    }
    pods.push_back(std::move(pod));
  }
  PodScope scope;
  scope.kind = PodScope::Kind::kReplica;
  scope.container = kFunctionContainer;
  scope.image = image;
  scope.user_image = !spec.image.empty();
  auto problem = find_pod_problem(pods, scope);
  if (!problem) return look;
  look.reason = problem->reason;
  if (problem->crashed) read_log(key, spec.ns, scope.container, *problem, look);
  look.message = problem_message(*problem, look.log_lines, look.log_missing,
                                 serving ? "the previous replicas keep serving" : "");
  return look;
}

void KubernetesPlatform::read_log(const std::string& key, const std::string& ns,
                                  const std::string& container, const PodProblem& problem,
                                  PodLook& look) {
  look.log_instance = problem.instance;
  if (auto before = looks_.previous(key); before && before->log_instance == problem.instance) {
    look.log_lines = before->log_lines;
    look.log_missing = before->log_missing;
    return;
  }
  kube::LogOptions options;
  options.container = container;
  options.previous = problem.previous;
  options.tail_lines = kLogTailLines;
  options.limit_bytes = kLogLimitBytes;
  auto text = client_.get_log(kube::ObjectRef{kube::resources::pods(), ns, problem.pod}, options);
  if (text.ok()) {
    look.log_lines = log_tail(text.value());
    return;
  }
  look.log_missing = "its log could not be read (" + clean_text(text.status().to_string(), 160) +
                     "): kubectl logs " + problem.pod + " -c " + container +
                     (problem.previous ? " --previous" : "");
}

void KubernetesPlatform::forget(const std::string& ns, const std::string& name) {
  // Owner references delete the objects; only the memory of converged Deployments, and of
  // the looks at pods, is ours.
  converged_.forget(ns + "/" + name);
  looks_.forget(ns + "/" + name);
  looks_.forget(build_look_key(ns, name));
}

kube::Status KubernetesPlatform::scale(const std::string& ns, const std::string& name,
                                       std::int64_t replicas) {
  kube::PatchOptions opts;
  opts.field_manager = kFieldManager;
  opts.subresource = "scale";
  auto r = client_.patch(kube::ObjectRef{kube::resources::deployments(), ns, name},
                         kube::PatchType::kMerge, json{{"spec", {{"replicas", replicas}}}}, opts);
  return r.ok() ? kube::Status() : r.status();
}

}  // namespace kubefn::platform::kubernetes
