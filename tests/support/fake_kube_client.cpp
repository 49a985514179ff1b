#include "kubefn/testing/fakes/fake_kube_client.hpp"

#include <utility>

namespace kubefn::testing {
namespace {

using kube::ObjectRef;
using kube::Result;
using kube::Status;
using kube::StatusCode;
using kube::WatchEvent;
using nlohmann::json;

std::string prefix_of(const kube::GroupVersionResource& resource) {
  return resource.group + "/" + resource.resource + "/";
}

std::string key_of(const kube::GroupVersionResource& resource, const std::string& ns,
                   const std::string& name) {
  return prefix_of(resource) + ns + "/" + name;
}

std::string key_of(const kube::GroupVersionResource& resource, const json& object) {
  return key_of(resource, kube::object_namespace(object), kube::object_name(object));
}

Status not_found(const ObjectRef& ref) {
  return Status(StatusCode::kNotFound,
                ref.resource.qualified_name() + " \"" + ref.name + "\" not found");
}

Status not_emulated(const std::string& what) {
  return Status(StatusCode::kMethodNotAllowed, what + " is not emulated in memory");
}

FakeKubeClient::Call call_of(std::string verb, const kube::GroupVersionResource& resource,
                             std::string ns, std::string name = {}, json body = nullptr) {
  FakeKubeClient::Call call;
  call.verb = std::move(verb);
  call.resource = resource;
  call.ns = std::move(ns);
  call.name = std::move(name);
  call.body = std::move(body);
  return call;
}

class ScriptedWatch final : public kube::WatchStream {
 public:
  ScriptedWatch(std::vector<WatchEvent> events, bool hold_open)
      : events_(std::move(events)), hold_open_(hold_open) {}

  Result<std::optional<WatchEvent>> next() override {
    std::unique_lock lock(mutex_);
    if (position_ < events_.size() && !cancelled_) {
      return std::optional<WatchEvent>(events_[position_++]);
    }
    if (hold_open_) cancelled_cv_.wait(lock, [this] { return cancelled_; });
    if (cancelled_) return Status(StatusCode::kCancelled, "watch cancelled");
    return std::optional<WatchEvent>();
  }

  void cancel() override {
    {
      std::lock_guard guard(mutex_);
      cancelled_ = true;
    }
    cancelled_cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cancelled_cv_;
  std::vector<WatchEvent> events_;
  std::size_t position_ = 0;
  bool hold_open_;
  bool cancelled_ = false;
};

}  // namespace

// Replays the history after `seen` for one resource (and namespace, when given).
class FakeKubeClient::HistoryWatch final : public kube::WatchStream {
 public:
  HistoryWatch(FakeKubeClient& api, std::string prefix, std::string ns, std::uint64_t from)
      : api_(api), prefix_(std::move(prefix)), ns_(std::move(ns)), seen_(from) {}
  ~HistoryWatch() override {
    std::lock_guard lock(api_.mu_);
    api_.watches_.erase(this);
  }

  Result<std::optional<WatchEvent>> next() override {
    std::unique_lock lock(api_.mu_);
    waiting_ = true;
    api_.changed_.wait(lock, [&] { return cancelled_ || api_.pending(*this); });
    waiting_ = false;
    if (cancelled_) return Status(StatusCode::kCancelled, "watch cancelled");
    for (const auto& change : api_.history_) {
      if (change.version <= seen_ || !matches(change)) continue;
      seen_ = change.version;
      return std::optional<WatchEvent>(change.event);
    }
    return Status(StatusCode::kUnknown, "no event");
  }

  void cancel() override {
    {
      std::lock_guard lock(api_.mu_);
      cancelled_ = true;
    }
    api_.changed_.notify_all();
  }

  bool matches(const Change& change) const {
    return change.prefix == prefix_ &&
           (ns_.empty() || kube::object_namespace(change.event.object) == ns_);
  }
  std::uint64_t seen() const { return seen_; }
  bool waiting() const { return waiting_; }

