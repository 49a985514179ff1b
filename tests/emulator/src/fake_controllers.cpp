#include "fake_controllers.hpp"

#include <algorithm>
#include <set>

#include "time_and_ids.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

std::string meta_of(const json& obj, const char* field) {
  return obj["metadata"].value(field, "");
}

bool has_finalizer(const json& obj, const std::string& f) {
  const auto fins = obj["metadata"].value("finalizers", json::array());
  return std::find(fins.begin(), fins.end(), f) != fins.end();
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

bool status_current(const json& d) {
  const auto& st = d.value("status", json::object());
  const auto replicas = d.value("spec", json::object()).value("replicas", 1);
  return st.value("observedGeneration", int64_t{-1}) ==
             d["metadata"].value("generation", int64_t{1}) &&
         st.value("readyReplicas", -1) == replicas && st.value("replicas", -1) == replicas;
}

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
  }
}

FakeControllers::Clock::time_point FakeControllers::sync_deployments() {
  auto next = Clock::time_point::max();
  const auto type = store_.find_type("apps", "v1", "deployments");
  if (!type) return next;
  std::set<std::string> live;
  for (const auto& [t, d] : store_.snapshot()) {
    if (t.resource != "deployments" || t.group != "apps") continue;
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
    pending_.erase(uid);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = live.count(it->first) ? std::next(it) : pending_.erase(it);
  }
  return next;
}

void FakeControllers::collect_garbage() {
  const auto objects = store_.snapshot();
  std::map<std::string, const json*> by_uid;
  std::set<std::string> referenced;
  for (const auto& [t, obj] : objects)
    by_uid[meta_of(obj, "uid")] = &obj;
  for (const auto& [t, obj] : objects) {
    const auto refs = obj["metadata"].value("ownerReferences", json::array());
    if (refs.empty()) continue;
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
  for (const auto& [t, obj] : objects) {
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
