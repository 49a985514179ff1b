#include "fake_controllers.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <set>
#include <unordered_map>

#include "time_and_ids.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

std::string meta_of(const json& obj, const char* field) {
  const json& meta = obj["metadata"];
  const auto f = meta.find(field);
  return f != meta.end() && f->is_string() ? f->get<std::string>() : std::string();
}

bool has_finalizer(const json& obj, const std::string& f) {
  const auto& meta = obj["metadata"];
  const auto fins = meta.find("finalizers");
  if (fins == meta.end() || !fins->is_array()) return false;
  return std::find(fins->begin(), fins->end(), f) != fins->end();
}

json without_finalizer(json obj, const std::string& f) {
  auto fins = obj["metadata"].value("finalizers", json::array());
  json kept = json::array();
  for (const auto& x : fins) {
    if (x != f) kept.push_back(x);
  }
  obj["metadata"]["finalizers"] = kept;
  return obj;
}

json deployment_status(const json& d) {
  const auto replicas = d.value("spec", json::object()).value("replicas", 1);
  const auto now = rfc3339(std::chrono::system_clock::now());
  return {{"observedGeneration", d["metadata"].value("generation", 1)},
          {"replicas", replicas},
          {"updatedReplicas", replicas},
          {"readyReplicas", replicas},
          {"availableReplicas", replicas},
          {"conditions", json::array({{{"type", "Available"},
                                       {"status", "True"},
                                       {"reason", "MinimumReplicasAvailable"},
                                       {"message", "Deployment has minimum availability."},
                                       {"lastUpdateTime", now},
                                       {"lastTransitionTime", now}},
                                      {{"type", "Progressing"},
                                       {"status", "True"},
                                       {"reason", "NewReplicaSetAvailable"},
                                       {"message", "ReplicaSet has successfully progressed."},
                                       {"lastUpdateTime", now},
                                       {"lastTransitionTime", now}}})}};
}

// The ReplicaSet a Deployment's template maps to: named after a hash of the template, labelled
// and selected with pod-template-hash, controlled by the Deployment, and as ready as it.
json replica_set_for(const json& d, const std::string& hash) {
  const json& meta = d["metadata"];
  const json& spec = d["spec"];
  json template_ = spec.value("template", json::object());
  template_["metadata"]["labels"]["pod-template-hash"] = hash;
  json selector = spec.value("selector", json::object());
  selector["matchLabels"]["pod-template-hash"] = hash;
  return {
      {"apiVersion", "apps/v1"},
      {"kind", "ReplicaSet"},
      {"metadata",
       {{"name", meta.value("name", "") + "-" + hash},
        {"namespace", meta.value("namespace", "")},
        {"labels", template_["metadata"]["labels"]},
        {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                          {"kind", "Deployment"},
                                          {"name", meta.value("name", "")},
                                          {"uid", meta.value("uid", "")},
                                          {"controller", true},
                                          {"blockOwnerDeletion", true}}})}}},
      {"spec",
       {{"replicas", spec.value("replicas", 1)}, {"selector", selector}, {"template", template_}}}};
}

std::string template_hash(const json& d) {
  const auto h = std::hash<std::string>{}(d["spec"].value("template", json::object()).dump());
  static const char* kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  auto v = h;
  for (int i = 0; i < 10; ++i) {
    out.push_back(kAlphabet[v % 27]);
    v /= 27;
  }
  return out;
}

// A member of an object without copying it (null when absent).
const json& member(const json& obj, const char* field) {
  static const json kNull;
  const auto f = obj.find(field);
  return f == obj.end() ? kNull : *f;
}

bool status_current(const json& d) {
  const json& st = member(d, "status");
  if (!st.is_object()) return false;
  const json& spec = member(d, "spec");
  const auto replicas = spec.is_object() ? spec.value("replicas", 1) : 1;
  return st.value("observedGeneration", int64_t{-1}) ==
             d["metadata"].value("generation", int64_t{1}) &&
         st.value("readyReplicas", -1) == replicas && st.value("replicas", -1) == replicas;
}