 private:
  FakeKubeClient& api_;
  const std::string prefix_;
  const std::string ns_;
  std::uint64_t seen_;  // the fields below are guarded by api_.mu_
  bool waiting_ = false;
  bool cancelled_ = false;
};

std::optional<Status> FakeKubeClient::begin(Call call) {
  Hook hook;
  {
    std::lock_guard lock(mu_);
    ++calls_[call.verb];
    log_.push_back(call);
    auto queued = failures_.find(call.verb);
    if (queued != failures_.end() && !queued->second.empty()) {
      Status status = std::move(queued->second.front());
      queued->second.pop_front();
      return status;
    }
    auto found = hooks_.find(call.verb);
    if (found != hooks_.end()) hook = found->second;
  }
  if (hook) return hook(call);
  return std::nullopt;
}

json& FakeKubeClient::record(const kube::GroupVersionResource& resource, const std::string& key,
                             WatchEvent::Type type, json object) {
  object["metadata"]["resourceVersion"] = std::to_string(++version_);
  history_.push_back({version_, prefix_of(resource), WatchEvent{type, object}});
  changed_.notify_all();
  if (type == WatchEvent::Type::kDeleted) {
    objects_.erase(key);
    return history_.back().event.object;
  }
  return objects_[key] = std::move(object);
}

bool FakeKubeClient::pending(const HistoryWatch& watch) const {
  for (auto it = history_.rbegin(); it != history_.rend() && it->version > watch.seen(); ++it) {
    if (watch.matches(*it)) return true;
  }
  return false;
}

void FakeKubeClient::fail_next(const std::string& verb, Status status) {
  std::lock_guard lock(mu_);
  failures_[verb].push_back(std::move(status));
}

void FakeKubeClient::on(const std::string& verb, Hook hook) {
  std::lock_guard lock(mu_);
  hooks_[verb] = std::move(hook);
}

void FakeKubeClient::script_watch(std::vector<WatchEvent> events, bool hold_open) {
  std::lock_guard lock(mu_);
  scripts_.push_back({std::move(events), hold_open});
}

json FakeKubeClient::put_object(const kube::GroupVersionResource& resource, json object) {
  std::lock_guard lock(mu_);
  const std::string key = key_of(resource, object);
  const auto type =
      objects_.count(key) != 0 ? WatchEvent::Type::kModified : WatchEvent::Type::kAdded;
  return record(resource, key, type, std::move(object));
}

void FakeKubeClient::erase_object(const ObjectRef& ref) {
  std::lock_guard lock(mu_);
  const std::string key = key_of(ref.resource, ref.ns, ref.name);
  const auto found = objects_.find(key);
  if (found != objects_.end()) record(ref.resource, key, WatchEvent::Type::kDeleted, found->second);
}

std::optional<json> FakeKubeClient::peek(const ObjectRef& ref) const {
  std::lock_guard lock(mu_);
  const auto found = objects_.find(key_of(ref.resource, ref.ns, ref.name));
  if (found == objects_.end()) return std::nullopt;
  return found->second;
}

int FakeKubeClient::calls(const std::string& verb) const {
  std::lock_guard lock(mu_);
  const auto found = calls_.find(verb);
  return found == calls_.end() ? 0 : found->second;
}

int FakeKubeClient::calls() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(log_.size());
}

std::vector<FakeKubeClient::Call> FakeKubeClient::call_log() const {
  std::lock_guard lock(mu_);
  return log_;
}

std::vector<kube::ListOptions> FakeKubeClient::watch_requests() const {
  std::lock_guard lock(mu_);
  std::vector<kube::ListOptions> out;
  for (const auto& call : log_) {
    if (call.verb == "watch") out.push_back(call.list_options);
  }
  return out;
}

bool FakeKubeClient::settled(std::size_t watches) const {
  std::lock_guard lock(mu_);
  if (watches_.size() < watches) return false;
  for (const HistoryWatch* w : watches_) {
    if (!w->waiting() || pending(*w)) return false;
  }
  return true;
}

Result<json> FakeKubeClient::get(const ObjectRef& ref) {
  if (auto failed = begin(call_of("get", ref.resource, ref.ns, ref.name))) return *failed;
  auto found = peek(ref);
  if (!found) return not_found(ref);
  return *found;
}

Result<kube::ObjectList> FakeKubeClient::list(const kube::GroupVersionResource& resource,
                                              const std::string& ns,
                                              const kube::ListOptions& options) {
  Call call = call_of("list", resource, ns);
  call.list_options = options;
  if (auto failed = begin(std::move(call))) return *failed;
  std::lock_guard lock(mu_);
  const std::string prefix = prefix_of(resource) + (ns.empty() ? "" : ns + "/");
  kube::ObjectList out;
  out.resource_version = std::to_string(version_);
  const std::size_t start = options.continue_token.empty() ? 0 : std::stoul(options.continue_token);
  std::size_t skipped = 0;
  for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (skipped++ < start) continue;
    if (options.limit > 0 && static_cast<std::int64_t>(out.items.size()) == options.limit) {
      out.continue_token = std::to_string(start + out.items.size());
      break;
    }
    out.items.push_back(it->second);
  }
  return out;
}

Result<json> FakeKubeClient::create(const kube::GroupVersionResource& resource, const json& object,
                                    const kube::WriteOptions&) {
  if (auto failed = begin(call_of("create", resource, kube::object_namespace(object),
                                  kube::object_name(object), object))) {
    return *failed;
  }
  std::lock_guard lock(mu_);
  const std::string key = key_of(resource, object);
  if (objects_.count(key) != 0) {
    return Status(StatusCode::kAlreadyExists, kube::object_name(object) + " already exists");
  }
  return record(resource, key, WatchEvent::Type::kAdded, object);
}

