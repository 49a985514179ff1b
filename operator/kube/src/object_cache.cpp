#include "kubefn/kube/object_cache.hpp"

#include <algorithm>

#include "kubefn/kube/kube_client.hpp"

namespace kubefn::kube {

ObjectCache::ObjectCache(ObjectCacheOptions options) : options_(std::move(options)) {}

ObjectCache::Entry ObjectCache::make_entry(ObjectSnapshot object) const {
  if (!options_.compact) return Entry{std::move(object), {}};
  Entry entry;
  nlohmann::json::to_msgpack(*object, nlohmann::detail::output_adapter<char>(entry.packed));
  entry.packed.shrink_to_fit();
  return entry;
}

ObjectSnapshot ObjectCache::snapshot(const Entry& entry) {
  if (entry.object) return entry.object;
  return std::make_shared<const nlohmann::json>(nlohmann::json::from_msgpack(entry.packed));
}

bool ObjectCache::indexed(const std::string& label) const {
  if (!options_.indexed_labels) return true;
  const auto& labels = *options_.indexed_labels;
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

ObjectSnapshot ObjectCache::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  const auto found = objects_.find(key);
  return found == objects_.end() ? nullptr : snapshot(found->second);
}

ObjectSnapshot ObjectCache::get(const std::string& ns, const std::string& name) const {
  return get(ns.empty() ? name : ns + "/" + name);
}

std::vector<ObjectSnapshot> ObjectCache::list() const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectSnapshot> out;
  out.reserve(objects_.size());
  for (const auto& [key, entry] : objects_)
    out.push_back(snapshot(entry));
  return out;
}

std::vector<ObjectSnapshot> ObjectCache::list_namespace(const std::string& ns) const {
  std::shared_lock lock(mutex_);
  std::vector<std::pair<std::string, ObjectSnapshot>> found;
  for (const auto& [key, entry] : objects_) {
    auto object = snapshot(entry);
    if (object_namespace(*object) == ns) found.emplace_back(key, std::move(object));
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ObjectSnapshot> out;
  out.reserve(found.size());
  for (auto& [key, object] : found)
    out.push_back(std::move(object));
  return out;
}

std::vector<ObjectSnapshot> ObjectCache::list_labelled(const std::string& key,
                                                       const std::string& value) const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectSnapshot> out;
  const auto found = by_label_.find(key + "=" + value);
  if (found == by_label_.end()) return out;
  out.reserve(found->second.size());
  for (const auto& object_key : found->second)
    out.push_back(snapshot(objects_.at(object_key)));
  return out;
}

std::vector<std::string> ObjectCache::keys() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, entry] : objects_)
    out.push_back(key);
  return out;
}

std::size_t ObjectCache::size() const {
  std::shared_lock lock(mutex_);
  return objects_.size();
}

ObjectSnapshot ObjectCache::upsert(ObjectSnapshot object) {
  const std::string key = object_key(*object);
  Entry entry = make_entry(object);  // encoded outside the lock
  std::unique_lock lock(mutex_);
  ObjectSnapshot previous;
  if (auto found = objects_.find(key); found != objects_.end()) {
    previous = snapshot(found->second);
    unindex(key, *previous);
  }
  index(key, *object);
  objects_[key] = std::move(entry);
  return previous;
}

ObjectSnapshot ObjectCache::erase(const std::string& key) {
  std::unique_lock lock(mutex_);
  const auto found = objects_.find(key);
  if (found == objects_.end()) return nullptr;
  ObjectSnapshot previous = snapshot(found->second);
  objects_.erase(found);
  unindex(key, *previous);
  return previous;
}

void ObjectCache::index(const std::string& key, const nlohmann::json& object) {
  if (!indexes_labels()) return;
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->contains("labels")) return;
  for (const auto& [label, value] : (*metadata)["labels"].items()) {
    if (value.is_string() && indexed(label))
      by_label_[label + "=" + value.get<std::string>()].insert(key);
  }
}

void ObjectCache::unindex(const std::string& key, const nlohmann::json& object) {
  if (!indexes_labels()) return;
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->contains("labels")) return;
  for (const auto& [label, value] : (*metadata)["labels"].items()) {
    if (!value.is_string() || !indexed(label)) continue;
    const auto found = by_label_.find(label + "=" + value.get<std::string>());
    if (found == by_label_.end()) continue;
    found->second.erase(key);
    if (found->second.empty()) by_label_.erase(found);
  }
}

}  // namespace kubefn::kube