// Passes shorter than this run back to back, as before.
constexpr std::chrono::milliseconds kMinPassGap{2};

}  // namespace

FakeControllers::FakeControllers(ObjectStore& store, ControllerOptions options)
    : store_(store), options_(options), thread_([this] { run(); }) {}

FakeControllers::~FakeControllers() {
  store_.shutdown();
  if (thread_.joinable()) thread_.join();
}

void FakeControllers::run() {
  uint64_t seen = 0;
  auto wake = Clock::now();
  while (!store_.stopping()) {
    seen = store_.wait_for_change(seen, wake);
    if (store_.stopping()) return;
    // Each pass reads every object: under a stream of writes, passes are spaced by at least
    // their own duration, so the loop takes at most half a CPU and batches what arrives.
    const auto pass_start = Clock::now();
    wake = Clock::time_point::max();
    try {
      if (options_.garbage_collector) collect_garbage();
      if (options_.deployments) wake = sync_deployments();
    } catch (const std::exception&) {
      // An object of unexpected shape must not stop the loop; it is skipped until it changes.
    }
    // Writes made above bump the resourceVersion; the next wait returns at once and re-checks
    // until nothing is left to do.
    wake = std::min(wake, Clock::now() + std::chrono::seconds(1));
    const auto pass = Clock::now() - pass_start;
    if (pass > kMinPassGap) {
      (void)store_.wait_for_change(std::numeric_limits<uint64_t>::max(), Clock::now() + pass);
    }
  }
}

FakeControllers::Clock::time_point FakeControllers::sync_deployments() {
  auto next = Clock::time_point::max();
  const auto type = store_.find_type("apps", "v1", "deployments");
  if (!type) return next;
  std::set<std::string> live;
  for (const auto& [t, doc] : store_.snapshot("deployments.apps")) {
    const json& d = *doc;
    const auto uid = meta_of(d, "uid");
    live.insert(uid);
    if (d["metadata"].contains("deletionTimestamp") || status_current(d)) {
      pending_.erase(uid);
      continue;
    }
    const int64_t gen = d["metadata"].value("generation", int64_t{1});
    auto it = pending_.find(uid);
    if (it == pending_.end() || it->second.first != gen) {
      it = pending_
               .insert_or_assign(
                   uid, std::make_pair(gen, Clock::now() + options_.deployment_ready_delay))
               .first;
    }
    if (Clock::now() < it->second.second) {
      next = std::min(next, it->second.second);
      continue;
    }
    const auto rv = meta_of(d, "resourceVersion");
    (void)store_.update(
        *type, meta_of(d, "namespace"), meta_of(d, "name"),
        [&rv](const json& cur) -> Result<json> {
          if (cur["metadata"].value("resourceVersion", "") != rv)
            return conflict("deployments.apps", "");
          json next_obj = cur;
          next_obj["status"] = deployment_status(cur);
          return next_obj;
        },
        Subresource::kStatus);
    sync_replica_set(d);
    pending_.erase(uid);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = live.count(it->first) ? std::next(it) : pending_.erase(it);
  }
  return next;
}

void FakeControllers::sync_replica_set(const json& d) {
  const auto type = store_.find_type("apps", "v1", "replicasets");
  if (!type) return;
  const auto ns = meta_of(d, "namespace");
  const auto uid = meta_of(d, "uid");
  const auto hash = template_hash(d);
  const json rs = replica_set_for(d, hash);
  const std::string name = rs["metadata"].value("name", "");
  // The ReplicaSet of an earlier template goes (a real controller scales it down and keeps
  // some history).
  auto [known, inserted] = replica_sets_.try_emplace(uid, name);
  if (!inserted && known->second != name) {
    (void)store_.remove(*type, ns, known->second, DeleteOptions{"Background", "", ""});
    known->second = name;
  }
  const auto replicas = rs["spec"].value("replicas", 1);
  (void)store_.update(
      *type, ns, name,
      [&rs, replicas](const json& cur) -> Result<json> {
        json next = cur.is_object() ? cur : rs;
        next["spec"]["replicas"] = replicas;
        return next;
      },
      Subresource::kMain, true);
  (void)store_.update(
      *type, ns, name,
      [replicas](const json& cur) -> Result<json> {
        if (!cur.is_object()) return not_found("replicasets.apps", "");
        json next = cur;
        next["status"] = {{"observedGeneration", cur["metadata"].value("generation", 1)},
                          {"replicas", replicas},
                          {"fullyLabeledReplicas", replicas},
                          {"readyReplicas", replicas},
                          {"availableReplicas", replicas}};
        return next;
      },
      Subresource::kStatus);
}

