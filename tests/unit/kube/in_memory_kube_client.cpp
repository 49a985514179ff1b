#include "in_memory_kube_client.hpp"

#include <atomic>

namespace kubefn::kube::testing {
namespace {

using nlohmann::json;

ObjectRef ref_of(const GroupVersionResource& resource, const json& object) {
  return ObjectRef{resource, object_namespace(object), object_name(object)};
}

Status not_found(const ObjectRef& ref) {
  return Status(StatusCode::kNotFound,
                ref.resource.qualified_name() + " \"" + ref.name + "\" not found");
}

class ScriptedWatch final : public WatchStream {
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

std::string InMemoryKubeClient::next_version() {
  return std::to_string(++version_);
}

std::optional<Status> InMemoryKubeClient::take_failure(const std::string& verb) {
  ++calls_[verb];
  auto found = failures_.find(verb);
  if (found == failures_.end() || found->second.empty()) return std::nullopt;
  Status status = found->second.front();
  found->second.pop_front();
  return status;
}

void InMemoryKubeClient::fail_next(const std::string& verb, Status status) {
  std::lock_guard guard(mutex_);
  failures_[verb].push_back(std::move(status));
}

int InMemoryKubeClient::calls(const std::string& verb) const {
  std::lock_guard guard(mutex_);
  const auto found = calls_.find(verb);
  return found == calls_.end() ? 0 : found->second;
}

std::vector<ListOptions> InMemoryKubeClient::watch_requests() const {
  std::lock_guard guard(mutex_);
  return watch_requests_;
}

void InMemoryKubeClient::script_watch(std::vector<WatchEvent> events, bool hold_open) {
  std::lock_guard guard(mutex_);
  watch_scripts_.push_back({std::move(events), hold_open});
}

json InMemoryKubeClient::put_object(const GroupVersionResource& resource, json object) {
  std::lock_guard guard(mutex_);
  object["metadata"]["resourceVersion"] = next_version();
  objects_[ref_of(resource, object).path()] = object;
  return object;
}

void InMemoryKubeClient::erase_object(const ObjectRef& ref) {
  std::lock_guard guard(mutex_);
  objects_.erase(ref.path());
}

Result<json> InMemoryKubeClient::get(const ObjectRef& ref) {
  std::lock_guard guard(mutex_);
  if (auto failure = take_failure("get")) return *failure;
  const auto found = objects_.find(ref.path());
  if (found == objects_.end()) return not_found(ref);
  return found->second;
}

Result<ObjectList> InMemoryKubeClient::list(const GroupVersionResource& resource,
                                            const std::string& ns, const ListOptions& options) {
  std::lock_guard guard(mutex_);
  if (auto failure = take_failure("list")) return *failure;
  const std::string prefix = resource.collection_path(ns) + "/";
  ObjectList out;
  out.resource_version = std::to_string(version_);
  std::size_t skipped = 0;
  const std::size_t start = options.continue_token.empty() ? 0 : std::stoul(options.continue_token);
  for (const auto& [path, object] : objects_) {
    if (path.rfind(prefix, 0) != 0) continue;
    if (skipped++ < start) continue;
    if (options.limit > 0 && static_cast<std::int64_t>(out.items.size()) == options.limit) {
      out.continue_token = std::to_string(start + out.items.size());
      break;
    }
    out.items.push_back(object);
  }
  return out;
}

Result<json> InMemoryKubeClient::create(const GroupVersionResource& resource, const json& object,
                                        const WriteOptions&) {
  std::lock_guard guard(mutex_);
  if (auto failure = take_failure("create")) return *failure;
  const std::string path = ref_of(resource, object).path();
  if (objects_.count(path) != 0) {
    return Status(StatusCode::kAlreadyExists, object_name(object) + " already exists");
  }
  json stored = object;
  stored["metadata"]["resourceVersion"] = next_version();
  objects_[path] = stored;
  return stored;
}

Result<json> InMemoryKubeClient::update(const GroupVersionResource& resource, const json& object,
                                        const WriteOptions&) {
  std::lock_guard guard(mutex_);
  if (auto failure = take_failure("update")) return *failure;
  const ObjectRef ref = ref_of(resource, object);
  const auto found = objects_.find(ref.path());
  if (found == objects_.end()) return not_found(ref);
  const std::string expected = object_resource_version(object);
  if (!expected.empty() && expected != object_resource_version(found->second)) {
    return Status(StatusCode::kConflict, "the object has been modified");
  }
  json stored = object;
  stored["metadata"]["resourceVersion"] = next_version();
  found->second = stored;
  return stored;
}

Result<json> InMemoryKubeClient::update_status(const GroupVersionResource& resource,
                                               const json& object, const WriteOptions& options) {
  return update(resource, object, options);
}

Result<json> InMemoryKubeClient::patch(const ObjectRef&, PatchType, const json&,
                                       const PatchOptions&) {
  return Status(StatusCode::kMethodNotAllowed, "patch is not emulated in memory");
}

Result<json> InMemoryKubeClient::remove(const ObjectRef& ref, const DeleteOptions&) {
  std::lock_guard guard(mutex_);
  if (auto failure = take_failure("delete")) return *failure;
  if (objects_.erase(ref.path()) == 0) return not_found(ref);
  return json{{"kind", "Status"}, {"status", "Success"}};
}

Result<json> InMemoryKubeClient::get_scale(const ObjectRef&) {
  return Status(StatusCode::kMethodNotAllowed, "scale is not emulated in memory");
}

Result<json> InMemoryKubeClient::update_scale(const ObjectRef&, const json&) {
  return Status(StatusCode::kMethodNotAllowed, "scale is not emulated in memory");
}

Result<std::unique_ptr<WatchStream>> InMemoryKubeClient::watch(const GroupVersionResource&,
                                                               const std::string&,
                                                               const ListOptions& options) {
  std::lock_guard guard(mutex_);
  if (auto failure = take_failure("watch")) return *failure;
  watch_requests_.push_back(options);
  WatchScript script;
  if (!watch_scripts_.empty()) {
    script = std::move(watch_scripts_.front());
    watch_scripts_.pop_front();
  } else {
    script.hold_open = true;
  }
  std::unique_ptr<WatchStream> stream =
      std::make_unique<ScriptedWatch>(std::move(script.events), script.hold_open);
  return stream;
}

}  // namespace kubefn::kube::testing