Result<json> FakeKubeClient::replace(const std::string& verb,
                                     const kube::GroupVersionResource& resource,
                                     const json& object) {
  const ObjectRef ref{resource, kube::object_namespace(object), kube::object_name(object)};
  if (auto failed = begin(call_of(verb, resource, ref.ns, ref.name, object))) return *failed;
  std::lock_guard lock(mu_);
  const std::string key = key_of(resource, object);
  const auto found = objects_.find(key);
  if (found == objects_.end()) return not_found(ref);
  const std::string expected = kube::object_resource_version(object);
  if (!expected.empty() && expected != kube::object_resource_version(found->second)) {
    return Status(StatusCode::kConflict, "the object has been modified");
  }
  if (verb != "update_status") return record(resource, key, WatchEvent::Type::kModified, object);
  json stored = found->second;
  if (object.contains("status")) {
    stored["status"] = object.at("status");
  } else {
    stored.erase("status");
  }
  return record(resource, key, WatchEvent::Type::kModified, std::move(stored));
}

Result<json> FakeKubeClient::update(const kube::GroupVersionResource& resource, const json& object,
                                    const kube::WriteOptions&) {
  return replace("update", resource, object);
}

Result<json> FakeKubeClient::update_status(const kube::GroupVersionResource& resource,
                                           const json& object, const kube::WriteOptions&) {
  return replace("update_status", resource, object);
}

Result<json> FakeKubeClient::patch(const ObjectRef& ref, kube::PatchType type, const json& patch,
                                   const kube::PatchOptions& options) {
  Call call = call_of("patch", ref.resource, ref.ns, ref.name, patch);
  call.patch_type = type;
  call.subresource = options.subresource;
  if (auto failed = begin(std::move(call))) return *failed;
  if (type != kube::PatchType::kMerge) return not_emulated("a patch other than a merge patch");
  std::lock_guard lock(mu_);
  const std::string key = key_of(ref.resource, ref.ns, ref.name);
  const auto found = objects_.find(key);
  if (found == objects_.end()) return not_found(ref);
  json stored = found->second;
  if (options.subresource.empty()) {
    stored.merge_patch(patch);
  } else if (options.subresource == "status") {
    if (patch.contains("status")) stored["status"].merge_patch(patch.at("status"));
  } else if (options.subresource == "scale") {
    // A Scale's spec.replicas is the object's (a Deployment's specReplicasPath).
    const auto spec = patch.find("spec");
    if (spec != patch.end() && spec->contains("replicas")) {
      stored["spec"]["replicas"] = spec->at("replicas");
    }
  } else {
    return not_emulated("subresource " + options.subresource);
  }
  const json& written = record(ref.resource, key, WatchEvent::Type::kModified, std::move(stored));
  if (options.subresource != "scale") return written;
  return json{{"apiVersion", "autoscaling/v1"},
              {"kind", "Scale"},
              {"metadata",
               {{"name", ref.name},
                {"namespace", ref.ns},
                {"resourceVersion", kube::object_resource_version(written)}}},
              {"spec", {{"replicas", written.value("spec", json::object()).value("replicas", 0)}}}};
}

Result<json> FakeKubeClient::remove(const ObjectRef& ref, const kube::DeleteOptions&) {
  if (auto failed = begin(call_of("delete", ref.resource, ref.ns, ref.name))) return *failed;
  std::lock_guard lock(mu_);
  const std::string key = key_of(ref.resource, ref.ns, ref.name);
  const auto found = objects_.find(key);
  if (found == objects_.end()) return not_found(ref);
  record(ref.resource, key, WatchEvent::Type::kDeleted, found->second);
  return json{{"kind", "Status"}, {"status", "Success"}};
}

Result<json> FakeKubeClient::get_scale(const ObjectRef& ref) {
  if (auto failed = begin(call_of("get_scale", ref.resource, ref.ns, ref.name))) return *failed;
  return not_emulated("scale");
}

Result<json> FakeKubeClient::update_scale(const ObjectRef& ref, const json& scale) {
  if (auto failed = begin(call_of("update_scale", ref.resource, ref.ns, ref.name, scale)))
    return *failed;
  return not_emulated("scale");
}

Result<std::unique_ptr<kube::WatchStream>> FakeKubeClient::watch(
    const kube::GroupVersionResource& resource, const std::string& ns,
    const kube::ListOptions& options) {
  Call call = call_of("watch", resource, ns);
  call.list_options = options;
  if (auto failed = begin(std::move(call))) return *failed;
  std::lock_guard lock(mu_);
  std::unique_ptr<kube::WatchStream> stream;
  if (!scripts_.empty()) {
    WatchScript script = std::move(scripts_.front());
    scripts_.pop_front();
    stream = std::make_unique<ScriptedWatch>(std::move(script.events), script.hold_open);
    return stream;
  }
  const std::uint64_t from =
      options.resource_version.empty() ? version_ : std::stoull(options.resource_version);
  auto history = std::make_unique<HistoryWatch>(*this, prefix_of(resource), ns, from);
  watches_.insert(history.get());
  stream = std::move(history);
  return stream;
}

}  // namespace kubefn::testing