void FakeControllers::collect_garbage() {
  const auto objects = store_.snapshot();
  std::unordered_map<std::string, const json*> by_uid;
  by_uid.reserve(objects.size());
  std::set<std::string> referenced;
  for (const auto& [t, doc] : objects)
    by_uid[meta_of(*doc, "uid")] = doc.get();
  for (const auto& [type, doc] : objects) {
    const json& obj = *doc;
    const ResourceType& t = *type;
    const json& meta = obj["metadata"];
    const auto refs_it = meta.find("ownerReferences");
    if (refs_it == meta.end() || !refs_it->is_array() || refs_it->empty()) continue;
    const json& refs = *refs_it;
    const auto ns = meta_of(obj, "namespace");
    const auto name = meta_of(obj, "name");
    bool orphaned = true;
    bool owner_foreground = false;
    json kept = json::array();
    for (const auto& ref : refs) {
      const auto owner = by_uid.find(ref.value("uid", ""));
      if (owner == by_uid.end()) continue;
      const json& o = *owner->second;
      const bool deleting = o["metadata"].contains("deletionTimestamp");
      if (deleting && has_finalizer(o, "orphan")) continue;  // released, not deleted
      referenced.insert(owner->first);
      kept.push_back(ref);
      if (deleting && has_finalizer(o, "foregroundDeletion")) {
        owner_foreground = true;
      } else {
        orphaned = false;
      }
    }
    if (kept.empty()) {
      // Every owner is gone or orphaning: delete if all owners vanished, else strip the refs.
      bool any_orphaning = false;
      for (const auto& ref : refs) {
        const auto owner = by_uid.find(ref.value("uid", ""));
        if (owner != by_uid.end()) any_orphaning = true;
      }
      if (any_orphaning) {
        (void)store_.update(
            t, ns, name,
            [](const json& cur) -> Result<json> {
              json next = cur;
              next["metadata"].erase("ownerReferences");
              return next;
            },
            Subresource::kMain);
      } else if (!obj["metadata"].contains("deletionTimestamp")) {
        (void)store_.remove(t, ns, name, DeleteOptions{"Background", meta_of(obj, "uid"), ""});
      }
      continue;
    }
    if (orphaned && owner_foreground && !obj["metadata"].contains("deletionTimestamp")) {
      (void)store_.remove(t, ns, name, DeleteOptions{"Background", meta_of(obj, "uid"), ""});
    }
  }
  // Owners waiting on dependents: drop the finalizer once none is left.
  for (const auto& [type, doc] : objects) {
    const json& obj = *doc;
    const ResourceType& t = *type;
    if (!obj["metadata"].contains("deletionTimestamp")) continue;
    for (const char* f : {"foregroundDeletion", "orphan"}) {
      if (!has_finalizer(obj, f) || referenced.count(meta_of(obj, "uid"))) continue;
      const std::string fin = f;
      (void)store_.update(
          t, meta_of(obj, "namespace"), meta_of(obj, "name"),
          [&fin](const json& cur) -> Result<json> {
            json next = without_finalizer(cur, fin);
            next["metadata"].erase("resourceVersion");
            return next;
          },
          Subresource::kMain);
    }
  }
}

}  // namespace kubefn::emulator
