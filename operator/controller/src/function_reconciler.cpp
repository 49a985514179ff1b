#include "kubefn/controller/function_reconciler.hpp"

#include <algorithm>

#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/desired.hpp"

namespace kubefn::controller {

using nlohmann::json;

namespace gvr {
kube::GroupVersionResource functions() {
  return {"kubefn.dev", "v1alpha1", "functions", true};
}
kube::GroupVersionResource deployments() {
  return {"apps", "v1", "deployments", true};
}
kube::GroupVersionResource services() {
  return {"", "v1", "services", true};
}
kube::GroupVersionResource config_maps() {
  return {"", "v1", "configmaps", true};
}
}  // namespace gvr

kube::Result<std::vector<json>> ClientReader::list_owned(const kube::GroupVersionResource& resource,
                                                         const std::string& ns,
                                                         const std::string& function) {
  kube::ListOptions opts;
  opts.label_selector = std::string(kFunctionLabel) + "=" + function;
  auto list = client_.list(resource, ns, opts);
  if (!list.ok()) return list.status();
  return std::move(list.value().items);
}

bool ConvergedDeployments::matches(const std::string& key, std::int64_t generation,
                                   const std::string& desired_hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.generation == generation &&
         it->second.desired_hash == desired_hash;
}

void ConvergedDeployments::remember(const std::string& key, std::int64_t generation,
                                    const std::string& desired_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[key] = Entry{generation, desired_hash};
}

void ConvergedDeployments::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

std::size_t ConvergedDeployments::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

bool is_subset(const json& desired, const json& live) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (auto it = desired.begin(); it != desired.end(); ++it) {
      auto l = live.find(it.key());
      if (l == live.end() || !is_subset(it.value(), *l)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (std::size_t i = 0; i < desired.size(); ++i) {
      if (!is_subset(desired[i], live[i])) return false;
    }
    return true;
  }
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  return desired == live;
}

namespace {

constexpr const char* kReady = "Ready";
constexpr const char* kSourceReady = "SourceReady";
constexpr const char* kBuilt = "Built";
constexpr const char* kDeploymentReady = "DeploymentReady";

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

bool owned_by(const json& object, const FunctionSpec& spec) {
  for (const auto& o : object["metadata"].value("ownerReferences", json::array())) {
    if (o.value("uid", "") == spec.uid) return true;
  }
  return false;
}

struct DeploymentState {
  std::int64_t replicas = 0;
  std::int64_t ready = 0;
  bool rolled_out = false;  // controller saw the latest spec and every replica is updated
  bool available = false;
};

DeploymentState deployment_state(const json& d) {
  DeploymentState s;
  const json& st = d.value("status", json::object());
  s.replicas = st.value("replicas", 0);
  s.ready = st.value("readyReplicas", 0);
  const std::int64_t want = d["spec"].value("replicas", 1);
  const std::int64_t updated = st.value("updatedReplicas", 0);
  const bool observed = st.value("observedGeneration", 0) >= d["metadata"].value("generation", 0);
  s.rolled_out = observed && updated >= want && s.replicas == updated;
  s.available = observed && s.ready >= want;
  return s;
}

}  // namespace

ReconcileResult FunctionReconciler::finish(json& function, json status, ReconcileResult r) {
  const json& live_status = function.value("status", json::object());
  if (status != live_status) {
    json updated = function;
    updated["status"] = std::move(status);
    auto res = client_.update_status(gvr::functions(), updated, {kFieldManager});
    if (!res.ok()) {
      if (r.error.ok()) r.error = res.status();
    } else {
      ++writes_.status_updates;
    }
  }
  return r;
}

ReconcileResult FunctionReconciler::reconcile(const std::string& ns, const std::string& name) {
  auto got = reader_.get(ref(gvr::functions(), ns, name));
  if (!got.ok()) {
    if (got.status().is_not_found()) {  // deleted: owner references clean up the objects
      if (converged_ != nullptr) converged_->forget(ns + "/" + name);
      return {};
    }
    return {got.status(), std::nullopt};
  }
  json function = std::move(got).value();
  if (function["metadata"].contains("deletionTimestamp")) return {};

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

  // 1. The spec, validated beyond the schema. A bad spec is terminal until edited.
  auto parsed = parse_function(function);
  if (auto* err = std::get_if<SpecError>(&parsed)) {
    set_condition(status, {kSourceReady, "Unknown", err->reason, "the spec is invalid"}, now,
                  generation);
    set_ready({kReady, "False", err->reason, err->message}, "Warning");
    return finish(function, std::move(status), {});
  }
  const FunctionSpec& spec = std::get<FunctionSpec>(parsed);

  // 2. The source, and the digest that names it.
  std::string source_text;
  std::string digest;
  switch (spec.source_kind) {
    case SourceKind::kInline:
      source_text = spec.inline_source;
      break;
    case SourceKind::kConfigMap: {
      auto cm = client_.get(ref(gvr::config_maps(), ns, spec.config_map_name));
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
        set_condition(status, {kSourceReady, "False", "SourceNotFound", why}, now, generation);
        set_ready({kReady, "False", "SourceNotFound", why}, "Warning");
        return finish(function, std::move(status), {kube::Status(), std::chrono::seconds(30)});
      }
      source_text = cm.value()["data"][spec.config_map_key].get<std::string>();
      break;
    }
    case SourceKind::kUrl:
      source_text = "url:" + spec.url + "#sha256:" + spec.url_sha256;
      break;
    case SourceKind::kNone:
      break;
  }
  std::string config_map_name;
  if (spec.source_kind != SourceKind::kNone) {
    digest = source_digest(spec, source_text);
    status["sourceDigest"] = digest;
    if (spec.source_kind != SourceKind::kUrl) {
      json cm = make_source_config_map(spec, source_text, digest);
      config_map_name = cm["metadata"]["name"];
      auto live = reader_.get(ref(gvr::config_maps(), ns, config_map_name));
      if (!live.ok() && !live.status().is_not_found()) return {live.status(), std::nullopt};
      if (!live.ok()) {
        auto created = client_.create(gvr::config_maps(), cm, {kFieldManager});
        if (!created.ok() && !created.status().is_already_exists()) {
          return finish(function, std::move(status), {created.status(), std::nullopt});
        }
        if (created.ok()) ++writes_.creates;
      }
    }
    set_condition(status, {kSourceReady, "True", "SourceStored", "source digest " + digest}, now,
                  generation);
  } else {
    status.erase("sourceDigest");
    set_condition(status, {kSourceReady, "True", "PrebuiltImage", "spec.image is run as is"}, now,
                  generation);
  }

  // 3. The Service, whatever the image: callers can resolve it before the first replica.
  {
    json desired = make_service(spec);
    auto live = reader_.get(ref(gvr::services(), ns, spec.name));
    if (!live.ok() && !live.status().is_not_found()) return {live.status(), std::nullopt};
    if (!live.ok()) {
      auto created = client_.create(gvr::services(), desired, {kFieldManager});
      if (!created.ok() && !created.status().is_already_exists()) {
        return finish(function, std::move(status), {created.status(), std::nullopt});
      }
      if (created.ok()) {
        ++writes_.creates;
        events_.record(function, "Normal", "ServiceCreated", "created Service " + spec.name);
      }
    } else if (!owned_by(live.value(), spec)) {
      const std::string msg = "a Service named " + spec.name +
                              " exists and is not owned by this Function: delete or rename it";
      set_ready({kReady, "False", "ServiceConflict", msg}, "Warning");
      return finish(function, std::move(status), {kube::Status(), std::chrono::seconds(30)});
    } else if (!is_subset(desired["spec"], live.value()["spec"]) ||
               !is_subset(desired["metadata"]["labels"], live.value()["metadata"]["labels"])) {
      auto updated =
          client_.update(gvr::services(), converge_object(live.value(), desired), {kFieldManager});
      if (!updated.ok()) return finish(function, std::move(status), {updated.status(), {}});
      ++writes_.updates;
      events_.record(function, "Normal", "ServiceUpdated", "updated Service " + spec.name);
    }
  }

  // 4. The image: prebuilt, or the one a build recorded for this very source digest.
  std::string image = spec.image;
  if (image.empty() && status.value("imageSourceDigest", "") == digest) {
    image = status.value("image", "");
  }
  if (image.empty()) {
    const std::string msg = "no image is built for source digest " + digest +
                            " yet; set spec.image to run a prebuilt image";
    set_condition(status, {kBuilt, "False", "BuildPending", msg}, now, generation);
    set_ready({kReady, "False", "BuildPending", msg}, "Normal");
    return finish(function, std::move(status), {});
  }
  status["image"] = image;
  set_condition(status, {kBuilt, "True", spec.image.empty() ? "Built" : "PrebuiltImage", image},
                now, generation);

  // 5. The Deployment. Replicas: spec.replicas when set (kubectl scale on the Function);
  // otherwise whatever the scale owner set, kept within [minReplicas, maxReplicas].
  json deployment;
  {
    auto live = reader_.get(ref(gvr::deployments(), ns, spec.name));
    if (!live.ok() && !live.status().is_not_found()) return {live.status(), std::nullopt};
    DeploymentInputs in{image, config_map_name, digest, std::nullopt};
    if (!live.ok()) {
      in.replicas = spec.replicas.value_or(std::max<std::int64_t>(spec.min_replicas, 1));
      const json desired = make_deployment(spec, in);
      auto created = client_.create(gvr::deployments(), desired, {kFieldManager});
      if (!created.ok() && created.status().is_already_exists()) {
        // Our cache has not seen our own create yet: look again shortly.
        return finish(function, std::move(status), {kube::Status(), std::chrono::seconds(1)});
      }
      if (!created.ok()) return finish(function, std::move(status), {created.status(), {}});
      ++writes_.creates;
      events_.record(function, "Normal", "DeploymentCreated",
                     "created Deployment " + spec.name + " running " + image);
      deployment = std::move(created).value();
      if (converged_ != nullptr) {
        converged_->remember(ns + "/" + spec.name, deployment["metadata"].value("generation", 0),
                             sha256_hex(desired["spec"].dump()));
      }
    } else if (!owned_by(live.value(), spec)) {
      const std::string msg = "a Deployment named " + spec.name +
                              " exists and is not owned by this Function: delete or rename it";
      set_ready({kReady, "False", "DeploymentConflict", msg}, "Warning");
      return finish(function, std::move(status), {kube::Status(), std::chrono::seconds(30)});
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
      if (labels_match && converged_ != nullptr && converged_->matches(key, generation, want)) {
        // Unchanged since it last matched what we want: no need for its pod template.
        deployment = std::move(live).value();
      } else {
        json full = std::move(live).value();
        if (!full["spec"].contains("template")) {  // a cached copy without its pod template
          auto got = client_.get(ref(gvr::deployments(), ns, spec.name));
          if (!got.ok()) return finish(function, std::move(status), {got.status(), {}});
          full = std::move(got).value();
        }
        if (is_subset(desired["spec"], full["spec"]) &&
            is_subset(desired["metadata"]["labels"], full["metadata"]["labels"])) {
          deployment = std::move(full);
        } else {
          auto updated =
              client_.update(gvr::deployments(), converge_object(full, desired), {kFieldManager});
          if (!updated.ok()) return finish(function, std::move(status), {updated.status(), {}});
          ++writes_.updates;
          events_.record(function, "Normal", "DeploymentUpdated",
                         "updated Deployment " + spec.name);
          deployment = std::move(updated).value();
        }
        if (converged_ != nullptr) {
          converged_->remember(key, deployment["metadata"].value("generation", 0), want);
        }
      }
    }
  }

  // 6. Old source ConfigMaps go once no replica can still mount them.
  const DeploymentState ds = deployment_state(deployment);
  if (ds.rolled_out && !config_map_name.empty()) {
    auto cms = reader_.list_owned(gvr::config_maps(), ns, spec.name);
    if (cms.ok()) {
      for (const auto& cm : cms.value()) {
        const std::string n = cm["metadata"].value("name", "");
        if (n == config_map_name || !owned_by(cm, spec)) continue;
        if (n.rfind(spec.name + "-src-", 0) != 0) continue;
        auto removed = client_.remove(ref(gvr::config_maps(), ns, n), {});
        if (removed.ok()) ++writes_.deletes;
      }
    }
  }

  // 7. Status.
  status["replicas"] = ds.replicas;
  status["readyReplicas"] = ds.ready;
  status["selector"] = selector_string(spec);
  status["url"] =
      "http://" + spec.name + "." + ns + ".svc.cluster.local:" + std::to_string(kFunctionPort);
  const std::int64_t want = deployment["spec"].value("replicas", 1);
  if (want == 0 && ds.rolled_out) {
    set_condition(status, {kDeploymentReady, "True", "ScaledToZero", "no replica wanted"}, now,
                  generation);
    set_ready({kReady, "True", "ScaledToZero", "scaled to zero; the next call starts a replica"},
              "Normal");
  } else if (ds.available && ds.rolled_out) {
    set_condition(status,
                  {kDeploymentReady, "True", "Available",
                   std::to_string(ds.ready) + "/" + std::to_string(want) + " ready"},
                  now, generation);
    set_ready({kReady, "True", "Ready", ""}, "Normal");
  } else {
    const std::string msg = std::to_string(ds.ready) + "/" + std::to_string(want) +
                            " replicas ready" + (ds.rolled_out ? "" : ", rollout in progress");
    set_condition(status, {kDeploymentReady, "False", "Deploying", msg}, now, generation);
    set_ready({kReady, "False", "Deploying", msg}, "Normal");
  }
  return finish(function, std::move(status), {});
}

}  // namespace kubefn::controller
